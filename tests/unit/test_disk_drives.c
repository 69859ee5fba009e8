/* Unit tests of the "disk" plugin over several drives: placement by weight, drives removed from
 * the config or failing while in use (renamed away, read-only), probes bringing them back, a
 * full file system, the background scrub and scan, and an admission policy. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_main.h"
#include "harness.h"

#define SLICE (64u * 1024u)
#define KIB 1024u

typedef struct drv_env {
    char root[256];
    mcc_harness *h;
    mcc_plugin_ref disk;
    const mcc_storage_ops *ops;
    void *st;
} drv_env;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void make_key(uint8_t key[MCC_KEY_LEN], uint64_t n)
{
    uint64_t s = n * 104729 + 3;
    for (size_t i = 0; i < MCC_KEY_LEN; i += 8) {
        uint64_t v = splitmix(&s);
        memcpy(key + i, &v, 8);
    }
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(splitmix(&seed) >> 7);
}

static void obj_path(const drv_env *e, const char *drive, uint64_t n, const char *suffix, char *buf,
                     size_t size)
{
    uint8_t key[MCC_KEY_LEN];
    char hex[2 * MCC_KEY_LEN + 1];
    make_key(key, n);
    for (size_t i = 0; i < MCC_KEY_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(buf, size, "%s/%s/%.2s/%s%s", e->root, drive, hex, hex, suffix);
}

static int on_drive(const drv_env *e, const char *drive, uint64_t n)
{
    char path[1024];
    struct stat sb;
    obj_path(e, drive, n, ".meta", path, sizeof(path));
    return stat(path, &sb) == 0;
}

/* Loads the policies named in POLICIES ("name=plugin:{json};...") then disk with MEMBERS. */
static int env_start(drv_env *e, const char *policies, const char *members)
{
    char conf[2048];
    mcc_err err = {{0}};
    mcc_plugin_ref ref;
    e->h = mcc_harness_new();
    if (e->h == NULL)
        return -1;
    if (mcc_harness_load(e->h, "lru", "lru", "{}", &ref, &err) != MCC_OK)
        return -1;
    if (policies != NULL) {
        char name[64], plugin[64], json[512];
        if (sscanf(policies, "%63[^=]=%63[^:]:%511[^\n]", name, plugin, json) != 3 ||
            mcc_harness_load(e->h, plugin, name, json, &ref, &err) != MCC_OK) {
            fprintf(stderr, "load %s: %s\n", policies, err.msg);
            return -1;
        }
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

static void env_stop(drv_env *e)
{
    mcc_harness_free(e->h);
    e->h = NULL;
}

static int env_open(drv_env *e, const char *policies, const char *members)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->root, sizeof(e->root), "/tmp/mcc-test-drives-XXXXXX");
    if (mkdtemp(e->root) == NULL)
        return -1;
    return env_start(e, policies, members);
}

static void env_close(drv_env *e)
{
    if (e->h != NULL)
        env_stop(e);
    mcc_harness_rm_tree(e->root);
}

/* Runs the loop for MS milliseconds. */
static void env_run(drv_env *e, unsigned ms)
{
    int never = 0;
    mcc_harness_run_until(e->h, &never, ms);
}

typedef struct metric_query {
    const char *name;
    const char *label_part; /* matched as a substring of the labels, or NULL */
    double value;
    int found;
} metric_query;

static void metric_visit(void *arg, const mcc_metric_sample *s)
{
    metric_query *q = arg;
    if (strcmp(s->name, q->name) == 0 &&
        (q->label_part == NULL || strstr(s->labels, q->label_part) != NULL)) {
        q->value += s->value;
        q->found++;
    }
}

/* The value of NAME (summed over series whose labels contain LABEL_PART), -1 when absent. */
static double metric(drv_env *e, const char *name, const char *label_part)
{
    metric_query q = {name, label_part, 0, 0};
    mcc_harness_core(e->h)->host->metric_visit(e->disk.inst, metric_visit, &q);
    return q.found > 0 ? q.value : -1;
}

