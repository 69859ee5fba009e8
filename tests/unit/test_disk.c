/* Unit tests of the "disk" storage plugin (with the "lru" policy), loaded through the harness on
 * a temporary cache root: bytes, slices, restarts, damage, eviction and placement. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "cunit_main.h"
#include "harness.h"

#define SLICE (64u * 1024u)
#define KIB 1024u
#define MIB (1024u * 1024u)

typedef struct disk_env {
    char root[256];
    mcc_harness *h;
    mcc_plugin_ref lru;
    mcc_plugin_ref disk;
    const mcc_storage_ops *ops;
    void *st;
} disk_env;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0)
            seed = splitmix(&seed) | 1;
        buf[i] = (uint8_t)(seed >> (8 * (i % 8)));
    }
}

static void make_key(uint8_t key[MCC_KEY_LEN], uint64_t n)
{
    uint64_t s = n * 7919 + 1;
    for (size_t i = 0; i < MCC_KEY_LEN; i += 8) {
        uint64_t v = splitmix(&s);
        memcpy(key + i, &v, 8);
    }
}

static void key_hex(const uint8_t key[MCC_KEY_LEN], char out[2 * MCC_KEY_LEN + 1])
{
    for (size_t i = 0; i < MCC_KEY_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* <root>/<drive>/<hh>/<hex><suffix> */
static void obj_path(const disk_env *e, const char *drive, const uint8_t key[MCC_KEY_LEN],
                     const char *suffix, char *buf, size_t size)
{
    char hex[2 * MCC_KEY_LEN + 1];
    key_hex(key, hex);
    snprintf(buf, size, "%s/%s/%.2s/%s%s", e->root, drive, hex, hex, suffix);
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Starts lru + disk on E->root with the given drives/extra config (JSON members). */
static int env_start(disk_env *e, const char *members)
{
    char conf[1024];
    mcc_err err = {{0}};
    e->h = mcc_harness_new();
    if (e->h == NULL)
        return -1;
    if (mcc_harness_load(e->h, "lru", "lru", "{}", &e->lru, &err) != MCC_OK) {
        fprintf(stderr, "load lru: %s\n", err.msg);
        return -1;
    }
    snprintf(conf, sizeof(conf), "{\"root\": \"%s\", \"eviction\": \"lru\", %s}", e->root, members);
    if (mcc_harness_load(e->h, "disk", "disk", conf, &e->disk, &err) != MCC_OK) {
        fprintf(stderr, "load disk: %s\n", err.msg);
        return -1;
    }
    e->ops = e->disk.ops;
    e->st = e->disk.state;
    return 0;
}

static void env_stop(disk_env *e)
{
    mcc_harness_free(e->h);
    e->h = NULL;
}

static int env_open(disk_env *e, const char *members)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->root, sizeof(e->root), "/tmp/mcc-test-disk-XXXXXX");
    if (mkdtemp(e->root) == NULL)
        return -1;
    return env_start(e, members);
}

static void env_close(disk_env *e)
{
    if (e->h != NULL)
        env_stop(e);
    mcc_harness_rm_tree(e->root);
}

static void metric_find(void *arg, const mcc_metric_sample *s)
{
    if (strcmp(s->name, "mcc_storage_checksum_failures_total") == 0)
        *(double *)arg += s->value;
}

static double checksum_failures(disk_env *e)
{
    double v = 0;
    const mcc_host *host = mcc_harness_core(e->h)->host;
    host->metric_visit(e->disk.inst, metric_find, &v);
    return v;
}

/* Counts the files named *SUFFIX in the folders of <root>/<drive>. */
static unsigned count_files(const disk_env *e, const char *drive, const char *suffix)
{
    char top[512];
    unsigned n = 0;
    snprintf(top, sizeof(top), "%s/%s", e->root, drive);
    DIR *d = opendir(top);
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/%s", top, de->d_name);
        DIR *s = opendir(sub);
        if (s == NULL)
            continue;
        struct dirent *fe;
        while ((fe = readdir(s)) != NULL) {
            size_t len = strlen(fe->d_name), slen = strlen(suffix);
            if (len > slen && strcmp(fe->d_name + len - slen, suffix) == 0)
                n++;
        }
        closedir(s);
    }
    closedir(d);
    return n;
}

/* Writes DATA[first..last slices] in CHUNK-sized pieces (crossing slice boundaries), then
 * commits each slice of the run. */
static int put_slices(disk_env *e, mcc_object *o, const uint8_t *data, uint64_t length,
                      uint64_t first, uint64_t last, size_t chunk)
{
    uint64_t off = first * SLICE;
    uint64_t end = (last + 1) * SLICE < length ? (last + 1) * SLICE : length;
    while (off < end) {
        size_t n = end - off < chunk ? (size_t)(end - off) : chunk;
        if (e->ops->write(o, off, data + off, n) != MCC_OK)
            return -1;
        off += n;
    }
    for (uint64_t i = first; i <= last; i++)
        if (e->ops->commit(o, i) != MCC_OK)
            return -1;
    return 0;
}

/* what a drive is charged for an object: both files in whole 4 KiB blocks */
/* what the .meta alone is charged, and the complete object */
static uint64_t meta_charge(uint64_t length, uint64_t meta_len)
{
    uint64_t nslices = (length + SLICE - 1) / SLICE;
    return (88 + meta_len + 16 * nslices + 4095) / 4096 * 4096;
}

static uint64_t charge(uint64_t length, uint64_t meta_len)
{
    return (length + 4095) / 4096 * 4096 + meta_charge(length, meta_len);
}

static const char *ONE_DRIVE = "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}]";

#define OBJ_LEN (5 * SLICE + SLICE / 2) /* 5.5 slices */

