/* The "disk" storage backend: objects by key on one or more drives, placed by rendezvous hashing
 * weighted by drive size, each drive kept under its size by the configured eviction policy. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"

#define DISK_DEFAULT_ROOT "/var/cache/mcc"

uint64_t disk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The policy's name for KEY: a hash of the key, so that it stays the same when the object is
 * stored again or the daemon restarts (ghost entries and frequency survive). A collision with
 * another stored object takes the next seed. */
uint64_t disk_obj_id(disk_state *st, const uint8_t key[MCC_KEY_LEN])
{
    for (uint64_t seed = 0;; seed++) {
        uint64_t id = XXH3_64bits_withSeed(key, MCC_KEY_LEN, seed);
        disk_obj *o;
        if (id == 0)
            continue;
        HASH_FIND(hh_id, st->by_id, &id, sizeof(id), o);
        if (o == NULL)
            return id;
    }
}

void disk_index_add(disk_state *st, disk_obj *o)
{
    HASH_ADD(hh, st->by_key, key, MCC_KEY_LEN, o);
    HASH_ADD(hh_id, st->by_id, id, sizeof(o->id), o);
    o->linked = 1;
    o->drive->used += o->charge;
    o->drive->objects++;
}

/* Takes O out of the index (and its files off the drive when REMOVE_FILES). Open handles keep
 * their fds, so they go on reading the old bytes; the object is freed with its last handle. */
void disk_index_unlink(disk_state *st, disk_obj *o, int remove_files)
{
    char path[DISK_PATH_MAX];

    if (st->scrub_obj == o) {
        st->scrub_obj = o->hh.next;
        st->scrub_slice = 0;
    }
    HASH_DELETE(hh, st->by_key, o);
    HASH_DELETE(hh_id, st->by_id, o);
    o->linked = 0;
    o->drive->used -= o->charge;
    o->drive->objects--;
    if (st->policy != NULL && o->drive->evict != NULL)
        st->policy->evict_remove(o->drive->evict, o->id);
    if (remove_files) {
        /* .meta first: a crash in between leaves an orphan .data, which the scan removes; the
         * .data's blocks are freed by the reaper (and so is a tombstone a crash left) */
        if (disk_path(path, sizeof(path), o->drive, o->key, ".meta") == MCC_OK)
            unlink(path);
        if (disk_path(path, sizeof(path), o->drive, o->key, ".data") == MCC_OK)
            disk_reap_file(st, path);
        o->removed = 1;
    }
    if (o->handles == 0)
        disk_obj_free(o);
}

/* --- drive health ------------------------------------------------------------------------- */

/* An object's files being opened is how a drive taken away is noticed on first use; an idle
 * object's files are open already, so its reuse asks this instead. */
int disk_drive_present(disk_drive *d)
{
    uint64_t now = disk_now_ms();
    if (d->seen_ms != 0 && now - d->seen_ms < 100)
        return 1;
    struct stat sb;
    if (stat(d->path, &sb) != 0 || !S_ISDIR(sb.st_mode) || (uint64_t)sb.st_dev != d->dev ||
        (uint64_t)sb.st_ino != d->ino)
        return 0;
    d->seen_ms = now;
    return 1;
}

static void disk_drive_down(disk_state *st, disk_drive *d, const char *why)
{
    if (!d->up)
        return;
    d->up = 0;
    d->scan_next = DISK_SUBDIRS; /* nothing of it is looked up until it is back */
    d->scan_bytes = 0;
    if (d->m_up != NULL)
        st->host->metric_set(d->m_up, 0);
    st->host->log(st->self, MCC_LOG_ERROR,
                  "%s: drive out of service (%s): its objects count as missing until a probe "
                  "finds it usable",
                  d->path, why);
    /* its objects leave the index but keep their files: they are found again when it is back */
    disk_obj *o, *tmp;
    HASH_ITER(hh, st->by_key, o, tmp)
    {
        if (o->drive == d)
            disk_index_unlink(st, o, 0);
    }
}

/* 1 when the drive's directory is still the one seen at start (same file system, same inode):
 * a vanished mount or a directory renamed away fails this. */
