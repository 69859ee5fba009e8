/* The "hosts" plugin: which origin hosts are cacheable (built-in Device Update and Delivery
 * Optimization hosts, configured custom ones, "*." wildcards), under which namespace and port. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include <mcc/hosts.h>

#define HOSTS_NAME_MAX 256 /* a DNS name is at most 253 characters */
#define HOSTS_KEY_MAX (HOSTS_NAME_MAX + 8)

/* One rule. Found by "pattern:port" (exact) in the port table, and by "pattern" alone in the
 * any-port table, which serves requests that named no port (cacheHostOrigin carries none). */
typedef struct hosts_entry {
    char key[HOSTS_KEY_MAX];                   /* "name:port" or "*.suffix:port", lower-case */
    char name_key[HOSTS_NAME_MAX];             /* "name" or "*.suffix" */
    char ns[sizeof(((mcc_host_rule *)0)->ns)]; /* "" uses the request's host */
    char connect_to[sizeof(((mcc_host_rule *)0)->connect_to)];
    unsigned port;
    int freshness;
    int builtin;           /* built-in content: paths with /rootkeypackages/ are revalidated */
    UT_hash_handle hh;     /* by key */
    UT_hash_handle hh_any; /* by name_key, first rule of a name only */
} hosts_entry;

typedef struct hosts_state {
    const mcc_host *host;
    mcc_instance *self;
    hosts_entry *by_port;
    hosts_entry *by_name;
} hosts_state;

typedef struct hosts_builtin {
    const char *pattern;
    const char *ns; /* NULL: the request's host */
} hosts_builtin;

/* PROTOCOL.md "Content hosts". Device Update content is addressed by instance and hash in the
 * path, so its regional host names share one namespace. The Windows Update and Delivery
 * Optimization CDN names keep one namespace per host: nothing public promises that two of
 * them serve the same bytes under one path. */
static const hosts_builtin hosts_builtins[] = {
    /* Device Update */
    {"*.nlu.dl.adu.microsoft.com", "adu"},
    {"*.tlu.dl.adu.microsoft.com", "adu"},
    {"*.dcsfe.prod.adu.microsoft.com", "adu"},
    /* Delivery Optimization and Windows Update */
    {"*.dl.delivery.mp.microsoft.com", NULL},
    {"dl.delivery.mp.microsoft.com", NULL},
    {"*.download.windowsupdate.com", NULL},
    {"download.windowsupdate.com", NULL},
    {"*.au.download.windowsupdate.com", NULL},
    {"au.download.windowsupdate.com", NULL}, /* MCC's health test object lives here */
};

/* Parses "name[:port]", "*.name[:port]" (WILD set) or "[v6][:port]" in TEXT: NAME gets the
 * lower-case pattern (no brackets, no trailing dot), *PORT the port or 0. PORT_REQUIRED is for
 * connect_to. -1 on a syntax error. */