static void test_roundtrip(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN], back[OBJ_LEN];
    mcc_object *o = NULL;
    mcc_object_info info;

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    CU_ASSERT_EQUAL(e.disk.desc->kind, MCC_KIND_STORAGE);
    make_key(key, 1);
    fill(data, sizeof(data), 11);
    CU_ASSERT_EQUAL(e.ops->open(e.st, key, &o), MCC_NOTFOUND);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, "m1", 2, &o), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.length, OBJ_LEN);
    CU_ASSERT_EQUAL(info.slice_size, SLICE);
    CU_ASSERT_EQUAL(info.nslices, 6);
    CU_ASSERT_EQUAL(info.present, 0);
    CU_ASSERT_EQUAL(info.meta_len, 2);
    CU_ASSERT(memcmp(info.meta, "m1", 2) == 0);
    CU_ASSERT_EQUAL(e.ops->has_slice(o, 0), 0);
    /* 10000-byte pieces cross slice boundaries inside one write */
    CU_ASSERT_EQUAL_FATAL(put_slices(&e, o, data, OBJ_LEN, 0, 5, 10000), 0);
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.present, 6);
    CU_ASSERT_EQUAL(e.ops->read(o, 0, back, OBJ_LEN), MCC_OK);
    CU_ASSERT(memcmp(back, data, OBJ_LEN) == 0);
    e.ops->close(o);

    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    int ok = 1;
    for (uint64_t k = 1; k <= 5; k++) {
        uint64_t b = k * SLICE;
        uint8_t small[16];
        /* across the boundary, exactly at it, and just before it */
        ok &= e.ops->read(o, b - 7, small, 14) == MCC_OK && memcmp(small, data + b - 7, 14) == 0;
        ok &= e.ops->read(o, b, small, 1) == MCC_OK && small[0] == data[b];
        ok &= e.ops->read(o, b - 1, small, 1) == MCC_OK && small[0] == data[b - 1];
    }
    CU_ASSERT(ok);
    uint8_t last[4];
    CU_ASSERT_EQUAL(e.ops->read(o, OBJ_LEN - 4, last, 4), MCC_OK);
    CU_ASSERT(memcmp(last, data + OBJ_LEN - 4, 4) == 0);
    CU_ASSERT_EQUAL(e.ops->read(o, OBJ_LEN - 4, last, 5), MCC_ERROR); /* past the end */

    /* read_fd: the fd at fd_off holds the object's byte at off */
    uint64_t offs[] = {0, 1, SLICE - 1, SLICE, 3 * SLICE + 12345, OBJ_LEN - 1};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        int fd = -1;
        uint64_t fd_off = 0;
        uint8_t b[64];
        size_t n = OBJ_LEN - offs[i] < sizeof(b) ? OBJ_LEN - offs[i] : sizeof(b);
        CU_ASSERT_EQUAL_FATAL(e.ops->read_fd(o, offs[i], &fd, &fd_off), MCC_OK);
        CU_ASSERT_EQUAL(fd_off, offs[i]);
        CU_ASSERT_EQUAL(pread(fd, b, n, (off_t)fd_off), (ssize_t)n);
        CU_ASSERT(memcmp(b, data + offs[i], n) == 0);
    }
    int fd;
    uint64_t fd_off;
    CU_ASSERT_NOT_EQUAL(e.ops->read_fd(o, OBJ_LEN, &fd, &fd_off), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->verify(o, 3), MCC_OK);
    e.ops->close(o);

    uint64_t used = 0, cap = 0, objects = 0;
    e.ops->usage(e.st, &used, &cap, &objects);
    CU_ASSERT_EQUAL(used, charge(OBJ_LEN, 2));
    CU_ASSERT_EQUAL(cap, 8 * MIB);
    CU_ASSERT_EQUAL(objects, 1);

    /* files are named by the key only, with the documented modes */
    char path[1024];
    struct stat sb;
    obj_path(&e, "d1", key, ".data", path, sizeof(path));
    CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_size, OBJ_LEN);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0640);
    obj_path(&e, "d1", key, ".meta", path, sizeof(path));
    CU_ASSERT(file_exists(path));
    CU_ASSERT_EQUAL(e.ops->remove(e.st, key), MCC_OK);
    CU_ASSERT(!file_exists(path));
    CU_ASSERT_EQUAL(e.ops->remove(e.st, key), MCC_NOTFOUND);
    e.ops->usage(e.st, &used, &cap, &objects);
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_EQUAL(objects, 0);
    env_close(&e);
}

static void test_partial(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN], back[OBJ_LEN];
    mcc_object *o = NULL;
    mcc_object_info info;

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    make_key(key, 2);
    fill(data, sizeof(data), 22);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, NULL, 0, &o), MCC_OK);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 0, 0, SLICE), 0);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 2, 2, 4096), 0);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 5, 5, 777), 0); /* the short last one */
    int want[6] = {1, 0, 1, 0, 0, 1};
    for (uint64_t i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(e.ops->has_slice(o, i), want[i]);
    CU_ASSERT_EQUAL(e.ops->has_slice(o, 6), 0);
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.present, 3);
    CU_ASSERT_EQUAL(e.ops->read(o, 2 * SLICE, back, SLICE), MCC_OK);
    CU_ASSERT(memcmp(back, data + 2 * SLICE, SLICE) == 0);
    CU_ASSERT_EQUAL(e.ops->read(o, SLICE, back, 10), MCC_ERROR);     /* slice 1 is missing */
    CU_ASSERT_EQUAL(e.ops->read(o, SLICE - 5, back, 10), MCC_ERROR); /* runs into slice 1 */

    /* read while writing: bytes written but not committed are readable, not beyond */
    CU_ASSERT_EQUAL(e.ops->write(o, 3 * SLICE, data + 3 * SLICE, 1000), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->read(o, 3 * SLICE, back, 1000), MCC_OK);
    CU_ASSERT(memcmp(back, data + 3 * SLICE, 1000) == 0);
    CU_ASSERT_EQUAL(e.ops->read(o, 3 * SLICE, back, 1001), MCC_ERROR);
    CU_ASSERT_EQUAL(e.ops->commit(o, 3), MCC_ERROR); /* incomplete */
    CU_ASSERT_EQUAL(e.ops->has_slice(o, 3), 0);
    CU_ASSERT_EQUAL(e.ops->commit(o, 1), MCC_ERROR); /* never written */
    CU_ASSERT_EQUAL(e.ops->commit(o, 0), MCC_OK);    /* already present: no change */
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.present, 3);
    e.ops->close(o);
    env_close(&e);
}

