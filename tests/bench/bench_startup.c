/* bench_startup: stores N small objects (default 100,000) through the real disk plugin, then
 * starts mccd on that cache and prints the time from exec to its first hit and its memory
 * (RSS) against an empty cache, i.e. the bytes it keeps per stored object.
 *   bench_startup [--objects N] [--keep DIR]          (run as build/tests/bench/bench_startup) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/key.h"
#include "cache/meta.h"
#include "harness.h"

#define BENCH_NS "bench"
#define BENCH_LEN 4096u

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_path(char *buf, size_t size, unsigned long i)
{
    snprintf(buf, size, "/obj/%lu.bin", i);
}

/* Stores N objects of BENCH_LEN bytes under ROOT/cache1 through the disk plugin. */
static int bench_fill(const char *root, unsigned long n)
{
    mcc_err err = {{0}};
    mcc_plugin_ref lru, disk;
    char conf[1024];
    mcc_harness *h = mcc_harness_new();
    if (h == NULL || mcc_harness_load(h, "lru", "lru", "{}", &lru, &err) != MCC_OK)
        goto fail;
    snprintf(conf, sizeof(conf),
             "{\"root\": \"%s\", \"scrub_rate\": 0, \"drives\": [{\"path\": \"cache1\", "
             "\"size\": \"64GiB\"}]}",
             root);
    if (mcc_harness_load(h, "disk", "disk", conf, &disk, &err) != MCC_OK)
        goto fail;
    const mcc_storage_ops *ops = disk.ops;
    uint8_t data[BENCH_LEN];
    mcc_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.status = 200;
    meta.stored_at = meta.response_time = meta.request_time = meta.date = time(NULL);
    snprintf(meta.content_type, sizeof(meta.content_type), "application/octet-stream");
    for (unsigned long i = 0; i < n; i++) {
        char path[64], *blob = NULL;
        size_t blen = 0;
        uint8_t key[MCC_CACHE_KEY_LEN];
        mcc_object *o = NULL;
        bench_path(path, sizeof(path), i);
        snprintf(meta.etag, sizeof(meta.etag), "\"%lu\"", i);
        snprintf(meta.url, sizeof(meta.url), "http://origin.test%s", path);
        if (mcc_cache_key(BENCH_NS, path, NULL, key, NULL, 0) != MCC_OK ||
            mcc_meta_encode(&meta, &blob, &blen) != MCC_OK)
            goto fail;
        memset(data, (int)(i & 0xff), sizeof(data));
        int rc = ops->create(disk.state, key, BENCH_LEN, 1u << 20, blob, blen, &o);
        free(blob);
        if (rc != MCC_OK || ops->write(o, 0, data, BENCH_LEN) != MCC_OK ||
            ops->commit(o, 0) != MCC_OK) {
            fprintf(stderr, "bench_startup: storing object %lu failed\n", i);
            goto fail;
        }
        ops->close(o);
    }
    mcc_harness_free(h);
    return 0;
fail:
    if (err.msg[0] != '\0')
        fprintf(stderr, "bench_startup: %s\n", err.msg);
    mcc_harness_free(h);
    return -1;
}

static int bench_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* GET PATH from 127.0.0.1:PORT; returns the status (0: no answer) and whether it was a hit. */
static int bench_get(int port, const char *path, int *hit)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char req[512], resp[8192];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), status = 0;
    *hit = 0;
    if (fd < 0)
        return 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto out;
    int n = snprintf(req, sizeof(req),
                     "GET %s?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Connection: close\r\n\r\n",
                     path);
    if (write(fd, req, (size_t)n) != n)
        goto out;
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(resp) - 1 && (r = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = '\0';
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
        status = 0;
    *hit = strstr(resp, "Cache-Status: ") != NULL && strstr(resp, "; hit\r\n") != NULL;
out:
    close(fd);
    return status;
}

static long bench_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

typedef struct bench_run {
    double first_hit_s; /* from exec to the first hit, -1 none */
    long rss_kib;       /* after the start-up scan and a few hundred hits */
} bench_run;

