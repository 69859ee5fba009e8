/* MCC's environment variables turned into conf.d fragments (one per concern), validated with
 * MCC's own rules before anything is written, so that MCC's deployment manifests work unchanged. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"

#define ENV_GUID_WHAT "a GUID like 12345678-1234-1234-1234-123456789abc"
#define ENV_HOST_WHAT "an FQDN or IP address with an optional :port"
#define ENV_LISTEN_WHAT "a port or address:port like 8081, 0.0.0.0:8081 or [::]:8081"
#define ENV_MAX_DRIVE 9
#define ENV_MIN_DRIVE_GB 10

typedef struct env_custom {
    const char *n; /* the digits of N (no leading zero), in the variable's name */
    size_t nlen;
    const char *host, *canonical;
    const char *canonical_var; /* the _CANONICAL variable, for the error without _HOST */
    size_t canonical_varlen;
} env_custom;

typedef struct env_vars {
    const char *customer_id, *cache_node_id, *customer_key;
    const char *drives[ENV_MAX_DRIVE + 1]; /* by N; [0] unused */
    const char *upstream_host, *upstream_proxy;
    env_custom *customs;
    size_t ncustoms, capcustoms;
    const char *summary_public, *summary_unrestricted, *summary_api_key;
    const char *content_listen, *admin_listen, *cache_root, *log_level;
} env_vars;

static int env_bad(mcc_err *err, const char *var, const char *what, const char *value)
{
    return mcc_err_set(err, "%s: expected %s, got \"%.120s\"", var, what, value);
}

/* NAME (LEN bytes) is PREFIX<digits>SUFFIX: *digits, *ndigits point at the number. */
static int env_numbered(const char *name, size_t len, const char *prefix, const char *suffix,
                        const char **digits, size_t *ndigits)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    if (len <= pl + sl || strncmp(name, prefix, pl) != 0 ||
        strncmp(name + len - sl, suffix, sl) != 0)
        return 0;
    for (size_t i = pl; i < len - sl; i++) {
        if (!isdigit((unsigned char)name[i]))
            return 0;
    }
    *digits = name + pl;
    *ndigits = len - sl - pl;
    return 1;
}

static env_custom *env_custom_get(env_vars *v, const char *n, size_t nlen)
{
    for (size_t i = 0; i < v->ncustoms; i++) {
        if (v->customs[i].nlen == nlen && memcmp(v->customs[i].n, n, nlen) == 0)
            return &v->customs[i];
    }
    if (v->ncustoms == v->capcustoms) {
        size_t cap = v->capcustoms ? v->capcustoms * 2 : 8;
        env_custom *c = realloc(v->customs, cap * sizeof(*c));
        if (c == NULL)
            return NULL;
        v->customs = c;
        v->capcustoms = cap;
    }
    env_custom *c = &v->customs[v->ncustoms++];
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->nlen = nlen;
    return c;
}

/* Sorts customs by N as a number: without leading zeros, shorter is smaller. */
static int env_custom_cmp(const void *a, const void *b)
{
    const env_custom *x = a, *y = b;
    if (x->nlen != y->nlen)
        return x->nlen < y->nlen ? -1 : 1;
    return memcmp(x->n, y->n, x->nlen);
}

/* Sets *SLOT to VALUE unless an earlier entry set it (getenv takes the first one too). */
static void env_keep(const char **slot, const char *value)
{
    if (*slot == NULL)
        *slot = value;
}

