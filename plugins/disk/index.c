/* The disk backend's scan: reads every .meta header of a drive into the index, folder by folder
 * within a time budget, and removes what cannot be trusted (bad headers, half-written
 * temporaries, orphan .data files). A key asked for before its folder is scanned is read alone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"

/* 1 when NAME is "<64 lower hex><suffix>" and its first two digits are the folder's. */
static int index_name_is(const char *name, const char *suffix, const char *sub,
                         uint8_t key[MCC_KEY_LEN])
{
    size_t len = strlen(name), slen = strlen(suffix);
    if (len != DISK_HEX_LEN + slen || strcmp(name + DISK_HEX_LEN, suffix) != 0)
        return 0;
    if (name[0] != sub[0] || name[1] != sub[1])
        return 0;
    return disk_hex_key(name, key) == MCC_OK;
}

static void index_drop_file(disk_state *st, const char *dir, const char *name, const char *why)
{
    char path[DISK_PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return;
    if (unlink(path) == 0)
        st->host->log(st->self, MCC_LOG_WARN, "%s: %s: removed", path, why);
    else
        st->host->log(st->self, MCC_LOG_ERROR, "%s: %s: unlink: %s", path, why, strerror(errno));
}

/* Reads one .meta header. MCC_OK with H and the file's mtime, MCC_NOTFOUND when there is no
 * such file, or MCC_ERROR with WHY. */
static int index_read_header(const char *path, disk_header *h, int64_t *mtime, const char **why)
{
    uint8_t buf[DISK_HEADER_LEN];
    struct stat sb;
    int rc = MCC_ERROR;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = "unreadable";
        return errno == ENOENT ? MCC_NOTFOUND : MCC_ERROR;
    }
    if (fstat(fd, &sb) != 0 || disk_pread_full(fd, buf, sizeof(buf), 0) != MCC_OK) {
        *why = "unreadable or short header";
        goto out;
    }
    if (disk_header_decode(buf, h) != MCC_OK) {
        *why = "invalid header";
        goto out;
    }
    /* the file is written whole before it gets its name: any other size is damage */
    if (h->nslices > (UINT64_MAX - DISK_HEADER_LEN - h->meta_len) / DISK_RECORD_LEN ||
        (uint64_t)sb.st_size != DISK_HEADER_LEN + h->meta_len + h->nslices * DISK_RECORD_LEN) {
        *why = "size does not match its header";
        goto out;
    }
    *mtime = (int64_t)sb.st_mtime;
    rc = MCC_OK;
out:
    close(fd);
    return rc;
}

static void index_pending_add(disk_state *st, const uint8_t key[MCC_KEY_LEN])
{
    if (st->npending == st->pending_cap) {
        size_t cap = st->pending_cap > 0 ? 2 * st->pending_cap : 1024;
        void *p = realloc(st->pending, cap * sizeof(*st->pending));
        if (p == NULL)
            return; /* the object stays out of the policy: never evicted, still served */
        st->pending = p;
        st->pending_cap = cap;
    }
    memcpy(st->pending[st->npending++], key, MCC_KEY_LEN);
}

/* Indexes KEY's .meta in folder DIR of drive D, or removes its files when they cannot be
 * trusted. Returns the object, or NULL (nothing there, or dropped). */
