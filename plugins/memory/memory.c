/* The "memory" storage backend: objects in RAM under a byte limit, evicted by the configured
 * policy, with the same slice, checksum and handle semantics as disk. For tiny gateways, tests,
 * and as the second implementation that keeps the storage API honest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "memory.h"

#define MEM_DEFAULT_SIZE (256u * 1024u * 1024u)

/* The policy's name for KEY: a hash of the key, so that it stays the same when the object is
 * stored again (ghost entries and frequency survive a replace). A collision takes the next seed. */
static uint64_t mem_obj_id(mem_state *st, const uint8_t key[MCC_KEY_LEN])
{
    for (uint64_t seed = 0;; seed++) {
        uint64_t id = XXH3_64bits_withSeed(key, MCC_KEY_LEN, seed);
        mem_obj *o;
        if (id == 0)
            continue;
        HASH_FIND(hh_id, st->by_id, &id, sizeof(id), o);
        if (o == NULL)
            return id;
    }
}

static void mem_used_changed(mem_state *st)
{
    if (st->m_used != NULL)
        st->host->metric_set(st->m_used, (double)st->used);
}

static void mem_index_add(mem_state *st, mem_obj *o)
{
    o->id = mem_obj_id(st, o->key);
    HASH_ADD(hh, st->by_key, key, MCC_KEY_LEN, o);
    HASH_ADD(hh_id, st->by_id, id, sizeof(o->id), o);
    o->linked = 1;
    st->used += o->charge;
    st->objects++;
    if (st->policy != NULL && st->evict != NULL) /* the size it will most likely have */
        st->policy->evict_insert(st->evict, o->id,
                                 mem_obj_charge(o->length, o->nslices, o->meta_len));
    mem_used_changed(st);
}

/* Takes O out of the index: its key belongs to no one (or a new object) now. Open handles keep
 * the object and its bytes; it is freed with the last one. */
static void mem_index_unlink(mem_state *st, mem_obj *o)
{
    HASH_DELETE(hh, st->by_key, o);
    HASH_DELETE(hh_id, st->by_id, o);
    o->linked = 0;
    st->used -= o->charge;
    st->objects--;
    if (st->policy != NULL && st->evict != NULL)
        st->policy->evict_remove(st->evict, o->id);
    mem_used_changed(st);
    if (o->handles == 0)
        mem_obj_free(o);
}

static int mem_can_evict(void *arg, uint64_t id)
{
    mem_state *st = arg;
    mem_obj *o;
    HASH_FIND(hh_id, st->by_id, &id, sizeof(id), o);
    return o != NULL && o->handles == 0;
}

/* Evicts until EXTRA more bytes fit under the limit. MCC_OK, or MCC_NOSPACE when the objects
 * that may go do not free enough. */
static int mem_make_room(mem_state *st, uint64_t extra)
{
    if (extra > st->size)
        return MCC_NOSPACE;
    uint64_t limit = st->size - extra;
    /* each round removes one object, or one id the policy knew and we do not: bounded */
    uint64_t rounds = st->objects + 16;
    while (st->used > limit) {
        uint64_t id;
        mem_obj *v;
        if (st->policy == NULL || st->evict == NULL || rounds-- == 0)
            return MCC_NOSPACE;
        if (st->policy->evict_victim(st->evict, mem_can_evict, st, &id) != MCC_OK)
            return MCC_NOSPACE;
        HASH_FIND(hh_id, st->by_id, &id, sizeof(id), v);
        if (v == NULL) {
            st->policy->evict_remove(st->evict, id);
            continue;
        }
        if (v->handles > 0)
            return MCC_NOSPACE; /* the policy ignored can(): never take bytes being read */
        st->host->log(st->self, MCC_LOG_DEBUG, "evicting an object of %llu bytes",
                      (unsigned long long)v->length);
        st->evictions++;
        if (st->m_evictions != NULL)
            st->host->metric_add(st->m_evictions, 1);
        mem_index_unlink(st, v);
    }
    return MCC_OK;
}

/* Grows the bytes counted as used by EXTRA, evicting first. MCC_OK or MCC_NOSPACE. */
int mem_reserve(mem_state *st, uint64_t extra)
{
    if (mem_make_room(st, extra) != MCC_OK)
        return MCC_NOSPACE;
    st->used += extra;
    mem_used_changed(st);
    return MCC_OK;
}

/* --- the storage ops ----------------------------------------------------------------------- */

static mcc_object *mem_handle_new(mem_obj *o)
{
    mcc_object *h = malloc(sizeof(*h));
    if (h == NULL)
        return NULL;
    h->o = o;
    o->handles++;
    return h;
}

static void mem_close(mcc_object *h)
{
    if (h == NULL)
        return;
    mem_obj *o = h->o;
    free(h);
    if (--o->handles == 0 && !o->linked)
        mem_obj_free(o);
}

