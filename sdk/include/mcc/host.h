/* The host API table: everything a plugin may use of the daemon. Size-prefixed, functions only.
 * Every function here is called on the daemon's main (event loop) thread and never blocks. */
#ifndef MCC_HOST_H
#define MCC_HOST_H

#include <mcc/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcc_instance mcc_instance; /* the daemon's handle of one plugin instance */
typedef struct mcc_conf mcc_conf;         /* a config node: object, array or scalar */
typedef struct mcc_metric mcc_metric;     /* one metric series */
typedef struct mcc_timer mcc_timer;
typedef struct mcc_reply mcc_reply; /* the response of an admin route being answered */
struct mcc_policy_ops;

enum mcc_log_level { MCC_LOG_ERROR = 0, MCC_LOG_WARN = 1, MCC_LOG_INFO = 2, MCC_LOG_DEBUG = 3 };

typedef enum mcc_metric_type {
    MCC_METRIC_COUNTER = 0,  /* only grows; metric_add */
    MCC_METRIC_GAUGE = 1,    /* metric_set or metric_add (may be negative) */
    MCC_METRIC_HISTOGRAM = 2 /* metric_add observes one value */
} mcc_metric_type;

/* One series as an exporter sees it while visiting. Pointers are valid during the visit only. */
typedef struct mcc_metric_sample {
    const char *name;   /* e.g. "mcc_upstream_requests_total" */
    const char *help;   /* one line */
    const char *labels; /* Prometheus label body without braces, e.g. `upstream="cdn"`, or "" */
    mcc_metric_type type;
    double value; /* counter or gauge value; histogram: unused */
    /* histogram only: nbuckets upper bounds (ascending, +Inf implied after the last),
     * cumulative counts per bound, then sum and count of all observations */
    size_t nbuckets;
    const double *bounds;
    const uint64_t *buckets;
    double sum;
    uint64_t count;
} mcc_metric_sample;

typedef void (*mcc_metric_visit_fn)(void *arg, const mcc_metric_sample *sample);

/* Bytes the cache sent, split by where they came from. */
typedef struct mcc_traffic {
    uint64_t hit_bytes;  /* sent from storage */
    uint64_t miss_bytes; /* sent from an upstream stream */
    uint64_t requests;
} mcc_traffic;

/* The request an admin route is asked to answer. */
typedef struct mcc_admin_request {
    const char *method; /* "GET", "HEAD", ... */
    const char *path;   /* decoded path, e.g. "/summary" */
    const char *query;  /* raw query without '?', or NULL */
    const char *peer;   /* client address as text */
} mcc_admin_request;

/* Answers one admin request synchronously: fill reply through reply_* and return MCC_OK.
 * Called on the main thread; must not block. */
typedef int (*mcc_route_fn)(void *arg, const mcc_admin_request *req, mcc_reply *reply);

typedef void (*mcc_timer_fn)(void *arg);

/* What the request pipeline holds right now, and what it counted since start. */
typedef struct mcc_cache_stats {
    uint64_t objects_in_use; /* objects open in the pipeline (being served or fetched) */
    uint64_t transfers;      /* upstream transfers in flight */
    uint64_t serves;         /* client responses in progress */
    uint64_t coalesced;      /* since start: requests that joined a transfer another started */
} mcc_cache_stats;

struct mcc_drive_info; /* mcc/storage.h */