static disk_obj *index_try_meta(disk_state *st, disk_drive *d, const char *dir,
                                const uint8_t key[MCC_KEY_LEN], int from_scan)
{
    char path[DISK_PATH_MAX], data[DISK_PATH_MAX];
    const char *why = NULL;
    disk_header h;
    int64_t mtime = 0;
    struct stat sb;

    if (disk_path(path, sizeof(path), d, key, ".meta") != MCC_OK ||
        disk_path(data, sizeof(data), d, key, ".data") != MCC_OK)
        return NULL;
    disk_obj *o = NULL;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o != NULL && o->drive == d)
        return o; /* looked up alone before its folder was scanned */
    int rc = index_read_header(path, &h, &mtime, &why);
    if (rc == MCC_NOTFOUND)
        return NULL;
    if (rc == MCC_OK) {
        if (memcmp(h.key, key, MCC_KEY_LEN) != 0)
            why = "header names another key";
        else if (stat(data, &sb) != 0 || !S_ISREG(sb.st_mode))
            why = "no .data file";
        else if (h.length > d->size)
            why = "larger than the drive";
        else if (o != NULL && (o->mtime >= mtime || o->handles > 0))
            why = "a newer copy is stored on another drive";
    }
    if (why != NULL) {
        char name[DISK_HEX_LEN + 8];
        disk_key_hex(key, name);
        memcpy(name + DISK_HEX_LEN, ".meta", 6);
        index_drop_file(st, dir, name, why);
        unlink(data); /* orphaned either way */
        return NULL;
    }
    if (o != NULL)
        disk_index_unlink(st, o, 1); /* the older copy (a drive was out meanwhile) goes */
    o = disk_obj_new(st, key, d);
    if (o == NULL)
        return NULL;
    o->length = h.length;
    o->slice_size = h.slice_size;
    o->nslices = h.nslices;
    o->mtime = mtime;
    /* the .meta, and the .data's blocks as the file system counts them (the slices it holds) */
    uint64_t held = (uint64_t)sb.st_blocks * 512u;
    uint64_t meta = disk_obj_meta_charge(h.nslices, h.meta_len);
    uint64_t body = disk_obj_charge(h.length, h.nslices, h.meta_len) - meta;
    o->charge = meta + (held < body ? held : body);
    disk_index_add(st, o);
    if (from_scan)
        d->scan_bytes += o->charge;
    index_pending_add(st, key);
    return o;
}

static int index_scan_metas(disk_state *st, disk_drive *d, const char *dir, const char *sub,
                            DIR *dh)
{
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        uint8_t key[MCC_KEY_LEN];
        if (index_name_is(de->d_name, ".meta.tmp", sub, key)) {
            index_drop_file(st, dir, de->d_name, "unfinished temporary");
            continue;
        }
        if (!index_name_is(de->d_name, ".meta", sub, key))
            continue;
        index_try_meta(st, d, dir, key, 1);
        if (!d->up)
            return MCC_ERROR;
    }
    return MCC_OK;
}

static void index_scan_orphans(disk_state *st, disk_drive *d, const char *dir, const char *sub,
                               DIR *dh)
{
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        uint8_t key[MCC_KEY_LEN];
        size_t len = strlen(de->d_name);
        if (len > DISK_HEX_LEN + 5 && strcmp(de->d_name + len - 5, ".reap") == 0 &&
            de->d_name[0] == sub[0] && de->d_name[1] == sub[1]) {
            /* a removed object's .data that a stop or crash left before the reaper got to it */
            char path[DISK_PATH_MAX];
            int n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            if (n > 0 && (size_t)n < sizeof(path))
                disk_reap(st->reaper, -1, path);
            continue;
        }
        if (!index_name_is(de->d_name, ".data", sub, key))
            continue;
        disk_obj *o;
        HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
        if (o == NULL || o->drive != d)
            index_drop_file(st, dir, de->d_name, "orphan .data (no valid .meta)");
    }
}

int disk_scan_begin(disk_state *st, disk_drive *d, mcc_err *err)
{
    struct stat sb;
    d->up = 0;
    d->full = 0;
    d->scan_next = DISK_SUBDIRS;
    d->scan_bytes = 0;
    if (d->m_full != NULL)
        st->host->metric_set(d->m_full, 0);
    if (d->m_up != NULL)
        st->host->metric_set(d->m_up, 0);
    if (disk_mkdirs(d->path, err) != MCC_OK)
        return MCC_ERROR;
    if (stat(d->path, &sb) != 0)
        return mcc_err_set(err, "%s: stat: %s", d->path, strerror(errno));
    d->dev = (uint64_t)sb.st_dev;
    d->ino = (uint64_t)sb.st_ino;
    d->up = 1;
    d->scan_next = 0;
    if (d->m_up != NULL)
        st->host->metric_set(d->m_up, 1);
    return MCC_OK;
}

