/* One stored object's slices through its handles: in-order writes with a running checksum per
 * slice, commits that record the checksum before the slice counts, and reads that never return
 * a byte of a slice whose checksum does not match. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"

disk_obj *disk_obj_new(disk_state *st, const uint8_t key[MCC_KEY_LEN], disk_drive *d)
{
    disk_obj *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    memcpy(o->key, key, MCC_KEY_LEN);
    o->st = st;
    o->drive = d;
    o->id = ++st->next_id;
    o->data_fd = -1;
    o->meta_fd = -1;
    return o;
}

int disk_obj_alloc_slices(disk_obj *o)
{
    free(o->sums);
    free(o->flags);
    size_t n = o->nslices > 0 ? (size_t)o->nslices : 1;
    o->sums = calloc(n, sizeof(*o->sums));
    o->flags = calloc(n, sizeof(*o->flags));
    o->present = 0;
    return (o->sums == NULL || o->flags == NULL) ? MCC_ERROR : MCC_OK;
}

static void obj_write_free(disk_obj *o, disk_write *w)
{
    HASH_DEL(o->writes, w);
    XXH3_freeState(w->xxh);
    free(w);
}

/* Closes the files when the last handle goes. The slice table stays (verified bits included);
 * slices left half-written are abandoned: their bytes are never marked present. */
void disk_obj_unload(disk_obj *o)
{
    disk_write *w, *tmp;
    HASH_ITER(hh, o->writes, w, tmp)
    {
        obj_write_free(o, w);
    }
    if (o->data_fd >= 0)
        close(o->data_fd);
    if (o->meta_fd >= 0)
        close(o->meta_fd);
    o->data_fd = -1;
    o->meta_fd = -1;
}

void disk_obj_free(disk_obj *o)
{
    if (o == NULL)
        return;
    disk_obj_unload(o);
    free(o->meta);
    free(o->sums);
    free(o->flags);
    free(o);
}

static uint64_t obj_slice_start(const disk_obj *o, uint64_t idx)
{
    return idx * o->slice_size;
}

static uint64_t obj_slice_end(const disk_obj *o, uint64_t idx)
{
    uint64_t end = obj_slice_start(o, idx) + o->slice_size;
    return end < o->length ? end : o->length;
}

static void obj_access_note(disk_obj *o)
{
    disk_state *st = o->st;
    if (o->linked && st->policy != NULL && o->drive->evict != NULL)
        st->policy->evict_access(o->drive->evict, o->id);
}

/* Forgets a committed slice whose bytes failed their checksum: the record is cleared on disk so
 * that no later start trusts it either. */
static void obj_slice_drop(disk_obj *o, uint64_t idx, const char *why)
{
    disk_state *st = o->st;
    uint8_t zero[DISK_RECORD_LEN] = {0};
    char hex[DISK_HEX_LEN + 1];

    o->flags[idx] = 0;
    o->present--;
    if (disk_pwrite_full(o->meta_fd, zero, sizeof(zero), o->rec_base + idx * DISK_RECORD_LEN) ==
            MCC_OK &&
        st->fsync)
        fdatasync(o->meta_fd);
    if (st->checksum_failures != NULL)
        st->host->metric_add(st->checksum_failures, 1);
    disk_key_hex(o->key, hex);
    st->host->log(st->self, MCC_LOG_WARN, "%s/%.2s/%s.data: slice %llu %s: dropped", o->drive->path,
                  hex, hex, (unsigned long long)idx, why);
}

/* Checks slice IDX's bytes against its recorded checksum (once per process unless FORCE).
 * Returns 1 when the slice is present and sound, 0 when it is absent or was just dropped. */
