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
    o->id = disk_obj_id(st, key);
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
    if (o->data_fd >= 0) {
        if (o->removed)
            disk_reap(o->st->reaper, o->data_fd, NULL); /* it may hold the last reference */
        else
            close(o->data_fd);
    }
    if (o->meta_fd >= 0)
        close(o->meta_fd);
    o->data_fd = -1;
    o->meta_fd = -1;
}

/* --- idle objects: files kept open after the last handle, up to open_files objects --------- */

static void obj_unpark(disk_obj *o)
{
    disk_state *st = o->st;
    if (o->idle_prev != NULL)
        o->idle_prev->idle_next = o->idle_next;
    else
        st->idle_head = o->idle_next;
    if (o->idle_next != NULL)
        o->idle_next->idle_prev = o->idle_prev;
    else
        st->idle_tail = o->idle_prev;
    o->idle_prev = o->idle_next = NULL;
    o->idle = 0;
    st->nidle--;
}

void disk_obj_free(disk_obj *o)
{
    if (o == NULL)
        return;
    if (o->idle)
        obj_unpark(o);
    disk_obj_unload(o);
    free(o->meta);
    free(o->sums);
    free(o->flags);
    free(o);
}

static uint64_t obj_blocks(uint64_t bytes)
{
    return (bytes + DISK_BLOCK - 1) / DISK_BLOCK * DISK_BLOCK;
}

uint64_t disk_obj_meta_charge(uint64_t nslices, uint64_t meta_len)
{
    return obj_blocks(DISK_HEADER_LEN + meta_len + nslices * DISK_RECORD_LEN);
}

uint64_t disk_obj_charge(uint64_t length, uint64_t nslices, uint64_t meta_len)
{
    return obj_blocks(length) + disk_obj_meta_charge(nslices, meta_len);
}

static void obj_close(disk_obj *o);

/* Counts one user of O, opening its files (and reading its tables) for the first. */
int disk_obj_acquire(disk_obj *o, mcc_err *err)
{
    if (o->idle) {
        obj_unpark(o);
        if (!disk_drive_present(o->drive))
            obj_close(o); /* opening its files again finds out what became of the drive */
    }
    if (o->handles == 0 && o->data_fd < 0 && disk_meta_load(o, err) != MCC_OK)
        return MCC_ERROR;
    o->handles++;
    return MCC_OK;
}

/* With its last user gone, an object keeps only what the index needs: files closed, and blob
 * and slice table freed when every present slice was checked (the records on disk say the
 * rest when it is opened again). A few hundred bytes per stored object stay in memory. */
static void obj_close(disk_obj *o)
{
    disk_obj_unload(o);
    if (!o->loaded || o->pinned || o->writes != NULL)
        return;
    for (uint64_t i = 0; i < o->nslices; i++)
        if ((o->flags[i] & DISK_SLICE_PRESENT) && !(o->flags[i] & DISK_SLICE_VERIFIED))
            return; /* keep what was checked; the rest is checked on first use */
    free(o->meta);
    free(o->sums);
    free(o->flags);
    o->meta = NULL;
    o->sums = NULL;
    o->flags = NULL;
    o->loaded = 0;
    o->verified_all = 1;
}

/* Keeps O's files open, as the most recently used idle object; the least recently used one
 * beyond open_files is closed. Slices left half-written are abandoned as on a close. */
static void obj_park(disk_obj *o)
{
    disk_state *st = o->st;
    disk_write *w, *tmp;
    HASH_ITER(hh, o->writes, w, tmp)
    {
        obj_write_free(o, w);
    }
    o->idle = 1;
    o->idle_prev = NULL;
    o->idle_next = st->idle_head;
    if (st->idle_head != NULL)
        st->idle_head->idle_prev = o;
    else
        st->idle_tail = o;
    st->idle_head = o;
    st->nidle++;
    while (st->nidle > st->open_files) {
        disk_obj *old = st->idle_tail;
        obj_unpark(old);
        obj_close(old);
    }
}

