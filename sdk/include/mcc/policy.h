/* Policies: small decision modules. One descriptor of kind MCC_KIND_POLICY says which decision
 * it makes (type) and fills that part of the ops table. */
#ifndef MCC_POLICY_H
#define MCC_POLICY_H

#include <mcc/host.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mcc_policy_type {
    MCC_POLICY_EVICTION = 1,  /* which object leaves when room is needed */
    MCC_POLICY_ADMISSION = 2, /* whether a new object is stored at all */
    MCC_POLICY_FRESHNESS = 3  /* immutable / standard / revalidate per host and path */
} mcc_policy_type;

typedef struct mcc_evict_set mcc_evict_set; /* a policy's tracker of one pool of objects */

/* Tells an eviction policy whether object ID may leave now (1) or is in use (0). */
typedef int (*mcc_evict_can_fn)(void *arg, uint64_t id);

typedef struct mcc_policy_ops {
    size_t size; /* sizeof(mcc_policy_ops) */
    int type;    /* mcc_policy_type */

    /* Eviction. A storage backend makes one set per pool (a drive) and tells it of every
     * object (by an id of its own) it stores, reads and removes. */
    mcc_evict_set *(*evict_new)(void *state, uint64_t capacity);
    void (*evict_free)(mcc_evict_set *set);
    void (*evict_insert)(mcc_evict_set *set, uint64_t id, uint64_t bytes);
    void (*evict_access)(mcc_evict_set *set, uint64_t id);
    void (*evict_remove)(mcc_evict_set *set, uint64_t id);
    /* Proposes the next victim for which CAN(ARG, id) is 1, without removing it (the backend
     * removes it and then calls evict_remove). MCC_OK with *id, MCC_NOTFOUND when none can go. */
    int (*evict_victim)(mcc_evict_set *set, mcc_evict_can_fn can, void *arg, uint64_t *id);

    /* Admission: MCC_OK to store an object of LENGTH bytes seen REQUESTS times, MCC_DECLINED to
     * serve it without storing. */
    int (*admit)(void *state, const uint8_t *key, uint64_t length, unsigned requests);

    /* Freshness: the mcc_freshness class for NS/HOST/PATH; RULE_CLASS is what the host rule
     * said. Returns the class, or MCC_DECLINED to keep RULE_CLASS. */
    int (*freshness)(void *state, const char *ns, const char *host, const char *path,
                     int rule_class);
} mcc_policy_ops;

#ifdef __cplusplus
}
#endif
#endif