static int obj_slice_check(disk_obj *o, uint64_t idx, int force)
{
    disk_state *st = o->st;
    if (!(o->flags[idx] & DISK_SLICE_PRESENT))
        return 0;
    if ((o->flags[idx] & DISK_SLICE_VERIFIED) && !force)
        return 1;

    XXH3_state_t *xxh = XXH3_createState();
    if (xxh == NULL)
        return 0; /* out of memory: unverified bytes are not served, the record stays */
    XXH3_64bits_reset(xxh);
    uint64_t off = obj_slice_start(o, idx), end = obj_slice_end(o, idx);
    int ok = 1;
    while (off < end) {
        size_t n = end - off < DISK_SCRATCH_LEN ? (size_t)(end - off) : DISK_SCRATCH_LEN;
        if (disk_pread_full(o->data_fd, st->scratch, n, off) != MCC_OK) {
            ok = 0;
            break;
        }
        XXH3_64bits_update(xxh, st->scratch, n);
        off += n;
    }
    uint64_t sum = XXH3_64bits_digest(xxh);
    XXH3_freeState(xxh);
    if (ok && sum == o->sums[idx]) {
        o->flags[idx] |= DISK_SLICE_VERIFIED;
        return 1;
    }
    obj_slice_drop(o, idx, ok ? "checksum mismatch" : "unreadable");
    return 0;
}

/* 1 when the bytes [off, end) of slice IDX may be read: committed and sound, or written already
 * by a writer of this object in this process. */
static int obj_slice_readable(disk_obj *o, uint64_t idx, uint64_t end)
{
    if (o->flags[idx] & DISK_SLICE_PRESENT)
        return obj_slice_check(o, idx, 0);
    disk_write *w;
    HASH_FIND(hh, o->writes, &idx, sizeof(idx), w);
    return w != NULL && w->next >= end;
}

int disk_obj_info(mcc_object *h, mcc_object_info *info)
{
    disk_obj *o = h->o;
    info->length = o->length;
    info->slice_size = o->slice_size;
    info->nslices = o->nslices;
    info->present = o->present;
    info->meta = o->meta;
    info->meta_len = o->meta_len;
    return MCC_OK;
}

int disk_obj_set_meta(mcc_object *h, const void *meta, size_t meta_len)
{
    disk_obj *o = h->o;
    disk_state *st = o->st;
    mcc_err err;

    if (meta_len > DISK_META_MAX || (meta == NULL && meta_len > 0))
        return MCC_ERROR;
    void *copy = malloc(meta_len > 0 ? meta_len : 1);
    if (copy == NULL)
        return MCC_ERROR;
    if (meta_len > 0)
        memcpy(copy, meta, meta_len);
    void *old = o->meta;
    size_t old_len = o->meta_len;
    o->meta = copy;
    o->meta_len = meta_len;
    /* a replaced or removed object's file names belong to someone else now: memory only */
    if (o->linked) {
        int rc = disk_meta_write(o, &err);
        if (rc != MCC_OK) {
            st->host->log(st->self, MCC_LOG_ERROR, "set_meta: %s", err.msg);
            o->meta = old;
            o->meta_len = old_len;
            free(copy);
            return rc;
        }
    }
    free(old);
    return MCC_OK;
}

int disk_obj_has_slice(mcc_object *h, uint64_t idx)
{
    disk_obj *o = h->o;
    if (idx >= o->nslices)
        return 0;
    return obj_slice_check(o, idx, 0);
}

int disk_obj_write(mcc_object *h, uint64_t off, const void *buf, size_t len)
{
    disk_obj *o = h->o;
    disk_state *st = o->st;
    const uint8_t *p = buf;

    if (off > o->length || len > o->length - off)
        return MCC_ERROR;
    while (len > 0) {
        uint64_t idx = off / o->slice_size;
        uint64_t end = obj_slice_end(o, idx);
        size_t n = end - off < len ? (size_t)(end - off) : len;
        if (o->flags[idx] & DISK_SLICE_PRESENT)
            return MCC_ERROR; /* committed bytes are never rewritten in place */
        disk_write *w;
        HASH_FIND(hh, o->writes, &idx, sizeof(idx), w);
        if (off == obj_slice_start(o, idx)) {
            /* a slice (re)starts from its beginning, e.g. a retried transfer */
            if (w == NULL) {
                w = calloc(1, sizeof(*w));
                if (w == NULL)
                    return MCC_ERROR;
                w->xxh = XXH3_createState();
                if (w->xxh == NULL) {
                    free(w);
                    return MCC_ERROR;
                }
                w->idx = idx;
                HASH_ADD(hh, o->writes, idx, sizeof(w->idx), w);
            }
            XXH3_64bits_reset(w->xxh);
            w->next = off;
        } else if (w == NULL || w->next != off) {
            st->host->log(st->self, MCC_LOG_DEBUG,
                          "write at %llu in slice %llu out of order (expected %llu)",
                          (unsigned long long)off, (unsigned long long)idx,
                          (unsigned long long)(w != NULL ? w->next : obj_slice_start(o, idx)));
            return MCC_ERROR;
        }
        int rc = disk_pwrite_full(o->data_fd, p, n, off);
        if (rc != MCC_OK) {
            if (rc != MCC_NOSPACE)
                st->host->log(st->self, MCC_LOG_ERROR, "pwrite: %s", strerror(errno));
            return rc;
        }
        XXH3_64bits_update(w->xxh, p, n);
        w->next += n;
        p += n;
        off += n;
        len -= n;
    }
    return MCC_OK;
}