static void test_out_of_order(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN];
    mcc_object *o = NULL;

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    make_key(key, 3);
    fill(data, sizeof(data), 33);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, NULL, 0, &o), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->write(o, 100, data + 100, 10), MCC_ERROR); /* not from the start */
    CU_ASSERT_EQUAL(e.ops->write(o, 0, data, 100), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->write(o, 200, data + 200, 10), MCC_ERROR); /* a gap */
    CU_ASSERT_EQUAL(e.ops->write(o, 50, data + 50, 10), MCC_ERROR);   /* going back */
    CU_ASSERT_EQUAL(e.ops->write(o, 100, data + 100, SLICE - 100), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->commit(o, 0), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->write(o, 0, data, 10), MCC_ERROR); /* into a committed slice */
    CU_ASSERT_EQUAL(e.ops->write(o, OBJ_LEN - 10, data, 11), MCC_ERROR); /* past the end */
    /* a slice restarted from its beginning is checksummed afresh */
    uint8_t junk[512];
    memset(junk, 0xAB, sizeof(junk));
    CU_ASSERT_EQUAL(e.ops->write(o, SLICE, junk, sizeof(junk)), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->write(o, SLICE, data + SLICE, SLICE), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->commit(o, 1), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->verify(o, 1), MCC_OK);
    uint8_t back[SLICE];
    CU_ASSERT_EQUAL(e.ops->read(o, SLICE, back, SLICE), MCC_OK);
    CU_ASSERT(memcmp(back, data + SLICE, SLICE) == 0);
    e.ops->close(o);
    env_close(&e);
}

static void test_warm_restart(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN], back[OBJ_LEN];
    mcc_object *o = NULL;
    mcc_object_info info;
    const char meta[] = "ETag: \"abc\"\nContent-Type: application/octet-stream";

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    make_key(key, 4);
    fill(data, sizeof(data), 44);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, meta, sizeof(meta), &o), MCC_OK);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 0, 1, 9000), 0);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 4, 5, 9000), 0);
    /* slice 2 written completely but never committed: must come back absent */
    CU_ASSERT_EQUAL(e.ops->write(o, 2 * SLICE, data + 2 * SLICE, SLICE), MCC_OK);
    e.ops->close(o);
    env_stop(&e);

    CU_ASSERT_FATAL(env_start(&e, ONE_DRIVE) == 0);
    uint64_t used = 0, objects = 0;
    e.ops->usage(e.st, &used, NULL, &objects);
    /* charged for the slices whose blocks the file holds: all but slice 3 */
    CU_ASSERT_EQUAL(used, charge(OBJ_LEN, sizeof(meta)) - SLICE);
    CU_ASSERT_EQUAL(objects, 1);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.length, OBJ_LEN);
    CU_ASSERT_EQUAL(info.nslices, 6);
    CU_ASSERT_EQUAL(info.present, 4);
    CU_ASSERT_EQUAL_FATAL(info.meta_len, sizeof(meta));
    CU_ASSERT(memcmp(info.meta, meta, sizeof(meta)) == 0);
    int want[6] = {1, 1, 0, 0, 1, 1};
    for (uint64_t i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(e.ops->has_slice(o, i), want[i]);
    CU_ASSERT_EQUAL(e.ops->read(o, 0, back, 2 * SLICE), MCC_OK);
    CU_ASSERT(memcmp(back, data, 2 * SLICE) == 0);
    CU_ASSERT_EQUAL(e.ops->read(o, 4 * SLICE, back, OBJ_LEN - 4 * SLICE), MCC_OK);
    CU_ASSERT(memcmp(back, data + 4 * SLICE, OBJ_LEN - 4 * SLICE) == 0);
    CU_ASSERT_EQUAL(e.ops->read(o, 2 * SLICE, back, 1), MCC_ERROR);
    /* the object fills in after the restart */
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 2, 3, SLICE), 0);
    CU_ASSERT_EQUAL(e.ops->read(o, 0, back, OBJ_LEN), MCC_OK);
    CU_ASSERT(memcmp(back, data, OBJ_LEN) == 0);
    CU_ASSERT_DOUBLE_EQUAL(checksum_failures(&e), 0.0, 0.001);
    e.ops->close(o);
    env_close(&e);
}

static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b = 0;
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x01;
    CU_ASSERT_EQUAL(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void test_damage_detected(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN], back[OBJ_LEN];
    mcc_object *o = NULL;
    char path[1024];

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    make_key(key, 5);
    fill(data, sizeof(data), 55);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, "x", 1, &o), MCC_OK);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 0, 5, SLICE), 0);
    e.ops->close(o);
    env_stop(&e);

    obj_path(&e, "d1", key, ".data", path, sizeof(path));
    flip_byte(path, 2 * SLICE + 777);
    flip_byte(path, 4 * SLICE + 1);
    flip_byte(path, OBJ_LEN - 1);

    CU_ASSERT_FATAL(env_start(&e, ONE_DRIVE) == 0);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    CU_ASSERT_DOUBLE_EQUAL(checksum_failures(&e), 0.0, 0.001);
    CU_ASSERT_EQUAL(e.ops->has_slice(o, 2), 0); /* first touch: checked, dropped */
    CU_ASSERT_DOUBLE_EQUAL(checksum_failures(&e), 1.0, 0.001);
    CU_ASSERT_EQUAL(e.ops->read(o, 2 * SLICE, back, 10), MCC_ERROR);
    /* a read is a first touch too: none of slice 4's bytes come out */
    memset(back, 0, sizeof(back));
    CU_ASSERT_EQUAL(e.ops->read(o, 3 * SLICE, back, 2 * SLICE), MCC_ERROR);
    CU_ASSERT_DOUBLE_EQUAL(checksum_failures(&e), 2.0, 0.001);
    CU_ASSERT(back[0] == 0 && back[SLICE + 1] == 0);
    int fd;
    uint64_t fd_off;
    CU_ASSERT_NOT_EQUAL(e.ops->read_fd(o, 4 * SLICE, &fd, &fd_off), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->verify(o, 5), MCC_ERROR); /* on demand */
    CU_ASSERT_DOUBLE_EQUAL(checksum_failures(&e), 3.0, 0.001);
    CU_ASSERT_EQUAL(e.ops->verify(o, 1), MCC_OK);
    mcc_object_info info;
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.present, 3);
    CU_ASSERT_EQUAL(e.ops->read(o, 0, back, 2 * SLICE), MCC_OK);
    CU_ASSERT(memcmp(back, data, 2 * SLICE) == 0);
    e.ops->close(o);
    env_stop(&e);

    /* the dropped records stay dropped; refilled they count again */
    CU_ASSERT_FATAL(env_start(&e, ONE_DRIVE) == 0);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    int want[6] = {1, 1, 0, 1, 0, 0};
    for (uint64_t i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(e.ops->has_slice(o, i), want[i]);
    CU_ASSERT_DOUBLE_EQUAL(checksum_failures(&e), 0.0, 0.001);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 2, 2, SLICE), 0);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 4, 5, SLICE), 0);
    CU_ASSERT_EQUAL(e.ops->read(o, 0, back, OBJ_LEN), MCC_OK);
    CU_ASSERT(memcmp(back, data, OBJ_LEN) == 0);
    e.ops->close(o);
    env_close(&e);
}

