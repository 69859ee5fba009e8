/* Exporters: reports. They register admin routes through the host and may watch requests. */
#ifndef MCC_EXPORTER_H
#define MCC_EXPORTER_H

#include <mcc/host.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One finished content request. Strings valid during the call only. */
typedef struct mcc_request_record {
    int64_t time_us;    /* when the request arrived, microseconds since the epoch */
    const char *client; /* client address */
    const char *method;
    const char *origin_host; /* "" when the request was not addressed to an origin */
    const char *path;
    int status;
    uint64_t bytes_sent;      /* body bytes that left the cache */
    uint64_t hit_bytes;       /* of those, sent from storage */
    uint64_t miss_bytes;      /* of those, sent from an upstream stream */
    const char *cache_status; /* "hit", "miss", "stale", "bypass", ... */
    uint64_t upstream_ms;     /* time waiting for upstream headers, 0 when none */
    uint64_t duration_ms;
} mcc_request_record;

typedef struct mcc_exporter_ops {
    size_t size; /* sizeof(mcc_exporter_ops) */
    /* Optional. After each content request, on the loop that answered it (one call at a time);
     * must be quick. */
    void (*on_request)(void *state, const mcc_request_record *rec);
    /* Optional. When a report period ends: its totals, length and end time (unix seconds). */
    void (*on_period)(void *state, const mcc_traffic *period, unsigned period_s, int64_t end);
} mcc_exporter_ops;

#ifdef __cplusplus
}
#endif
#endif