/* Order: checksum, (data synced), record written, (record synced), then present in memory. */
int disk_obj_commit(mcc_object *h, uint64_t idx)
{
    disk_obj *o = h->o;
    disk_state *st = o->st;
    uint8_t rec[DISK_RECORD_LEN];

    if (idx >= o->nslices)
        return MCC_ERROR;
    if (o->flags[idx] & DISK_SLICE_PRESENT)
        return MCC_OK;
    disk_write *w;
    HASH_FIND(hh, o->writes, &idx, sizeof(idx), w);
    if (w == NULL || w->next != obj_slice_end(o, idx))
        return MCC_ERROR; /* not written completely */
    uint64_t sum = XXH3_64bits_digest(w->xxh);
    if (st->fsync && fdatasync(o->data_fd) != 0) {
        st->host->log(st->self, MCC_LOG_ERROR, "fdatasync: %s", strerror(errno));
        return MCC_ERROR;
    }
    disk_record_encode(rec, idx, sum);
    int rc = disk_pwrite_full(o->meta_fd, rec, sizeof(rec), o->rec_base + idx * DISK_RECORD_LEN);
    if (rc != MCC_OK)
        return rc;
    if (st->fsync && fdatasync(o->meta_fd) != 0) {
        st->host->log(st->self, MCC_LOG_ERROR, "fdatasync: %s", strerror(errno));
        return MCC_ERROR;
    }
    o->sums[idx] = sum;
    o->flags[idx] = DISK_SLICE_PRESENT | DISK_SLICE_VERIFIED;
    o->present++;
    obj_write_free(o, w);
    return MCC_OK;
}

int disk_obj_read(mcc_object *h, uint64_t off, void *buf, size_t len)
{
    disk_obj *o = h->o;
    if (off > o->length || len > o->length - off)
        return MCC_ERROR;
    if (len == 0)
        return MCC_OK;
    /* every slice touched is checked before any byte is copied out */
    for (uint64_t idx = off / o->slice_size; idx * o->slice_size < off + len; idx++) {
        uint64_t end = obj_slice_end(o, idx);
        if (!obj_slice_readable(o, idx, end < off + len ? end : off + len))
            return MCC_ERROR;
    }
    if (disk_pread_full(o->data_fd, buf, len, off) != MCC_OK)
        return MCC_ERROR;
    obj_access_note(o);
    return MCC_OK;
}

int disk_obj_read_fd(mcc_object *h, uint64_t off, int *fd, uint64_t *fd_off)
{
    disk_obj *o = h->o;
    if (off >= o->length)
        return MCC_ERROR;
    /* only the slice at OFF is checked: callers sending more ask has_slice for each one */
    if (!obj_slice_readable(o, off / o->slice_size, off + 1))
        return MCC_ERROR;
    *fd = o->data_fd;
    *fd_off = off;
    obj_access_note(o);
    return MCC_OK;
}

int disk_obj_verify(mcc_object *h, uint64_t idx)
{
    disk_obj *o = h->o;
    if (idx >= o->nslices)
        return MCC_ERROR;
    return obj_slice_check(o, idx, 1) ? MCC_OK : MCC_ERROR;
}
