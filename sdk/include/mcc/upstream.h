/* Upstreams: decide how a missing byte range is fetched (CDN, parent cache, proxy). The daemon
 * runs the transfer itself (libcurl on its loop); an upstream plugin only plans it. */
#ifndef MCC_UPSTREAM_H
#define MCC_UPSTREAM_H

#include <mcc/host.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What is to be fetched. All strings owned by the daemon, valid during the call. */
typedef struct mcc_fetch_request {
    const char *method;      /* "GET" or "HEAD" */
    const char *origin_host; /* origin host name, lower-case, no port */
    unsigned origin_port;    /* origin port (80 unless a rule or the request named another) */
    const char *path;        /* path and query as the origin knows it (cacheHostOrigin removed) */
    const char *ns;          /* cache namespace of the host rule */
    const uint8_t *key;      /* 32-byte cache key (SHA-256), for consistent hashing */
    const char *connect_to;  /* "addr:port" from the host rule, or NULL */
    const char *via;         /* the Via chain the request arrived with, or NULL */
} mcc_fetch_request;

#define MCC_PLAN_MAX_HEADERS 8

/* How to fetch it. Arrives zeroed with the daemon's defaults filled in: timeouts, redirects and
 * the outbound proxy (fetch.proxy); a plugin overrides any of them, "" as proxy for none. */
typedef struct mcc_fetch_plan {
    char url[4096];                             /* absolute http:// URL to request */
    char proxy[256];                            /* "http://host:port" or "" for none */
    char connect_to[300];                       /* libcurl CONNECT_TO "h:p:addr:port", or "" */
    char headers[MCC_PLAN_MAX_HEADERS][256];    /* extra request headers, "Name: value" */
    unsigned nheaders;
    uint32_t connect_timeout_ms; /* connect (and proxy connect) deadline */
    uint32_t low_speed_time_ms;  /* abort when below low_speed_limit bytes/s for this long */
    uint32_t low_speed_limit;
    int max_redirects; /* redirects followed upstream; 0 none */
    uint64_t cookie;   /* the plugin's own value, handed back in outcome() */
    char label[64];    /* which upstream this is, for metrics and logs ("cdn", "parent:h:80") */
} mcc_fetch_plan;

typedef enum mcc_fetch_outcome {
    MCC_FETCH_DONE = 0,           /* an HTTP response arrived (any status below 500) */
    MCC_FETCH_CONNECT_FAILED = 1, /* refused, unreachable, DNS */
    MCC_FETCH_TIMEOUT = 2,        /* connect or low-speed timeout */
    MCC_FETCH_SERVER_ERROR = 3,   /* a 5xx answer */
    MCC_FETCH_BROKEN = 4          /* the response broke off or was malformed */
} mcc_fetch_outcome;

typedef struct mcc_upstream_ops {
    size_t size; /* sizeof(mcc_upstream_ops) */
    /* Plans REQ. ATTEMPT is 0 on the first try and counts up as earlier plans of this request
     * failed before any byte reached a client (a parent plugin then picks the next parent).
     * Returns MCC_OK with PLAN filled, or MCC_DECLINED to let the next upstream in the
     * configured order plan it. Main thread, no I/O. */
    int (*plan)(void *state, const mcc_fetch_request *req, unsigned attempt,
                mcc_fetch_plan *plan);
    /* Optional. How a plan of this instance went (mcc_fetch_outcome, and the HTTP status when
     * one arrived, else 0): where a parent plugin marks parents down or up. */
    void (*outcome)(void *state, const mcc_fetch_plan *plan, int outcome, int http_status);
} mcc_upstream_ops;

#ifdef __cplusplus
}
#endif
#endif