static int env_collect(char *const *envp, env_vars *v, mcc_err *err)
{
    static const struct {
        const char *name;
        size_t off;
    } plain[] = {
        {"CUSTOMER_ID", offsetof(env_vars, customer_id)},
        {"CACHE_NODE_ID", offsetof(env_vars, cache_node_id)},
        {"CUSTOMER_KEY", offsetof(env_vars, customer_key)},
        {"UPSTREAM_HOST", offsetof(env_vars, upstream_host)},
        {"UPSTREAM_PROXY", offsetof(env_vars, upstream_proxy)},
        {"IS_SUMMARY_PUBLIC", offsetof(env_vars, summary_public)},
        {"IS_SUMMARY_ACCESS_UNRESTRICTED", offsetof(env_vars, summary_unrestricted)},
        {"SUMMARY_API_KEY", offsetof(env_vars, summary_api_key)},
        {"MCC_CONTENT_LISTEN", offsetof(env_vars, content_listen)},
        {"MCC_ADMIN_LISTEN", offsetof(env_vars, admin_listen)},
        {"MCC_CACHE_ROOT", offsetof(env_vars, cache_root)},
        {"MCC_LOG_LEVEL", offsetof(env_vars, log_level)},
    };
    for (char *const *e = envp; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        const char *name = *e, *value = eq + 1;
        size_t len = (size_t)(eq - name);
        size_t i;
        for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
            if (strlen(plain[i].name) == len && strncmp(plain[i].name, name, len) == 0)
                break;
        }
        if (i < sizeof(plain) / sizeof(plain[0])) {
            env_keep((const char **)((char *)v + plain[i].off), value);
            continue;
        }
        const char *n;
        size_t nlen;
        if (env_numbered(name, len, "STORAGE_", "_SIZE_GB", &n, &nlen)) {
            if (nlen != 1 || n[0] < '1' || n[0] > '9')
                return mcc_err_set(err, "%.*s: expected N from 1 to 9 in STORAGE_N_SIZE_GB",
                                   (int)len, name);
            env_keep(&v->drives[n[0] - '0'], value);
            continue;
        }
        int is_host = env_numbered(name, len, "CACHEABLE_CUSTOM_", "_HOST", &n, &nlen);
        int is_canon =
            !is_host && env_numbered(name, len, "CACHEABLE_CUSTOM_", "_CANONICAL", &n, &nlen);
        if (!is_host && !is_canon)
            continue;
        if (n[0] == '0')
            return mcc_err_set(err,
                               "%.*s: expected N a positive integer without leading zeros in "
                               "CACHEABLE_CUSTOM_N_%s",
                               (int)len, name, is_host ? "HOST" : "CANONICAL");
        env_custom *c = env_custom_get(v, n, nlen);
        if (c == NULL)
            return mcc_err_set(err, "out of memory");
        if (is_host) {
            env_keep(&c->host, value);
        } else if (c->canonical == NULL) {
            c->canonical = value;
            c->canonical_var = name;
            c->canonical_varlen = len;
        }
    }
    return MCC_OK;
}

static int env_guid(const char *var, const char *value, mcc_err *err)
{
    if (value == NULL)
        return mcc_err_set(err, "%s: missing, expected %s", var, ENV_GUID_WHAT);
    if (mcc_parse_guid(value) != MCC_OK)
        return env_bad(err, var, ENV_GUID_WHAT, value);
    return MCC_OK;
}

/* True/False in any case, as MCC's manifests write them. */
static int env_bool(const char *var, const char *value, int *out, mcc_err *err)
{
    if (strcasecmp(value, "true") == 0)
        *out = 1;
    else if (strcasecmp(value, "false") == 0)
        *out = 0;
    else
        return env_bad(err, var, "True or False", value);
    return MCC_OK;
}

/* host[:port] lower-cased into OUT, with DEFPORT (0: none) when no port is given. */
static int env_host(const char *var, const char *value, int port_required, unsigned defport,
                    const char *what, char *out, size_t size, mcc_err *err)
{
    char host[256];
    unsigned port;
    if (mcc_parse_hostport(value, port_required, host, sizeof(host), &port) != MCC_OK)
        return env_bad(err, var, what, value);
    for (char *p = host; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    if (port == 0)
        port = defport;
    const char *lb = strchr(host, ':') != NULL ? "[" : "", *rb = lb[0] != '\0' ? "]" : "";
    if (port != 0)
        snprintf(out, size, "%s%s%s:%u", lb, host, rb, port);
    else
        snprintf(out, size, "%s%s%s", lb, host, rb);
    return MCC_OK;
}

/* A bare port means every IPv4 address, as MCC's container ports do. */
static int env_listen(const char *var, const char *value, char *out, size_t size, mcc_err *err)
{
    size_t len = strlen(value);
    if (len > 0 && strspn(value, "0123456789") == len) {
        snprintf(out, size, "0.0.0.0:%s", value);
        if (mcc_parse_listen(out) != MCC_OK)
            return env_bad(err, var, ENV_LISTEN_WHAT, value);
        return MCC_OK;
    }
    if (len >= size || mcc_parse_listen(value) != MCC_OK)
        return env_bad(err, var, ENV_LISTEN_WHAT, value);
    memcpy(out, value, len + 1);
    return MCC_OK;
}

static int env_printable(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    }
    return 1;
}