/* Scans folders of D from scan_next on until BUDGET_MS have passed (at least one folder). */
int disk_scan_step(disk_state *st, disk_drive *d, uint64_t budget_ms)
{
    uint64_t deadline = disk_now_ms() + budget_ms;
    while (d->up && d->scan_next < DISK_SUBDIRS) {
        char sub[3], dir[DISK_PATH_MAX];
        snprintf(sub, sizeof(sub), "%02x", d->scan_next);
        int n = snprintf(dir, sizeof(dir), "%s/%s", d->path, sub);
        if (n > 0 && (size_t)n < sizeof(dir)) {
            DIR *dh = opendir(dir);
            /* absent: nothing stored there yet; unreadable: nothing of ours can be served */
            if (dh != NULL) {
                if (index_scan_metas(st, d, dir, sub, dh) == MCC_OK) {
                    rewinddir(dh);
                    index_scan_orphans(st, d, dir, sub, dh);
                }
                closedir(dh);
            } else if (errno != ENOENT) {
                disk_drive_error(st, d, errno, dir);
            }
        }
        if (!d->up)
            return MCC_ERROR;
        d->scan_next++;
        if (d->scan_next == DISK_SUBDIRS) {
            st->host->log(st->self, MCC_LOG_INFO, "%s: %llu objects, %llu of %llu bytes", d->path,
                          (unsigned long long)d->objects, (unsigned long long)d->used,
                          (unsigned long long)d->size);
            d->scan_bytes = 0;
        }
        if (disk_now_ms() >= deadline)
            break;
    }
    return MCC_OK;
}

disk_obj *disk_scan_lookup(disk_state *st, const uint8_t key[MCC_KEY_LEN])
{
    for (unsigned i = 0; i < st->ndrives; i++) {
        disk_drive *d = &st->drives[i];
        if (!d->up || d->scan_next > key[0])
            continue;
        char hex[DISK_HEX_LEN + 1], dir[DISK_PATH_MAX];
        disk_key_hex(key, hex);
        int n = snprintf(dir, sizeof(dir), "%s/%.2s", d->path, hex);
        if (n < 0 || (size_t)n >= sizeof(dir))
            continue;
        disk_obj *o = index_try_meta(st, d, dir, key, 0);
        if (o != NULL)
            return o;
    }
    return NULL;
}

static int index_older(const void *a, const void *b)
{
    const disk_obj *x = *(disk_obj *const *)a, *y = *(disk_obj *const *)b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return memcmp(x->key, y->key, MCC_KEY_LEN);
}

/* Tells the policy of the objects the scan found, least recently written first, so that it
 * starts from a recency close to the one before the restart. */
void disk_policy_fill(disk_state *st)
{
    size_t n = 0;
    disk_obj **all = NULL;
    if (st->npending == 0 || st->policy == NULL)
        goto out;
    all = calloc(st->npending, sizeof(*all));
    if (all == NULL)
        goto out;
    for (size_t i = 0; i < st->npending; i++) {
        disk_obj *o;
        HASH_FIND(hh, st->by_key, st->pending[i], MCC_KEY_LEN, o);
        if (o != NULL && !o->tracked) /* not dropped or replaced meanwhile */
            all[n++] = o;
    }
    qsort(all, n, sizeof(*all), index_older);
    for (size_t i = 0; i < n; i++) {
        if (all[i]->drive->evict != NULL)
            st->policy->evict_insert(all[i]->drive->evict, all[i]->id, all[i]->charge);
        all[i]->tracked = 1;
    }
out:
    free(all);
    free(st->pending);
    st->pending = NULL;
    st->npending = st->pending_cap = 0;
}