static int hosts_parse(const char *text, int allow_wild, int port_required,
                       char name[HOSTS_NAME_MAX], unsigned *port)
{
    const char *p = text, *colon;
    size_t n = 0, label = 0;

    *port = 0;
    if (p[0] == '[') {
        /* stored in inet_ntop form, as the daemon's addressing hands IPv6 hosts over */
        const char *close = strchr(p, ']');
        char v6[64];
        struct in6_addr a;
        if (close == NULL || close == p + 1 || (size_t)(close - p - 1) >= sizeof(v6))
            return -1;
        memcpy(v6, p + 1, (size_t)(close - p - 1));
        v6[close - p - 1] = '\0';
        if (inet_pton(AF_INET6, v6, &a) != 1 ||
            inet_ntop(AF_INET6, &a, name, HOSTS_NAME_MAX) == NULL)
            return -1;
        colon = close + 1;
        if (*colon != '\0' && *colon != ':')
            return -1;
    } else {
        if (allow_wild && p[0] == '*' && p[1] == '.') {
            name[n++] = '*';
            name[n++] = '.';
            p += 2;
        }
        colon = strchr(p, ':');
        size_t len = colon != NULL ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && p[len - 1] == '.')
            len--;
        if (len == 0 || n + len > 253)
            return -1;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '.') {
                if (label == 0)
                    return -1;
                label = 0;
            } else if ((isalnum(c) || c == '-' || c == '_') && ++label <= 63) {
                c = (unsigned char)tolower(c);
            } else {
                return -1;
            }
            name[n++] = (char)c;
        }
        if (label == 0)
            return -1;
        name[n] = '\0';
        if (colon == NULL)
            colon = p + strlen(p);
    }
    if (*colon == ':') {
        char *end;
        unsigned long v;
        if (colon[1] < '0' || colon[1] > '9')
            return -1;
        v = strtoul(colon + 1, &end, 10);
        if (*end != '\0' || v < 1 || v > 65535)
            return -1;
        *port = (unsigned)v;
    }
    return (port_required && *port == 0) ? -1 : 0;
}

/* Adds E to both tables. Returns -1 when its exact key is taken (E is not added). */
static int hosts_insert(hosts_state *st, hosts_entry *e)
{
    hosts_entry *found;

    snprintf(e->key, sizeof(e->key), "%s:%u", e->name_key, e->port);
    HASH_FIND_STR(st->by_port, e->key, found);
    if (found != NULL)
        return -1;
    HASH_ADD_STR(st->by_port, key, e);
    HASH_FIND(hh_any, st->by_name, e->name_key, strlen(e->name_key), found);
    /* a port-less request goes to the port-80 rule of a name, else to its first rule */
    if (found == NULL) {
        HASH_ADD(hh_any, st->by_name, name_key[0], strlen(e->name_key), e);
    } else if (e->port == 80 && found->port != 80) {
        HASH_DELETE(hh_any, st->by_name, found);
        HASH_ADD(hh_any, st->by_name, name_key[0], strlen(e->name_key), e);
    }
    return 0;
}

static int hosts_freshness_parse(const char *s)
{
    if (strcmp(s, "standard") == 0)
        return MCC_FRESH_STANDARD;
    if (strcmp(s, "immutable") == 0)
        return MCC_FRESH_IMMUTABLE;
    if (strcmp(s, "revalidate") == 0)
        return MCC_FRESH_REVALIDATE;
    return -1;
}