static cJSON *env_obj(cJSON *parent, const char *key)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);
    return o != NULL ? o : cJSON_AddObjectToObject(parent, key);
}

/* The fragments to write, by file name; NULL ones are not written (and removed if stale). */
enum { ENV_LISTEN, ENV_IDENTITY, ENV_STORAGE, ENV_UPSTREAM, ENV_HOSTS, ENV_SUMMARY, ENV_NFRAG };
static const char *const env_frag_names[ENV_NFRAG] = {
    "05-listen.json",   "10-identity.json", "20-storage.json",
    "30-upstream.json", "40-hosts.json",    "50-summary.json",
};

/* Allocation failures surface once, when the finished documents are printed. */
static cJSON *env_frag(cJSON **frags, int which)
{
    if (frags[which] == NULL)
        frags[which] = cJSON_CreateObject();
    return frags[which];
}

static int env_build(const env_vars *v, cJSON **frags, mcc_err *err)
{
    char buf[300];
    /* identity */
    if (env_guid("CUSTOMER_ID", v->customer_id, err) != MCC_OK ||
        env_guid("CACHE_NODE_ID", v->cache_node_id, err) != MCC_OK ||
        env_guid("CUSTOMER_KEY", v->customer_key, err) != MCC_OK)
        return MCC_ERROR;
    cJSON *node = env_obj(env_frag(frags, ENV_IDENTITY), "node");
    cJSON_AddStringToObject(node, "name", v->cache_node_id);
    cJSON_AddStringToObject(node, "customer_id", v->customer_id);
    cJSON_AddStringToObject(node, "cache_node_id", v->cache_node_id);
    cJSON_AddStringToObject(node, "customer_key", v->customer_key);

    /* storage */
    cJSON *drives = NULL;
    for (int n = 1; n <= ENV_MAX_DRIVE; n++) {
        const char *val = v->drives[n];
        if (val == NULL)
            continue;
        char var[32];
        snprintf(var, sizeof(var), "STORAGE_%d_SIZE_GB", n);
        uint64_t gb = 0;
        size_t len = strlen(val);
        int ok = len > 0 && len <= 11 && strspn(val, "0123456789") == len;
        if (ok) {
            for (const char *p = val; *p != '\0'; p++)
                gb = gb * 10 + (uint64_t)(*p - '0');
        }
        /* as bytes it must still fit in 64 bits */
        if (!ok || gb < ENV_MIN_DRIVE_GB || gb > (UINT64_MAX >> 30))
            return env_bad(err, var, "an integer number of GB >= 10", val);
        if (drives == NULL) {
            cJSON *disk = env_obj(env_obj(env_frag(frags, ENV_STORAGE), "plugins"), "disk");
            drives = cJSON_AddArrayToObject(env_obj(disk, "config"), "drives");
        }
        cJSON *d = cJSON_CreateObject();
        cJSON_AddItemToArray(drives, d);
        snprintf(buf, sizeof(buf), "cache%d", n);
        cJSON_AddStringToObject(d, "path", buf);
        /* MCC hands these numbers to nginx as "g", which is GiB */
        snprintf(buf, sizeof(buf), "%lluGiB", (unsigned long long)gb);
        cJSON_AddStringToObject(d, "size", buf);
    }
    if (drives == NULL)
        return mcc_err_set(err, "STORAGE_N_SIZE_GB: missing, expected at least one of "
                                "STORAGE_1_SIZE_GB to STORAGE_9_SIZE_GB (an integer >= 10)");

    /* upstream */
    if (v->upstream_host != NULL) {
        if (env_host("UPSTREAM_HOST", v->upstream_host, 0, 80, ENV_HOST_WHAT, buf, sizeof(buf),
                     err) != MCC_OK)
            return MCC_ERROR;
        cJSON *up = env_frag(frags, ENV_UPSTREAM);
        cJSON *parent = env_obj(env_obj(up, "plugins"), "parent");
        cJSON_AddStringToObject(parent, "plugin", "parent");
        cJSON *parents = cJSON_AddArrayToObject(env_obj(parent, "config"), "parents");
        cJSON_AddItemToArray(parents, cJSON_CreateString(buf));
        cJSON *order = cJSON_AddArrayToObject(env_obj(up, "cache"), "upstreams");
        cJSON_AddItemToArray(order, cJSON_CreateString("parent"));
    }
    if (v->upstream_proxy != NULL) {
        if (env_host("UPSTREAM_PROXY", v->upstream_proxy, 1, 0,
                     "host:port like proxy.example.com:3128", buf, sizeof(buf), err) != MCC_OK)
            return MCC_ERROR;
        cJSON_AddStringToObject(env_obj(env_frag(frags, ENV_UPSTREAM), "fetch"), "proxy", buf);
    }

    /* custom cacheable hosts, already sorted by N */
    cJSON *custom = NULL;
    for (size_t i = 0; i < v->ncustoms; i++) {
        const env_custom *c = &v->customs[i];
        char var[300];
        if (c->host == NULL)
            return mcc_err_set(err, "%.*s: set without CACHEABLE_CUSTOM_%.*s_HOST",
                               (int)c->canonical_varlen, c->canonical_var, (int)c->nlen, c->n);
        snprintf(var, sizeof(var), "CACHEABLE_CUSTOM_%.*s_HOST", (int)c->nlen, c->n);
        if (env_host(var, c->host, 0, 0, ENV_HOST_WHAT, buf, sizeof(buf), err) != MCC_OK)
            return MCC_ERROR;
        if (c->canonical != NULL && !env_printable(c->canonical)) {
            snprintf(var, sizeof(var), "CACHEABLE_CUSTOM_%.*s_CANONICAL", (int)c->nlen, c->n);
            return env_bad(err, var, "a non-empty string of printable characters", c->canonical);
        }
        if (custom == NULL) {
            cJSON *hosts = env_obj(env_obj(env_frag(frags, ENV_HOSTS), "plugins"), "hosts");
            custom = cJSON_AddArrayToObject(env_obj(hosts, "config"), "custom");
        }
        cJSON *h = cJSON_CreateObject();
        cJSON_AddItemToArray(custom, h);
        cJSON_AddStringToObject(h, "host", buf);
        if (c->canonical != NULL)
            cJSON_AddStringToObject(h, "canonical", c->canonical);
    }

    /* summary */
    int b = 0;
    if (v->summary_public != NULL) {
        if (env_bool("IS_SUMMARY_PUBLIC", v->summary_public, &b, err) != MCC_OK)
            return MCC_ERROR;
        cJSON_AddBoolToObject(env_obj(env_frag(frags, ENV_SUMMARY), "summary"), "public", b);
    }
    if (v->summary_unrestricted != NULL) {
        if (env_bool("IS_SUMMARY_ACCESS_UNRESTRICTED", v->summary_unrestricted, &b, err) != MCC_OK)
            return MCC_ERROR;
        cJSON_AddBoolToObject(env_obj(env_frag(frags, ENV_SUMMARY), "summary"), "unrestricted", b);
    }
    if (v->summary_api_key != NULL) {
        size_t len = strlen(v->summary_api_key);
        if (len == 0 || len > 127 || !env_printable(v->summary_api_key))
            return env_bad(err, "SUMMARY_API_KEY",
                           "a non-empty string of at most 127 printable characters",
                           v->summary_api_key);
        cJSON_AddStringToObject(env_obj(env_frag(frags, ENV_SUMMARY), "summary"), "api_key",
                                v->summary_api_key);
    }

    /* the daemon's own variables */
    if (v->content_listen != NULL) {
        if (env_listen("MCC_CONTENT_LISTEN", v->content_listen, buf, sizeof(buf), err) != MCC_OK)
            return MCC_ERROR;
        cJSON_AddStringToObject(env_obj(env_frag(frags, ENV_LISTEN), "listen"), "content", buf);
    }
    if (v->admin_listen != NULL) {
        buf[0] = '\0';
        if (v->admin_listen[0] != '\0' && /* "" disables the admin listener, as in JSON */
            env_listen("MCC_ADMIN_LISTEN", v->admin_listen, buf, sizeof(buf), err) != MCC_OK)
            return MCC_ERROR;
        cJSON_AddStringToObject(env_obj(env_frag(frags, ENV_LISTEN), "listen"), "admin", buf);
    }
    if (v->cache_root != NULL) {
        if (v->cache_root[0] != '/' || strlen(v->cache_root) >= 1024)
            return env_bad(err, "MCC_CACHE_ROOT", "an absolute path", v->cache_root);
        cJSON_AddStringToObject(env_obj(env_frag(frags, ENV_LISTEN), "paths"), "cache_root",
                                v->cache_root);
    }
    if (v->log_level != NULL) {
        static const char *const levels[] = {"error", "warn", "info", "debug"};
        size_t i = 0;
        while (i < 4 && strcmp(v->log_level, levels[i]) != 0)
            i++;
        if (i == 4)
            return env_bad(err, "MCC_LOG_LEVEL", "one of error, warn, info, debug", v->log_level);
        cJSON_AddStringToObject(env_obj(env_frag(frags, ENV_LISTEN), "log"), "level", v->log_level);
    }
    return MCC_OK;
}

