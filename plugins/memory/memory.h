/* The memory storage backend's private types and the functions its two files share. Objects live
 * in RAM, one buffer per slice allocated on its first write, under a byte limit. */
#ifndef MCC_MEMORY_H
#define MCC_MEMORY_H

#include <stdint.h>

#include <mcc/mcc.h>
#include <uthash.h>

#define MEM_MIN_SIZE (64u * 1024u)
#define MEM_META_MAX (16u * 1024u * 1024u) /* a sanity bound on the daemon's blob, as disk has */
#define MEM_OBJ_OVERHEAD 256u              /* bookkeeping charged per object besides its slices */
#define MEM_SLICE_OVERHEAD 24u             /* per slice: buffer pointer, checksum, fill, flags */

/* per-slice flags */
#define MEM_SLICE_PRESENT 0x1u /* committed: its checksum is recorded */

struct mem_state;

/* One stored object. Referenced by the index (while linked) and by each open handle; freed when
 * neither holds it, so that a replaced or removed object's handles keep reading its bytes. */
typedef struct mem_obj {
    uint8_t key[MCC_KEY_LEN];
    uint64_t id; /* the eviction policy's name for it */
    struct mem_state *st;
    uint64_t length;
    uint64_t nslices;
    uint64_t charge; /* bytes of the limit this object takes: reserved length plus bookkeeping */
    uint32_t slice_size;
    unsigned handles;
    uint8_t linked; /* in the index */

    void *meta;
    size_t meta_len;
    uint8_t **bufs; /* per slice, NULL until its first write */
    uint64_t *sums; /* per slice XXH3-64, valid when present */
    uint32_t *fill; /* per slice: bytes written in order from its start (not yet committed) */
    uint8_t *flags; /* MEM_SLICE_* per slice */
    uint64_t present;

    UT_hash_handle hh;    /* by key */
    UT_hash_handle hh_id; /* by id */
} mem_obj;

struct mcc_object {
    mem_obj *o;
};

typedef struct mem_state {
    const mcc_host *host;
    mcc_instance *self;
    char *eviction;
    char *admission; /* NULL: every object is admitted */
    uint64_t size;   /* the byte limit */
    uint64_t max_object;
    uint64_t used;
    uint64_t objects;
    uint64_t evictions;
    int started;

    const mcc_policy_ops *policy;
    void *policy_state;
    mcc_evict_set *evict;
    const mcc_policy_ops *admit;
    void *admit_state;

    mem_obj *by_key;
    mem_obj *by_id;
    mcc_metric *m_used;
    mcc_metric *m_evictions;
    mcc_metric *checksum_failures;
} mem_state;

/* object.c: one object's slices, through its handles */
mem_obj *mem_obj_new(mem_state *st, const uint8_t key[MCC_KEY_LEN], uint64_t length,
                     uint32_t slice_size, const void *meta, size_t meta_len);
void mem_obj_free(mem_obj *o);
/* What a complete object counts against the limit, and what it counts before any slice is
 * written: an object is charged its bookkeeping and the slices it has a buffer for. */
uint64_t mem_obj_charge(uint64_t length, uint64_t nslices, size_t meta_len);
uint64_t mem_obj_base_charge(uint64_t nslices, size_t meta_len);
int mem_obj_info(mcc_object *h, mcc_object_info *info);
int mem_obj_set_meta(mcc_object *h, const void *meta, size_t meta_len);
int mem_obj_has_slice(mcc_object *h, uint64_t idx);
int mem_obj_write(mcc_object *h, uint64_t off, const void *buf, size_t len);
int mem_obj_commit(mcc_object *h, uint64_t idx);
int mem_obj_read(mcc_object *h, uint64_t off, void *buf, size_t len);
int mem_obj_read_fd(mcc_object *h, uint64_t off, int *fd, uint64_t *fd_off);
int mem_obj_verify(mcc_object *h, uint64_t idx);

/* memory.c: the index and the byte limit */
int mem_reserve(mem_state *st, uint64_t extra);

#endif