typedef struct mcc_host {
    size_t size; /* sizeof(mcc_host) as the daemon was built */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Logging, prefixed with the instance name. */
    void (*log)(mcc_instance *self, int level, const char *fmt, ...) MCC_PRINTF(3, 4);

    /* --- Config getters -------------------------------------------------------------------
     * NODE is the node given to create, or a child of it. KEY names a member of an object node;
     * KEY NULL reads NODE itself (an array element). An absent key yields DEF and MCC_OK.
     * A present key of the wrong type or out of range returns MCC_ERROR with err naming the
     * fragment file, the full key path and what was expected. Every key touched counts as known:
     * keys no getter touched during create are refused as unknown by the loader.
     * Strings returned are owned by the node and valid only during create. */
    int (*conf_str)(const mcc_conf *node, const char *key, const char *def, const char **out,
                    mcc_err *err);
    int (*conf_int)(const mcc_conf *node, const char *key, int64_t def, int64_t min, int64_t max,
                    int64_t *out, mcc_err *err);
    int (*conf_bool)(const mcc_conf *node, const char *key, int def, int *out, mcc_err *err);
    /* a byte count: a non-negative integer, or a string "512", "64KiB", "1MiB", "10GB", "2G" */
    int (*conf_size)(const mcc_conf *node, const char *key, uint64_t def, uint64_t *out,
                     mcc_err *err);
    /* a duration in milliseconds: a number of seconds, or a string "250ms", "30s", "5m", "1h" */
    int (*conf_duration)(const mcc_conf *node, const char *key, uint64_t def, uint64_t *out,
                         mcc_err *err);
    /* child object or array; NULL when absent. MCC_ERROR (NULL + err) when present but of another
     * type than WANT ('o' object, 'a' array, 0 either). */
    const mcc_conf *(*conf_child)(const mcc_conf *node, const char *key, int want, mcc_err *err);
    /* number of elements of an array or members of an object node */
    size_t (*conf_count)(const mcc_conf *node);
    /* element I of an array node, or member I of an object node (then *name is set) */
    const mcc_conf *(*conf_index)(const mcc_conf *node, size_t i, const char **name);
    /* fills err with "<file>: <key path>: <message>" for a problem the plugin found itself */
    int (*conf_error)(const mcc_conf *node, const char *key, mcc_err *err, const char *fmt, ...)
        MCC_PRINTF(4, 5);

    /* --- Metrics -----------------------------------------------------------------------------
     * Registers (or finds: same name and labels give the same series) a series. NAME follows
     * Prometheus conventions; LABELS is a label body (`drive="1"`) or NULL. HELP is copied.
     * For histograms BOUNDS (ascending, NBOUNDS of them) are copied; NULL gives latency bounds
     * in seconds. Returns NULL only on out-of-memory or a type clash with an existing name. */
    mcc_metric *(*metric)(mcc_instance *self, mcc_metric_type type, const char *name,
                          const char *help, const char *labels, const double *bounds,
                          size_t nbounds);
    void (*metric_add)(mcc_metric *m, double v);
    void (*metric_set)(mcc_metric *m, double v);
    /* visits every series, sorted by name then labels */
    void (*metric_visit)(mcc_instance *self, mcc_metric_visit_fn fn, void *arg);
    /* lifetime totals and the last completed report period (period_s seconds long; zeros
     * before the first period ends) */
    void (*traffic)(mcc_instance *self, mcc_traffic *lifetime, mcc_traffic *period,
                    unsigned *period_s, int64_t *period_end);

    /* --- Timers ------------------------------------------------------------------------------
     * A timer calls FN(ARG) on the main thread. Arm with a delay in ms; REPEAT re-arms it with
     * the same delay after each call. Free stops it; free it before the instance is destroyed. */
    mcc_timer *(*timer_new)(mcc_instance *self, mcc_timer_fn fn, void *arg);
    int (*timer_arm)(mcc_timer *t, uint64_t ms, int repeat);
    void (*timer_free)(mcc_timer *t);

    /* --- Admin routes -----------------------------------------------------------------------
     * Serves PATH (exact match) on the admin listener. Access control (loopback, API key) is
     * applied by the daemon before FN runs. MCC_ERROR when the path is taken. */
    int (*route_add)(mcc_instance *self, const char *path, mcc_route_fn fn, void *arg);
    void (*reply_status)(mcc_reply *r, int status, const char *content_type);
    void (*reply_header)(mcc_reply *r, const char *name, const char *value);
    void (*reply_append)(mcc_reply *r, const void *data, size_t len);
    void (*reply_printf)(mcc_reply *r, const char *fmt, ...) MCC_PRINTF(2, 3);

    /* --- Other instances ----------------------------------------------------------------------
     * The policy instance named NAME (as configured under "plugins"), with its state, or NULL
     * when there is none or it is not a policy. Valid from start until stop. */
    const struct mcc_policy_ops *(*policy)(mcc_instance *self, const char *name, void **state);

    /* --- Identity ----------------------------------------------------------------------------
     * node name (from CACHE_NODE_ID or config) and the instance's own name; owned by the host */
    const char *(*node_name)(mcc_instance *self);
    const char *(*instance_name)(mcc_instance *self);
    /* the daemon's cache root (paths.cache_root), where storage backends place relative
     * paths; owned by the host */
    const char *(*cache_root)(mcc_instance *self);

    /* --- Reports: state pulled when an exporter answers (members added in ABI 1.0) -------------
     * Test each with MCC_HAS(host, member) before calling.
     * The pipeline's counts into OUT; all zero before the pipeline exists (as during create). */
    void (*cache_stats)(mcc_instance *self, mcc_cache_stats *out);
    /* The storage instance's totals (the backend's usage op): MCC_OK, or MCC_NOTFOUND (zeros)
     * when no storage instance is configured. Any pointer may be NULL. */
    int (*storage_usage)(mcc_instance *self, uint64_t *used, uint64_t *capacity, uint64_t *objects);
    /* Drive I (0, 1, ...) of the storage instance into OUT: MCC_OK; MCC_NOTFOUND past the last
     * drive or without storage; MCC_DECLINED when the backend does not report drives (then use
     * storage_usage). Walk I upwards until it returns something other than MCC_OK. */
    int (*storage_drive)(mcc_instance *self, unsigned i, struct mcc_drive_info *out);
    /* The daemon's version ("0.1.0"); owned by the host. */
    const char *(*daemon_version)(mcc_instance *self);
} mcc_host;

#ifdef __cplusplus
}
#endif
#endif