/* Reads custom rule I (an object) into a new entry and adds it. */
static int hosts_custom_add(hosts_state *st, const mcc_conf *item, mcc_err *err)
{
    const mcc_host *h = st->host;
    const char *host = NULL, *canonical = NULL, *connect_to = NULL, *fresh = NULL;
    char name[HOSTS_NAME_MAX];
    unsigned port, cport;
    hosts_entry *e;
    int freshness;

    if (h->conf_child(item, NULL, 'o', err) == NULL)
        return MCC_ERROR;
    if (h->conf_str(item, "host", NULL, &host, err) != MCC_OK ||
        h->conf_str(item, "canonical", NULL, &canonical, err) != MCC_OK ||
        h->conf_str(item, "connect_to", "", &connect_to, err) != MCC_OK ||
        h->conf_str(item, "freshness", "standard", &fresh, err) != MCC_OK)
        return MCC_ERROR;
    if (host == NULL)
        return h->conf_error(item, "host", err,
                             "required: a host name, \"name:port\" or "
                             "\"*.suffix\"");
    if (hosts_parse(host, 1, 0, name, &port) != 0)
        return h->conf_error(item, "host", err,
                             "expected a host name, \"name:port\", \"*.suffix[:port]\" or "
                             "\"[v6]:port\" with a port from 1 to 65535, got \"%s\"",
                             host);
    if (canonical != NULL) {
        if (*canonical == '\0')
            return h->conf_error(item, "canonical", err, "must not be empty");
        if (strlen(canonical) >= sizeof(e->ns))
            return h->conf_error(item, "canonical", err, "at most %zu bytes", sizeof(e->ns) - 1);
        for (const char *c = canonical; *c != '\0'; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return h->conf_error(item, "canonical", err, "control characters not allowed");
    }
    if (*connect_to != '\0') {
        char cname[HOSTS_NAME_MAX];
        if (strlen(connect_to) >= sizeof(e->connect_to) ||
            hosts_parse(connect_to, 0, 1, cname, &cport) != 0)
            return h->conf_error(item, "connect_to", err,
                                 "expected \"addr:port\" (or \"[v6]:port\"), port 1 to 65535, "
                                 "got \"%s\"",
                                 connect_to);
    }
    freshness = hosts_freshness_parse(fresh);
    if (freshness < 0)
        return h->conf_error(item, "freshness", err,
                             "expected \"immutable\", \"standard\" or \"revalidate\", got \"%s\"",
                             fresh);

    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return mcc_err_set(err, "out of memory");
    memcpy(e->name_key, name, strlen(name) + 1);
    e->port = port != 0 ? port : 80;
    e->freshness = freshness;
    memcpy(e->connect_to, connect_to, strlen(connect_to) + 1);
    if (canonical != NULL) {
        memcpy(e->ns, canonical, strlen(canonical) + 1);
    } else if (name[0] != '*') {
        /* the default namespace is the host name; too long a name fits no namespace */
        if (strlen(name) >= sizeof(e->ns)) {
            free(e);
            return h->conf_error(item, "host", err,
                                 "a name this long needs a \"canonical\" of at most %zu bytes",
                                 sizeof(e->ns) - 1);
        }
        memcpy(e->ns, name, strlen(name) + 1);
    }
    /* a wildcard without canonical keeps each matching host apart: subdomains of one suffix
     * (buckets of a storage service, say) may hold different objects under one path */
    if (hosts_insert(st, e) != 0) {
        free(e);
        return h->conf_error(item, "host", err, "\"%s\" is configured twice", host);
    }
    return MCC_OK;
}

static int hosts_builtin_add(hosts_state *st, mcc_err *err)
{
    for (size_t i = 0; i < sizeof(hosts_builtins) / sizeof(hosts_builtins[0]); i++) {
        hosts_entry *e = calloc(1, sizeof(*e));
        if (e == NULL)
            return mcc_err_set(err, "out of memory");
        snprintf(e->name_key, sizeof(e->name_key), "%s", hosts_builtins[i].pattern);
        if (hosts_builtins[i].ns != NULL)
            snprintf(e->ns, sizeof(e->ns), "%s", hosts_builtins[i].ns);
        e->port = 80;
        e->freshness = MCC_FRESH_IMMUTABLE;
        e->builtin = 1;
        if (hosts_insert(st, e) != 0) /* a custom rule for the same host wins */
            free(e);
    }
    return MCC_OK;
}

static void hosts_destroy(void *state)
{
    hosts_state *st = state;
    hosts_entry *e, *tmp;

    if (st == NULL)
        return;
    HASH_CLEAR(hh_any, st->by_name);
    for (e = st->by_port; e != NULL; e = tmp) {
        tmp = e->hh.next;
        HASH_DEL(st->by_port, e);
        free(e);
    }
    free(st);
}

static int hosts_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                        void **state, mcc_err *err)
{
    hosts_state *st = calloc(1, sizeof(*st));
    const mcc_conf *custom;
    int builtin = 1;

    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    st->host = host;
    st->self = self;
    if (host->conf_bool(conf, "builtin", 1, &builtin, err) != MCC_OK)
        goto fail;
    err->msg[0] = '\0';
    custom = host->conf_child(conf, "custom", 'a', err);
    if (custom == NULL && err->msg[0] != '\0')
        goto fail;
    for (size_t i = 0; custom != NULL && i < host->conf_count(custom); i++) {
        const mcc_conf *item = host->conf_index(custom, i, NULL);
        if (item == NULL) {
            mcc_err_set(err, "out of memory");
            goto fail;
        }
        if (hosts_custom_add(st, item, err) != MCC_OK)
            goto fail;
    }
    if (builtin && hosts_builtin_add(st, err) != MCC_OK)
        goto fail;
    *state = st;
    return MCC_OK;

fail:
    hosts_destroy(st);
    return MCC_ERROR;
}