static void write_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* With fsync on; and a slice record torn in half (the record checksum fails) reads as absent. */
static void test_fsync_torn_record(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN], back[OBJ_LEN];
    mcc_object *o = NULL;
    char path[1024];
    const char *conf = "\"fsync\": true, \"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}]";

    CU_ASSERT_FATAL(env_open(&e, conf) == 0);
    make_key(key, 9);
    fill(data, sizeof(data), 99);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, "abcd", 4, &o), MCC_OK);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 0, 5, 50000), 0);
    CU_ASSERT_EQUAL(e.ops->set_meta(o, "efgh", 4), MCC_OK);
    e.ops->close(o);
    env_stop(&e);

    /* records follow the 88-byte header and the 4-byte blob, 16 bytes each */
    obj_path(&e, "d1", key, ".meta", path, sizeof(path));
    int fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t half[8];
    memset(half, 0x5A, sizeof(half));
    CU_ASSERT_EQUAL(pwrite(fd, half, sizeof(half), 88 + 4 + 1 * 16), 8);     /* sum of slice 1 */
    CU_ASSERT_EQUAL(pwrite(fd, half, sizeof(half), 88 + 4 + 3 * 16 + 8), 8); /* flags of 3 */
    close(fd);

    CU_ASSERT_FATAL(env_start(&e, conf) == 0);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    mcc_object_info info;
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.present, 4);
    CU_ASSERT(info.meta_len == 4 && memcmp(info.meta, "efgh", 4) == 0);
    int want[6] = {1, 0, 1, 0, 1, 1};
    for (uint64_t i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(e.ops->has_slice(o, i), want[i]);
    CU_ASSERT_EQUAL(e.ops->read(o, 4 * SLICE, back, OBJ_LEN - 4 * SLICE), MCC_OK);
    CU_ASSERT(memcmp(back, data + 4 * SLICE, OBJ_LEN - 4 * SLICE) == 0);
    CU_ASSERT_DOUBLE_EQUAL(checksum_failures(&e), 0.0, 0.001);
    e.ops->close(o);
    env_close(&e);
}

/* A slice's record holds XXH3-64 of its bytes as the plain library computes it: the store may
 * hash with whatever vector unit the machine has (xxh_x86dispatch.h), and drives written on one
 * machine must verify on another. */
static void test_slice_sums_portable(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN];
    mcc_object *o = NULL;
    char path[1024];

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    make_key(key, 12);
    fill(data, sizeof(data), 12);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, "ab", 2, &o), MCC_OK);
    /* odd pieces: the running sum is updated across many calls per slice */
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 0, 5, 3001), 0);
    e.ops->close(o);
    env_stop(&e);

    obj_path(&e, "d1", key, ".meta", path, sizeof(path));
    int fd = open(path, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0);
    for (uint64_t i = 0; i < 6; i++) {
        uint8_t rec[8];
        CU_ASSERT_EQUAL(pread(fd, rec, sizeof(rec), (off_t)(88 + 2 + i * 16)), 8);
        uint64_t stored = 0;
        for (int b = 7; b >= 0; b--)
            stored = (stored << 8) | rec[b];
        size_t len = i < 5 ? SLICE : OBJ_LEN - 5 * SLICE;
        CU_ASSERT_EQUAL(stored, XXH3_64bits(data + i * SLICE, len));
    }
    close(fd);
    env_close(&e);
}

static void test_bad_meta_dropped(void)
{
    disk_env e;
    uint8_t k1[MCC_KEY_LEN], k2[MCC_KEY_LEN], k3[MCC_KEY_LEN], k4[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN];
    mcc_object *o = NULL;
    char m1[1024], d1[1024], m2[1024], d2[1024], m3[1024], d3[1024], d4[1024], tmp[1024];

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    fill(data, sizeof(data), 66);
    make_key(k1, 61);
    make_key(k2, 62);
    make_key(k3, 63);
    make_key(k4, 64);
    const uint8_t *keys[] = {k1, k2, k3};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, keys[i], OBJ_LEN, SLICE, "m", 1, &o), MCC_OK);
        CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 0, 5, SLICE), 0);
        e.ops->close(o);
    }
    env_stop(&e);

    obj_path(&e, "d1", k1, ".meta", m1, sizeof(m1));
    obj_path(&e, "d1", k1, ".data", d1, sizeof(d1));
    obj_path(&e, "d1", k2, ".meta", m2, sizeof(m2));
    obj_path(&e, "d1", k2, ".data", d2, sizeof(d2));
    obj_path(&e, "d1", k3, ".meta", m3, sizeof(m3));
    obj_path(&e, "d1", k3, ".data", d3, sizeof(d3));
    /* k1: garbage; k2: torn (cut in the middle of the header) */
    uint8_t garbage[200];
    fill(garbage, sizeof(garbage), 7);
    write_file(m1, garbage, sizeof(garbage));
    CU_ASSERT_EQUAL(truncate(m2, 40), 0);
    /* an orphan .data and a leftover temporary */
    obj_path(&e, "d1", k4, ".data", d4, sizeof(d4));
    char dir4[1024];
    snprintf(dir4, sizeof(dir4), "%.*s", (int)(strrchr(d4, '/') - d4), d4);
    mkdir(dir4, 0750);
    write_file(d4, garbage, sizeof(garbage));
    obj_path(&e, "d1", k3, ".meta.tmp", tmp, sizeof(tmp));
    write_file(tmp, garbage, 10);

    CU_ASSERT_FATAL(env_start(&e, ONE_DRIVE) == 0);
    CU_ASSERT(!file_exists(m1) && !file_exists(d1));
    CU_ASSERT(!file_exists(m2) && !file_exists(d2));
    CU_ASSERT(!file_exists(d4));
    CU_ASSERT(!file_exists(tmp));
    CU_ASSERT(file_exists(m3) && file_exists(d3));
    CU_ASSERT_EQUAL(e.ops->open(e.st, k1, &o), MCC_NOTFOUND);
    CU_ASSERT_EQUAL(e.ops->open(e.st, k2, &o), MCC_NOTFOUND);
    uint64_t used = 0, objects = 0;
    e.ops->usage(e.st, &used, NULL, &objects);
    CU_ASSERT_EQUAL(objects, 1);
    CU_ASSERT_EQUAL(used, charge(OBJ_LEN, 1));
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, k3, &o), MCC_OK);
    uint8_t back[100];
    CU_ASSERT_EQUAL(e.ops->read(o, 5 * SLICE, back, sizeof(back)), MCC_OK);
    CU_ASSERT(memcmp(back, data + 5 * SLICE, sizeof(back)) == 0);
    e.ops->close(o);
    env_stop(&e);

    /* a damaged blob (header intact) is found at open: dropped and reported as not found */
    int fd = open(m3, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, "Z", 1, 88), 1);
    close(fd);
    CU_ASSERT_FATAL(env_start(&e, ONE_DRIVE) == 0);
    CU_ASSERT_EQUAL(e.ops->open(e.st, k3, &o), MCC_NOTFOUND);
    CU_ASSERT(!file_exists(m3) && !file_exists(d3));
    e.ops->usage(e.st, &used, NULL, &objects);
    CU_ASSERT_EQUAL(objects, 0);
    env_close(&e);
}

