/* Example host-rules plugin: the cacheable hosts come from a plain text file, one
 * "host[:port] [canonical]" per line, so that a site can keep its list next to its other lists. */
#define _POSIX_C_SOURCE 200809L /* getline, strtok_r, open: also under -std=c11 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcc/hosts.h>

#define HF_NAME_MAX 254 /* a DNS name is at most 253 characters */
#define HF_MAX_RULES 100000

typedef struct hf_rule {
    char name[HF_NAME_MAX];                    /* lower-case host name */
    unsigned port;                             /* 80 when the line named none */
    char ns[sizeof(((mcc_host_rule *)0)->ns)]; /* canonical, else the host name */
} hf_rule;

typedef struct hf_state {
    hf_rule *rules; /* sorted by name, then port: bsearch per request */
    size_t n, cap;
    char connect_to[sizeof(((mcc_host_rule *)0)->connect_to)];
    int freshness;
} hf_state;

static int hf_cmp(const void *a, const void *b)
{
    const hf_rule *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->port < y->port ? -1 : x->port > y->port;
}

/* "name[:port]" into RULE (lower-cased, port 80 when none). -1 when it is not one. */
static int hf_parse_host(const char *text, hf_rule *rule)
{
    const char *colon = strchr(text, ':');
    size_t len = colon != NULL ? (size_t)(colon - text) : strlen(text);
    if (len == 0 || len >= HF_NAME_MAX || text[0] == '.' || text[len - 1] == '.')
        return -1;
    size_t label = 0; /* length of the DNS label so far: 1 to 63, none empty */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '.' && label == 0)
            return -1;
        label = c == '.' ? 0 : label + 1;
        if ((!isalnum(c) && c != '-' && c != '.' && c != '_') || label > 63)
            return -1;
        rule->name[i] = (char)tolower(c);
    }
    rule->name[len] = '\0';
    rule->port = 80;
    if (colon != NULL) {
        char *end;
        errno = 0;
        unsigned long p = strtoul(colon + 1, &end, 10);
        if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 || p < 1 || p > 65535)
            return -1;
        rule->port = (unsigned)p;
    }
    return 0;
}

/* One line of the file (comment and newline removed). Blank lines add nothing. */
static int hf_parse_line(hf_state *st, char *line, const char **why)
{
    char *save = NULL;
    char *host = strtok_r(line, " \t\r", &save);
    if (host == NULL)
        return MCC_OK;
    char *canonical = strtok_r(NULL, " \t\r", &save);
    if (strtok_r(NULL, " \t\r", &save) != NULL) {
        *why = "expected \"host[:port] [canonical]\", found more words";
        return MCC_ERROR;
    }
    if (st->n == st->cap) {
        if (st->cap == HF_MAX_RULES) {
            *why = "too many rules (at most 100000)";
            return MCC_ERROR;
        }
        size_t cap = st->cap != 0 ? st->cap * 2 : 16;
        cap = cap > HF_MAX_RULES ? HF_MAX_RULES : cap;
        hf_rule *r = realloc(st->rules, cap * sizeof(*r));
        if (r == NULL) {
            *why = "out of memory";
            return MCC_ERROR;
        }
        st->rules = r;
        st->cap = cap;
    }
    hf_rule *r = &st->rules[st->n];
    memset(r, 0, sizeof(*r));
    if (hf_parse_host(host, r) != 0) {
        *why = "expected a host name with an optional :port (1 to 65535)";
        return MCC_ERROR;
    }
    const char *ns = canonical != NULL ? canonical : r->name;
    if (strlen(ns) >= sizeof(r->ns)) {
        *why = "the canonical name (or the host name without one) is longer than 127 bytes";
        return MCC_ERROR;
    }
    memcpy(r->ns, ns, strlen(ns) + 1);
    st->n++;
    return MCC_OK;
}

static int hf_load(hf_state *st, const mcc_host *host, const mcc_conf *conf, const char *path,
                   mcc_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return host->conf_error(conf, "file", err, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = MCC_OK;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "#\n")] = '\0';
        const char *why = NULL;
        if (hf_parse_line(st, line, &why) != MCC_OK) {
            rc = host->conf_error(conf, "file", err, "%s:%u: %s", path, lineno, why);
            goto out;
        }
    }
    if (ferror(f)) {
        rc = host->conf_error(conf, "file", err, "%s: read error", path);
        goto out;
    }
    qsort(st->rules, st->n, sizeof(*st->rules), hf_cmp);
    for (size_t i = 1; i < st->n; i++) {
        if (hf_cmp(&st->rules[i - 1], &st->rules[i]) == 0) {
            rc = host->conf_error(conf, "file", err, "%s: %s:%u is listed twice", path,
                                  st->rules[i].name, st->rules[i].port);
            goto out;
        }
    }