/* mkdir -p DIR, 0755. */
static int env_mkdirs(const char *dir, mcc_err *err)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path))
        return mcc_err_set(err, "%s: bad directory name", dir);
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return mcc_err_set(err, "%s: cannot create: %s", path, strerror(errno));
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return mcc_err_set(err, "%s: not a directory", dir);
    return MCC_OK;
}

/* Writes NAME in DIR through a temporary file and rename, so that a reader (or a crash) never
 * sees half a fragment. */
static int env_write(const char *dir, const char *name, const char *text, mcc_err *err)
{
    char tmp[4096], path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    /* a hidden name: the config loader skips it should we die before the rename */
    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return mcc_err_set(err, "%s: cannot create: %s", tmp, strerror(errno));
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            mcc_err_set(err, "%s: cannot write: %s", tmp, strerror(errno));
            goto out_unlink;
        }
        done += (size_t)n;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        mcc_err_set(err, "%s: cannot sync: %s", tmp, strerror(errno));
        goto out_unlink;
    }
    if (close(fd) != 0) {
        fd = -1;
        mcc_err_set(err, "%s: cannot close: %s", tmp, strerror(errno));
        goto out_unlink;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        mcc_err_set(err, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        goto out_unlink;
    }
    return MCC_OK;
out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return MCC_ERROR;
}