#define EV_LEN (300u * KIB)

/* Creates object N and writes all its bytes (the first is N), committing none: it is charged
 * in full, and holds no slice. */
static int create_filled(disk_env *e, uint64_t n, uint64_t length, mcc_object **out)
{
    static uint8_t zeros[SLICE];
    uint8_t key[MCC_KEY_LEN];
    mcc_object *o = NULL;
    make_key(key, n);
    int rc = e->ops->create(e->st, key, length, SLICE, NULL, 0, &o);
    if (rc != MCC_OK)
        return rc;
    uint8_t b = (uint8_t)n;
    rc = e->ops->write(o, 0, &b, 1);
    for (uint64_t off = 1; rc == MCC_OK && off < length;) {
        uint64_t n_ = length - off < SLICE - off % SLICE ? length - off : SLICE - off % SLICE;
        rc = e->ops->write(o, off, zeros, (size_t)n_);
        off += n_;
    }
    if (out != NULL)
        *out = o;
    else
        e->ops->close(o);
    return rc;
}

static int exists_key(disk_env *e, uint64_t n)
{
    uint8_t key[MCC_KEY_LEN];
    mcc_object *o = NULL;
    make_key(key, n);
    if (e->ops->open(e->st, key, &o) != MCC_OK)
        return 0;
    e->ops->close(o);
    return 1;
}

/* A range of a large object takes the room of the slices written, not of the whole object: one
 * slice of an object near the drive's size evicts nothing. After a restart the charge is what
 * the .data file holds; writing more makes room slice by slice. */
static void test_partial_charge(void)
{
    disk_env e;
    static uint8_t data[SLICE];
    mcc_object *o = NULL;
    uint64_t used = 0, objects = 0;
    uint8_t key[MCC_KEY_LEN];
    const uint64_t big = 14 * SLICE; /* with 201 and 202 more than the drive */
    const char *conf = "\"drives\": [{\"path\": \"d1\", \"size\": \"1MiB\"}]";

    CU_ASSERT_FATAL(env_open(&e, conf) == 0);
    CU_ASSERT_EQUAL_FATAL(create_filled(&e, 201, EV_LEN, NULL), MCC_OK);
    CU_ASSERT_EQUAL_FATAL(create_filled(&e, 202, EV_LEN, NULL), MCC_OK);
    make_key(key, 203);
    fill(data, SLICE, 7);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, big, SLICE, NULL, 0, &o), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->write(o, 6 * SLICE, data, SLICE), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->commit(o, 6), MCC_OK);
    e.ops->close(o);
    CU_ASSERT(exists_key(&e, 201) && exists_key(&e, 202));
    const uint64_t want = 2 * charge(EV_LEN, 0) + meta_charge(big, 0) + SLICE;
    e.ops->usage(e.st, &used, NULL, &objects);
    CU_ASSERT_EQUAL(used, want);
    CU_ASSERT_EQUAL(objects, 3);
    env_stop(&e);

    CU_ASSERT_FATAL(env_start(&e, conf) == 0);
    e.ops->usage(e.st, &used, NULL, &objects);
    CU_ASSERT_EQUAL(used, want);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    for (uint64_t i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(e.ops->write(o, i * SLICE, data, SLICE), MCC_OK);
        CU_ASSERT_EQUAL(e.ops->commit(o, i), MCC_OK);
    }
    e.ops->close(o);
    e.ops->usage(e.st, &used, NULL, &objects);
    /* 7 slices of 203 and both others are more than 1 MiB: one of them made room */
    CU_ASSERT_EQUAL(objects, 2);
    CU_ASSERT(exists_key(&e, 201) != exists_key(&e, 202));
    CU_ASSERT_EQUAL(used, charge(EV_LEN, 0) + meta_charge(big, 0) + 7 * SLICE);
    CU_ASSERT(used <= MIB);
    env_close(&e);
}

