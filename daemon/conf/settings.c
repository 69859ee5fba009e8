/* The daemon's own sections of the merged configuration, read through the same typed getters as
 * plugins use, validated and copied into an mcc_settings. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

#define SETTINGS_GUID_WHAT "\"\" or a GUID like 12345678-1234-1234-1234-123456789abc"
#define KIB 1024ull
#define MIB (1024ull * 1024)

/* A child section or array: absent is fine (NULL, the getters then give defaults), present with
 * another type is an error. */
static int settings_child(const mcc_conf *node, const char *key, int want, const mcc_conf **out,
                          mcc_err *err)
{
    mcc_err local;
    local.msg[0] = '\0';
    *out = mcc_conf_child(node, key, want, &local);
    if (*out == NULL && local.msg[0] != '\0')
        return mcc_err_set(err, "%s", local.msg);
    return MCC_OK;
}

/* A string copied into BUF (SIZE bytes with the NUL). */
static int settings_str(const mcc_conf *node, const char *key, const char *def, char *buf,
                        size_t size, mcc_err *err)
{
    const char *s;
    if (mcc_conf_str(node, key, def, &s, err) != MCC_OK)
        return MCC_ERROR;
    size_t len = strlen(s);
    if (len >= size) {
        char what[64];
        snprintf(what, sizeof(what), "a string of at most %zu characters", size - 1);
        return mcc_conf_expect(node, key, what, err);
    }
    memcpy(buf, s, len + 1);
    return MCC_OK;
}

/* [a-z0-9_-]{1,63}: instance and plugin names end up in file names and metric labels. */
static int settings_name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len < 1 || len > 63)
        return 0;
    for (; *s != '\0'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    }
    return 1;
}