/* Stores object N: LENGTH bytes from seed N, all slices committed. */
static int put(drv_env *e, uint64_t n, uint64_t length)
{
    uint8_t key[MCC_KEY_LEN];
    mcc_object *o = NULL;
    uint8_t *buf = malloc(length > 0 ? length : 1);
    if (buf == NULL)
        return MCC_ERROR;
    fill(buf, length, n);
    make_key(key, n);
    int rc = e->ops->create(e->st, key, length, SLICE, "m", 1, &o);
    if (rc != MCC_OK) {
        free(buf);
        return rc;
    }
    for (uint64_t off = 0; rc == MCC_OK && off < length; off += SLICE) {
        size_t len = length - off < SLICE ? (size_t)(length - off) : SLICE;
        rc = e->ops->write(o, off, buf + off, len);
        if (rc == MCC_OK)
            rc = e->ops->commit(o, off / SLICE);
    }
    e->ops->close(o);
    free(buf);
    return rc;
}

/* 1 when object N opens and reads back its LENGTH bytes exactly. */
static int check(drv_env *e, uint64_t n, uint64_t length)
{
    uint8_t key[MCC_KEY_LEN];
    mcc_object *o = NULL;
    make_key(key, n);
    if (e->ops->open(e->st, key, &o) != MCC_OK)
        return 0;
    uint8_t *want = malloc(length), *got = malloc(length);
    int ok = want != NULL && got != NULL;
    if (ok) {
        fill(want, length, n);
        ok = e->ops->read(o, 0, got, length) == MCC_OK && memcmp(want, got, length) == 0;
    }
    free(want);
    free(got);
    e->ops->close(o);
    return ok;
}

static int absent(drv_env *e, uint64_t n)
{
    uint8_t key[MCC_KEY_LEN];
    mcc_object *o = NULL;
    make_key(key, n);
    if (e->ops->open(e->st, key, &o) == MCC_OK) {
        e->ops->close(o);
        return 0;
    }
    return 1;
}

#define ABC                                                                                        \
    "{\"path\": \"a\", \"size\": \"2MiB\"}, {\"path\": \"b\", \"size\": \"4MiB\"}, "               \
    "{\"path\": \"c\", \"size\": \"6MiB\"}"
#define AB "{\"path\": \"a\", \"size\": \"2MiB\"}, {\"path\": \"b\", \"size\": \"4MiB\"}"

/* Weights 1:2:3; taking c out of the config leaves a and b as they were; adding d moves
 * nothing that is stored. */
static void test_placement_and_config_changes(void)
{
    drv_env e;
    enum { N = 300, LEN = 100 };
    char where[N];

    CU_ASSERT_FATAL(env_open(&e, NULL, "\"drives\": [" ABC "]") == 0);
    unsigned count[3] = {0, 0, 0};
    for (uint64_t i = 0; i < N; i++) {
        CU_ASSERT_EQUAL_FATAL(put(&e, i, LEN), MCC_OK);
        where[i] = on_drive(&e, "a", i) ? 'a' : on_drive(&e, "b", i) ? 'b' : 'c';
        CU_ASSERT(on_drive(&e, "a", i) + on_drive(&e, "b", i) + on_drive(&e, "c", i) == 1);
        count[where[i] - 'a']++;
    }
    fprintf(stderr, "\n    a %u, b %u, c %u of %d\n", count[0], count[1], count[2], N);
    /* expected 50, 100, 150 (binomial sd 6.5, 8.2, 8.7) */
    CU_ASSERT(count[0] >= 25 && count[0] <= 75);
    CU_ASSERT(count[1] >= 70 && count[1] <= 130);
    CU_ASSERT(count[2] >= 115 && count[2] <= 185);
    env_stop(&e);

    /* c leaves the config: a's and b's objects stay and are served; c's are missing */
    CU_ASSERT_FATAL(env_start(&e, NULL, "\"drives\": [" AB "]") == 0);
    int ok = 1;
    for (uint64_t i = 0; i < N; i++)
        ok &= where[i] == 'c' ? absent(&e, i) : check(&e, i, LEN);
    CU_ASSERT(ok);
    /* stored again, c's objects go to a or b; a's and b's stay where they are */
    unsigned moved_to_a = 0, stable = 1;
    for (uint64_t i = 0; i < N; i++) {
        CU_ASSERT_EQUAL_FATAL(put(&e, i, LEN), MCC_OK);
        if (where[i] == 'c')
            moved_to_a += on_drive(&e, "a", i);
        else
            stable &= on_drive(&e, where[i] == 'a' ? "a" : "b", i);
    }
    CU_ASSERT(stable);
    CU_ASSERT(moved_to_a >= count[2] / 6 && moved_to_a <= count[2] / 2); /* a third expected */
    env_stop(&e);

    /* a new drive d: nothing stored moves, everything is still served */
    CU_ASSERT_FATAL(
        env_start(&e, NULL, "\"drives\": [" AB ", {\"path\": \"d\", \"size\": \"4MiB\"}]") == 0);
    ok = 1;
    for (uint64_t i = 0; i < N; i++)
        ok &= check(&e, i, LEN);
    CU_ASSERT(ok);
    uint64_t objects = 0;
    e.ops->usage(e.st, NULL, NULL, &objects);
    CU_ASSERT_EQUAL(objects, N);
    env_close(&e);
}

