/* Test plugin base: a deliberately simple in-memory storage backend (whole-object buffers, FIFO
 * eviction under a byte limit, no policy) that is correct except for the defect its variant
 * switches on. Kept apart from plugins/memory so that the defects never touch shipped code. */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "broken_storage.h"

typedef struct bs_state bs_state;

typedef struct bs_obj {
    uint8_t key[MCC_KEY_LEN];
    bs_state *st;
    uint64_t length, nslices, seq;
    uint32_t slice;
    unsigned handles;
    int linked;
    uint8_t *data;
    uint64_t *fill; /* per slice: bytes written from its start */
    uint8_t *present;
    uint64_t npresent;
    void *meta;
    size_t meta_len;
    UT_hash_handle hh;
} bs_obj;

struct mcc_object {
    bs_obj *o;
};

struct bs_state {
    int defect;
    uint64_t size, used, objects, seq;
    bs_obj *by_key;
};

static void bs_obj_free(bs_obj *o)
{
    free(o->data);
    free(o->fill);
    free(o->present);
    free(o->meta);
    free(o);
}

static void bs_unlink(bs_state *st, bs_obj *o)
{
    HASH_DEL(st->by_key, o);
    o->linked = 0;
    st->used -= o->length;
    st->objects--;
    if (o->handles == 0)
        bs_obj_free(o);
}

int bs_plugin_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                     mcc_err *err, int defect)
{
    bs_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    if (host->conf_size(conf, "size", 1024u * 1024u, &st->size, err) != MCC_OK) {
        free(st);
        return MCC_ERROR;
    }
    st->defect = defect;
    *state = st;
    return MCC_OK;
}

void bs_plugin_destroy(void *state)
{
    bs_state *st = state;
    bs_obj *o, *tmp;
    HASH_ITER(hh, st->by_key, o, tmp)
    {
        HASH_DEL(st->by_key, o);
        bs_obj_free(o);
    }
    free(st);
}

static mcc_object *bs_handle(bs_obj *o)
{
    mcc_object *h = malloc(sizeof(*h));
    if (h != NULL) {
        h->o = o;
        o->handles++;
    }
    return h;
}

static int bs_open(void *state, const uint8_t key[MCC_KEY_LEN], mcc_object **obj)
{
    bs_state *st = state;
    bs_obj *o;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o == NULL)
        return MCC_NOTFOUND;
    *obj = bs_handle(o);
    return *obj != NULL ? MCC_OK : MCC_ERROR;
}

/* Evicts the oldest objects nobody has open until NEED more bytes fit. */
static int bs_room(bs_state *st, uint64_t need)
{
    if (need > st->size)
        return MCC_NOSPACE;
    while (st->used + need > st->size) {
        bs_obj *o, *tmp, *oldest = NULL;
        HASH_ITER(hh, st->by_key, o, tmp)
        {
            if (o->handles == 0 && (oldest == NULL || o->seq < oldest->seq))
                oldest = o;
        }
        if (oldest == NULL)
            return MCC_NOSPACE;
        bs_unlink(st, oldest);
    }
    return MCC_OK;
}

static int bs_create(void *state, const uint8_t key[MCC_KEY_LEN], uint64_t length, uint32_t slice,
                     const void *meta, size_t meta_len, mcc_object **obj)
{
    bs_state *st = state;
    bs_obj *o;
    if (slice == 0)
        return MCC_ERROR;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    uint64_t nslices = length / slice + (length % slice != 0);
    if (o != NULL && st->defect == BS_STALE && o->length >= length) {
        /* the defect: the stored object is reused in place, its committed slices kept */
        st->used -= o->length - length;
        o->length = length;
        o->nslices = nslices;
        o->npresent = 0;
        for (uint64_t i = 0; i < nslices; i++)
            o->npresent += o->present[i];
        *obj = bs_handle(o);
        return *obj != NULL ? MCC_OK : MCC_ERROR;
    }
    if (o != NULL)
        bs_unlink(st, o);
    if (bs_room(st, length) != MCC_OK)
        return MCC_NOSPACE;
    o = calloc(1, sizeof(*o));
    if (o == NULL)
        return MCC_ERROR;
    memcpy(o->key, key, MCC_KEY_LEN);
    o->st = st;
    o->length = length;
    o->slice = slice;
    o->nslices = nslices;
    o->seq = ++st->seq;
    o->data = malloc(length > 0 ? length : 1);
    o->fill = calloc(nslices + 1, sizeof(*o->fill));
    o->present = calloc(nslices + 1, 1);
    o->meta = malloc(meta_len > 0 ? meta_len : 1);
    if (o->data == NULL || o->fill == NULL || o->present == NULL || o->meta == NULL) {
        bs_obj_free(o);
        return MCC_ERROR;
    }
    if (meta_len > 0)
        memcpy(o->meta, meta, meta_len);
    o->meta_len = meta_len;
    HASH_ADD(hh, st->by_key, key, MCC_KEY_LEN, o);
    o->linked = 1;
    st->used += length;
    st->objects++;
    *obj = bs_handle(o);
    return *obj != NULL ? MCC_OK : MCC_ERROR;
}

