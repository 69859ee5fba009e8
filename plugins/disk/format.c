/* The disk backend's files: names derived from the key only, and the .meta layout
 * (88-byte header, the daemon's blob, one 16-byte record per slice), all little-endian. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"

/* Header offsets. The header checksum covers bytes [0, DISK_HDR_SUM). */
enum {
    DISK_HDR_MAGIC = 0,
    DISK_HDR_VERSION = 8,
    DISK_HDR_SLICE = 12,
    DISK_HDR_LENGTH = 16,
    DISK_HDR_NSLICES = 24,
    DISK_HDR_META_LEN = 32,
    DISK_HDR_META_SUM = 40,
    DISK_HDR_KEY = 48,
    DISK_HDR_SUM = 80
};

/* Record flags: bit 0 says present; the high 32 bits check the record (sum, low flags and the
 * slice index), so a torn, zeroed or misplaced record reads as absent. */
#define DISK_REC_PRESENT 0x1u

static void fmt_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fmt_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t fmt_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t fmt_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void disk_key_hex(const uint8_t key[MCC_KEY_LEN], char hex[DISK_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < MCC_KEY_LEN; i++) {
        hex[2 * i] = digits[key[i] >> 4];
        hex[2 * i + 1] = digits[key[i] & 0xf];
    }
    hex[DISK_HEX_LEN] = '\0';
}

static int fmt_hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not ours: we only write lower case names */
}

int disk_hex_key(const char *hex, uint8_t key[MCC_KEY_LEN])
{
    for (size_t i = 0; i < MCC_KEY_LEN; i++) {
        int hi = fmt_hex_val(hex[2 * i]);
        int lo = hi < 0 ? -1 : fmt_hex_val(hex[2 * i + 1]);
        if (lo < 0)
            return MCC_ERROR;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return MCC_OK;
}

int disk_path(char *buf, size_t size, const disk_drive *d, const uint8_t key[MCC_KEY_LEN],
              const char *suffix)
{
    char hex[DISK_HEX_LEN + 1];
    disk_key_hex(key, hex);
    int n = snprintf(buf, size, "%s/%.2s/%s%s", d->path, hex, hex, suffix);
    return (n < 0 || (size_t)n >= size) ? MCC_ERROR : MCC_OK;
}

static uint32_t fmt_record_check(const uint8_t rec[DISK_RECORD_LEN], uint64_t idx)
{
    /* sum and the low flag word, seeded by the slice index */
    return (uint32_t)XXH3_64bits_withSeed(rec, 12, idx);
}

void disk_record_encode(uint8_t rec[DISK_RECORD_LEN], uint64_t idx, uint64_t sum)
{
    fmt_put_u64(rec, sum);
    fmt_put_u32(rec + 8, DISK_REC_PRESENT);
    fmt_put_u32(rec + 12, fmt_record_check(rec, idx));
}

int disk_record_decode(const uint8_t rec[DISK_RECORD_LEN], uint64_t idx, uint64_t *sum)
{
    if (!(fmt_get_u32(rec + 8) & DISK_REC_PRESENT) ||
        fmt_get_u32(rec + 12) != fmt_record_check(rec, idx))
        return 0;
    *sum = fmt_get_u64(rec);
    return 1;
}

static void fmt_header_encode(uint8_t buf[DISK_HEADER_LEN], const disk_obj *o)
{
    memset(buf, 0, DISK_HEADER_LEN);
    memcpy(buf + DISK_HDR_MAGIC, DISK_MAGIC, sizeof(DISK_MAGIC));
    fmt_put_u32(buf + DISK_HDR_VERSION, DISK_FORMAT_VERSION);
    fmt_put_u32(buf + DISK_HDR_SLICE, o->slice_size);
    fmt_put_u64(buf + DISK_HDR_LENGTH, o->length);
    fmt_put_u64(buf + DISK_HDR_NSLICES, o->nslices);
    fmt_put_u64(buf + DISK_HDR_META_LEN, o->meta_len);
    fmt_put_u64(buf + DISK_HDR_META_SUM, XXH3_64bits(o->meta, o->meta_len));
    memcpy(buf + DISK_HDR_KEY, o->key, MCC_KEY_LEN);
    fmt_put_u64(buf + DISK_HDR_SUM, XXH3_64bits(buf, DISK_HDR_SUM));
}

int disk_header_decode(const uint8_t buf[DISK_HEADER_LEN], disk_header *h)
{
    if (memcmp(buf + DISK_HDR_MAGIC, DISK_MAGIC, sizeof(DISK_MAGIC)) != 0)
        return MCC_ERROR;
    if (fmt_get_u64(buf + DISK_HDR_SUM) != XXH3_64bits(buf, DISK_HDR_SUM))
        return MCC_ERROR;
    if (fmt_get_u32(buf + DISK_HDR_VERSION) != DISK_FORMAT_VERSION)
        return MCC_ERROR;
    h->slice_size = fmt_get_u32(buf + DISK_HDR_SLICE);
    h->length = fmt_get_u64(buf + DISK_HDR_LENGTH);
    h->nslices = fmt_get_u64(buf + DISK_HDR_NSLICES);
    h->meta_len = fmt_get_u64(buf + DISK_HDR_META_LEN);
    h->meta_sum = fmt_get_u64(buf + DISK_HDR_META_SUM);
    memcpy(h->key, buf + DISK_HDR_KEY, MCC_KEY_LEN);
    if (h->slice_size == 0 || h->meta_len > DISK_META_MAX)
        return MCC_ERROR;
    uint64_t want = h->length / h->slice_size + (h->length % h->slice_size != 0);
    return h->nslices == want ? MCC_OK : MCC_ERROR;
}

int disk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return MCC_ERROR;
        if (n == 0) {
            errno = EIO; /* short file: the bytes are not there */
            return MCC_ERROR;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return MCC_OK;
}

int disk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == ENOSPC || errno == EDQUOT ? MCC_NOSPACE : MCC_ERROR;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return MCC_OK;
}