int mcc_env_to_conf(char *const *envp, const char *dir, mcc_err *err)
{
    int rc = MCC_ERROR;
    env_vars v;
    cJSON *frags[ENV_NFRAG] = {0};
    char *texts[ENV_NFRAG] = {0};
    memset(&v, 0, sizeof(v));
    if (env_collect(envp, &v, err) != MCC_OK)
        goto out;
    if (v.ncustoms > 1)
        qsort(v.customs, v.ncustoms, sizeof(*v.customs), env_custom_cmp);
    if (env_build(&v, frags, err) != MCC_OK)
        goto out;
    for (int i = 0; i < ENV_NFRAG; i++) {
        if (frags[i] == NULL)
            continue;
        char *t = cJSON_Print(frags[i]);
        size_t len = t != NULL ? strlen(t) : 0;
        texts[i] = t != NULL ? realloc(t, len + 2) : NULL;
        if (texts[i] == NULL) {
            free(t);
            mcc_err_set(err, "out of memory");
            goto out;
        }
        memcpy(texts[i] + len, "\n", 2);
    }
    /* everything is valid: only now touch DIR */
    if (env_mkdirs(dir, err) != MCC_OK)
        goto out;
    for (int i = 0; i < ENV_NFRAG; i++) {
        if (texts[i] != NULL && env_write(dir, env_frag_names[i], texts[i], err) != MCC_OK)
            goto out;
    }
    /* a concern whose variables are gone (a container restarted with another environment)
     * must not live on in the fragment of an earlier run */
    for (int i = 0; i < ENV_NFRAG; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, env_frag_names[i]);
        if (texts[i] == NULL && unlink(path) != 0 && errno != ENOENT) {
            mcc_err_set(err, "%s: cannot remove: %s", path, strerror(errno));
            goto out;
        }
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the renames themselves; best effort, as some filesystems refuse */
        close(dfd);
    }
    rc = MCC_OK;
out:
    for (int i = 0; i < ENV_NFRAG; i++) {
        cJSON_Delete(frags[i]);
        free(texts[i]);
    }
    free(v.customs);
    return rc;
}