static void bs_close(mcc_object *h)
{
    bs_obj *o = h->o;
    free(h);
    if (--o->handles == 0 && !o->linked)
        bs_obj_free(o);
}

static int bs_info(mcc_object *h, mcc_object_info *info)
{
    bs_obj *o = h->o;
    info->length = o->length;
    info->slice_size = o->slice;
    info->nslices = o->nslices;
    info->present = o->npresent;
    info->meta = o->meta;
    info->meta_len = o->meta_len;
    return MCC_OK;
}

static int bs_set_meta(mcc_object *h, const void *meta, size_t meta_len)
{
    bs_obj *o = h->o;
    void *copy = malloc(meta_len > 0 ? meta_len : 1);
    if (copy == NULL)
        return MCC_ERROR;
    if (meta_len > 0)
        memcpy(copy, meta, meta_len);
    free(o->meta);
    o->meta = copy;
    o->meta_len = meta_len;
    return MCC_OK;
}

static uint64_t bs_slice_len(const bs_obj *o, uint64_t idx)
{
    uint64_t end = (idx + 1) * o->slice;
    return (end < o->length ? end : o->length) - idx * o->slice;
}

static int bs_has_slice(mcc_object *h, uint64_t idx)
{
    bs_obj *o = h->o;
    if (idx >= o->nslices)
        return 0;
    if (o->st->defect == BS_EARLY && o->fill[idx] == bs_slice_len(o, idx))
        return 1; /* the defect: written is not committed */
    return o->present[idx];
}

static int bs_write(mcc_object *h, uint64_t off, const void *buf, size_t len)
{
    bs_obj *o = h->o;
    const uint8_t *p = buf;
    if (off > o->length || len > o->length - off)
        return MCC_ERROR;
    while (len > 0) {
        uint64_t idx = off / o->slice, start = idx * o->slice;
        uint64_t n = bs_slice_len(o, idx) - (off - start);
        if (n > len)
            n = len;
        if (o->present[idx])
            return MCC_ERROR;
        if (off == start)
            o->fill[idx] = 0;
        else if (start + o->fill[idx] != off)
            return MCC_ERROR;
        memcpy(o->data + off, p, (size_t)n);
        o->fill[idx] += n;
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return MCC_OK;
}

static int bs_commit(mcc_object *h, uint64_t idx)
{
    bs_obj *o = h->o;
    if (idx >= o->nslices || o->fill[idx] != bs_slice_len(o, idx))
        return MCC_ERROR;
    if (!o->present[idx]) {
        o->present[idx] = 1;
        o->npresent++;
    }
    return MCC_OK;
}

static int bs_read(mcc_object *h, uint64_t off, void *buf, size_t len)
{
    bs_obj *o = h->o;
    if (off > o->length || len > o->length - off)
        return MCC_ERROR;
    for (uint64_t idx = off / o->slice; len > 0 && idx * o->slice < off + len; idx++) {
        uint64_t end = idx * o->slice + bs_slice_len(o, idx);
        uint64_t need = (end < off + len ? end : off + len) - idx * o->slice;
        if (!o->present[idx] && o->fill[idx] < need)
            return MCC_ERROR;
    }
    if (len > 0)
        memcpy(buf, o->data + off, len);
    return MCC_OK;
}

static int bs_remove(void *state, const uint8_t key[MCC_KEY_LEN])
{
    bs_state *st = state;
    bs_obj *o;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o == NULL)
        return MCC_NOTFOUND;
    bs_unlink(st, o);
    return MCC_OK;
}

static void bs_usage(void *state, uint64_t *used, uint64_t *capacity, uint64_t *objects)
{
    bs_state *st = state;
    if (used != NULL)
        *used = st->used;
    if (capacity != NULL)
        *capacity = st->size;
    if (objects != NULL)
        *objects = st->objects;
}

const mcc_storage_ops bs_ops = {
    .size = sizeof(mcc_storage_ops),
    .open = bs_open,
    .create = bs_create,
    .close = bs_close,
    .info = bs_info,
    .set_meta = bs_set_meta,
    .has_slice = bs_has_slice,
    .write = bs_write,
    .commit = bs_commit,
    .read = bs_read,
    .remove = bs_remove,
    .usage = bs_usage,
};