int disk_mkdirs(const char *path, mcc_err *err)
{
    char buf[DISK_PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf))
        return mcc_err_set(err, "%s: bad directory path", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return mcc_err_set(err, "%s: mkdir: %s", buf, strerror(errno));
        buf[i] = saved;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return mcc_err_set(err, "%s: not a directory", path);
    return MCC_OK;
}

int disk_sync_dir(const char *file_path)
{
    char dir[DISK_PATH_MAX];
    const char *slash = strrchr(file_path, '/');
    size_t len = slash == NULL ? 0 : (size_t)(slash - file_path);
    if (len == 0 || len >= sizeof(dir))
        return MCC_ERROR;
    memcpy(dir, file_path, len);
    dir[len] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return MCC_ERROR;
    int rc = fsync(fd) == 0 ? MCC_OK : MCC_ERROR;
    close(fd);
    return rc;
}

/* Writes the whole .meta (header, blob, the records of present slices) to a temporary file and
 * renames it over the object's name, so a reader sees the old file or the new one, never a mix.
 * The new file's fd becomes o->meta_fd. */
int disk_meta_write(disk_obj *o, mcc_err *err)
{
    char path[DISK_PATH_MAX], tmp[DISK_PATH_MAX];
    uint8_t hdr[DISK_HEADER_LEN];
    int fd = -1;
    int rc = MCC_ERROR, e;

    if (disk_path(path, sizeof(path), o->drive, o->key, ".meta") != MCC_OK ||
        disk_path(tmp, sizeof(tmp), o->drive, o->key, ".meta.tmp") != MCC_OK)
        return mcc_err_set(err, "%s: path too long", o->drive->path);
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = errno == ENOSPC ? MCC_NOSPACE : MCC_ERROR;
        mcc_err_set(err, "%s: open: %s", tmp, strerror(errno));
        goto fail;
    }
    uint64_t rec_base = DISK_HEADER_LEN + o->meta_len;
    /* absent records are zeros: the sparse tail needs no writes */
    if (ftruncate(fd, (off_t)(rec_base + o->nslices * DISK_RECORD_LEN)) != 0) {
        rc = errno == ENOSPC ? MCC_NOSPACE : MCC_ERROR;
        mcc_err_set(err, "%s: ftruncate: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    fmt_header_encode(hdr, o);
    rc = disk_pwrite_full(fd, hdr, sizeof(hdr), 0);
    if (rc == MCC_OK && o->meta_len > 0)
        rc = disk_pwrite_full(fd, o->meta, o->meta_len, DISK_HEADER_LEN);
    for (uint64_t i = 0; rc == MCC_OK && i < o->nslices; i++) {
        if (!(o->flags[i] & DISK_SLICE_PRESENT))
            continue;
        uint8_t rec[DISK_RECORD_LEN];
        disk_record_encode(rec, i, o->sums[i]);
        rc = disk_pwrite_full(fd, rec, sizeof(rec), rec_base + i * DISK_RECORD_LEN);
    }
    if (rc != MCC_OK) {
        mcc_err_set(err, "%s: write: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    if (o->st->fsync && fdatasync(fd) != 0) {
        rc = MCC_ERROR;
        mcc_err_set(err, "%s: fdatasync: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    if (rename(tmp, path) != 0) {
        rc = MCC_ERROR;
        mcc_err_set(err, "%s: rename: %s", path, strerror(errno));
        goto fail_unlink;
    }
    if (o->st->fsync)
        disk_sync_dir(path);
    if (o->meta_fd >= 0)
        close(o->meta_fd);
    o->meta_fd = fd;
    o->rec_base = rec_base;
    return MCC_OK;

fail_unlink:
    e = errno;
    unlink(tmp);
    errno = e;
fail:
    e = errno;
    if (fd >= 0)
        close(fd);
    errno = e;
    return rc;
}

/* Reads the blob and the slice records of an object known from its header. */
static int fmt_meta_read_body(disk_obj *o, const char *path, mcc_err *err)
{
    uint8_t hdr[DISK_HEADER_LEN];
    disk_header h;
    uint8_t *recs = NULL;
    int rc = MCC_ERROR;

    if (disk_pread_full(o->meta_fd, hdr, sizeof(hdr), 0) != MCC_OK ||
        disk_header_decode(hdr, &h) != MCC_OK) {
        mcc_err_set(err, "%s: bad header", path);
        goto out;
    }
    if (memcmp(h.key, o->key, MCC_KEY_LEN) != 0 || h.length != o->length ||
        h.slice_size != o->slice_size) {
        mcc_err_set(err, "%s: header changed since start-up", path);
        goto out;
    }
    free(o->meta);
    o->meta = malloc(h.meta_len > 0 ? h.meta_len : 1);
    o->meta_len = h.meta_len;
    if (o->meta == NULL || disk_obj_alloc_slices(o) != MCC_OK) {
        mcc_err_set(err, "out of memory");
        goto out;
    }
    if (disk_pread_full(o->meta_fd, o->meta, h.meta_len, DISK_HEADER_LEN) != MCC_OK ||
        XXH3_64bits(o->meta, h.meta_len) != h.meta_sum) {
        mcc_err_set(err, "%s: metadata blob unreadable or damaged", path);
        goto out;
    }
    o->rec_base = DISK_HEADER_LEN + h.meta_len;
    /* records in batches: a large object has many slices */
    enum { BATCH = 4096 };
    recs = malloc((size_t)BATCH * DISK_RECORD_LEN);
    if (recs == NULL) {
        mcc_err_set(err, "out of memory");
        goto out;
    }
    o->present = 0;
    for (uint64_t i = 0; i < o->nslices; i += BATCH) {
        uint64_t n = o->nslices - i < BATCH ? o->nslices - i : BATCH;
        if (disk_pread_full(o->meta_fd, recs, n * DISK_RECORD_LEN,
                            o->rec_base + i * DISK_RECORD_LEN) != MCC_OK) {
            mcc_err_set(err, "%s: slice records unreadable", path);
            goto out;
        }
        for (uint64_t j = 0; j < n; j++) {
            o->flags[i + j] = 0;
            if (disk_record_decode(recs + j * DISK_RECORD_LEN, i + j, &o->sums[i + j])) {
                /* checked before its tables were freed, and nothing wrote it since */
                o->flags[i + j] = DISK_SLICE_PRESENT | DISK_SLICE_CHARGED |
                                  (o->verified_all ? DISK_SLICE_VERIFIED : 0);
                o->present++;
            }
        }
    }
    o->loaded = 1;
    rc = MCC_OK;
out:
    free(recs);
    return rc;
}

/* Opens an indexed object's files; the first time, also reads its blob and slice table. */
int disk_meta_load(disk_obj *o, mcc_err *err)
{
    char path[DISK_PATH_MAX], data[DISK_PATH_MAX];

    if (disk_path(path, sizeof(path), o->drive, o->key, ".meta") != MCC_OK ||
        disk_path(data, sizeof(data), o->drive, o->key, ".data") != MCC_OK)
        return mcc_err_set(err, "%s: path too long", o->drive->path);
    o->meta_fd = open(path, O_RDWR | O_CLOEXEC);
    if (o->meta_fd < 0) {
        mcc_err_set(err, "%s: open: %s", path, strerror(errno));
        goto fail;
    }
    o->data_fd = open(data, O_RDWR | O_CLOEXEC);
    if (o->data_fd < 0) {
        mcc_err_set(err, "%s: open: %s", data, strerror(errno));
        goto fail;
    }
    if (o->loaded)
        return MCC_OK; /* the in-memory slice table is authoritative in this process */
    if (fmt_meta_read_body(o, path, err) != MCC_OK) {
        /* damage (or a short read) is the object's problem, not a sign of a failing drive */
        if (errno != EIO)
            errno = EBADMSG;
        goto fail;
    }
    return MCC_OK;
fail:;
    int e = errno;
    disk_obj_unload(o);
    errno = e;
    return MCC_ERROR;
}
