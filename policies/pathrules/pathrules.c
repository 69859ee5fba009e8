/* The "pathrules" freshness policy: glob patterns over request paths decide whether stored
 * content is immutable, follows RFC 9111, or is always revalidated (apt index files). */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include <mcc/mcc.h>

typedef struct pathrule {
    char *pattern; /* anchored at the path's start; "**" spans segments, "*" and "?" do not */
    int freshness;
    /* what any matching path holds, checked before the glob: most paths fail here cheaply */
    const char *need; /* the first literal run: a substring (length need_len, 0: none) */
    size_t need_len;
    const char *tail; /* the literal run after the last wildcard: a suffix (length tail_len) */
    size_t tail_len;
} pathrule;

typedef struct pathrules {
    const mcc_host *host;
    mcc_instance *self;
    pathrule *rules;
    size_t n;
} pathrules;

/* Glob match of PAT against STR: '*' within one segment, '**' across segments, '?' one
 * character but '/'. Iterative backtracking on the last star keeps it linear for one star. */
static int pathrules_match(const char *pat, const char *str)
{
    if (*pat == '\0')
        return *str == '\0';
    if (pat[0] == '*' && pat[1] == '*') {
        const char *rest = pat + 2;
        /* "**" + "/" spans whole segments, zero or more: what follows starts where STR does or
         * right after a '/', never inside a name ("**" + "/InRelease" is not "NotInRelease") */
        int whole = *rest == '/';
        if (whole)
            rest++;
        for (const char *s = str;; s++) {
            if ((!whole || s == str || s[-1] == '/') && pathrules_match(rest, s))
                return 1;
            if (*s == '\0')
                return 0;
        }
    }
    if (*pat == '*') {
        for (const char *s = str;; s++) {
            if (pathrules_match(pat + 1, s))
                return 1;
            if (*s == '\0' || *s == '/')
                return 0;
        }
    }
    if (*str == '\0')
        return 0;
    if (*pat == '?' ? *str != '/' : *pat == *str)
        return pathrules_match(pat + 1, str + 1);
    return 0;
}

static int pathrules_wild(char c)
{
    return c == '*' || c == '?';
}

/* The literal runs of R's pattern that every match contains: the first one (after the leading
 * wildcards) somewhere, the last one (after the last wildcard) at the end. The '/' of a "**" +
 * "/" may match nothing (at the path's start), so it is left out of both. */
static void pathrules_literals(pathrule *r)
{
    const char *p = r->pattern, *q = p;
    while (pathrules_wild(*q))
        q++;
    if (q - p >= 2 && q[-1] == '*' && q[-2] == '*' && *q == '/')
        q++;
    r->need = q;
    while (*q != '\0' && !pathrules_wild(*q))
        q++;
    r->need_len = (size_t)(q - r->need);

    const char *last = strrchr(p, '*'), *qm = strrchr(p, '?');
    if (qm != NULL && (last == NULL || qm > last))
        last = qm;
    if (last == NULL) {
        r->tail = p;
    } else {
        r->tail = last + 1;
        if (*last == '*' && last > p && last[-1] == '*' && *r->tail == '/')
            r->tail++;
    }
    r->tail_len = strlen(r->tail);
}

static int pathrules_class(const char *word)
{
    if (strcmp(word, "immutable") == 0)
        return MCC_FRESH_IMMUTABLE;
    if (strcmp(word, "standard") == 0)
        return MCC_FRESH_STANDARD;
    if (strcmp(word, "revalidate") == 0)
        return MCC_FRESH_REVALIDATE;
    return -1;
}

static void pathrules_destroy(void *state)
{
    pathrules *st = state;
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->rules[i].pattern);
    free(st->rules);
    free(st);
}

static int pathrules_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                            void **state, mcc_err *err)
{
    pathrules *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    st->host = host;
    st->self = self;
    const mcc_conf *rules = host->conf_child(conf, "rules", 'a', err);
    if (rules == NULL && err->msg[0] != '\0')
        goto fail;
    size_t n = rules != NULL ? host->conf_count(rules) : 0;
    st->rules = calloc(n + 1, sizeof(*st->rules));
    if (st->rules == NULL) {
        mcc_err_set(err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const mcc_conf *r = host->conf_index(rules, i, NULL);
        const char *match = NULL, *fresh = NULL;
        if (host->conf_str(r, "match", NULL, &match, err) != MCC_OK ||
            host->conf_str(r, "freshness", NULL, &fresh, err) != MCC_OK)
            goto fail;
        if (match == NULL || match[0] == '\0') {
            host->conf_error(r, "match", err, "a path pattern like **/pool/**/*.deb is required");
            goto fail;
        }
        int cls = fresh != NULL ? pathrules_class(fresh) : -1;
        if (cls < 0) {
            host->conf_error(r, "freshness", err, "immutable, standard or revalidate");
            goto fail;
        }
        /* a pattern without a leading '/' may start at any segment */
        size_t len = strlen(match) + 4;
        char *pat = malloc(len);
        if (pat == NULL) {
            mcc_err_set(err, "out of memory");
            goto fail;
        }
        if (match[0] == '/')
            memcpy(pat, match, len - 3);
        else {
            memcpy(pat, "**/", 3);
            memcpy(pat + 3, match, len - 3);
        }
        st->rules[st->n].pattern = pat;
        st->rules[st->n].freshness = cls;
        pathrules_literals(&st->rules[st->n]);
        st->n++;
    }
    *state = st;
    return MCC_OK;
fail:
    pathrules_destroy(st);
    return MCC_ERROR;
}

/* The first rule whose pattern matches PATH (query excluded) decides. */
static int pathrules_freshness(void *state, const char *ns, const char *host, const char *path,
                               int rule_class)
{
    pathrules *st = state;
    char buf[2048];
    size_t n = strcspn(path, "?");
    if (n >= sizeof(buf))
        return MCC_DECLINED;
    memcpy(buf, path, n);
    buf[n] = '\0';
    for (size_t i = 0; i < st->n; i++) {
        const pathrule *r = &st->rules[i];
        if (r->tail_len > n || memcmp(buf + n - r->tail_len, r->tail, r->tail_len) != 0)
            continue;
        if (r->need_len > 0 && memmem(buf, n, r->need, r->need_len) == NULL)
            continue;
        if (pathrules_match(r->pattern, buf))
            return r->freshness;
    }
    return MCC_DECLINED;
}

static const mcc_policy_ops pathrules_ops = {
    .size = sizeof(mcc_policy_ops),
    .type = MCC_POLICY_FRESHNESS,
    .freshness = pathrules_freshness,
};

static const mcc_plugin pathrules_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_POLICY, "pathrules", "0.1.0"),
    .description = "freshness by path pattern: immutable, standard or revalidate",
    .create = pathrules_create,
    .destroy = pathrules_destroy,
    .ops = &pathrules_ops,
};

MCC_PLUGIN_DEFINE(pathrules_plugin)