static int settings_node(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    const mcc_conf *sec;
    if (settings_child(root, "node", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    if (settings_str(sec, "name", "", out->node_name, sizeof(out->node_name), err) != MCC_OK)
        return MCC_ERROR;
    /* The name marks this node in Via and Cache-Status, where a loop is recognised by it: an
     * unset name takes the host name, so that nodes of a chain differ without configuration. */
    if (out->node_name[0] == '\0' &&
        (gethostname(out->node_name, sizeof(out->node_name) - 1) != 0 ||
         out->node_name[0] == '\0'))
        snprintf(out->node_name, sizeof(out->node_name), "mcc");
    for (const char *p = out->node_name; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            return mcc_conf_expect(sec, "name", "a name of letters, digits, '.', '-' and '_'",
                                   err);
    static const char *const ids[] = {"customer_id", "cache_node_id", "customer_key"};
    char *dst[] = {out->customer_id, out->cache_node_id, out->customer_key};
    for (size_t i = 0; i < 3; i++) {
        if (settings_str(sec, ids[i], "", dst[i], sizeof(out->customer_id), err) != MCC_OK)
            return MCC_ERROR;
        if (dst[i][0] != '\0' && mcc_parse_guid(dst[i]) != MCC_OK)
            return mcc_conf_expect(sec, ids[i], SETTINGS_GUID_WHAT, err);
    }
    return MCC_OK;
}

static int settings_listen(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    const mcc_conf *sec;
    if (settings_child(root, "listen", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    if (settings_str(sec, "content", "0.0.0.0:80", out->listen_content, sizeof(out->listen_content),
                     err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_parse_listen(out->listen_content) != MCC_OK)
        return mcc_conf_expect(sec, "content", "an address:port like 0.0.0.0:80 or [::]:80", err);
    if (settings_str(sec, "admin", "0.0.0.0:5001", out->listen_admin, sizeof(out->listen_admin),
                     err) != MCC_OK)
        return MCC_ERROR;
    if (out->listen_admin[0] != '\0' && mcc_parse_listen(out->listen_admin) != MCC_OK)
        return mcc_conf_expect(sec, "admin",
                               "an address:port like 0.0.0.0:5001 or [::]:5001, or \"\" to disable",
                               err);
    return MCC_OK;
}

static int settings_paths(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    const mcc_conf *sec;
    if (settings_child(root, "paths", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    if (settings_str(sec, "plugin_dir", "", out->plugin_dir, sizeof(out->plugin_dir), err) !=
        MCC_OK)
        return MCC_ERROR;
    if (settings_str(sec, "cache_root", "/var/cache/mcc", out->cache_root, sizeof(out->cache_root),
                     err) != MCC_OK)
        return MCC_ERROR;
    if (out->cache_root[0] != '/')
        return mcc_conf_expect(sec, "cache_root", "an absolute path", err);
    return MCC_OK;
}

static int settings_log(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    static const int values[] = {MCC_LOG_ERROR, MCC_LOG_WARN, MCC_LOG_INFO, MCC_LOG_DEBUG};
    const mcc_conf *sec;
    const char *level;
    if (settings_child(root, "log", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_conf_str(sec, "level", "info", &level, err) != MCC_OK)
        return MCC_ERROR;
    size_t i = 0;
    while (i < 4 && strcmp(level, levels[i]) != 0)
        i++;
    if (i == 4)
        return mcc_conf_expect(sec, "level", "one of error, warn, info, debug", err);
    out->log_level = values[i];
    return settings_str(sec, "access_log", "-", out->access_log, sizeof(out->access_log), err);
}

static int settings_limits(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    const mcc_conf *sec;
    int64_t v;
    if (settings_child(root, "limits", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_conf_int(sec, "max_connections", 10000, 1, 1000000, &v, err) != MCC_OK)
        return MCC_ERROR;
    out->max_connections = (uint64_t)v;
    if (mcc_conf_size(sec, "max_header_bytes", 16 * KIB, &out->max_header_bytes, err) != MCC_OK)
        return MCC_ERROR;
    if (out->max_header_bytes < KIB || out->max_header_bytes > MIB)
        return mcc_conf_expect(sec, "max_header_bytes", "a size from 1KiB to 1MiB", err);
    return mcc_conf_duration(sec, "client_timeout", 60000, &out->client_timeout_ms, err);
}

static const mcc_instance_conf *settings_instance(const mcc_settings *s, const char *name)
{
    for (unsigned i = 0; i < s->ninstances; i++) {
        if (strcmp(s->instances[i].name, name) == 0)
            return &s->instances[i];
    }
    return NULL;
}

/* NODE's KEY (or NODE itself for KEY NULL) names NAME: it must be an enabled instance. */
static int settings_ref(const mcc_settings *s, const mcc_conf *node, const char *key,
                        const char *name, mcc_err *err)
{
    const mcc_instance_conf *inst = settings_instance(s, name);
    if (inst == NULL)
        return mcc_conf_expect(node, key, "the name of an instance under plugins", err);
    if (!inst->enabled)
        return mcc_conf_error(node, key, err, "instance \"%s\" is disabled (plugins.%s.enabled)",
                              name, name);
    return MCC_OK;
}

/* An array of instance names into NAMES (at most MCC_MAX_ORDER), each enabled, none twice. */
static int settings_order(const mcc_settings *s, const mcc_conf *sec, const char *key,
                          const char *def, int nonempty, char (*names)[64], unsigned *count,
                          mcc_err *err)
{
    const mcc_conf *arr;
    *count = 0;
    if (settings_child(sec, key, 'a', &arr, err) != MCC_OK)
        return MCC_ERROR;
    if (arr == NULL) {
        if (def == NULL)
            return MCC_OK;
        if (settings_ref(s, sec, key, def, err) != MCC_OK)
            return MCC_ERROR;
        snprintf(names[0], 64, "%s", def);
        *count = 1;
        return MCC_OK;
    }
    size_t n = mcc_conf_count(arr);
    if (nonempty && n == 0)
        return mcc_conf_expect(sec, key, "a non-empty array of instance names", err);
    if (n > MCC_MAX_ORDER)
        return mcc_conf_error(sec, key, err, "at most %d instances may be listed", MCC_MAX_ORDER);
    for (size_t i = 0; i < n; i++) {
        const mcc_conf *el = mcc_conf_index(arr, i, NULL);
        const char *name;
        if (el == NULL)
            return mcc_conf_error(arr, NULL, err, "out of memory");
        if (mcc_conf_str(el, NULL, NULL, &name, err) != MCC_OK)
            return MCC_ERROR;
        if (settings_ref(s, el, NULL, name, err) != MCC_OK)
            return MCC_ERROR;
        for (unsigned k = 0; k < *count; k++) {
            if (strcmp(names[k], name) == 0)
                return mcc_conf_error(el, NULL, err, "instance \"%s\" is listed twice", name);
        }
        snprintf(names[*count], 64, "%s", name); /* fits: instance names are checked <= 63 */
        (*count)++;
    }
    return MCC_OK;
}

static int settings_cache(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    const mcc_conf *sec;
    if (settings_child(root, "cache", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    uint64_t ss;
    if (mcc_conf_size(sec, "slice_size", MIB, &ss, err) != MCC_OK)
        return MCC_ERROR;
    if (ss < 4 * KIB || ss > 256 * MIB || (ss & (ss - 1)) != 0)
        return mcc_conf_expect(sec, "slice_size", "a power of two from 4KiB to 256MiB", err);
    out->slice_size = ss;
    if (mcc_conf_duration(sec, "heuristic_max", 86400000, &out->heuristic_max_ms, err) != MCC_OK)
        return MCC_ERROR;
    /* as many as there are cores (nginx's worker_processes auto); one core gains nothing */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t threads;
    if (mcc_conf_int(sec, "send_threads", cpus > 1 ? (cpus < 64 ? cpus : 64) : 0, 0, 64, &threads,
                     err) != MCC_OK)
        return MCC_ERROR;
    out->send_threads = (unsigned)threads;
    /* two where there are two cores or more: a second loop takes the time one loop leaves a
     * core idle while clients wait for its answers; loops take turns on one lock, and more than
     * two were not measured (performance.md, "Event loops") */
    int64_t loops;
    if (mcc_conf_int(sec, "loops", cpus > 1 ? 2 : 1, 1, 64, &loops, err) != MCC_OK)
        return MCC_ERROR;
    out->loops = (unsigned)loops;
    if (mcc_conf_duration(sec, "offline_max_stale", 86400000, &out->offline_stale_ms, err) !=
        MCC_OK)
        return MCC_ERROR;
    if (settings_str(sec, "freshness", "", out->freshness_policy, sizeof(out->freshness_policy),
                     err) != MCC_OK)
        return MCC_ERROR;
    if (out->freshness_policy[0] != '\0' &&
        settings_ref(out, sec, "freshness", out->freshness_policy, err) != MCC_OK)
        return MCC_ERROR;
    const char *storage;
    if (mcc_conf_str(sec, "storage", "disk", &storage, err) != MCC_OK)
        return MCC_ERROR;
    if (settings_ref(out, sec, "storage", storage, err) != MCC_OK)
        return MCC_ERROR;
    snprintf(out->storage, sizeof(out->storage), "%s", storage);
    if (settings_order(out, sec, "hosts", "hosts", 1, out->hosts, &out->nhosts, err) != MCC_OK)
        return MCC_ERROR;
    return settings_order(out, sec, "upstreams", "cdn", 0, out->upstreams, &out->nupstreams, err);
}

static int settings_fetch(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    const mcc_conf *sec;
    int64_t v;
    if (settings_child(root, "fetch", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    if (settings_str(sec, "proxy", "", out->proxy, sizeof(out->proxy), err) != MCC_OK)
        return MCC_ERROR;
    if (out->proxy[0] != '\0' && mcc_parse_hostport(out->proxy, 1, NULL, 0, NULL) != MCC_OK)
        return mcc_conf_expect(sec, "proxy", "\"\" or host:port like proxy.example.com:3128", err);
    if (mcc_conf_duration(sec, "connect_timeout", 5000, &out->connect_timeout_ms, err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_conf_duration(sec, "low_speed_time", 10000, &out->low_speed_time_ms, err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_conf_int(sec, "low_speed_limit", 1000, 0, INT64_MAX, &v, err) != MCC_OK)
        return MCC_ERROR;
    out->low_speed_limit = (uint64_t)v;
    if (mcc_conf_int(sec, "max_redirects", 5, 0, 20, &v, err) != MCC_OK)
        return MCC_ERROR;
    out->max_redirects = (uint64_t)v;
    return MCC_OK;
}

static int settings_summary(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    const mcc_conf *sec;
    if (settings_child(root, "summary", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_conf_bool(sec, "public", 0, &out->summary_public, err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_conf_bool(sec, "unrestricted", 0, &out->summary_unrestricted, err) != MCC_OK)
        return MCC_ERROR;
    if (settings_str(sec, "api_key", "", out->summary_api_key, sizeof(out->summary_api_key), err) !=
        MCC_OK)
        return MCC_ERROR;
    if (mcc_conf_duration(sec, "period", 15000, &out->summary_period_ms, err) != MCC_OK)
        return MCC_ERROR;
    if (out->summary_period_ms < 1000)
        return mcc_conf_expect(sec, "period", "a duration of at least 1s", err);
    return MCC_OK;
}

static int settings_plugins(const mcc_conf *root, mcc_settings *out, mcc_err *err)
{
    const mcc_conf *sec;
    if (settings_child(root, "plugins", 'o', &sec, err) != MCC_OK)
        return MCC_ERROR;
    size_t n = mcc_conf_count(sec);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        const mcc_conf *inst = mcc_conf_index(sec, i, &name);
        if (inst == NULL)
            return mcc_conf_error(sec, NULL, err, "out of memory");
        if (!settings_name_ok(name))
            return mcc_conf_error(sec, name, err,
                                  "expected an instance name of 1 to 63 characters a-z, 0-9, "
                                  "_ and -");
        if (!cJSON_IsObject(mcc_conf_item(inst)))
            return mcc_conf_expect(inst, NULL, "an object", err);
        if (out->ninstances == MCC_MAX_INSTANCES)
            return mcc_conf_error(sec, name, err, "at most %d instances may be configured",
                                  MCC_MAX_INSTANCES);
        mcc_instance_conf *ic = &out->instances[out->ninstances];
        snprintf(ic->name, sizeof(ic->name), "%s", name);
        const char *plugin;
        if (mcc_conf_str(inst, "plugin", name, &plugin, err) != MCC_OK)
            return MCC_ERROR;
        if (!settings_name_ok(plugin))
            return mcc_conf_expect(inst, "plugin",
                                   "a plugin name of 1 to 63 characters a-z, 0-9, _ and -", err);
        snprintf(ic->plugin, sizeof(ic->plugin), "%s", plugin);
        if (mcc_conf_bool(inst, "enabled", 1, &ic->enabled, err) != MCC_OK)
            return MCC_ERROR;
        const mcc_conf *config;
        if (settings_child(inst, "config", 'o', &config, err) != MCC_OK)
            return MCC_ERROR;
        /* the plugin reads and checks its own config when it is created */
        mcc_conf_set_unchecked(config);
        ic->config = mcc_conf_item(config);
        out->ninstances++;
    }
    return MCC_OK;
}

int mcc_settings_load(const mcc_config *cfg, mcc_settings *out, mcc_err *err)
{
    memset(out, 0, sizeof(*out));
    mcc_conf *root = mcc_conf_new(cfg, mcc_config_root(cfg), "");
    if (root == NULL)
        return mcc_err_set(err, "out of memory");
    int rc = MCC_ERROR;
    /* plugins first: the cache section refers to its instances */
    if (settings_plugins(root, out, err) != MCC_OK || settings_node(root, out, err) != MCC_OK ||
        settings_listen(root, out, err) != MCC_OK || settings_paths(root, out, err) != MCC_OK ||
        settings_log(root, out, err) != MCC_OK || settings_limits(root, out, err) != MCC_OK ||
        settings_cache(root, out, err) != MCC_OK || settings_fetch(root, out, err) != MCC_OK ||
        settings_summary(root, out, err) != MCC_OK)
        goto out_root;
    rc = mcc_conf_check_unknown(root, err);
out_root:
    mcc_conf_free(root);
    return rc;
}
