/* The request pipeline: the in-memory index of objects in use, the in-flight transfer table,
 * and the serving of one client request from storage and from transfers as bytes land. */
#ifndef MCC_CACHE_H
#define MCC_CACHE_H

#include <event2/http.h>
#include <mcc/mcc.h>

#include "core/core.h"

struct mcc_cache;

/* Where a content request goes: filled by the front after addressing and host rules. */
typedef struct mcc_target {
    const char *origin_host; /* lower-case, no port */
    unsigned origin_port;    /* port to contact */
    const char *path;        /* path + query as sent upstream to a CDN (no cacheHostOrigin) */
    const char *log_path;    /* path for the access log */
    const char *via;         /* Via header the request arrived with, or NULL */
    mcc_host_rule rule;      /* the host rule that accepted the origin */
    uint8_t key[MCC_KEY_LEN];
} mcc_target;

struct mcc_cache *mcc_cache_new(mcc_core *core, mcc_err *err);
/* Cancels every transfer and drops every serve (their connections are closed by the front). */
void mcc_cache_free(struct mcc_cache *c);

/* Serves REQ (GET or HEAD) for TARGET. Takes REQ over: it is answered, now or later. TARGET is
 * copied. */
void mcc_cache_serve(struct mcc_cache *c, struct evhttp_request *req, const mcc_target *target);
/* BASE is another event loop answering requests (cache.loops): what the cache hands to threads
 * for that loop's clients comes back to it. MCC_OK or MCC_ERROR (the first loop then takes it). */
int mcc_cache_add_loop(struct mcc_cache *c, struct event_base *base);

/* Reload support: checks that the freshness policy NEW_ names is among the instances MADE (or
 * already running) and of the right type; then, after the swap, re-reads settings and the
 * freshness policy. */
struct mcc_instance;
int mcc_cache_check_freshness(mcc_core *core, struct mcc_instance **made, size_t n,
                              const mcc_settings *new_, mcc_err *err);
void mcc_cache_settings_changed(struct mcc_cache *c);

/* Microseconds since the epoch. */
int64_t mcc_now_us(void);
/* The request line's name of an evhttp_cmd_type. */
const char *mcc_method_name(int cmd);

/* Counts for metrics and tests. */
typedef struct mcc_cache_counts {
    uint64_t entries;      /* objects in use */
    uint64_t transfers;    /* upstream transfers in flight */
    uint64_t serves;       /* client responses in progress */
    uint64_t coalesced;    /* requests that joined a transfer another request started */
} mcc_cache_counts;
void mcc_cache_get_counts(const struct mcc_cache *c, mcc_cache_counts *out);
/* Sets the sender threads' CPU time metric (mcc_core_sample). */
void mcc_cache_sample(struct mcc_cache *c);

#endif
