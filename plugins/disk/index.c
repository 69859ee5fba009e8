/* The disk backend's start-up scan: reads every .meta header on the drives into the index and
 * removes what cannot be trusted (bad headers, half-written temporaries, orphan .data files). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* Reads one .meta header. MCC_OK with H and the file's mtime, or MCC_ERROR with WHY. */
static int index_read_header(const char *path, disk_header *h, int64_t *mtime, const char **why)
{
    uint8_t buf[DISK_HEADER_LEN];
    struct stat sb;
    int rc = MCC_ERROR;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = "unreadable";
        return MCC_ERROR;
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

static int index_scan_metas(disk_state *st, disk_drive *d, const char *dir, const char *sub,
                            DIR *dh)
{
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        uint8_t key[MCC_KEY_LEN];
        char path[DISK_PATH_MAX], data[DISK_PATH_MAX];
        const char *why = NULL;
        disk_header h;
        int64_t mtime = 0;
        struct stat sb;

        if (index_name_is(de->d_name, ".meta.tmp", sub, key)) {
            index_drop_file(st, dir, de->d_name, "unfinished temporary");
            continue;
        }
        if (!index_name_is(de->d_name, ".meta", sub, key))
            continue;
        if (disk_path(path, sizeof(path), d, key, ".meta") != MCC_OK ||
            disk_path(data, sizeof(data), d, key, ".data") != MCC_OK)
            continue;
        disk_obj *o = NULL;
        HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
        if (index_read_header(path, &h, &mtime, &why) == MCC_OK) {
            if (memcmp(h.key, key, MCC_KEY_LEN) != 0)
                why = "header names another key";
            else if (stat(data, &sb) != 0 || !S_ISREG(sb.st_mode))
                why = "no .data file";
            else if (o != NULL)
                why = "already stored on another drive";
            else if (h.length > d->size)
                why = "larger than the drive";
        }
        if (why != NULL) {
            index_drop_file(st, dir, de->d_name, why);
            /* data of another drive's copy is that copy's; here it is orphaned either way */
            unlink(data);
            continue;
        }
        o = disk_obj_new(st, key, d);
        if (o == NULL)
            return MCC_ERROR;
        o->length = h.length;
        o->slice_size = h.slice_size;
        o->nslices = h.nslices;
        o->mtime = mtime;
        disk_index_add(st, o);
    }
    return MCC_OK;
}

static void index_scan_orphans(disk_state *st, disk_drive *d, const char *dir, const char *sub,
                               DIR *dh)
{
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        uint8_t key[MCC_KEY_LEN];
        if (!index_name_is(de->d_name, ".data", sub, key))
            continue;
        disk_obj *o;
        HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
        if (o == NULL || o->drive != d)
            index_drop_file(st, dir, de->d_name, "orphan .data (no valid .meta)");
    }
}

static int index_scan_drive(disk_state *st, disk_drive *d, mcc_err *err)
{
    DIR *top = opendir(d->path);
    if (top == NULL)
        return mcc_err_set(err, "%s: opendir: %s", d->path, strerror(errno));
    struct dirent *de;
    int rc = MCC_OK;
    while (rc == MCC_OK && (de = readdir(top)) != NULL) {
        const char *sub = de->d_name;
        uint8_t probe[MCC_KEY_LEN];
        char hex[DISK_HEX_LEN + 1];
        /* only our two-hex-digit folders; anything else on the drive is left alone */
        if (strlen(sub) != 2)
            continue;
        memset(hex, '0', DISK_HEX_LEN);
        hex[0] = sub[0];
        hex[1] = sub[1];
        hex[DISK_HEX_LEN] = '\0';
        if (disk_hex_key(hex, probe) != MCC_OK)
            continue;
        char dir[DISK_PATH_MAX];
        int n = snprintf(dir, sizeof(dir), "%s/%s", d->path, sub);
        if (n < 0 || (size_t)n >= sizeof(dir))
            continue;
        DIR *dh = opendir(dir);
        if (dh == NULL)
            continue; /* not a folder, or unreadable: nothing of ours can be served from it */
        rc = index_scan_metas(st, d, dir, sub, dh);
        if (rc == MCC_OK) {
            rewinddir(dh);
            index_scan_orphans(st, d, dir, sub, dh);
        }
        closedir(dh);
    }
    closedir(top);
    if (rc != MCC_OK)
        mcc_err_set(err, "%s: out of memory while scanning", d->path);
    return rc;
}

int disk_index_scan(disk_state *st, mcc_err *err)
{
    for (unsigned i = 0; i < st->ndrives; i++) {
        disk_drive *d = &st->drives[i];
        if (disk_mkdirs(d->path, err) != MCC_OK)
            return MCC_ERROR;
        if (index_scan_drive(st, d, err) != MCC_OK)
            return MCC_ERROR;
        st->host->log(st->self, MCC_LOG_INFO, "%s: %llu objects, %llu of %llu bytes", d->path,
                      (unsigned long long)d->objects, (unsigned long long)d->used,
                      (unsigned long long)d->size);
    }
    return MCC_OK;
}