static void obj_release(disk_obj *o, int keep_open)
{
    if (--o->handles > 0)
        return;
    if (!o->linked) {
        disk_obj_free(o);
        return;
    }
    if (keep_open && o->st->open_files > 0 && o->data_fd >= 0 && o->meta_fd >= 0)
        obj_park(o);
    else
        obj_close(o);
}

void disk_obj_release(disk_obj *o)
{
    obj_release(o, 1);
}

void disk_obj_release_closing(disk_obj *o)
{
    obj_release(o, 0);
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

/* Forgets a committed slice whose bytes failed their checksum: the record is cleared on disk so
 * that no later start trusts it either. */
static void obj_slice_drop(disk_obj *o, uint64_t idx, const char *why)
{
    disk_state *st = o->st;
    uint8_t zero[DISK_RECORD_LEN] = {0};
    char hex[DISK_HEX_LEN + 1];

    o->flags[idx] = 0;
    o->present--;
    if (disk_pwrite_full(o->meta_fd, zero, sizeof(zero), o->rec_base + idx * DISK_RECORD_LEN) !=
        MCC_OK) {
        /* the record still says present: only memory knows better, so memory must stay */
        o->pinned = 1;
        disk_drive_error(st, o->drive, errno, "clearing a slice record");
    } else if (st->fsync) {
        fdatasync(o->meta_fd);
    }
    if (st->checksum_failures != NULL)
        st->host->metric_add(st->checksum_failures, 1);
    disk_key_hex(o->key, hex);
    st->host->log(st->self, MCC_LOG_WARN, "%s/%.2s/%s.data: slice %llu %s: dropped", o->drive->path,
                  hex, hex, (unsigned long long)idx, why);
}

int disk_sum_read(int fd, uint64_t off, uint64_t end, void *buf, uint64_t *sum)
{
    XXH3_state_t *xxh = XXH3_createState();
    if (xxh == NULL)
        return -1;
    XXH3_64bits_reset(xxh);
    int ok = 1;
    while (off < end) {
        size_t n = end - off < DISK_SCRATCH_LEN ? (size_t)(end - off) : DISK_SCRATCH_LEN;
        if (disk_pread_full(fd, buf, n, off) != MCC_OK) {
            ok = 0;
            break;
        }
        XXH3_64bits_update(xxh, buf, n);
        off += n;
    }
    *sum = XXH3_64bits_digest(xxh);
    XXH3_freeState(xxh);
    return ok;
}

/* Takes the outcome of reading slice IDX, which summed to SUM (OK as disk_sum_read returned):
 * the slice counts as checked, or is dropped. 1 when it is sound. */
static int obj_slice_judge(disk_obj *o, uint64_t idx, int ok, uint64_t sum)
{
    if (ok < 0)
        return 0; /* out of memory: unverified bytes are not served, the record stays */
    if (ok && sum == o->sums[idx]) {
        o->flags[idx] |= DISK_SLICE_VERIFIED;
        return 1;
    }
    obj_slice_drop(o, idx, ok ? "checksum mismatch" : "unreadable");
    return 0;
}

/* Checks slice IDX's bytes against its recorded checksum (once per process unless FORCE).
 * Returns 1 when the slice is present and sound, 0 when it is absent or was just dropped. */
static int obj_slice_check(disk_obj *o, uint64_t idx, int force)
{
    if (!(o->flags[idx] & DISK_SLICE_PRESENT))
        return 0;
    if ((o->flags[idx] & DISK_SLICE_VERIFIED) && !force)
        return 1;
    uint64_t sum = 0;
    int ok = disk_sum_read(o->data_fd, obj_slice_start(o, idx), obj_slice_end(o, idx),
                           o->st->scratch, &sum);
    return obj_slice_judge(o, idx, ok, sum);
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
    /* a longer blob may need another block of the drive: room first */
    uint64_t was = disk_obj_meta_charge(o->nslices, o->meta_len);
    uint64_t now = disk_obj_meta_charge(o->nslices, meta_len);
    if (o->linked && now > was && disk_drive_reserve(st, o->drive, now - was) != MCC_OK) {
        free(copy);
        return MCC_NOSPACE;
    }
    if (o->linked && now > was) {
        o->charge += now - was;
    } else if (o->linked && now < was) {
        o->drive->used -= was - now;
        o->charge -= was - now;
    }
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

/* A write of O's files failed with RC (errno set): a full file system pauses storing on the
 * drive, an I/O error or a read-only drive takes it out of service. */
static int obj_write_failed(disk_obj *o, int rc, const char *what)
{
    disk_state *st = o->st;
    int e = errno;
    if (rc == MCC_NOSPACE) {
        disk_drive_nospace(st, o->drive);
        return MCC_NOSPACE;
    }
    if (o->linked && disk_drive_error(st, o->drive, e, what))
        return MCC_ERROR;
    st->host->log(st->self, MCC_LOG_ERROR, "%s: %s: %s", o->drive->path, what, strerror(e));
    return MCC_ERROR;
}

/* Room for slice IDX's blocks, reserved when it is first written (evicting first if need be):
 * a range of a large object takes the room of what it holds, not of the whole object. Never
 * more than the complete object's charge in all. */
static int obj_slice_charge(disk_obj *o, uint64_t idx)
{
    if ((o->flags[idx] & DISK_SLICE_CHARGED) || !o->linked)
        return MCC_OK;
    uint64_t full = disk_obj_charge(o->length, o->nslices, o->meta_len);
    uint64_t need = obj_blocks(obj_slice_end(o, idx) - obj_slice_start(o, idx));
    uint64_t left = o->charge < full ? full - o->charge : 0;
    if (need > left)
        need = left;
    if (need > 0 && disk_drive_reserve(o->st, o->drive, need) != MCC_OK)
        return MCC_NOSPACE;
    o->charge += need;
    o->flags[idx] |= DISK_SLICE_CHARGED;
    return MCC_OK;
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
            int rc = obj_slice_charge(o, idx);
            if (rc != MCC_OK)
                return rc;
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
        if (rc != MCC_OK)
            return obj_write_failed(o, rc, "pwrite");
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
    if (st->fsync && fdatasync(o->data_fd) != 0)
        return obj_write_failed(o, errno == ENOSPC ? MCC_NOSPACE : MCC_ERROR, "fdatasync");
    disk_record_encode(rec, idx, sum);
    int rc = disk_pwrite_full(o->meta_fd, rec, sizeof(rec), o->rec_base + idx * DISK_RECORD_LEN);
    if (rc != MCC_OK)
        return obj_write_failed(o, rc, "slice record");
    if (st->fsync && fdatasync(o->meta_fd) != 0)
        return obj_write_failed(o, errno == ENOSPC ? MCC_NOSPACE : MCC_ERROR, "fdatasync");
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
    return disk_pread_full(o->data_fd, buf, len, off);
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
    return MCC_OK;
}

int disk_obj_verify(mcc_object *h, uint64_t idx)
{
    disk_obj *o = h->o;
    if (idx >= o->nslices)
        return MCC_ERROR;
    return obj_slice_check(o, idx, 1) ? MCC_OK : MCC_ERROR;
}

/* The scrub's look at slice IDX, here and now: its bytes are read and checked again even when
 * checked before. Returns the bytes read. */
uint64_t disk_obj_scrub(disk_obj *o, uint64_t idx)
{
    if (idx >= o->nslices || !(o->flags[idx] & DISK_SLICE_PRESENT))
        return 0;
    obj_slice_check(o, idx, 1);
    return obj_slice_end(o, idx) - obj_slice_start(o, idx);
}

int disk_obj_scrub_span(disk_obj *o, uint64_t idx, uint64_t *off, uint64_t *end, uint64_t *sum)
{
    if (idx >= o->nslices || !(o->flags[idx] & DISK_SLICE_PRESENT))
        return 0;
    *off = obj_slice_start(o, idx);
    *end = obj_slice_end(o, idx);
    *sum = o->sums[idx];
    return 1;
}

void disk_obj_scrub_take(disk_obj *o, uint64_t idx, uint64_t want, int ok, uint64_t sum)
{
    if (!o->loaded || idx >= o->nslices || !(o->flags[idx] & DISK_SLICE_PRESENT) ||
        o->sums[idx] != want)
        return; /* dropped, or dropped and written again, while it was read */
    obj_slice_judge(o, idx, ok, sum);
}