static int disk_drive_intact(const disk_drive *d)
{
    struct stat sb;
    if (stat(d->path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return 0;
    return (uint64_t)sb.st_dev == d->dev && (uint64_t)sb.st_ino == d->ino;
}

int disk_drive_error(disk_state *st, disk_drive *d, int err, const char *what)
{
    char why[256];
    switch (err) {
    case EIO:
    case EROFS:
    case ENODEV:
    case ENXIO:
    case ESTALE:
    case ENOTCONN:
    case EUCLEAN:
        break;
    case ENOENT:
    case ENOTDIR:
        /* a missing file is the object's problem, unless the drive itself went away */
        if (disk_drive_intact(d))
            return 0;
        break;
    default:
        return 0;
    }
    if (strstr(what, strerror(err)) != NULL)
        snprintf(why, sizeof(why), "%s", what);
    else
        snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
    disk_drive_down(st, d, why);
    return 1;
}

/* Space the file system must have free again before a full drive stores again. */
static uint64_t disk_drive_headroom(const struct statvfs *vfs)
{
    uint64_t total = (uint64_t)vfs->f_blocks * vfs->f_frsize;
    uint64_t h = total / 16;
    if (h < 64u * 1024u)
        h = 64u * 1024u;
    if (h > 16u * 1024u * 1024u)
        h = 16u * 1024u * 1024u;
    return h;
}

static int disk_can_evict(void *arg, uint64_t id);

/* Evicts objects of D until about BYTES of charges are gone. */
static void disk_drive_shed(disk_state *st, disk_drive *d, uint64_t bytes)
{
    uint64_t freed = 0, rounds = d->objects + 16;
    while (freed < bytes && rounds-- > 0 && st->policy != NULL && d->evict != NULL) {
        uint64_t id;
        disk_obj *v;
        if (st->policy->evict_victim(d->evict, disk_can_evict, st, &id) != MCC_OK)
            return;
        HASH_FIND(hh_id, st->by_id, &id, sizeof(id), v);
        if (v == NULL || v->drive != d) {
            st->policy->evict_remove(d->evict, id);
            continue;
        }
        if (v->handles > 0)
            return;
        freed += v->charge;
        disk_index_unlink(st, v, 1);
        d->evictions++;
    }
}

/* A write met ENOSPC: the file system holds less than the drive's configured size. Storing on
 * the drive pauses (creates answer MCC_NOSPACE) until the probe sees room again; a few objects
 * are evicted so that room comes back by itself when the cache filled the file system. */
void disk_drive_nospace(disk_state *st, disk_drive *d)
{
    if (d->full)
        return;
    d->full = 1;
    if (d->m_full != NULL)
        st->host->metric_set(d->m_full, 1);
    st->host->log(st->self, MCC_LOG_WARN,
                  "%s: file system full (%llu bytes stored of a %llu size): storing paused",
                  d->path, (unsigned long long)d->used, (unsigned long long)d->size);
    struct statvfs vfs;
    if (statvfs(d->path, &vfs) == 0)
        disk_drive_shed(st, d, disk_drive_headroom(&vfs));
}

/* Writes, syncs and removes a small file: a read-only or failing drive cannot. */
static int disk_drive_write_probe(const disk_drive *d, int *err)
{
    char path[DISK_PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", d->path, DISK_PROBE_NAME);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        *err = ENAMETOOLONG;
        return MCC_ERROR;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        *err = errno;
        return MCC_ERROR;
    }
    int rc = MCC_OK;
    if (write(fd, "p", 1) != 1 || fdatasync(fd) != 0) {
        *err = errno;
        rc = MCC_ERROR;
    }
    close(fd);
    if (unlink(path) != 0 && rc == MCC_OK) {
        *err = errno;
        rc = MCC_ERROR;
    }
    return rc;
}

/* On the reaper's thread: the write probe of drive ARG. */
static void disk_probe_job(void *arg)
{
    disk_drive *d = arg;
    int err = 0;
    d->probe_err = disk_drive_write_probe(d, &err) == MCC_OK ? 0 : (err != 0 ? err : EIO);
    atomic_store_explicit(&d->probe_done, 1, memory_order_release);
}

static void disk_scan_arm(disk_state *st);

/* Health, on a probe_interval tick: the drive is in place, and a probe written and synced on it
 * (by the reaper, off the loop) succeeds. The outcome of the probe a tick started is taken at
 * a later tick; without a reaper the probe runs here. */
static void disk_drive_probe(disk_state *st, disk_drive *d, int health)
{
    int probed = 0;
    if (d->probing && atomic_load_explicit(&d->probe_done, memory_order_acquire)) {
        d->probing = 0;
        probed = 1;
    }
    if (health) {
        if (!disk_drive_intact(d)) {
            if (d->up)
                disk_drive_down(st, d, "its directory is gone or another file system is there");
            return;
        }
        if (!d->probing) {
            atomic_store_explicit(&d->probe_done, 0, memory_order_relaxed);
            if (disk_reaper_run(st->reaper, disk_probe_job, d) == 0) {
                d->probing = 1;
            } else {
                disk_probe_job(d);
                probed = 1;
            }
        }
    }
    if (probed) {
        int err = d->probe_err;
        if (err != 0 && err != ENOSPC && err != EDQUOT) {
            if (d->up) {
                char why[256];
                snprintf(why, sizeof(why), "probe write: %s", strerror(err));
                disk_drive_down(st, d, why);
            }
            return;
        }
        if (!d->up && disk_drive_intact(d)) {
            d->up = 1;
            d->scan_next = 0;
            d->scan_bytes = 0;
            if (d->m_up != NULL)
                st->host->metric_set(d->m_up, 1);
            st->host->log(st->self, MCC_LOG_WARN, "%s: drive back in service", d->path);
            disk_scan_arm(st);
        }
    }
    struct statvfs vfs;
    if (d->full && statvfs(d->path, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize >= disk_drive_headroom(&vfs)) {
        d->full = 0;
        if (d->m_full != NULL)
            st->host->metric_set(d->m_full, 0);
        st->host->log(st->self, MCC_LOG_WARN, "%s: file system has room again: storing resumes",
                      d->path);
    }
}

/* Every second: full drives are checked for room; every probe_interval: every drive's health. */
static void disk_probe_tick(void *arg)
{
    disk_state *st = arg;
    uint64_t now = disk_now_ms();
    int health = now - st->last_probe_ms >= st->probe_interval;
    if (health)
        st->last_probe_ms = now;
    for (unsigned i = 0; i < st->ndrives; i++)
        disk_drive_probe(st, &st->drives[i], health);
}

/* --- placement and eviction --------------------------------------------------------------- */

/* Weighted rendezvous hashing: each drive scores -size / ln(u) with u uniform in (0, 1) from the
 * key and the drive's seed; the highest in service wins. Adding a drive moves only the keys it
 * now wins; a drive out of service passes its keys to each key's next drive in that order. */
static disk_drive *disk_pick(disk_state *st, const uint8_t key[MCC_KEY_LEN])
{
    disk_drive *best = NULL;
    double best_score = -1.0;
    for (unsigned i = 0; i < st->ndrives; i++) {
        disk_drive *d = &st->drives[i];
        if (!d->up)
            continue;
        uint64_t h = XXH3_64bits_withSeed(key, MCC_KEY_LEN, d->seed);
        double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0; /* 2^53 */
        double score = -(double)d->size / log(u);
        if (score > best_score) {
            best_score = score;
            best = d;
        }
    }
    return best;
}

static int disk_can_evict(void *arg, uint64_t id)
{
    disk_state *st = arg;
    disk_obj *o;
    HASH_FIND(hh_id, st->by_id, &id, sizeof(id), o);
    return o != NULL && o->handles == 0;
}

/* What the unscanned part of a drive probably holds: keys spread evenly over the folders, so
 * the folders scanned so far tell. Reserved while the background scan runs. */
static uint64_t disk_unscanned_estimate(const disk_drive *d)
{
    if (d->scan_next >= DISK_SUBDIRS)
        return 0;
    if (d->scan_next == 0)
        return d->size; /* nothing known yet: no room */
    return d->scan_bytes / d->scan_next * (DISK_SUBDIRS - d->scan_next);
}

/* Evicts from drive D until NEED more bytes fit. MCC_OK or MCC_NOSPACE. */
static int disk_make_room(disk_state *st, disk_drive *d, uint64_t need)
{
    uint64_t reserve = disk_unscanned_estimate(d);
    if (need > d->size || reserve > d->size - need)
        return MCC_NOSPACE;
    uint64_t limit = d->size - need - reserve;
    /* each round removes one object (or one stale id from the policy): bounded */
    uint64_t rounds = d->objects + 16;
    while (d->used > limit) {
        uint64_t id;
        disk_obj *v;
        if (st->policy == NULL || d->evict == NULL || rounds-- == 0)
            return MCC_NOSPACE;
        if (st->policy->evict_victim(d->evict, disk_can_evict, st, &id) != MCC_OK)
            return MCC_NOSPACE;
        HASH_FIND(hh_id, st->by_id, &id, sizeof(id), v);
        if (v == NULL || v->drive != d) {
            st->policy->evict_remove(d->evict, id); /* the policy knew an id we do not */
            continue;
        }
        if (v->handles > 0)
            return MCC_NOSPACE; /* the policy ignored can(): do not take bytes being read */
        char hex[DISK_HEX_LEN + 1];
        disk_key_hex(v->key, hex);
        st->host->log(st->self, MCC_LOG_DEBUG, "%s: evicting %s (%llu bytes)", d->path, hex,
                      (unsigned long long)v->length);
        disk_index_unlink(st, v, 1);
        d->evictions++;
    }
    return MCC_OK;
}

/* Grows D's usage by EXTRA bytes, evicting first. MCC_OK or MCC_NOSPACE. */
int disk_drive_reserve(disk_state *st, disk_drive *d, uint64_t extra)
{
    if (disk_make_room(st, d, extra) != MCC_OK)
        return MCC_NOSPACE;
    d->used += extra;
    return MCC_OK;
}

/* --- handles ------------------------------------------------------------------------------ */

static mcc_object *disk_handle_new(disk_obj *o)
{
    mcc_object *h = malloc(sizeof(*h));
    if (h == NULL)
        return NULL;
    h->o = o;
    o->handles++;
    return h;
}

void disk_handle_close(mcc_object *h)
{
    if (h == NULL)
        return;
    disk_obj *o = h->o;
    free(h);
    disk_obj_release(o);
}

int disk_open(void *state, const uint8_t key[MCC_KEY_LEN], mcc_object **obj)
{
    disk_state *st = state;
    disk_obj *o;
    mcc_err err = {{0}};

    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o == NULL)
        o = disk_scan_lookup(st, key); /* its folder may not be scanned yet */
    if (o == NULL)
        return MCC_NOTFOUND;
    if (disk_obj_acquire(o, &err) != MCC_OK) {
        int e = errno;
        if (!disk_drive_error(st, o->drive, e, err.msg)) {
            st->host->log(st->self, MCC_LOG_WARN, "%s: dropped", err.msg);
            disk_index_unlink(st, o, 1);
        }
        return MCC_NOTFOUND;
    }
    mcc_object *h = disk_handle_new(o);
    o->handles--; /* the handle took over the reference acquire counted */
    if (h == NULL) {
        o->handles++;
        disk_obj_release(o);
        return MCC_ERROR;
    }
    /* one access per open: reads through the handle are the same use, not more of them */
    if (st->policy != NULL && o->drive->evict != NULL)
        st->policy->evict_access(o->drive->evict, o->id);
    *obj = h;
    return MCC_OK;
}

/* Makes <drive>/<hh>/; the drive itself is never made again after start: a missing drive
 * directory is a vanished mount, and writing under it would fill the file system beneath. */
static int disk_subdir(const disk_drive *d, const uint8_t key[MCC_KEY_LEN], mcc_err *err)
{
    char dir[DISK_PATH_MAX];
    char hex[DISK_HEX_LEN + 1];
    disk_key_hex(key, hex);
    int n = snprintf(dir, sizeof(dir), "%s/%.2s", d->path, hex);
    if (n < 0 || (size_t)n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return mcc_err_set(err, "%s: path too long", d->path);
    }
    if (mkdir(dir, 0750) == 0 || errno == EEXIST)
        return MCC_OK;
    return mcc_err_set(err, "%s: mkdir: %s", dir, strerror(errno));
}

/* Creates the object's files on D. MCC_OK, MCC_NOSPACE, MCC_ERROR, or MCC_AGAIN when D failed
 * (it is out of service now: the caller tries the next drive). */
static int disk_create_on(disk_state *st, disk_drive *d, const uint8_t key[MCC_KEY_LEN],
                          uint64_t length, uint32_t slice_size, const void *meta, size_t meta_len,
                          uint64_t charge, uint64_t full, mcc_object **obj)
{
    char data[DISK_PATH_MAX];
    mcc_err err = {{0}};
    int rc = MCC_ERROR, e = 0;

    disk_obj *o = disk_obj_new(st, key, d);
    if (o == NULL)
        return MCC_ERROR;
    o->length = length;
    o->slice_size = slice_size;
    o->nslices = length / slice_size + (length % slice_size != 0);
    o->charge = charge;
    o->mtime = (int64_t)time(NULL);
    o->meta = malloc(meta_len > 0 ? meta_len : 1);
    o->meta_len = meta_len;
    if (o->meta == NULL || disk_obj_alloc_slices(o) != MCC_OK)
        goto fail;
    if (meta_len > 0)
        memcpy(o->meta, meta, meta_len);
    o->loaded = 1;
    if (disk_subdir(d, key, &err) != MCC_OK) {
        e = errno;
        goto fail;
    }
    /* the .meta (no slice present) gets its name before any data byte is written */
    rc = disk_meta_write(o, &err);
    if (rc != MCC_OK) {
        e = errno;
        goto fail;
    }
    rc = MCC_ERROR;
    if (disk_path(data, sizeof(data), d, key, ".data") != MCC_OK)
        goto fail_files;
    o->data_fd = open(data, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (o->data_fd < 0 || ftruncate(o->data_fd, (off_t)length) != 0) {
        e = errno;
        rc = e == ENOSPC || e == EDQUOT ? MCC_NOSPACE : MCC_ERROR;
        mcc_err_set(&err, "%s: %s", data, strerror(e));
        goto fail_files;
    }
    mcc_object *h = disk_handle_new(o);
    if (h == NULL)
        goto fail_files;
    disk_index_add(st, o);
    if (st->policy != NULL && d->evict != NULL)
        st->policy->evict_insert(d->evict, o->id, full); /* what it will likely hold */
    o->tracked = 1;
    *obj = h;
    return MCC_OK;

fail_files:
    if (disk_path(data, sizeof(data), d, key, ".meta") == MCC_OK)
        unlink(data);
    if (disk_path(data, sizeof(data), d, key, ".data") == MCC_OK)
        unlink(data);
fail:
    disk_obj_free(o);
    if (e == ENOSPC || e == EDQUOT) {
        disk_drive_nospace(st, d);
        return MCC_NOSPACE;
    }
    if (e != 0 && disk_drive_error(st, d, e, err.msg))
        return MCC_AGAIN;
    if (err.msg[0] != '\0')
        st->host->log(st->self, MCC_LOG_ERROR, "create: %s", err.msg);
    return rc == MCC_NOSPACE ? MCC_NOSPACE : MCC_ERROR;
}

int disk_create(void *state, const uint8_t key[MCC_KEY_LEN], uint64_t length, uint32_t slice_size,
                const void *meta, size_t meta_len, mcc_object **obj)
{
    disk_state *st = state;
    disk_obj *o;

    if (!st->started || slice_size == 0 || meta_len > DISK_META_MAX ||
        (meta == NULL && meta_len > 0))
        return MCC_ERROR;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o != NULL)
        disk_index_unlink(st, o, 1); /* replaced: its open handles keep the old bytes */
    if (st->admit != NULL && st->admit->admit(st->admit_state, key, length, 1) == MCC_DECLINED)
        return MCC_DECLINED;
    if (length > st->max_object)
        return MCC_NOSPACE;
    uint64_t nslices = length / slice_size + (length % slice_size != 0);
    /* the .meta's room now, each slice's when it is first written */
    uint64_t charge = disk_obj_meta_charge(nslices, meta_len);
    uint64_t full = disk_obj_charge(length, nslices, meta_len);
    /* a drive that fails under us is out of service afterwards: the next pick is another */
    for (unsigned attempt = 0; attempt <= st->ndrives; attempt++) {
        disk_drive *d = disk_pick(st, key);
        if (d == NULL || d->full || full > d->size)
            return MCC_NOSPACE;
        int rc = disk_make_room(st, d, charge);
        if (rc != MCC_OK)
            return rc;
        rc = disk_create_on(st, d, key, length, slice_size, meta, meta_len, charge, full, obj);
        if (rc != MCC_AGAIN)
            return rc;
    }
    return MCC_NOSPACE;
}

int disk_remove(void *state, const uint8_t key[MCC_KEY_LEN])
{
    disk_state *st = state;
    disk_obj *o;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o == NULL)
        o = disk_scan_lookup(st, key);
    if (o == NULL)
        return MCC_NOTFOUND;
    disk_index_unlink(st, o, 1);
    return MCC_OK;
}

void disk_usage(void *state, uint64_t *used, uint64_t *capacity, uint64_t *objects)
{
    disk_state *st = state;
    uint64_t u = 0, c = 0, n = 0;
    for (unsigned i = 0; i < st->ndrives; i++) {
        u += st->drives[i].used;
        c += st->drives[i].up ? st->drives[i].size : 0;
        n += st->drives[i].objects;
    }
    if (used != NULL)
        *used = u;
    if (capacity != NULL)
        *capacity = c;
    if (objects != NULL)
        *objects = n;
}

/* The reports helper's drive listing (mcc_storage_ops.drives). */
int disk_drives(void *state, unsigned i, mcc_drive_info *out)
{
    disk_state *st = state;
    if (i >= st->ndrives)
        return MCC_NOTFOUND;
    const disk_drive *d = &st->drives[i];
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", d->path);
    out->used = d->used;
    out->capacity = d->size;
    out->objects = d->objects;
    out->evictions = d->evictions;
    out->writable = d->up && !d->full;
    return MCC_OK;
}

/* --- scrub -------------------------------------------------------------------------------- */

#define DISK_SCRUB_ITEMS 256u  /* slices per job */
#define DISK_SCRUB_OBJECTS 32u /* objects per job */
#define DISK_SCRUB_POLL_MS 1u  /* how soon the loop looks again for the outcome of a job */

/* One slice the scrub reads. Its object is held (one handle) until the outcome is taken on the
 * loop, so its .data descriptor stays open and unchanged while the reaper reads through it. */
typedef struct disk_scrub_item {
    disk_obj *o;
    int warm; /* its files stay open after */
    int fd;   /* the object's .data */
    uint64_t idx, off, end, want;
    uint64_t sum;
    int ok; /* as disk_sum_read returns */
} disk_scrub_item;

/* The loop's: it frees the job, never before the reaper has set DONE, its last touch. */
typedef struct disk_scrub_job {
    atomic_int done;
    unsigned n, objects;
    disk_scrub_item items[DISK_SCRUB_ITEMS];
} disk_scrub_job;

/* On the reaper's thread (or the loop's, without a reaper): read and sum every item. */
static void disk_scrub_job_run(void *arg)
{
    disk_scrub_job *j = arg;
    void *buf = malloc(DISK_SCRATCH_LEN);
    for (unsigned i = 0; i < j->n; i++) {
        disk_scrub_item *it = &j->items[i];
        it->ok = buf != NULL ? disk_sum_read(it->fd, it->off, it->end, buf, &it->sum) : -1;
    }
    free(buf);
    atomic_store_explicit(&j->done, 1, memory_order_release);
}

static void disk_scrub_put(disk_scrub_item *it)
{
    if (it->warm)
        disk_obj_release(it->o);
    else
        disk_obj_release_closing(it->o);
}

/* The outcome of the job that is out, once it is in: slices checked or dropped, objects given
 * back. */
static void disk_scrub_take(disk_state *st)
{
    disk_scrub_job *j = st->scrub_job;
    st->scrub_job = NULL;
    for (unsigned i = 0; i < j->n; i++) {
        disk_scrub_item *it = &j->items[i];
        disk_obj_scrub_take(it->o, it->idx, it->want, it->ok, it->sum);
        disk_scrub_put(it);
    }
    free(j);
}

/* The poll timer: takes the job's outcome as soon as the reaper is done with it, so that its
 * objects are not held longer than the reading takes. */
static void disk_scrub_poll(void *arg)
{
    disk_state *st = arg;
    if (st->scrub_job == NULL)
        return;
    if (atomic_load_explicit(&st->scrub_job->done, memory_order_acquire))
        disk_scrub_take(st);
    else
        st->host->timer_arm(st->scrub_poll, DISK_SCRUB_POLL_MS, 0);
}

/* Stopping with a job out: it is waited for (the reaper reads through the objects'
 * descriptors, which giving the objects back may close), its outcome is dropped, and the
 * objects go back. */
static void disk_scrub_abandon(disk_state *st)
{
    disk_scrub_job *j = st->scrub_job;
    if (j == NULL)
        return;
    st->scrub_job = NULL;
    while (!atomic_load_explicit(&j->done, memory_order_acquire))
        usleep(1000); /* a few slices' reading at most */
    for (unsigned i = 0; i < j->n; i++)
        disk_scrub_put(&j->items[i]);
    free(j);
}

/* Adds slice IDX of O (held by the caller) to J; the bytes it will read, 0 when it is not
 * present. */
static uint64_t disk_scrub_add(disk_scrub_job *j, disk_obj *o, uint64_t idx, int warm)
{
    disk_scrub_item *it = &j->items[j->n];
    mcc_err err = {{0}};
    if (!disk_obj_scrub_span(o, idx, &it->off, &it->end, &it->want) ||
        disk_obj_acquire(o, &err) != MCC_OK) /* held already: this only counts a handle */
        return 0;
    j->objects += j->n == 0 || j->items[j->n - 1].o != o;
    it->o = o;
    it->warm = warm;
    it->fd = o->data_fd;
    it->idx = idx;
    j->n++;
    return it->end - it->off;
}

/* Reads stored slices at scrub_rate, a few every tick, in index order round and round: a slice
 * whose bytes no longer match its checksum is dropped (and fetched again when asked for). The
 * reading and summing is the reaper's: a slow drive does not hold up the loop. A tick sends
 * out one job, whose outcome the poll timer takes as soon as it is in; without a reaper the
 * tick reads right here. */
static void disk_scrub_tick(void *arg)
{
    disk_state *st = arg;
    if (st->scrub_job != NULL) {
        if (!atomic_load_explicit(&st->scrub_job->done, memory_order_acquire))
            return; /* still reading: so is the budget */
        disk_scrub_take(st);
    }
    uint64_t per_tick = st->scrub_rate * DISK_SCRUB_TICK_MS / 1000u;
    int wrapped = 0;
    /* unspent budget carries over one tick, no more: the rate stays a bound */
    st->scrub_budget += per_tick > 0 ? per_tick : 1;
    if (st->scrub_budget > 2 * per_tick + 1)
        st->scrub_budget = 2 * per_tick + 1;
    disk_scrub_job *job = st->reaper != NULL ? calloc(1, sizeof(*job)) : NULL;
    for (unsigned objects = 0; st->scrub_budget > 0 && objects < 4096; objects++) {
        if (job != NULL && (job->n == DISK_SCRUB_ITEMS || job->objects == DISK_SCRUB_OBJECTS))
            break;
        disk_obj *o = st->scrub_obj;
        mcc_err err = {{0}};
        if (o == NULL) {
            if (wrapped || st->by_key == NULL)
                break; /* a round ends: the next one starts next tick */
            wrapped = 1;
            o = st->scrub_obj = st->by_key;
            st->scrub_slice = 0;
        }
        int warm = o->idle || o->handles > 0; /* in use lately: stays open after */
        if (disk_obj_acquire(o, &err) != MCC_OK) {
            int e = errno;
            if (!disk_drive_error(st, o->drive, e, err.msg)) {
                st->host->log(st->self, MCC_LOG_WARN, "scrub: %s: dropped", err.msg);
                disk_index_unlink(st, o, 1);
            }
            continue; /* unlinking moved the scrub on */
        }
        while (st->scrub_slice < o->nslices && st->scrub_budget > 0 &&
               (job == NULL || job->n < DISK_SCRUB_ITEMS)) {
            uint64_t idx = st->scrub_slice++;
            uint64_t n = job != NULL ? disk_scrub_add(job, o, idx, warm) : disk_obj_scrub(o, idx);
            st->scrub_budget -= n < st->scrub_budget ? n : st->scrub_budget;
        }
        if (st->scrub_obj == o && st->scrub_slice >= o->nslices) {
            st->scrub_obj = o->hh.next;
            st->scrub_slice = 0;
        }
        if (warm)
            disk_obj_release(o);
        else
            disk_obj_release_closing(o);
    }
    if (job == NULL)
        return;
    if (job->n == 0) {
        free(job);
        return;
    }
    st->scrub_job = job;
    if (disk_reaper_run(st->reaper, disk_scrub_job_run, job) != 0) {
        disk_scrub_job_run(job);
        disk_scrub_take(st);
        return;
    }
    st->host->timer_arm(st->scrub_poll, DISK_SCRUB_POLL_MS, 0);
}

/* --- config and lifecycle ------------------------------------------------------------------ */

static int disk_conf_drive(disk_state *st, const mcc_conf *node, const char *root, mcc_err *err)
{
    const mcc_host *host = st->host;
    const char *path = NULL;
    uint64_t size = 0;
    char buf[DISK_PATH_MAX];

    if (host->conf_str(node, "path", NULL, &path, err) != MCC_OK)
        return MCC_ERROR;
    if (path == NULL || path[0] == '\0')
        return host->conf_error(node, "path", err, "a directory path is required");
    if (host->conf_size(node, "size", 0, &size, err) != MCC_OK)
        return MCC_ERROR;
    if (size < DISK_MIN_DRIVE_SIZE)
        return host->conf_error(node, "size", err, "a size of at least 1MiB is required");
    int n = path[0] == '/' ? snprintf(buf, sizeof(buf), "%s", path)
                           : snprintf(buf, sizeof(buf), "%s/%s", root, path);
    if (n < 0 || (size_t)n >= sizeof(buf) - DISK_HEX_LEN - 16)
        return host->conf_error(node, "path", err, "path too long");
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    for (unsigned i = 0; i < st->ndrives; i++)
        if (strcmp(st->drives[i].path, buf) == 0)
            return host->conf_error(node, "path", err, "drive %s is listed twice", buf);
    disk_drive *d = &st->drives[st->ndrives];
    d->path = strdup(buf);
    if (d->path == NULL)
        return mcc_err_set(err, "out of memory");
    d->size = size;
    d->seed = XXH3_64bits(buf, (size_t)n);
    st->ndrives++;

    /* the label is the path, quotes and backslashes escaped as Prometheus wants */
    char label[2 * DISK_PATH_MAX + 16];
    size_t k = (size_t)snprintf(label, sizeof(label), "drive=\"");
    for (const char *p = buf; *p != '\0' && k + 4 < sizeof(label); p++) {
        if (*p == '"' || *p == '\\')
            label[k++] = '\\';
        label[k++] = *p;
    }
    label[k++] = '"';
    label[k] = '\0';
    d->m_up = host->metric(st->self, MCC_METRIC_GAUGE, "mcc_storage_drive_up",
                           "1 while the drive is in service, 0 while it is out after a failure",
                           label, NULL, 0);
    d->m_full = host->metric(st->self, MCC_METRIC_GAUGE, "mcc_storage_full",
                             "1 while the drive's file system is full (storing there paused)",
                             label, NULL, 0);
    return MCC_OK;
}

static int disk_conf(disk_state *st, const mcc_conf *conf, mcc_err *err)
{
    const mcc_host *host = st->host;
    const char *root = NULL, *eviction = NULL;
    char root_buf[DISK_PATH_MAX];

    /* relative drive paths sit under the daemon's cache root unless "root" says otherwise */
    const char *def_root = DISK_DEFAULT_ROOT;
    if (MCC_HAS(host, cache_root) && host->cache_root(st->self) != NULL &&
        host->cache_root(st->self)[0] == '/')
        def_root = host->cache_root(st->self);
    if (host->conf_str(conf, "root", def_root, &root, err) != MCC_OK)
        return MCC_ERROR;
    if (root == NULL || root[0] != '/')
        return host->conf_error(conf, "root", err, "an absolute directory path is required");
    /* strings from the node live only during create: keep our copy */
    int rn = snprintf(root_buf, sizeof(root_buf), "%s", root);
    if (rn < 0 || (size_t)rn >= sizeof(root_buf))
        return host->conf_error(conf, "root", err, "path too long");
    if (host->conf_str(conf, "eviction", "lru", &eviction, err) != MCC_OK)
        return MCC_ERROR;
    if (eviction == NULL || eviction[0] == '\0')
        return host->conf_error(conf, "eviction", err, "the name of a policy instance");
    st->eviction = strdup(eviction);
    if (st->eviction == NULL)
        return mcc_err_set(err, "out of memory");
    const char *admission = NULL;
    if (host->conf_str(conf, "admission", "", &admission, err) != MCC_OK)
        return MCC_ERROR;
    if (admission != NULL && admission[0] != '\0') {
        st->admission = strdup(admission);
        if (st->admission == NULL)
            return mcc_err_set(err, "out of memory");
    }
    if (host->conf_bool(conf, "fsync", 0, &st->fsync, err) != MCC_OK)
        return MCC_ERROR;
    if (host->conf_size(conf, "scrub_rate", 8u * 1024u * 1024u, &st->scrub_rate, err) != MCC_OK)
        return MCC_ERROR;
    if (host->conf_duration(conf, "probe_interval", 10000, &st->probe_interval, err) != MCC_OK)
        return MCC_ERROR;
    if (st->probe_interval < 100)
        return host->conf_error(conf, "probe_interval", err, "a duration of at least 100ms");
    if (host->conf_duration(conf, "scan_sync", DISK_SCAN_SYNC_MS, &st->scan_sync_ms, err) != MCC_OK)
        return MCC_ERROR;
    int64_t open_files = 0;
    if (host->conf_int(conf, "open_files", DISK_OPEN_FILES, 0, 65536, &open_files, err) != MCC_OK)
        return MCC_ERROR;
    st->open_files = (unsigned)open_files;
    if (host->conf_size(conf, "max_object", UINT64_MAX, &st->max_object, err) != MCC_OK)
        return MCC_ERROR;
    if (st->max_object == 0)
        return host->conf_error(conf, "max_object", err, "a size above 0");

    mcc_err child_err = {{0}}; /* tells "absent" from "not an array" */
    const mcc_conf *drives = host->conf_child(conf, "drives", 'a', &child_err);
    if (drives == NULL && child_err.msg[0] != '\0')
        return mcc_err_set(err, "%s", child_err.msg);
    size_t n = drives != NULL ? host->conf_count(drives) : 0;
    if (n == 0 || n > DISK_MAX_DRIVES)
        return host->conf_error(conf, "drives", err, "an array of 1 to %d drives {path, size}",
                                DISK_MAX_DRIVES);
    for (size_t i = 0; i < n; i++) {
        const mcc_conf *node = host->conf_index(drives, i, NULL);
        if (node == NULL)
            return host->conf_error(conf, "drives", err, "element %zu unreadable", i);
        if (disk_conf_drive(st, node, root_buf, err) != MCC_OK)
            return MCC_ERROR;
    }
    return MCC_OK;
}

static void disk_destroy(void *state);

static int disk_plugin_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                              void **state, mcc_err *err)
{
    disk_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    st->host = host;
    st->self = self;
    if (disk_conf(st, conf, err) != MCC_OK)
        goto fail;
    st->scratch = malloc(DISK_SCRATCH_LEN);
    if (st->scratch == NULL) {
        mcc_err_set(err, "out of memory");
        goto fail;
    }
    st->checksum_failures = host->metric(
        self, MCC_METRIC_COUNTER, "mcc_storage_checksum_failures_total",
        "Stored slices whose bytes did not match their checksum (dropped, fetched again)", NULL,
        NULL, 0);
    *state = st;
    return MCC_OK;
fail:
    disk_destroy(st);
    return MCC_ERROR;
}

