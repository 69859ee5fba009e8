/* Fuzz target: the disk backend's .meta reader (plugins/disk/format.c, index.c), run through
 * the plugin's own open path on a temporary drive with a stub host table. Input: one control
 * byte, then the .meta file's bytes. Control bits make the file's checksums right (bit 0: the
 * header's, bit 1: the blob's, bit 2: every record marked present), so that the fuzzer gets
 * past them to the fields they protect; with them clear, damage must be refused. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mcc/host.h>
#include <mcc/plugin.h>

#include "disk.h"
#include "fuzz.h"

enum {
    CTL_HEADER_SUM = 0x1,
    CTL_META_SUM = 0x2,
    CTL_RECORDS = 0x4,
    HDR_META_LEN = 32, /* header offsets, as format.c lays them out */
    HDR_META_SUM = 40,
    HDR_KEY = 48,
    HDR_SUM = 80
};

static char disk_root[] = "/tmp/mcc-fuzz-disk.XXXXXX";
static char drive_path[sizeof(disk_root) + 16];

static void stub_log(mcc_instance *self, int level, const char *fmt, ...)
{
    (void)self;
    (void)level;
    (void)fmt;
}

static void stub_metric_set(mcc_metric *m, double v)
{
    (void)m;
    (void)v;
}

static const mcc_host stub_host = {
    .size = sizeof(mcc_host),
    .abi_major = MCC_ABI_MAJOR,
    .abi_minor = MCC_ABI_MINOR,
    .log = stub_log,
    .metric_set = stub_metric_set,
};

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Makes the checksums the control byte asks for right, in place. */
static void disk_seal(uint8_t *f, size_t len, unsigned ctl)
{
    if (len < DISK_HEADER_LEN)
        return;
    uint64_t meta_len = get_u64(f + HDR_META_LEN);
    int blob_fits = meta_len <= len - DISK_HEADER_LEN;
    if ((ctl & CTL_META_SUM) && blob_fits)
        put_u64(f + HDR_META_SUM, XXH3_64bits(f + DISK_HEADER_LEN, meta_len));
    if ((ctl & CTL_RECORDS) && blob_fits) {
        size_t base = DISK_HEADER_LEN + meta_len;
        for (uint64_t i = 0; (len - base) / DISK_RECORD_LEN > i; i++) {
            uint8_t *rec = f + base + i * DISK_RECORD_LEN;
            if (rec[8] & 1)
                disk_record_encode(rec, i, get_u64(rec));
        }
    }
    if (ctl & CTL_HEADER_SUM)
        put_u64(f + HDR_SUM, XXH3_64bits(f, HDR_SUM));
}

static void write_file(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(len == 0 || fwrite(p, 1, len, f) == len);
    FUZZ_CHECK(fclose(f) == 0);
}

static void disk_root_remove(void)
{
    char path[sizeof(drive_path) + 8];
    for (unsigned i = 0; i < DISK_SUBDIRS; i++) {
        snprintf(path, sizeof(path), "%s/%02x", drive_path, i);
        rmdir(path);
    }
    rmdir(drive_path);
    rmdir(disk_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (mkdtemp(disk_root) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(drive_path, sizeof(drive_path), "%s/cache1", disk_root);
    FUZZ_CHECK(mkdir(drive_path, 0750) == 0);
    atexit(disk_root_remove);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static disk_state st; /* large (64 drives): not on the stack */
    uint8_t key[MCC_KEY_LEN];
    char dir[sizeof(drive_path) + 8], meta[DISK_PATH_MAX], dat[DISK_PATH_MAX];
    struct stat sb;

    if (size < 1)
        return 0;
    size_t len = size - 1;
    uint8_t *file = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(file != NULL);
    memcpy(file, data + 1, len);
    disk_seal(file, len, data[0]);

    memset(&st, 0, sizeof(st));
    st.host = &stub_host;
    st.ndrives = 1;
    disk_drive *d = &st.drives[0];
    d->path = drive_path;
    d->size = UINT64_C(1) << 40;
    d->up = 1;
    d->scan_next = 0; /* nothing scanned: every key is looked up in its folder */
    FUZZ_CHECK(stat(drive_path, &sb) == 0);
    d->dev = (uint64_t)sb.st_dev;
    d->ino = (uint64_t)sb.st_ino;

    /* the file is found under the key its header names, as a genuine one would be */
    if (len >= HDR_SUM)
        memcpy(key, file + HDR_KEY, MCC_KEY_LEN);
    else
        memset(key, 0xab, sizeof(key));
    snprintf(dir, sizeof(dir), "%s/%02x", drive_path, key[0]);
    if (mkdir(dir, 0750) != 0)
        FUZZ_CHECK(errno == EEXIST);
    FUZZ_CHECK(disk_path(meta, sizeof(meta), d, key, ".meta") == MCC_OK);
    FUZZ_CHECK(disk_path(dat, sizeof(dat), d, key, ".data") == MCC_OK);
    write_file(meta, file, len);
    write_file(dat, "", 0);

    mcc_object *h = NULL;
    int rc = disk_open(&st, key, &h);
    FUZZ_CHECK(rc == MCC_OK || rc == MCC_NOTFOUND);
    if (rc == MCC_OK) {
        mcc_object_info info;
        disk_header hdr;
        /* what was accepted is what the file says, and its tables are usable */
        FUZZ_CHECK(disk_header_decode(file, &hdr) == MCC_OK);
        FUZZ_CHECK(disk_obj_info(h, &info) == MCC_OK);
        FUZZ_CHECK(info.length == hdr.length);
        FUZZ_CHECK((uint64_t)DISK_HEADER_LEN + hdr.meta_len + hdr.nslices * DISK_RECORD_LEN ==
                   len);
        for (uint64_t i = 0; i < hdr.nslices && i < 1024; i++)
            (void)disk_obj_has_slice(h, i);
        disk_handle_close(h);
        FUZZ_CHECK(disk_remove(&st, key) == MCC_OK);
    }
    FUZZ_CHECK(st.by_key == NULL && st.by_id == NULL);
    disk_policy_fill(&st); /* frees the scan's list of found keys */
    unlink(meta);
    unlink(dat);
    free(file);
    return 0;
}
