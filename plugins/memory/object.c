/* One object of the memory backend through its handles: in-order writes per slice, commits that
 * record the slice's checksum before it counts, reads only of committed or written bytes. */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#ifdef MCC_XXH_DISPATCH
#include <xxh_x86dispatch.h> /* the widest vector unit at run time, for the bodies' sums */
#endif

#include "memory.h"

uint64_t mem_obj_base_charge(uint64_t nslices, size_t meta_len)
{
    return nslices * MEM_SLICE_OVERHEAD + meta_len + MEM_OBJ_OVERHEAD;
}

uint64_t mem_obj_charge(uint64_t length, uint64_t nslices, size_t meta_len)
{
    return length + mem_obj_base_charge(nslices, meta_len);
}

mem_obj *mem_obj_new(mem_state *st, const uint8_t key[MCC_KEY_LEN], uint64_t length,
                     uint32_t slice_size, const void *meta, size_t meta_len)
{
    mem_obj *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    memcpy(o->key, key, MCC_KEY_LEN);
    o->st = st;
    o->length = length;
    o->slice_size = slice_size;
    o->nslices = length / slice_size + (length % slice_size != 0);
    o->charge = mem_obj_base_charge(o->nslices, meta_len);
    /* one element at least: an empty object has no slice, calloc(0) may give NULL */
    size_t n = o->nslices > 0 ? (size_t)o->nslices : 1;
    if ((uint64_t)n != (o->nslices > 0 ? o->nslices : 1))
        goto fail; /* more slices than this process can address */
    o->bufs = calloc(n, sizeof(*o->bufs));
    o->sums = calloc(n, sizeof(*o->sums));
    o->fill = calloc(n, sizeof(*o->fill));
    o->flags = calloc(n, sizeof(*o->flags));
    o->meta = malloc(meta_len > 0 ? meta_len : 1);
    if (o->bufs == NULL || o->sums == NULL || o->fill == NULL || o->flags == NULL ||
        o->meta == NULL)
        goto fail;
    if (meta_len > 0)
        memcpy(o->meta, meta, meta_len);
    o->meta_len = meta_len;
    return o;
fail:
    mem_obj_free(o);
    return NULL;
}

void mem_obj_free(mem_obj *o)
{
    if (o == NULL)
        return;
    if (o->bufs != NULL)
        for (uint64_t i = 0; i < o->nslices; i++)
            free(o->bufs[i]);
    free(o->bufs);
    free(o->sums);
    free(o->fill);
    free(o->flags);
    free(o->meta);
    free(o);
}

static uint64_t obj_slice_start(const mem_obj *o, uint64_t idx)
{
    return idx * o->slice_size;
}

static uint32_t obj_slice_len(const mem_obj *o, uint64_t idx)
{
    uint64_t start = obj_slice_start(o, idx);
    uint64_t end = start + o->slice_size < o->length ? start + o->slice_size : o->length;
    return (uint32_t)(end - start);
}

/* 1 when the bytes of slice IDX up to END (absolute) may be read: committed, or written already
 * by a writer of this object (read while writing). */
static int obj_slice_readable(const mem_obj *o, uint64_t idx, uint64_t end)
{
    if (o->flags[idx] & MEM_SLICE_PRESENT)
        return 1;
    return o->bufs[idx] != NULL && obj_slice_start(o, idx) + o->fill[idx] >= end;
}

int mem_obj_info(mcc_object *h, mcc_object_info *info)
{
    mem_obj *o = h->o;
    info->length = o->length;
    info->slice_size = o->slice_size;
    info->nslices = o->nslices;
    info->present = o->present;
    info->meta = o->meta;
    info->meta_len = o->meta_len;
    return MCC_OK;
}

int mem_obj_set_meta(mcc_object *h, const void *meta, size_t meta_len)
{
    mem_obj *o = h->o;
    mem_state *st = o->st;

    if (meta_len > MEM_META_MAX || (meta == NULL && meta_len > 0))
        return MCC_ERROR;
    void *copy = malloc(meta_len > 0 ? meta_len : 1);
    if (copy == NULL)
        return MCC_ERROR;
    if (meta_len > 0)
        memcpy(copy, meta, meta_len);
    /* a longer blob takes more of the limit: room first; a replaced object is not charged */
    uint64_t was = mem_obj_base_charge(o->nslices, o->meta_len);
    uint64_t now = mem_obj_base_charge(o->nslices, meta_len);
    if (o->linked && now > was) {
        if (mem_reserve(st, now - was) != MCC_OK) {
            free(copy);
            return MCC_NOSPACE;
        }
    } else if (o->linked) {
        st->used -= was - now;
    }
    if (o->linked) {
        o->charge = o->charge - was + now;
        if (st->m_used != NULL)
            st->host->metric_set(st->m_used, (double)st->used);
    }
    free(o->meta);
    o->meta = copy;
    o->meta_len = meta_len;
    return MCC_OK;
}