static void test_eviction(void)
{
    disk_env e;
    mcc_object *held = NULL, *h2 = NULL, *h3 = NULL;
    uint64_t used = 0, objects = 0;

    CU_ASSERT_FATAL(env_open(&e, "\"drives\": [{\"path\": \"d1\", \"size\": \"1MiB\"}], "
                                 "\"max_object\": \"512KiB\"") == 0);
    /* 1 (held open), 2, 3 fill 900 KiB of 1 MiB */
    CU_ASSERT_EQUAL_FATAL(create_filled(&e, 101, EV_LEN, &held), MCC_OK);
    CU_ASSERT_EQUAL_FATAL(create_filled(&e, 102, EV_LEN, NULL), MCC_OK);
    CU_ASSERT_EQUAL_FATAL(create_filled(&e, 103, EV_LEN, NULL), MCC_OK);
    /* 101 is least recently used but held open: 102 goes */
    CU_ASSERT_EQUAL_FATAL(create_filled(&e, 104, EV_LEN, NULL), MCC_OK);
    CU_ASSERT(!exists_key(&e, 102));
    /* a use moves 103 ahead of 104: 104 goes next */
    CU_ASSERT(exists_key(&e, 103));
    CU_ASSERT_EQUAL_FATAL(create_filled(&e, 105, EV_LEN, NULL), MCC_OK);
    CU_ASSERT(!exists_key(&e, 104));
    CU_ASSERT(exists_key(&e, 103));
    CU_ASSERT(exists_key(&e, 105));
    e.ops->usage(e.st, &used, NULL, &objects);
    CU_ASSERT_EQUAL(used, 3 * charge(EV_LEN, 0));
    CU_ASSERT_EQUAL(objects, 3);
    uint8_t b = 0;
    CU_ASSERT_EQUAL(e.ops->write(held, 0, &b, 1), MCC_OK); /* still a working object */

    /* everything held open: no room can be made */
    uint8_t k3[MCC_KEY_LEN], k5[MCC_KEY_LEN];
    make_key(k3, 103);
    make_key(k5, 105);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, k3, &h2), MCC_OK);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, k5, &h3), MCC_OK);
    /* the create takes its .meta's room, its first slice what is left; the second finds none */
    CU_ASSERT_EQUAL(create_filled(&e, 106, EV_LEN, NULL), MCC_NOSPACE);
    e.ops->usage(e.st, &used, NULL, &objects);
    CU_ASSERT_EQUAL(objects, 4);
    CU_ASSERT_EQUAL(used, 3 * charge(EV_LEN, 0) + meta_charge(EV_LEN, 0) + SLICE);
    /* too big for the drive, or above max_object, without evicting anything */
    e.ops->close(h2);
    CU_ASSERT_EQUAL(create_filled(&e, 107, 2 * MIB, NULL), MCC_NOSPACE);
    CU_ASSERT_EQUAL(create_filled(&e, 108, 600 * KIB, NULL), MCC_NOSPACE);
    CU_ASSERT(exists_key(&e, 103));
    /* once closed, 103 can go */
    CU_ASSERT_EQUAL(create_filled(&e, 109, EV_LEN, NULL), MCC_OK);
    CU_ASSERT(!exists_key(&e, 103));
    e.ops->close(held);
    e.ops->close(h3);
    env_close(&e);
}

static void test_replace_while_open(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t x[OBJ_LEN], y[2 * SLICE], back[OBJ_LEN];
    mcc_object *old = NULL, *neu = NULL, *again = NULL;

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    make_key(key, 7);
    fill(x, sizeof(x), 77);
    fill(y, sizeof(y), 78);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, "old", 3, &old), MCC_OK);
    CU_ASSERT_EQUAL(put_slices(&e, old, x, OBJ_LEN, 0, 5, SLICE), 0);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, sizeof(y), SLICE, "new", 3, &neu), MCC_OK);
    CU_ASSERT_EQUAL(put_slices(&e, neu, y, sizeof(y), 0, 1, SLICE), 0);
    /* the old handle still reads the old bytes, through read and read_fd */
    CU_ASSERT_EQUAL(e.ops->read(old, 0, back, OBJ_LEN), MCC_OK);
    CU_ASSERT(memcmp(back, x, OBJ_LEN) == 0);
    int fd;
    uint64_t fd_off;
    CU_ASSERT_EQUAL_FATAL(e.ops->read_fd(old, SLICE, &fd, &fd_off), MCC_OK);
    CU_ASSERT_EQUAL(pread(fd, back, 100, (off_t)fd_off), 100);
    CU_ASSERT(memcmp(back, x + SLICE, 100) == 0);
    mcc_object_info info;
    CU_ASSERT_EQUAL(e.ops->info(old, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.length, OBJ_LEN);
    CU_ASSERT(memcmp(info.meta, "old", 3) == 0);
    CU_ASSERT_EQUAL(e.ops->set_meta(old, "old2", 4), MCC_OK); /* memory only: not the new one */
    e.ops->close(neu);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &again), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->info(again, &info), MCC_OK);
    CU_ASSERT_EQUAL(info.length, sizeof(y));
    CU_ASSERT(info.meta_len == 3 && memcmp(info.meta, "new", 3) == 0);
    CU_ASSERT_EQUAL(e.ops->read(again, 0, back, sizeof(y)), MCC_OK);
    CU_ASSERT(memcmp(back, y, sizeof(y)) == 0);
    uint64_t used = 0, objects = 0;
    e.ops->usage(e.st, &used, NULL, &objects);
    CU_ASSERT_EQUAL(used, charge(sizeof(y), 3));
    CU_ASSERT_EQUAL(objects, 1);
    /* removed while open: the handle keeps its bytes, the key is gone */
    CU_ASSERT_EQUAL(e.ops->remove(e.st, key), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->read(again, SLICE, back, SLICE), MCC_OK);
    CU_ASSERT(memcmp(back, y + SLICE, SLICE) == 0);
    mcc_object *none = NULL;
    CU_ASSERT_EQUAL(e.ops->open(e.st, key, &none), MCC_NOTFOUND);
    e.ops->close(again);
    CU_ASSERT_EQUAL(e.ops->read(old, OBJ_LEN - 10, back, 10), MCC_OK);
    CU_ASSERT(memcmp(back, x + OBJ_LEN - 10, 10) == 0);
    e.ops->close(old);
    env_close(&e);
}

/* Descriptors of this process open on files under ROOT. */
static unsigned fds_under(const char *root)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char link[300], target[512];
        snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
        ssize_t len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strncmp(target, root, strlen(root)) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* fds_under, once the reaper has closed what it was handed (at most a second). */
static unsigned fds_under_settled(const char *root, unsigned want)
{
    unsigned n = fds_under(root);
    for (int i = 0; i < 100 && n != want; i++) {
        usleep(10000);
        n = fds_under(root);
    }
    return n;
}