/* Starts mccd on ROOT, times its first hit of object 0..N-1, then reads its RSS. */
static int bench_mccd(const char *root, unsigned long n, bench_run *out)
{
    char confdir[512], frag[600];
    int port = bench_free_port(), admin = bench_free_port();
    snprintf(confdir, sizeof(confdir), "%s/conf.d", root);
    snprintf(frag, sizeof(frag), "%s/50-bench.json", confdir);
    mkdir(confdir, 0750);
    FILE *f = fopen(frag, "w");
    if (f == NULL || port < 0 || admin < 0)
        return -1;
    fprintf(f,
            "{\"listen\": {\"content\": \"127.0.0.1:%d\", \"admin\": \"127.0.0.1:%d\"},\n"
            " \"paths\": {\"cache_root\": \"%s\", \"plugin_dir\": \"%s\"},\n"
            " \"log\": {\"level\": \"warn\", \"access_log\": \"\"},\n"
            " \"plugins\": {\"hosts\": {\"plugin\": \"hosts\", \"config\": {\"custom\": [\n"
            "   {\"host\": \"origin.test\", \"canonical\": \"%s\", \"connect_to\": "
            "\"127.0.0.1:9\", \"freshness\": \"immutable\"}]}},\n"
            "  \"disk\": {\"plugin\": \"disk\", \"config\": {\"root\": \"%s\", \"scrub_rate\": 0,"
            " \"drives\": [{\"path\": \"cache1\", \"size\": \"64GiB\"}]}}}}\n",
            port, admin, root, MCC_TEST_PLUGIN_DIR, BENCH_NS, root);
    fclose(f);

    double t0 = bench_now();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl(MCC_BENCH_MCCD, "mccd", "--conf-dir", confdir, (char *)NULL);
        _exit(127);
    }
    out->first_hit_s = -1;
    char path[64];
    bench_path(path, sizeof(path), n > 0 ? n / 2 : 0);
    for (int i = 0; i < 3000 && n > 0; i++) { /* 30 s at most */
        int hit = 0;
        if (bench_get(port, path, &hit) == 200 && hit) {
            out->first_hit_s = bench_now() - t0;
            break;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "bench_startup: mccd exited\n");
            return -1;
        }
        usleep(10000);
    }
    /* let the background scan finish, touch a few hundred objects, then measure */
    sleep(n > 0 ? 3 : 1);
    for (unsigned long i = 0; i < 300 && n > 0; i++) {
        int hit = 0;
        bench_path(path, sizeof(path), (i * 7919) % n);
        bench_get(port, path, &hit);
    }
    out->rss_kib = bench_rss_kib(pid);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long n = 100000;
    const char *keep = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--objects") == 0 && i + 1 < argc) {
            char *end;
            n = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || n == 0) {
                fprintf(stderr, "bench_startup: --objects wants a positive number\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc) {
            keep = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_startup [--objects N] [--keep DIR]\n");
            return 2;
        }
    }
    char empty[] = "/tmp/mcc-bench-empty-XXXXXX", full[] = "/tmp/mcc-bench-full-XXXXXX";
    const char *root = keep != NULL ? keep : full;
    if (mkdtemp(empty) == NULL || (keep == NULL && mkdtemp(full) == NULL)) {
        perror("mkdtemp");
        return 1;
    }
    mkdir(root, 0750);
    bench_run base = {0}, run = {0};
    if (bench_mccd(empty, 0, &base) != 0)
        return 1;
    double t = bench_now();
    if (bench_fill(root, n) != 0)
        return 1;
    printf("stored %lu objects of %u bytes through the disk plugin in %.1f s\n", n, BENCH_LEN,
           bench_now() - t);
    /* cold-ish: what can be dropped from the page cache is (needs root; harmless otherwise) */
    sync();
    FILE *dc = fopen("/proc/sys/vm/drop_caches", "w");
    if (dc != NULL) {
        fputs("3\n", dc);
        fclose(dc);
    }
    if (bench_mccd(root, n, &run) != 0)
        return 1;
    printf("first hit %.3f s after exec (page cache dropped: %s)\n", run.first_hit_s,
           dc != NULL ? "yes" : "no");
    printf("RSS: %ld KiB with an empty cache, %ld KiB with %lu objects indexed\n", base.rss_kib,
           run.rss_kib, n);
    printf("memory per stored object: %.0f bytes\n",
           (double)(run.rss_kib - base.rss_kib) * 1024.0 / (double)n);
    mcc_harness_rm_tree(empty);
    if (keep == NULL)
        mcc_harness_rm_tree(full);
    return run.first_hit_s >= 0 ? 0 : 1;
}