/* No drive goes over its size, whatever the burst. */
static void test_burst_within_sizes(void)
{
    drv_env e;
    CU_ASSERT_FATAL(env_open(&e, NULL, "\"drives\": [" AB "]") == 0);
    int ok = 1;
    for (uint64_t i = 0; i < 200; i++) {
        ok &= put(&e, 5000 + i, (i % 7 + 1) * 37 * KIB) == MCC_OK;
        uint64_t used = 0, cap = 0;
        e.ops->usage(e.st, &used, &cap, NULL);
        ok &= used <= cap;
    }
    CU_ASSERT(ok);
    env_stop(&e);
    /* the files on each drive agree: blocks in use never above the drive's size */
    const char *drives[] = {"a", "b"};
    const uint64_t sizes[] = {2u << 20, 4u << 20};
    for (int i = 0; i < 2; i++) {
        char cmd[512];
        /* blocks of the files only: the 256 folders are the file system's, not objects' */
        snprintf(
            cmd, sizeof(cmd),
            "find %s/%s -type f -printf '%%b\\n' | awk '{ s += $1 * 512 } END { print s + 0 }'",
            e.root, drives[i]);
        FILE *p = popen(cmd, "r");
        unsigned long long bytes = 0;
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT(fscanf(p, "%llu", &bytes) == 1);
        pclose(p);
        fprintf(stderr, "\n    %s: %llu of %llu bytes on disk", drives[i], bytes,
                (unsigned long long)sizes[i]);
        CU_ASSERT(bytes > sizes[i] / 2 && bytes <= sizes[i]);
    }
    env_close(&e);
}

/* A drive renamed away while in use: its objects are missing, the others are served, its keys
 * go to their next drive; renamed back, the probe brings it (and its objects) back. */