static void test_open_files(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *o = NULL;
    uint8_t b = 0;

    /* no scrub: its reads hold descriptors of their own for a moment */
    CU_ASSERT_FATAL(env_open(&e, "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}], "
                                 "\"open_files\": 2, \"scrub_rate\": 0") == 0);
    for (uint64_t n = 1; n <= 3; n++)
        CU_ASSERT_EQUAL_FATAL(create_filled(&e, n, EV_LEN, NULL), MCC_OK);
    /* the two most recently closed keep both files open; the first was closed */
    CU_ASSERT_EQUAL(fds_under(e.root), 4);
    CU_ASSERT(exists_key(&e, 1)); /* opened again from its files, then kept: 2 is closed */
    CU_ASSERT_EQUAL(fds_under(e.root), 4);
    make_key(key, 1);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->has_slice(o, 0), 0); /* one byte written, never committed */
    e.ops->close(o);
    /* removing an idle object closes its files (its .data by the reaper); replacing one reads
     * the new version */
    CU_ASSERT_EQUAL(e.ops->remove(e.st, key), MCC_OK);
    CU_ASSERT_EQUAL(fds_under_settled(e.root, 2), 2);
    CU_ASSERT(!exists_key(&e, 1));
    make_key(key, 3);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, 1, SLICE, "v2", 2, &o), MCC_OK);
    b = 0x5a;
    CU_ASSERT_EQUAL(e.ops->write(o, 0, &b, 1), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->commit(o, 0), MCC_OK);
    e.ops->close(o);
    CU_ASSERT_EQUAL(fds_under_settled(e.root, 2), 2); /* the old .data: closed by the reaper */
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    mcc_object_info info;
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT(info.length == 1 && info.meta_len == 2 && memcmp(info.meta, "v2", 2) == 0);
    b = 0;
    CU_ASSERT_EQUAL(e.ops->read(o, 0, &b, 1), MCC_OK);
    CU_ASSERT_EQUAL(b, 0x5a);
    e.ops->close(o);
    env_close(&e);
    CU_ASSERT_EQUAL(fds_under(e.root), 0);

    /* open_files 0: every close closes the files */
    CU_ASSERT_FATAL(env_open(&e, "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}], "
                                 "\"open_files\": 0, \"scrub_rate\": 0") == 0);
    CU_ASSERT_EQUAL_FATAL(create_filled(&e, 1, EV_LEN, NULL), MCC_OK);
    CU_ASSERT(exists_key(&e, 1));
    CU_ASSERT_EQUAL(fds_under(e.root), 0);
    env_close(&e);
}

/* A removed object's files leave their names at once; the reaper frees the .data (and closes
 * the last descriptor) off the caller's thread, and removes tombstones a stop left behind. */
static void test_reaper(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t x[OBJ_LEN], back[OBJ_LEN];
    mcc_object *o = NULL, *held = NULL;
    char data[1024], meta[1024], planted[1100];

    CU_ASSERT_FATAL(env_open(&e, "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}]") == 0);
    make_key(key, 41);
    fill(x, sizeof(x), 41);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, "m", 1, &o), MCC_OK);
    CU_ASSERT_EQUAL(put_slices(&e, o, x, OBJ_LEN, 0, 5, SLICE), 0);
    e.ops->close(o);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &held), MCC_OK);
    obj_path(&e, "d1", key, ".data", data, sizeof(data));
    obj_path(&e, "d1", key, ".meta", meta, sizeof(meta));
    CU_ASSERT(file_exists(data) && file_exists(meta));
    CU_ASSERT_EQUAL(e.ops->remove(e.st, key), MCC_OK);
    CU_ASSERT(!file_exists(data));
    CU_ASSERT(!file_exists(meta));
    /* the handle still reads every byte: its descriptor is the object's until it closes */
    CU_ASSERT_EQUAL(e.ops->read(held, 0, back, OBJ_LEN), MCC_OK);
    CU_ASSERT(memcmp(back, x, OBJ_LEN) == 0);
    e.ops->close(held);
    CU_ASSERT_EQUAL(fds_under_settled(e.root, 0), 0);
    /* a tombstone left by a stop before the reaper got to it goes at the next start */
    snprintf(planted, sizeof(planted), "%s.9.reap", data);
    int fd = open(planted, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, x, SLICE), (ssize_t)SLICE);
    close(fd);
    env_stop(&e);
    CU_ASSERT(file_exists(planted));
    CU_ASSERT_FATAL(env_start(&e, "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}]") == 0);
    env_stop(&e); /* the stop waits for the reaper's queue */
    CU_ASSERT(!file_exists(planted));
    CU_ASSERT_EQUAL(count_files(&e, "d1", ".reap"), 0);
    CU_ASSERT_EQUAL(fds_under(e.root), 0);
    env_close(&e);
}

static void test_set_meta(void)
{
    disk_env e;
    uint8_t key[MCC_KEY_LEN];
    static uint8_t data[OBJ_LEN], back[OBJ_LEN];
    mcc_object *o = NULL;
    mcc_object_info info;
    const char longer[] = "a longer blob after a 304 refreshed the headers";

    CU_ASSERT_FATAL(env_open(&e, ONE_DRIVE) == 0);
    make_key(key, 8);
    fill(data, sizeof(data), 88);
    CU_ASSERT_EQUAL_FATAL(e.ops->create(e.st, key, OBJ_LEN, SLICE, "v1", 2, &o), MCC_OK);
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 0, 0, SLICE), 0);
    CU_ASSERT_EQUAL(e.ops->set_meta(o, longer, sizeof(longer)), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT(info.meta_len == sizeof(longer) && memcmp(info.meta, longer, sizeof(longer)) == 0);
    /* a slice committed after the blob grew lands at the moved record */
    CU_ASSERT_EQUAL(put_slices(&e, o, data, OBJ_LEN, 3, 3, SLICE), 0);
    e.ops->close(o);
    env_stop(&e);

    CU_ASSERT_FATAL(env_start(&e, ONE_DRIVE) == 0);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT_EQUAL_FATAL(info.meta_len, sizeof(longer));
    CU_ASSERT(memcmp(info.meta, longer, sizeof(longer)) == 0);
    CU_ASSERT_EQUAL(info.present, 2);
    CU_ASSERT_EQUAL(e.ops->has_slice(o, 0), 1);
    CU_ASSERT_EQUAL(e.ops->has_slice(o, 3), 1);
    CU_ASSERT_EQUAL(e.ops->has_slice(o, 1), 0);
    CU_ASSERT_EQUAL(e.ops->read(o, 3 * SLICE, back, SLICE), MCC_OK);
    CU_ASSERT(memcmp(back, data + 3 * SLICE, SLICE) == 0);
    CU_ASSERT_EQUAL(e.ops->set_meta(o, "s", 1), MCC_OK); /* and shrinking */
    e.ops->close(o);
    env_stop(&e);
    CU_ASSERT_FATAL(env_start(&e, ONE_DRIVE) == 0);
    CU_ASSERT_EQUAL_FATAL(e.ops->open(e.st, key, &o), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->info(o, &info), MCC_OK);
    CU_ASSERT(info.meta_len == 1 && memcmp(info.meta, "s", 1) == 0);
    CU_ASSERT_EQUAL(info.present, 2);
    e.ops->close(o);
    env_close(&e);
}