/* Writes "[*]SUFFIX:PORT" in lower case to KEY (CAP bytes): the by_port key. Returns its length,
 * or -1 when it does not fit. Every request looks its host up: no printf here. */
static int hosts_key(char *key, size_t cap, int wild, const char *suffix, unsigned port)
{
    char digits[12];
    size_t nd = 0, len = strlen(suffix), n = 0;
    do {
        digits[nd++] = (char)('0' + port % 10);
        port /= 10;
    } while (port > 0);
    if ((wild ? 1 : 0) + len + 1 + nd >= cap)
        return -1;
    if (wild)
        key[n++] = '*';
    for (size_t i = 0; i < len; i++)
        key[n++] = (char)tolower((unsigned char)suffix[i]);
    key[n++] = ':';
    while (nd > 0)
        key[n++] = digits[--nd];
    key[n] = '\0';
    return (int)n;
}

/* The most specific rule for HOST: the exact name, else the longest "*." suffix. PORT 0 (none
 * named) also finds rules with a port. */
static hosts_entry *hosts_find(hosts_state *st, const char *host, unsigned port)
{
    char key[HOSTS_KEY_MAX + 2];
    size_t hlen = strlen(host);
    hosts_entry *e = NULL;
    unsigned want = port != 0 ? port : 80;

    if (hlen == 0 || hlen >= HOSTS_NAME_MAX)
        return NULL;
    for (const char *suffix = host; suffix != NULL;) {
        int wild = suffix != host;
        int n = hosts_key(key, sizeof(key), wild, suffix, want);
        if (n < 0)
            return NULL;
        HASH_FIND_STR(st->by_port, key, e);
        if (e == NULL && port == 0) {
            /* the same key without ":port" (an IPv6 host holds colons: count, don't search) */
            HASH_FIND(hh_any, st->by_name, key, (wild ? 1 : 0) + strlen(suffix), e);
        }
        if (e != NULL)
            return e;
        suffix = strchr(suffix + (wild ? 1 : 0), '.');
    }
    return NULL;
}

static int hosts_match(void *state, const char *host, unsigned port, const char *path,
                       mcc_host_rule *rule)
{
    hosts_state *st = state;
    hosts_entry *e = hosts_find(st, host, port);
    const char *ns;

    if (e == NULL)
        return MCC_DECLINED;
    ns = e->ns[0] != '\0' ? e->ns : host;
    if (strlen(ns) >= sizeof(rule->ns))
        return MCC_DECLINED;
    memcpy(rule->ns, ns, strlen(ns) + 1);
    for (char *c = rule->ns; e->ns[0] == '\0' && *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    rule->port = e->port;
    memcpy(rule->connect_to, e->connect_to, strlen(e->connect_to) + 1);
    rule->freshness = e->freshness;
    if (e->builtin && path != NULL && strstr(path, "/rootkeypackages/") != NULL)
        rule->freshness = MCC_FRESH_REVALIDATE;
    return MCC_OK;
}

static const mcc_hosts_ops hosts_ops = {
    .size = sizeof(mcc_hosts_ops),
    .match = hosts_match,
};

static const mcc_plugin hosts_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_HOSTS, "hosts", "0.1.0"),
    .description = "cacheable origin hosts: Device Update, Delivery Optimization, custom",
    .create = hosts_create,
    .destroy = hosts_destroy,
    .ops = &hosts_ops,
};

MCC_PLUGIN_DEFINE(hosts_plugin)