static void test_drive_fails_and_returns(void)
{
    drv_env e;
    enum { N = 90, LEN = SLICE + 100 }; /* 72 KiB charged: about 28 fit on a */
    char where[N], c[512], gone[512];

    CU_ASSERT_FATAL(env_open(&e, NULL, "\"probe_interval\": \"100ms\", \"drives\": [" ABC "]") ==
                    0);
    for (uint64_t i = 0; i < N; i++) {
        CU_ASSERT_EQUAL_FATAL(put(&e, i, LEN), MCC_OK);
        where[i] = on_drive(&e, "a", i) ? 'a' : on_drive(&e, "b", i) ? 'b' : 'c';
    }
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_drive_up", "/c\""), 1.0, 0.001);
    snprintf(c, sizeof(c), "%s/c", e.root);
    snprintf(gone, sizeof(gone), "%s/c.gone", e.root);
    CU_ASSERT_FATAL(rename(c, gone) == 0);

    /* found out on first use, before any probe ran */
    int ok = 1;
    uint64_t first_c = N;
    for (uint64_t i = 0; i < N; i++) {
        int fine = where[i] == 'c' ? absent(&e, i) : check(&e, i, LEN);
        if (!fine)
            fprintf(stderr, "\n    object %llu on %c: wrong", (unsigned long long)i, where[i]);
        ok &= fine;
        if (where[i] == 'c' && first_c == N)
            first_c = i;
    }
    CU_ASSERT(ok);
    CU_ASSERT_FATAL(first_c < N);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_drive_up", "/c\""), 0.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_drive_up", "/a\""), 1.0, 0.001);
    uint64_t cap = 0;
    e.ops->usage(e.st, NULL, &cap, NULL);
    CU_ASSERT_EQUAL(cap, 6u << 20);
    /* c's key goes elsewhere meanwhile, and nothing is written where c was */
    CU_ASSERT_EQUAL(put(&e, first_c, LEN), MCC_OK);
    CU_ASSERT(on_drive(&e, "a", first_c) || on_drive(&e, "b", first_c));
    CU_ASSERT(access(c, F_OK) != 0);
    CU_ASSERT(check(&e, first_c, LEN));

    /* back: the probe finds it, the scan indexes it again; the copy stored meanwhile wins */
    CU_ASSERT_FATAL(rename(gone, c) == 0);
    env_run(&e, 700);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_drive_up", "/c\""), 1.0, 0.001);
    ok = 1;
    for (uint64_t i = 0; i < N; i++)
        ok &= check(&e, i, LEN);
    CU_ASSERT(ok);
    CU_ASSERT(!on_drive(&e, "c", first_c));
    uint64_t objects = 0;
    e.ops->usage(e.st, NULL, &cap, &objects);
    CU_ASSERT_EQUAL(objects, N);
    CU_ASSERT_EQUAL(cap, 12u << 20);
    env_close(&e);
}

/* A drive remounted read-only: the first write finds out, the object goes to the next drive. */
static void test_drive_read_only(void)
{
    drv_env e;
    char b[512];
    CU_ASSERT_FATAL(env_open(&e, NULL, "\"probe_interval\": \"100ms\", \"drives\": [" AB "]") == 0);
    snprintf(b, sizeof(b), "%s/b", e.root);
    if (mount(b, b, NULL, MS_BIND, NULL) != 0) {
        fprintf(stderr, "\n    skipped: bind mount: %s", strerror(errno));
        env_close(&e);
        return;
    }
    CU_ASSERT_FATAL(mount(NULL, b, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0);
    int stored = 1;
    for (uint64_t i = 0; i < 40; i++)
        stored &= put(&e, 700 + i, 1000) == MCC_OK && on_drive(&e, "a", 700 + i);
    CU_ASSERT(stored);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_drive_up", "/b\""), 0.0, 0.001);
    env_run(&e, 300); /* probes fail: still out */
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_drive_up", "/b\""), 0.0, 0.001);
    CU_ASSERT(umount2(b, MNT_DETACH) == 0);
    env_run(&e, 300);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_drive_up", "/b\""), 1.0, 0.001);
    env_close(&e);
}

static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t v = 0;
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pread(fd, &v, 1, (off_t)off), 1);
    v ^= 0x10;
    CU_ASSERT_EQUAL(pwrite(fd, &v, 1, (off_t)off), 1);
    close(fd);
}