static void disk_stop(void *state);

static void disk_policy_release(disk_state *st)
{
    for (unsigned i = 0; i < st->ndrives; i++) {
        if (st->drives[i].evict != NULL && st->policy != NULL)
            st->policy->evict_free(st->drives[i].evict);
        st->drives[i].evict = NULL;
    }
    st->policy = NULL;
    st->policy_state = NULL;
    st->admit = NULL;
    st->admit_state = NULL;
}

static void disk_scan_tick(void *arg)
{
    disk_state *st = arg;
    uint64_t deadline = disk_now_ms() + DISK_SCAN_STEP_MS;
    int more = 0;
    st->scan_armed = 0;
    for (unsigned i = 0; i < st->ndrives; i++) {
        disk_drive *d = &st->drives[i];
        if (d->up && d->scan_next < DISK_SUBDIRS) {
            uint64_t now = disk_now_ms();
            disk_scan_step(st, d, now < deadline ? deadline - now : 1);
            more |= d->scan_next < DISK_SUBDIRS;
        }
    }
    disk_policy_fill(st);
    if (more)
        disk_scan_arm(st);
}

static void disk_scan_arm(disk_state *st)
{
    if (st->scan_armed || st->scan_timer == NULL)
        return;
    /* 1 ms: the loop serves what is waiting between two steps */
    if (st->host->timer_arm(st->scan_timer, 1, 0) == MCC_OK)
        st->scan_armed = 1;
}

