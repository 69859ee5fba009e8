/* Host rules: which origins the cache serves, under which namespace, how fresh their content is. */
#ifndef MCC_HOSTS_H
#define MCC_HOSTS_H

#include <mcc/host.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How stored content of a host or path stays usable. */
typedef enum mcc_freshness {
    MCC_FRESH_STANDARD = 0,   /* RFC 9111: Cache-Control, Expires, validators */
    MCC_FRESH_IMMUTABLE = 1,  /* content-addressed: never revalidated */
    MCC_FRESH_REVALIDATE = 2  /* always asked of the origin before reuse (apt index files) */
} mcc_freshness;

typedef struct mcc_host_rule {
    char ns[128];         /* cache namespace (canonical name); objects of one ns share copies */
    unsigned port;        /* origin port to contact; the rule's port, else the request's, else 80 */
    char connect_to[128]; /* "addr:port" to reach the origin at instead of DNS, or "" */
    int freshness;        /* mcc_freshness for this host and path */
} mcc_host_rule;

typedef struct mcc_hosts_ops {
    size_t size; /* sizeof(mcc_hosts_ops) */
    /* HOST is the origin host name, lower-case, without port or brackets; PORT the port the
     * request named (0 when none); PATH the request path (no query). Returns MCC_OK with RULE
     * filled (RULE arrives zeroed) when this instance makes the host cacheable, MCC_DECLINED
     * otherwise. Called for every content request: constant or logarithmic time, no I/O. */
    int (*match)(void *state, const char *host, unsigned port, const char *path,
                 mcc_host_rule *rule);
} mcc_hosts_ops;

#ifdef __cplusplus
}
#endif
#endif