static int mem_open(void *state, const uint8_t key[MCC_KEY_LEN], mcc_object **obj)
{
    mem_state *st = state;
    mem_obj *o;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o == NULL)
        return MCC_NOTFOUND;
    mcc_object *h = mem_handle_new(o);
    if (h == NULL)
        return MCC_ERROR;
    /* one access per open: reads through the handle are the same use, not more of them */
    if (st->policy != NULL && st->evict != NULL)
        st->policy->evict_access(st->evict, o->id);
    *obj = h;
    return MCC_OK;
}

static int mem_create(void *state, const uint8_t key[MCC_KEY_LEN], uint64_t length,
                      uint32_t slice_size, const void *meta, size_t meta_len, mcc_object **obj)
{
    mem_state *st = state;
    mem_obj *old;

    if (!st->started || slice_size == 0 || meta_len > MEM_META_MAX ||
        (meta == NULL && meta_len > 0))
        return MCC_ERROR;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, old);
    if (old != NULL)
        mem_index_unlink(st, old); /* replaced: its open handles keep the old bytes */
    if (st->admit != NULL && st->admit->admit(st->admit_state, key, length, 1) == MCC_DECLINED)
        return MCC_DECLINED;
    if (length > st->max_object)
        return MCC_NOSPACE;
    uint64_t nslices = length / slice_size + (length % slice_size != 0);
    uint64_t charge = mem_obj_charge(length, nslices, meta_len);
    if (charge < length || charge > st->size)
        return MCC_NOSPACE;
    /* room for the bookkeeping now; each slice's when its buffer comes, as on disk */
    if (mem_make_room(st, mem_obj_base_charge(nslices, meta_len)) != MCC_OK)
        return MCC_NOSPACE;
    mem_obj *o = mem_obj_new(st, key, length, slice_size, meta, meta_len);
    mcc_object *h = o != NULL ? mem_handle_new(o) : NULL;
    if (h == NULL) {
        mem_obj_free(o);
        return MCC_ERROR;
    }
    mem_index_add(st, o);
    *obj = h;
    return MCC_OK;
}

static int mem_remove(void *state, const uint8_t key[MCC_KEY_LEN])
{
    mem_state *st = state;
    mem_obj *o;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o == NULL)
        return MCC_NOTFOUND;
    mem_index_unlink(st, o);
    return MCC_OK;
}

static void mem_usage(void *state, uint64_t *used, uint64_t *capacity, uint64_t *objects)
{
    mem_state *st = state;
    if (used != NULL)
        *used = st->used;
    if (capacity != NULL)
        *capacity = st->size;
    if (objects != NULL)
        *objects = st->objects;
}

/* One "drive": the arena, named after the instance. */
static int mem_drives(void *state, unsigned i, mcc_drive_info *out)
{
    mem_state *st = state;
    if (i > 0)
        return MCC_NOTFOUND;
    memset(out, 0, sizeof(*out));
    const char *name = MCC_HAS(st->host, instance_name) ? st->host->instance_name(st->self) : NULL;
    snprintf(out->name, sizeof(out->name), "memory:%s", name != NULL ? name : "memory");
    out->used = st->used;
    out->capacity = st->size;
    out->objects = st->objects;
    out->evictions = st->evictions;
    out->writable = st->started;
    return MCC_OK;
}

/* --- config and lifecycle ------------------------------------------------------------------ */

static int mem_conf(mem_state *st, const mcc_conf *conf, mcc_err *err)
{
    const mcc_host *host = st->host;
    const char *eviction = NULL, *admission = NULL;

    if (host->conf_size(conf, "size", MEM_DEFAULT_SIZE, &st->size, err) != MCC_OK)
        return MCC_ERROR;
    if (st->size < MEM_MIN_SIZE)
        return host->conf_error(conf, "size", err, "a size of at least 64KiB is required");
    if (host->conf_size(conf, "max_object", UINT64_MAX, &st->max_object, err) != MCC_OK)
        return MCC_ERROR;
    if (st->max_object == 0)
        return host->conf_error(conf, "max_object", err, "a size above 0");
    if (host->conf_str(conf, "eviction", "lru", &eviction, err) != MCC_OK)
        return MCC_ERROR;
    if (eviction == NULL || eviction[0] == '\0')
        return host->conf_error(conf, "eviction", err, "the name of a policy instance");
    if (host->conf_str(conf, "admission", "", &admission, err) != MCC_OK)
        return MCC_ERROR;
    /* strings from the node live only during create: keep copies */
    st->eviction = strdup(eviction);
    if (st->eviction == NULL)
        return mcc_err_set(err, "out of memory");
    if (admission != NULL && admission[0] != '\0' && (st->admission = strdup(admission)) == NULL)
        return mcc_err_set(err, "out of memory");
    return MCC_OK;
}

static void mem_destroy(void *state);