static int disk_policies_bind(disk_state *st, mcc_err *err)
{
    const mcc_policy_ops *p = st->host->policy(st->self, st->eviction, &st->policy_state);
    if (p == NULL)
        return mcc_err_set(err, "eviction: no policy instance named \"%s\"", st->eviction);
    if (p->type != MCC_POLICY_EVICTION || !MCC_HAS(p, evict_new) || !MCC_HAS(p, evict_free) ||
        !MCC_HAS(p, evict_insert) || !MCC_HAS(p, evict_access) || !MCC_HAS(p, evict_remove) ||
        !MCC_HAS(p, evict_victim))
        return mcc_err_set(err, "eviction: policy \"%s\" is not an eviction policy", st->eviction);
    st->policy = p;
    if (st->admission != NULL) {
        const mcc_policy_ops *a = st->host->policy(st->self, st->admission, &st->admit_state);
        if (a == NULL)
            return mcc_err_set(err, "admission: no policy instance named \"%s\"", st->admission);
        if (a->type != MCC_POLICY_ADMISSION || !MCC_HAS(a, admit))
            return mcc_err_set(err, "admission: policy \"%s\" is not an admission policy",
                               st->admission);
        st->admit = a;
    }
    return MCC_OK;
}

static int disk_start(void *state, void *event_base, mcc_err *err)
{
    disk_state *st = state;
    const mcc_host *host = st->host;

    if (disk_policies_bind(st, err) != MCC_OK)
        goto fail;
    if (st->reaper == NULL && (st->reaper = disk_reaper_start()) == NULL)
        host->log(st->self, MCC_LOG_WARN,
                  "cannot start the reaper thread: removed objects are freed on the loop");
    for (unsigned i = 0; i < st->ndrives; i++) {
        st->drives[i].evict = st->policy->evict_new(st->policy_state, st->drives[i].size);
        if (st->drives[i].evict == NULL) {
            mcc_err_set(err, "eviction: policy \"%s\" made no set", st->eviction);
            goto fail;
        }
    }
    st->probe_timer = host->timer_new(st->self, disk_probe_tick, st);
    st->scan_timer = host->timer_new(st->self, disk_scan_tick, st);
    if (st->probe_timer == NULL || st->scan_timer == NULL ||
        host->timer_arm(st->probe_timer,
                        st->probe_interval < DISK_FULL_POLL_MS ? st->probe_interval
                                                               : DISK_FULL_POLL_MS,
                        1) != MCC_OK) {
        mcc_err_set(err, "cannot arm timers");
        goto fail;
    }
    if (st->scrub_rate > 0) {
        st->scrub_timer = host->timer_new(st->self, disk_scrub_tick, st);
        st->scrub_poll = host->timer_new(st->self, disk_scrub_poll, st);
        if (st->scrub_timer == NULL || st->scrub_poll == NULL ||
            host->timer_arm(st->scrub_timer, DISK_SCRUB_TICK_MS, 1) != MCC_OK) {
            mcc_err_set(err, "cannot arm the scrub timer");
            goto fail;
        }
    }
    /* a drive that cannot be used now is out of service, not fatal: the probe retries it */
    unsigned usable = 0;
    for (unsigned i = 0; i < st->ndrives; i++) {
        mcc_err derr = {{0}};
        if (disk_scan_begin(st, &st->drives[i], &derr) == MCC_OK)
            usable++;
        else
            host->log(st->self, MCC_LOG_ERROR, "%s: drive out of service: %s", st->drives[i].path,
                      derr.msg);
    }
    if (usable == 0)
        host->log(st->self, MCC_LOG_ERROR, "no drive is usable: serving without storing");
    /* most caches are indexed here; a large one goes on in the background, and a key asked
     * for meanwhile is looked up in its folder directly */
    uint64_t deadline = disk_now_ms() + st->scan_sync_ms;
    for (unsigned i = 0; i < st->ndrives; i++) {
        uint64_t now = disk_now_ms();
        if (st->drives[i].up && now < deadline)
            disk_scan_step(st, &st->drives[i], deadline - now);
    }
    disk_policy_fill(st);
    st->last_probe_ms = disk_now_ms();
    st->started = 1;
    disk_scan_arm(st);
    return MCC_OK;
fail:
    disk_stop(st);
    return MCC_ERROR;
}