int mem_obj_has_slice(mcc_object *h, uint64_t idx)
{
    mem_obj *o = h->o;
    return idx < o->nslices && (o->flags[idx] & MEM_SLICE_PRESENT) != 0;
}

int mem_obj_write(mcc_object *h, uint64_t off, const void *buf, size_t len)
{
    mem_obj *o = h->o;
    const uint8_t *p = buf;

    if (off > o->length || len > o->length - off)
        return MCC_ERROR;
    while (len > 0) {
        uint64_t idx = off / o->slice_size;
        uint64_t start = obj_slice_start(o, idx);
        uint32_t slen = obj_slice_len(o, idx);
        size_t n = start + slen - off < len ? (size_t)(start + slen - off) : len;
        if (o->flags[idx] & MEM_SLICE_PRESENT)
            return MCC_ERROR; /* committed bytes are never rewritten: readers may hold them */
        if (off == start) {
            /* a slice (re)starts from its beginning, e.g. a retried transfer; its buffer, and
             * its room under the limit, come with its first write */
            if (o->bufs[idx] == NULL) {
                void *b = malloc(slen);
                if (b == NULL)
                    return MCC_NOSPACE;
                if (o->linked && mem_reserve(o->st, slen) != MCC_OK) {
                    free(b);
                    return MCC_NOSPACE;
                }
                if (o->linked)
                    o->charge += slen;
                o->bufs[idx] = b;
            }
            o->fill[idx] = 0;
        } else if (o->bufs[idx] == NULL || start + o->fill[idx] != off) {
            o->st->host->log(o->st->self, MCC_LOG_DEBUG,
                             "write at %llu in slice %llu out of order (expected %llu)",
                             (unsigned long long)off, (unsigned long long)idx,
                             (unsigned long long)(start + o->fill[idx]));
            return MCC_ERROR;
        }
        memcpy(o->bufs[idx] + (off - start), p, n);
        o->fill[idx] += (uint32_t)n;
        p += n;
        off += n;
        len -= n;
    }
    return MCC_OK;
}

/* The checksum is recorded before the slice counts as present, as on disk: verify() then has
 * something to hold the bytes against. */
int mem_obj_commit(mcc_object *h, uint64_t idx)
{
    mem_obj *o = h->o;
    if (idx >= o->nslices)
        return MCC_ERROR;
    if (o->flags[idx] & MEM_SLICE_PRESENT)
        return MCC_OK;
    uint32_t slen = obj_slice_len(o, idx);
    if (o->bufs[idx] == NULL || o->fill[idx] != slen)
        return MCC_ERROR; /* not written completely */
    o->sums[idx] = XXH3_64bits(o->bufs[idx], slen);
    o->flags[idx] |= MEM_SLICE_PRESENT;
    o->present++;
    return MCC_OK;
}

int mem_obj_read(mcc_object *h, uint64_t off, void *buf, size_t len)
{
    mem_obj *o = h->o;
    uint8_t *p = buf;

    if (off > o->length || len > o->length - off)
        return MCC_ERROR;
    if (len == 0)
        return MCC_OK;
    /* every slice touched is checked before any byte is copied out */
    for (uint64_t idx = off / o->slice_size; obj_slice_start(o, idx) < off + len; idx++) {
        uint64_t end = obj_slice_start(o, idx) + obj_slice_len(o, idx);
        if (!obj_slice_readable(o, idx, end < off + len ? end : off + len))
            return MCC_ERROR;
    }
    while (len > 0) {
        uint64_t idx = off / o->slice_size;
        uint64_t start = obj_slice_start(o, idx);
        uint64_t in = off - start;
        size_t n = obj_slice_len(o, idx) - in < len ? (size_t)(obj_slice_len(o, idx) - in) : len;
        memcpy(p, o->bufs[idx] + in, n);
        p += n;
        off += n;
        len -= n;
    }
    return MCC_OK;
}

int mem_obj_read_fd(mcc_object *h, uint64_t off, int *fd, uint64_t *fd_off)
{
    return MCC_DECLINED; /* no file behind the bytes: the daemon copies them with read() */
}

/* Holds slice IDX against its checksum; a slice that fails (memory went bad) is dropped, so that
 * it counts as missing and is fetched again, never served. */
int mem_obj_verify(mcc_object *h, uint64_t idx)
{
    mem_obj *o = h->o;
    mem_state *st = o->st;
    if (idx >= o->nslices || !(o->flags[idx] & MEM_SLICE_PRESENT))
        return MCC_ERROR;
    if (XXH3_64bits(o->bufs[idx], obj_slice_len(o, idx)) == o->sums[idx])
        return MCC_OK;
    o->flags[idx] = 0;
    o->fill[idx] = 0;
    o->present--;
    if (st->checksum_failures != NULL)
        st->host->metric_add(st->checksum_failures, 1);
    st->host->log(st->self, MCC_LOG_WARN, "slice %llu failed its checksum: dropped",
                  (unsigned long long)idx);
    return MCC_ERROR;
}