/* Object N (4 slices) has exactly the slices WANT says. */
static void expect_slices(drv_env *e, uint64_t n, const int want[4])
{
    uint8_t key[MCC_KEY_LEN];
    mcc_object *o = NULL;
    make_key(key, n);
    CU_ASSERT_EQUAL_FATAL(e->ops->open(e->st, key, &o), MCC_OK);
    for (uint64_t i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(e->ops->has_slice(o, i), want[i]);
    e->ops->close(o);
}

/* The scrub finds a flipped byte without anyone asking for the object. */
static void test_scrub(void)
{
    drv_env e;
    char data[1024];
    CU_ASSERT_FATAL(env_open(&e, NULL,
                             "\"scrub_rate\": \"64MiB\", \"drives\": [{\"path\": \"a\", "
                             "\"size\": \"8MiB\"}]") == 0);
    for (uint64_t i = 0; i < 5; i++)
        CU_ASSERT_EQUAL_FATAL(put(&e, 900 + i, 4 * SLICE), MCC_OK);
    obj_path(&e, "a", 902, ".data", data, sizeof(data));
    flip_byte(data, 2 * SLICE + 99);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_checksum_failures_total", NULL), 0.0, 0.001);
    env_run(&e, 800);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_checksum_failures_total", NULL), 1.0, 0.001);
    expect_slices(&e, 902, (const int[4]){1, 1, 0, 1});
    CU_ASSERT(check(&e, 901, 4 * SLICE));
    env_close(&e);
}

/* The store stops right after a scrub tick sent its reads to the reaper's thread: the objects
 * it held are given back, and between the two runs the flip is found once. */
static void test_scrub_stopped(void)
{
    drv_env e;
    char data[1024];
    const char *conf = "\"scrub_rate\": \"64MiB\", \"drives\": [{\"path\": \"a\", "
                       "\"size\": \"8MiB\"}]";
    CU_ASSERT_FATAL(env_open(&e, NULL, conf) == 0);
    for (uint64_t i = 0; i < 5; i++)
        CU_ASSERT_EQUAL_FATAL(put(&e, 950 + i, 4 * SLICE), MCC_OK);
    obj_path(&e, "a", 952, ".data", data, sizeof(data));
    flip_byte(data, SLICE + 7);
    env_run(&e, 251); /* the first tick (250 ms) sent every slice out */
    double found = metric(&e, "mcc_storage_checksum_failures_total", NULL);
    env_stop(&e);
    CU_ASSERT_FATAL(env_start(&e, NULL, conf) == 0);
    env_run(&e, 800);
    found += metric(&e, "mcc_storage_checksum_failures_total", NULL);
    CU_ASSERT_DOUBLE_EQUAL(found, 1.0, 0.001);
    expect_slices(&e, 952, (const int[4]){1, 0, 1, 1});
    CU_ASSERT(check(&e, 953, 4 * SLICE));
    env_close(&e);
}

/* With no sync scan, objects are found by key before the background scan reaches them, and
 * nothing is created on a drive whose contents are not known yet. */
static void test_background_scan(void)
{
    drv_env e;
    enum { N = 200 };
    const char *conf = "\"drives\": [{\"path\": \"a\", \"size\": \"8MiB\"}]";
    char lazy[256];
    snprintf(lazy, sizeof(lazy), "\"scan_sync\": 0, %s", conf);
    CU_ASSERT_FATAL(env_open(&e, NULL, conf) == 0);
    for (uint64_t i = 0; i < N; i++)
        CU_ASSERT_EQUAL_FATAL(put(&e, 3000 + i, 1000), MCC_OK);
    env_stop(&e);

    CU_ASSERT_FATAL(env_start(&e, NULL, lazy) == 0);
    uint64_t objects = 0;
    e.ops->usage(e.st, NULL, NULL, &objects);
    CU_ASSERT_EQUAL(objects, 0);
    CU_ASSERT(check(&e, 3007, 1000));
    CU_ASSERT(check(&e, 3100, 1000));
    CU_ASSERT(absent(&e, 99999));
    CU_ASSERT_EQUAL(put(&e, 4000, 1000), MCC_NOSPACE); /* nothing known of the drive yet */
    env_run(&e, 500);
    e.ops->usage(e.st, NULL, NULL, &objects);
    CU_ASSERT_EQUAL(objects, N);
    CU_ASSERT_EQUAL(put(&e, 4000, 1000), MCC_OK);
    int ok = 1;
    for (uint64_t i = 0; i < N; i++)
        ok &= check(&e, 3000 + i, 1000);
    CU_ASSERT(ok);
    env_close(&e);
}

/* second-hit: stored on the second request within the window, never above max_size. */
static void test_admission(void)
{
    drv_env e;
    CU_ASSERT_FATAL(env_open(&e, "admit=second-hit:{\"window\": \"300ms\", \"max_size\": 50000}",
                             "\"admission\": \"admit\", \"drives\": [{\"path\": \"a\", "
                             "\"size\": \"8MiB\"}]") == 0);
    CU_ASSERT_EQUAL(put(&e, 1, 1000), MCC_DECLINED);
    CU_ASSERT(absent(&e, 1));
    CU_ASSERT_EQUAL(put(&e, 2, 1000), MCC_DECLINED);
    CU_ASSERT_EQUAL(put(&e, 1, 1000), MCC_OK);
    CU_ASSERT(check(&e, 1, 1000));
    CU_ASSERT_EQUAL(put(&e, 3, 60000), MCC_DECLINED); /* above max_size, however often */
    CU_ASSERT_EQUAL(put(&e, 3, 60000), MCC_DECLINED);
    usleep(400 * 1000);
    CU_ASSERT_EQUAL(put(&e, 2, 1000), MCC_DECLINED); /* the window passed: first again */
    CU_ASSERT_EQUAL(put(&e, 2, 1000), MCC_OK);
    env_stop(&e);

    /* an admission instance that is not an admission policy is refused at start */
    mcc_err err = {{0}};
    mcc_plugin_ref ref;
    char conf[512];
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_EQUAL(mcc_harness_load(h, "lru", "lru", "{}", &ref, &err), MCC_OK);
    snprintf(conf, sizeof(conf),
             "{\"root\": \"%s\", \"admission\": \"lru\", \"drives\": [{\"path\": \"a\", "
             "\"size\": \"8MiB\"}]}",
             e.root);
    CU_ASSERT_EQUAL(mcc_harness_load(h, "disk", "disk", conf, &ref, &err), MCC_ERROR);
    CU_ASSERT(strstr(err.msg, "admission") != NULL);
    mcc_harness_free(h);
    env_close(&e);
}

/* A 1 MiB tmpfs behind a drive configured at 16 MiB: ENOSPC pauses storing there (metric, one
 * log line), evicts a little, and storing resumes once the file system has room. */
static void test_file_system_full(void)
{
    drv_env e;
    char t[512];
    memset(&e, 0, sizeof(e));
    snprintf(e.root, sizeof(e.root), "/tmp/mcc-test-drives-XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(e.root) != NULL);
    snprintf(t, sizeof(t), "%s/t", e.root);
    CU_ASSERT_FATAL(mkdir(t, 0750) == 0);
    if (mount("tmpfs", t, "tmpfs", 0, "size=1m") != 0) {
        fprintf(stderr, "\n    skipped: mount tmpfs: %s", strerror(errno));
        mcc_harness_rm_tree(e.root);
        return;
    }
    CU_ASSERT_FATAL(env_start(&e, NULL,
                              "\"probe_interval\": \"100ms\", \"drives\": [{\"path\": \"t\", "
                              "\"size\": \"16MiB\"}]") == 0);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_full", "/t\""), 0.0, 0.001);
    int rc = MCC_OK;
    uint64_t n = 0;
    while (rc == MCC_OK && n < 20)
        rc = put(&e, 100 + n++, 4 * SLICE);
    CU_ASSERT_EQUAL(rc, MCC_NOSPACE);
    CU_ASSERT(n >= 3 && n <= 5);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_full", "/t\""), 1.0, 0.001);
    CU_ASSERT_EQUAL(put(&e, 500, 1000), MCC_NOSPACE); /* paused */
    /* the eviction on ENOSPC made room: the probe sees it and storing resumes */
    env_run(&e, 1500);
    CU_ASSERT_DOUBLE_EQUAL(metric(&e, "mcc_storage_full", "/t\""), 0.0, 0.001);
    CU_ASSERT_EQUAL(put(&e, 501, 1000), MCC_OK);
    CU_ASSERT(check(&e, 501, 1000));
    env_stop(&e);
    CU_ASSERT(umount2(t, MNT_DETACH) == 0);
    env_close(&e);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"placement by weight, drives removed and added", test_placement_and_config_changes},
        {"a burst stays within every drive's size", test_burst_within_sizes},
        {"drive renamed away and back", test_drive_fails_and_returns},
        {"drive remounted read-only", test_drive_read_only},
        {"background scrub", test_scrub},
        {"stopped with scrub reads out", test_scrub_stopped},
        {"background scan, lookup by key meanwhile", test_background_scan},
        {"admission policy", test_admission},
        {"file system full", test_file_system_full},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("disk drives", tests);
}