static void disk_stop(void *state)
{
    disk_state *st = state;
    st->started = 0;
    if (st->probe_timer != NULL)
        st->host->timer_free(st->probe_timer);
    if (st->scan_timer != NULL)
        st->host->timer_free(st->scan_timer);
    if (st->scrub_timer != NULL)
        st->host->timer_free(st->scrub_timer);
    if (st->scrub_poll != NULL)
        st->host->timer_free(st->scrub_poll);
    st->probe_timer = st->scan_timer = st->scrub_timer = st->scrub_poll = NULL;
    st->scan_armed = 0;
    disk_scrub_abandon(st);
    disk_policy_release(st);
}

static void disk_destroy(void *state)
{
    disk_state *st = state;
    if (st == NULL)
        return;
    disk_scrub_abandon(st);
    disk_obj *o, *tmp;
    HASH_ITER(hh, st->by_key, o, tmp)
    {
        if (o->handles > 0)
            st->host->log(st->self, MCC_LOG_WARN, "destroyed with %u handles open", o->handles);
        HASH_DELETE(hh, st->by_key, o);
        HASH_DELETE(hh_id, st->by_id, o);
        disk_obj_free(o);
    }
    disk_reaper_stop(st->reaper); /* after the objects: they hand their last files to it */
    st->reaper = NULL;
    for (unsigned i = 0; i < st->ndrives; i++)
        free(st->drives[i].path);
    free(st->eviction);
    free(st->admission);
    free(st->pending);
    free(st->scratch);
    free(st);
}

static const mcc_storage_ops disk_storage_ops = {
    .size = sizeof(mcc_storage_ops),
    .open = disk_open,
    .create = disk_create,
    .close = disk_handle_close,
    .info = disk_obj_info,
    .set_meta = disk_obj_set_meta,
    .has_slice = disk_obj_has_slice,
    .write = disk_obj_write,
    .commit = disk_obj_commit,
    .read = disk_obj_read,
    .read_fd = disk_obj_read_fd,
    .verify = disk_obj_verify,
    .remove = disk_remove,
    .usage = disk_usage,
    .drives = disk_drives,
};

static const mcc_plugin disk_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_STORAGE, "disk", "0.1.0"),
    .description = "objects on local drives, sliced and checksummed, evicted by a policy",
    .create = disk_plugin_create,
    .start = disk_start,
    .stop = disk_stop,
    .destroy = disk_destroy,
    .ops = &disk_storage_ops,
};

MCC_PLUGIN_DEFINE(disk_plugin)