static const char *TWO_DRIVES = "\"drives\": [{\"path\": \"a\", \"size\": \"4MiB\"}, "
                                "{\"path\": \"b\", \"size\": \"12MiB\"}]";

static void test_two_drives(void)
{
    disk_env e;
    enum { N = 400 };
    int on_a[N];

    CU_ASSERT_FATAL(env_open(&e, TWO_DRIVES) == 0);
    for (uint64_t i = 0; i < N; i++) {
        char path[1024];
        uint8_t key[MCC_KEY_LEN];
        CU_ASSERT_EQUAL_FATAL(create_filled(&e, 1000 + i, 100, NULL), MCC_OK);
        make_key(key, 1000 + i);
        obj_path(&e, "a", key, ".meta", path, sizeof(path));
        on_a[i] = file_exists(path);
    }
    unsigned a = count_files(&e, "a", ".meta"), b = count_files(&e, "b", ".meta");
    fprintf(stderr, "\n    drive a: %u, drive b: %u objects\n", a, b);
    CU_ASSERT_EQUAL(a + b, N);
    /* weights 1:3: expect 100 on a (binomial sd ~8.7) */
    CU_ASSERT(a >= 60 && a <= 140);
    /* stable: the same key lands on the same drive again, also after a restart */
    env_stop(&e);
    CU_ASSERT_FATAL(env_start(&e, TWO_DRIVES) == 0);
    uint64_t used = 0, objects = 0;
    e.ops->usage(e.st, &used, NULL, &objects);
    CU_ASSERT_EQUAL(objects, N);
    CU_ASSERT_EQUAL(used, N * charge(100, 0));
    int stable = 1;
    for (uint64_t i = 0; i < 40; i++) {
        char path[1024];
        uint8_t key[MCC_KEY_LEN];
        make_key(key, 1000 + i);
        stable &= e.ops->remove(e.st, key) == MCC_OK;
        stable &= create_filled(&e, 1000 + i, 100, NULL) == MCC_OK;
        obj_path(&e, on_a[i] ? "a" : "b", key, ".meta", path, sizeof(path));
        stable &= file_exists(path);
    }
    CU_ASSERT(stable);
    env_close(&e);
}

static void test_bad_config(void)
{
    disk_env e;
    memset(&e, 0, sizeof(e));
    snprintf(e.root, sizeof(e.root), "/tmp/mcc-test-disk-XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(e.root) != NULL);
    const char *bad[] = {
        "\"drives\": []",
        "\"drives\": [{\"path\": \"d1\", \"size\": \"512KiB\"}]",
        "\"drives\": [{\"size\": \"8MiB\"}]",
        "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}, {\"path\": \"d1/\", \"size\": "
        "\"8MiB\"}]",
        "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\", \"colour\": 1}]",
        "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}], \"max_object\": 0",
        "\"drives\": [{\"path\": \"d1\", \"size\": \"8MiB\"}], \"open_files\": -1",
    };
    /* the key each error must name */
    const char *want[] = {"drives", "size", "path", "path", "colour", "max_object", "open_files"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char conf[512];
        mcc_err err = {{0}};
        mcc_plugin_ref ref;
        mcc_harness *h = mcc_harness_new();
        CU_ASSERT_FATAL(h != NULL);
        CU_ASSERT_EQUAL(mcc_harness_load(h, "lru", "lru", "{}", &ref, &err), MCC_OK);
        snprintf(conf, sizeof(conf), "{\"root\": \"%s\", %s}", e.root, bad[i]);
        CU_ASSERT_EQUAL(mcc_harness_load(h, "disk", "disk", conf, &ref, &err), MCC_ERROR);
        CU_ASSERT(strstr(err.msg, want[i]) != NULL);
        fprintf(stderr, "\n    refused: %s", err.msg);
        mcc_harness_free(h);
    }
    /* an eviction policy that is not configured */
    mcc_err err = {{0}};
    mcc_plugin_ref ref;
    char conf[512];
    mcc_harness *h = mcc_harness_new();
    snprintf(conf, sizeof(conf),
             "{\"root\": \"%s\", \"eviction\": \"nope\", \"drives\": [{\"path\": \"d1\", "
             "\"size\": \"8MiB\"}]}",
             e.root);
    CU_ASSERT_EQUAL(mcc_harness_load(h, "disk", "disk", conf, &ref, &err), MCC_ERROR);
    CU_ASSERT(strstr(err.msg, "nope") != NULL);
    mcc_harness_free(h);
    mcc_harness_rm_tree(e.root);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"round trip, boundaries, read_fd", test_roundtrip},
        {"partial objects", test_partial},
        {"out-of-order writes", test_out_of_order},
        {"warm restart", test_warm_restart},
        {"damaged slice detected after restart", test_damage_detected},
        {"bad .meta dropped at start-up", test_bad_meta_dropped},
        {"fsync on, torn slice record", test_fsync_torn_record},
        {"slice sums as the plain XXH3-64", test_slice_sums_portable},
        {"eviction under a byte limit", test_eviction},
        {"a range is charged what it holds", test_partial_charge},
        {"replace and remove while open", test_replace_while_open},
        {"idle objects keep their files open", test_open_files},
        {"removed objects' files freed by the reaper", test_reaper},
        {"set_meta persists", test_set_meta},
        {"two drives by weight", test_two_drives},
        {"bad config refused", test_bad_config},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("disk", tests);
}