static int mem_plugin_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                             void **state, mcc_err *err)
{
    mem_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    st->host = host;
    st->self = self;
    if (mem_conf(st, conf, err) != MCC_OK) {
        mem_destroy(st);
        return MCC_ERROR;
    }
    st->m_used =
        host->metric(self, MCC_METRIC_GAUGE, "mcc_storage_memory_bytes",
                     "Bytes of the memory backend's limit taken by stored objects", NULL, NULL, 0);
    st->m_evictions =
        host->metric(self, MCC_METRIC_COUNTER, "mcc_storage_memory_evictions_total",
                     "Objects the memory backend evicted to make room", NULL, NULL, 0);
    st->checksum_failures = host->metric(
        self, MCC_METRIC_COUNTER, "mcc_storage_checksum_failures_total",
        "Stored slices whose bytes did not match their checksum (dropped, fetched again)", NULL,
        NULL, 0);
    *state = st;
    return MCC_OK;
}

static void mem_stop(void *state);

/* Policies are other instances: they exist from start on (host->policy), as disk finds them. */
static int mem_start(void *state, void *event_base, mcc_err *err)
{
    mem_state *st = state;
    const mcc_policy_ops *p = st->host->policy(st->self, st->eviction, &st->policy_state);
    if (p == NULL) {
        mcc_err_set(err, "eviction: no policy instance named \"%s\"", st->eviction);
        goto fail;
    }
    if (p->type != MCC_POLICY_EVICTION || !MCC_HAS(p, evict_new) || !MCC_HAS(p, evict_free) ||
        !MCC_HAS(p, evict_insert) || !MCC_HAS(p, evict_access) || !MCC_HAS(p, evict_remove) ||
        !MCC_HAS(p, evict_victim)) {
        mcc_err_set(err, "eviction: policy \"%s\" is not an eviction policy", st->eviction);
        goto fail;
    }
    st->policy = p;
    if (st->admission != NULL) {
        const mcc_policy_ops *a = st->host->policy(st->self, st->admission, &st->admit_state);
        if (a == NULL) {
            mcc_err_set(err, "admission: no policy instance named \"%s\"", st->admission);
            goto fail;
        }
        if (a->type != MCC_POLICY_ADMISSION || !MCC_HAS(a, admit)) {
            mcc_err_set(err, "admission: policy \"%s\" is not an admission policy", st->admission);
            goto fail;
        }
        st->admit = a;
    }
    st->evict = p->evict_new(st->policy_state, st->size);
    if (st->evict == NULL) {
        mcc_err_set(err, "eviction: policy \"%s\" made no set", st->eviction);
        goto fail;
    }
    /* objects stored before a stop and start are told to the new set */
    mem_obj *o, *tmp;
    HASH_ITER(hh, st->by_key, o, tmp)
    {
        p->evict_insert(st->evict, o->id, mem_obj_charge(o->length, o->nslices, o->meta_len));
    }
    st->started = 1;
    return MCC_OK;
fail:
    mem_stop(st);
    return MCC_ERROR;
}

static void mem_stop(void *state)
{
    mem_state *st = state;
    st->started = 0;
    if (st->evict != NULL && st->policy != NULL)
        st->policy->evict_free(st->evict);
    st->evict = NULL;
    st->policy = NULL;
    st->policy_state = NULL;
    st->admit = NULL;
    st->admit_state = NULL;
}

static void mem_destroy(void *state)
{
    mem_state *st = state;
    if (st == NULL)
        return;
    mem_obj *o, *tmp;
    HASH_ITER(hh, st->by_key, o, tmp)
    {
        if (o->handles > 0)
            st->host->log(st->self, MCC_LOG_WARN, "destroyed with %u handles open", o->handles);
        HASH_DELETE(hh, st->by_key, o);
        HASH_DELETE(hh_id, st->by_id, o);
        mem_obj_free(o);
    }
    free(st->eviction);
    free(st->admission);
    free(st);
}

static const mcc_storage_ops mem_storage_ops = {
    .size = sizeof(mcc_storage_ops),
    .open = mem_open,
    .create = mem_create,
    .close = mem_close,
    .info = mem_obj_info,
    .set_meta = mem_obj_set_meta,
    .has_slice = mem_obj_has_slice,
    .write = mem_obj_write,
    .commit = mem_obj_commit,
    .read = mem_obj_read,
    .read_fd = mem_obj_read_fd,
    .verify = mem_obj_verify,
    .remove = mem_remove,
    .usage = mem_usage,
    .drives = mem_drives,
};

static const mcc_plugin mem_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_STORAGE, "memory", "0.1.0"),
    .description = "objects in RAM under a byte limit, sliced and checksummed, evicted by a "
                   "policy",
    .create = mem_plugin_create,
    .start = mem_start,
    .stop = mem_stop,
    .destroy = mem_destroy,
    .ops = &mem_storage_ops,
};

MCC_PLUGIN_DEFINE(mem_plugin)
