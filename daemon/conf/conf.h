/* Configuration: conf.d fragments merged in file-name order, with the file each key came from,
 * and the daemon's own settings read from the merged document. */
#ifndef MCC_CONF_H
#define MCC_CONF_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <mcc/host.h>

typedef struct mcc_config mcc_config;

/* An empty configuration. */
mcc_config *mcc_config_new(void);
void mcc_config_free(mcc_config *cfg);

/* Merges one fragment on top of what is there: objects key by key, the later value wins, arrays
 * and scalars are replaced. NAME is how errors name the fragment (its path). A fragment that is
 * not valid JSON, or whose top level is not an object, is an error naming NAME and the place. */
int mcc_config_add_text(mcc_config *cfg, const char *name, const char *text, mcc_err *err);
int mcc_config_add_file(mcc_config *cfg, const char *path, mcc_err *err);
/* Every *.json in DIR in file-name (strcmp) order. A missing DIR is an error unless OPTIONAL. */
int mcc_config_add_dir(mcc_config *cfg, const char *dir, int optional, mcc_err *err);
/* The compiled-in conf.d (conf/embedded.h), named "<embedded>/NAME". */
int mcc_config_add_embedded(mcc_config *cfg, mcc_err *err);

/* The merged document (owned by cfg) and the fragment that last set KEYPATH ("a.b.c", array
 * elements as "a.b[2]"), or NULL. */
cJSON *mcc_config_root(const mcc_config *cfg);
const char *mcc_config_source(const mcc_config *cfg, const char *keypath);
/* The merged document as indented JSON; free() it. */
char *mcc_config_print(const mcc_config *cfg);

/* --- Config nodes handed to plugins (the mcc_conf of the SDK) ----------------------------------
 * A node wraps one cJSON item of the merged document with its key path; the getters of the host
 * table (conf/node.c) read it and remember which member keys were touched. */
mcc_conf *mcc_conf_new(const mcc_config *cfg, cJSON *item, const char *keypath);
void mcc_conf_free(mcc_conf *node); /* frees the node and every child node made from it */
/* MCC_ERROR naming the first member of NODE (recursively, in objects reached through
 * conf_child) that no getter touched: "<file>: <key path>: unknown key". */
int mcc_conf_check_unknown(const mcc_conf *node, mcc_err *err);

/* The getters of the SDK's host table, also used by the daemon for its own sections. */
int mcc_conf_str(const mcc_conf *node, const char *key, const char *def, const char **out,
                 mcc_err *err);
int mcc_conf_int(const mcc_conf *node, const char *key, int64_t def, int64_t min, int64_t max,
                 int64_t *out, mcc_err *err);
int mcc_conf_bool(const mcc_conf *node, const char *key, int def, int *out, mcc_err *err);
int mcc_conf_size(const mcc_conf *node, const char *key, uint64_t def, uint64_t *out,
                  mcc_err *err);
int mcc_conf_duration(const mcc_conf *node, const char *key, uint64_t def, uint64_t *out,
                      mcc_err *err);
const mcc_conf *mcc_conf_child(const mcc_conf *node, const char *key, int want, mcc_err *err);
size_t mcc_conf_count(const mcc_conf *node);
const mcc_conf *mcc_conf_index(const mcc_conf *node, size_t i, const char **name);
int mcc_conf_error(const mcc_conf *node, const char *key, mcc_err *err, const char *fmt, ...)
    MCC_PRINTF(4, 5);

/* For the daemon's own reading (settings, loader): the node's item and key path; marking a node
 * unchecked makes check_unknown skip it (a plugin's "config", which the plugin validates); and
 * "<file>: <key path>: expected WHAT, got <value found>" for KEY of NODE (NULL: NODE itself). */
cJSON *mcc_conf_item(const mcc_conf *node);
const char *mcc_conf_path(const mcc_conf *node);
void mcc_conf_set_unchecked(const mcc_conf *node);
int mcc_conf_expect(const mcc_conf *node, const char *key, const char *what, mcc_err *err);

/* Parsers shared with env-to-conf: "1MiB", "10GB", "512" -> bytes; "250ms", "30s", 5 -> ms. */
int mcc_parse_size(const char *text, uint64_t *out);
int mcc_parse_duration(const char *text, uint64_t *out);
/* MCC_OK for a GUID: 8-4-4-4-12 hex digits, either case. */
int mcc_parse_guid(const char *text);
/* "host", "host:port", "[v6]" or "[v6]:port" (a bare v6 address when no port): host a DNS name or
 * an IP literal, port 1..65535. HOST (may be NULL) gets the host without brackets, *port the
 * port or 0. PORT_REQUIRED refuses forms without one. */
int mcc_parse_hostport(const char *text, int port_required, char *host, size_t hostlen,
                       unsigned *port);
/* "addr:port" or "[v6addr]:port" with an IP literal (inet_pton) and a port 1..65535. */
int mcc_parse_listen(const char *text);

/* --- The daemon's own settings ------------------------------------------------------------- */

#define MCC_MAX_INSTANCES 64
#define MCC_MAX_ORDER 16

typedef struct mcc_instance_conf {
    char name[64];   /* key under "plugins" */
    char plugin[64]; /* shared object name: <plugin_dir>/<plugin>.so */
    int enabled;
    cJSON *config; /* the "config" object (may be NULL); owned by the mcc_config */
} mcc_instance_conf;

typedef struct mcc_settings {
    char node_name[128];
    char customer_id[64], cache_node_id[64], customer_key[64];
    char listen_content[128], listen_admin[128]; /* "addr:port"; "" disables */
    char plugin_dir[1024], cache_root[1024];
    int log_level;         /* enum mcc_log_level */
    char access_log[1024]; /* "-" stderr, "" off, else a file path */
    uint64_t max_connections, max_header_bytes, client_timeout_ms;
    uint64_t slice_size;
    uint64_t heuristic_max_ms;    /* cap of heuristic freshness (RFC 9111 4.2.2) */
    unsigned send_threads;        /* threads writing large stored bodies; 0: the loop does */
    unsigned loops;               /* event loops answering device connections (core/lock.h) */
    uint64_t offline_stale_ms;    /* how stale a stored object may be served when the upstream
                                   * fails; 0: no limit */
    char freshness_policy[64];    /* policy instance refining freshness by path, "" none */
    char storage[64];                           /* instance name */
    char hosts[MCC_MAX_ORDER][64];              /* instance names in order */
    unsigned nhosts;
    char upstreams[MCC_MAX_ORDER][64];
    unsigned nupstreams;
    char proxy[256]; /* outbound proxy "host:port", "" none */
    uint64_t connect_timeout_ms, low_speed_time_ms, low_speed_limit, max_redirects;
    int summary_public, summary_unrestricted;
    char summary_api_key[128];
    uint64_t summary_period_ms;
    mcc_instance_conf instances[MCC_MAX_INSTANCES];
    unsigned ninstances;
} mcc_settings;

/* Reads and validates the daemon's sections (everything but the plugins' "config" objects,
 * which their plugins validate). Unknown keys and wrong types are errors naming the file, key
 * path and expectation. */
int mcc_settings_load(const mcc_config *cfg, mcc_settings *out, mcc_err *err);

/* --- MCC's environment ---------------------------------------------------------------------
 * Reads MCC's environment variables from ENVP ("NAME=value" strings, NULL-terminated: environ
 * in mccd, a table in tests) and writes one fragment per concern into DIR. Validates everything
 * first: on any bad value nothing is written and err names the variable and the expected
 * form. */
int mcc_env_to_conf(char *const *envp, const char *dir, mcc_err *err);

#endif
