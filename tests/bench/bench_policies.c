/* bench_policies: replays a synthetic fleet-update trace (devices updating their image and
 * installing packages of Zipf popularity that shifts day by day, a long tail requested once)
 * through each eviction policy, loaded as a real plugin, over a simulated cache smaller than the
 * working set, and prints the byte hit ratio of each side by side.
 *   bench_policies [--cache-percent P] [--days D] [--devices N] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NIMAGES 8 /* 4 device models x 2 versions */
#define NPACKAGES 20000

typedef struct bench_req {
    uint32_t id; /* 1.. */
} bench_req;

static uint64_t rng_state = 42;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(void)
{
    return ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
}

/* Zipf(s) over 1..n by inversion of a precomputed CDF */
static uint32_t zipf_pick(const double *cdf, uint32_t n)
{
    double u = rng_unit();
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct sim {
    const mcc_policy_ops *ops;
    mcc_evict_set *set;
    uint8_t *present;
    uint64_t used, capacity, hit_bytes, total_bytes;
} sim;

static int sim_can(void *arg, uint64_t id)
{
    return 1;
}

static void sim_request(sim *s, const uint64_t *sizes, uint32_t id)
{
    uint64_t bytes = sizes[id];
    s->total_bytes += bytes;
    if (s->present[id]) {
        s->hit_bytes += bytes;
        s->ops->evict_access(s->set, id);
        return;
    }
    if (bytes > s->capacity)
        return;
    while (s->used + bytes > s->capacity) {
        uint64_t victim;
        if (s->ops->evict_victim(s->set, sim_can, NULL, &victim) != MCC_OK)
            return;
        s->present[victim] = 0;
        s->used -= sizes[victim];
        s->ops->evict_remove(s->set, victim);
    }
    s->present[id] = 1;
    s->used += bytes;
    s->ops->evict_insert(s->set, id, bytes);
}

int main(int argc, char **argv)
{
    unsigned cache_percent = 25, days = 30, devices = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        unsigned long v = strtoul(argv[i + 1], NULL, 10);
        if (v == 0 || v > 100000) {
            fprintf(stderr, "bench_policies: %s wants a positive number\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--cache-percent") == 0)
            cache_percent = (unsigned)v;
        else if (strcmp(argv[i], "--days") == 0)
            days = (unsigned)v;
        else if (strcmp(argv[i], "--devices") == 0)
            devices = (unsigned)v;
        else {
            fprintf(stderr, "usage: bench_policies [--cache-percent P] [--days D] "
                            "[--devices N]\n");
            return 2;
        }
    }
    /* package versions: a new version of the popular ones appears every few days */
    uint32_t nobj = NIMAGES + NPACKAGES * 4;
    uint64_t *sizes = calloc(nobj + 1, sizeof(*sizes));
    double *cdf = calloc(NPACKAGES, sizeof(*cdf));
    uint32_t *trace = NULL;
    size_t ntrace = 0, cap = 0;
    if (sizes == NULL || cdf == NULL)
        return 1;
    for (uint32_t i = 1; i <= NIMAGES; i++)
        sizes[i] = (150u + (uint32_t)(rng() % 250u)) * 1000000ull;
    for (uint32_t i = NIMAGES + 1; i <= nobj; i++) {
        /* log-normal, median 200 kB, clipped to 4 kB .. 50 MB */
        double z = sqrt(-2 * log(rng_unit())) * cos(6.283185307 * rng_unit());
        double b = 200000.0 * exp(1.6 * z);
        sizes[i] = b < 4000 ? 4000 : b > 5e7 ? 50000000 : (uint64_t)b;
    }
    double sum = 0;
    for (uint32_t r = 0; r < NPACKAGES; r++)
        sum += 1.0 / pow(r + 1, 0.9);
    for (uint32_t r = 0, acc = 0; r < NPACKAGES; r++, acc++)
        cdf[r] = (r > 0 ? cdf[r - 1] : 0) + 1.0 / pow(r + 1, 0.9) / sum;

    uint8_t *seen = calloc(nobj + 1, 1);
    uint64_t working_set = 0;
    for (unsigned d = 0; d < days; d++) {
        for (unsigned dev = 0; dev < devices; dev++) {
            if (rng() % 5 != 0)
                continue; /* a device updates every five days or so */
            unsigned model = dev % 4, version = d < days / 2 ? 0 : 1;
            uint32_t n_pkg = 20 + (uint32_t)(rng() % 40);
            for (uint32_t k = 0; k <= n_pkg; k++) {
                uint32_t id;
                if (k == 0) {
                    id = 1 + model * 2 + version;
                } else {
                    uint32_t rank = zipf_pick(cdf, NPACKAGES);
                    /* popular packages get a new version every 7 days: a new object */
                    uint32_t gen = rank < 2000 ? (d / 7) % 4 : 0;
                    id = NIMAGES + 1 + gen * NPACKAGES + rank;
                }
                if (ntrace == cap) {
                    cap = cap > 0 ? 2 * cap : 65536;
                    uint32_t *t = realloc(trace, cap * sizeof(*t));
                    if (t == NULL)
                        return 1;
                    trace = t;
                }
                trace[ntrace++] = id;
                if (!seen[id]) {
                    seen[id] = 1;
                    working_set += sizes[id];
                }
            }
        }
    }
    uint64_t capacity = working_set / 100 * cache_percent;
    printf("trace: %zu requests, %u devices, %u days; working set %.2f GB, cache %.2f GB (%u%%)\n",
           ntrace, devices, days, working_set / 1e9, capacity / 1e9, cache_percent);

    const char *policies[] = {"lru", "s3fifo"};
    printf("%-8s %16s %14s\n", "policy", "byte hit ratio", "object hits");
    for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
        mcc_err err = {{0}};
        mcc_plugin_ref ref;
        mcc_harness *h = mcc_harness_new();
        if (h == NULL ||
            mcc_harness_load(h, policies[p], policies[p], "{}", &ref, &err) != MCC_OK) {
            fprintf(stderr, "bench_policies: %s: %s\n", policies[p], err.msg);
            return 1;
        }
        sim s = {.ops = ref.ops, .capacity = capacity};
        s.set = s.ops->evict_new(ref.state, capacity);
        s.present = calloc(nobj + 1, 1);
        if (s.set == NULL || s.present == NULL)
            return 1;
        uint64_t hits = 0;
        for (size_t i = 0; i < ntrace; i++) {
            int was = s.present[trace[i]];
            sim_request(&s, sizes, trace[i]);
            hits += was;
        }
        printf("%-8s %15.1f%% %13.1f%%\n", policies[p], 100.0 * s.hit_bytes / s.total_bytes,
               100.0 * hits / ntrace);
        s.ops->evict_free(s.set);
        free(s.present);
        mcc_harness_free(h);
    }
    free(trace);
    free(seen);
    free(sizes);
    free(cdf);
    return 0;
}