out:
    free(line);
    fclose(f);
    return rc;
}

static void hf_destroy(void *state)
{
    hf_state *st = state;
    if (st == NULL)
        return;
    free(st->rules);
    free(st);
}

static int hf_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                     mcc_err *err)
{
    const char *file = NULL, *connect_to = NULL, *fresh = NULL;
    hf_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");

    if (host->conf_str(conf, "file", NULL, &file, err) != MCC_OK ||
        host->conf_str(conf, "connect_to", "", &connect_to, err) != MCC_OK ||
        host->conf_str(conf, "freshness", "standard", &fresh, err) != MCC_OK)
        goto fail;
    if (file == NULL || file[0] != '/') {
        host->conf_error(conf, "file", err, "required: the absolute path of the rules file");
        goto fail;
    }
    if (strlen(connect_to) >= sizeof(st->connect_to) ||
        (connect_to[0] != '\0' && strrchr(connect_to, ':') == NULL)) {
        host->conf_error(conf, "connect_to", err, "expected \"\" or \"addr:port\", got \"%s\"",
                         connect_to);
        goto fail;
    }
    memcpy(st->connect_to, connect_to, strlen(connect_to) + 1);
    if (strcmp(fresh, "standard") == 0) {
        st->freshness = MCC_FRESH_STANDARD;
    } else if (strcmp(fresh, "immutable") == 0) {
        st->freshness = MCC_FRESH_IMMUTABLE;
    } else if (strcmp(fresh, "revalidate") == 0) {
        st->freshness = MCC_FRESH_REVALIDATE;
    } else {
        host->conf_error(conf, "freshness", err,
                         "expected \"standard\", \"immutable\" or \"revalidate\", got \"%s\"",
                         fresh);
        goto fail;
    }
    /* the file is read once, here: create may do local I/O, match may not */
    if (hf_load(st, host, conf, file, err) != MCC_OK)
        goto fail;
    host->log(self, MCC_LOG_INFO, "%zu cacheable hosts from %s", st->n, file);
    *state = st;
    return MCC_OK;

fail:
    hf_destroy(st);
    return MCC_ERROR;
}

/* The rule of HOST at PORT; PORT 0 (the request named none) takes the port-80 rule, else the
 * host's lowest port. Binary search: logarithmic in the number of rules, as match must be. */
static const hf_rule *hf_find(const hf_state *st, const char *host, unsigned port)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) { /* the first rule whose name is not below HOST */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(st->rules[mid].name, host) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const hf_rule *first = NULL;
    for (size_t i = lo; i < st->n && strcmp(st->rules[i].name, host) == 0; i++) {
        if (first == NULL)
            first = &st->rules[i];
        if (st->rules[i].port == (port != 0 ? port : 80))
            return &st->rules[i];
        if (st->rules[i].port > 80 && port == 0)
            break;
    }
    return port == 0 ? first : NULL;
}

static int hf_match(void *state, const char *host, unsigned port, const char *path,
                    mcc_host_rule *rule)
{
    const hf_state *st = state;
    (void)path; /* one freshness for every path of these hosts */
    const hf_rule *r = hf_find(st, host, port);
    if (r == NULL)
        return MCC_DECLINED; /* the next host-rule instance, or 403 when none takes it */
    memcpy(rule->ns, r->ns, strlen(r->ns) + 1);
    rule->port = r->port;
    memcpy(rule->connect_to, st->connect_to, strlen(st->connect_to) + 1);
    rule->freshness = st->freshness;
    return MCC_OK;
}

static const mcc_hosts_ops hf_ops = {
    .size = sizeof(mcc_hosts_ops),
    .match = hf_match,
};

static const mcc_plugin hf_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_HOSTS, "hostfile", "1.0.0"),
    .description = "example host rules: cacheable hosts listed in a text file",
    .create = hf_create,
    .destroy = hf_destroy,
    .ops = &hf_ops,
};

MCC_PLUGIN_DEFINE(hf_plugin)
