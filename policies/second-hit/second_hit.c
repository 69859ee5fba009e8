/* The "second-hit" admission policy: an object is stored only when it is asked for again within
 * a window (one-hit wonders are served without being written), and never above max_size. The
 * keys seen are remembered in a fixed table of fingerprints: memory stays bounded, and a key
 * pushed out early only costs one more pass-through. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mcc/mcc.h>

typedef struct hit_slot {
    uint64_t fp;      /* key fingerprint, 0 empty */
    uint64_t seen_ms; /* last request */
} hit_slot;

typedef struct hit_state {
    const mcc_host *host;
    mcc_instance *self;
    uint64_t window_ms;
    uint64_t max_size; /* 0: no limit */
    hit_slot *slots;
    size_t mask; /* slots - 1, a power of two minus one */
    mcc_metric *m_declined;
} hit_state;

static uint64_t hit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Two slots per key (its own and its neighbour): the older one makes room. */
static int hit_admit(void *state, const uint8_t *key, uint64_t length, unsigned requests)
{
    hit_state *st = state;
    uint64_t fp = 0, now = hit_now_ms();
    int rc = MCC_DECLINED;

    if (st->max_size > 0 && length > st->max_size)
        goto out;
    if (requests >= 2) {
        rc = MCC_OK; /* the caller counted the second request itself */
        goto out;
    }
    memcpy(&fp, key, sizeof(fp)); /* keys are SHA-256 digests: any 8 bytes are uniform */
    fp |= 1;
    hit_slot *a = &st->slots[fp & st->mask], *b = &st->slots[(fp & st->mask) ^ 1];
    hit_slot *seen = a->fp == fp ? a : b->fp == fp ? b : NULL;
    if (seen != NULL && now - seen->seen_ms <= st->window_ms) {
        seen->fp = 0; /* stored now: after an eviction, the key counts from one again */
        rc = MCC_OK;
        goto out;
    }
    hit_slot *slot = seen;
    if (slot == NULL && a->fp == 0)
        slot = a;
    else if (slot == NULL && b->fp == 0)
        slot = b;
    else if (slot == NULL)
        slot = a->seen_ms <= b->seen_ms ? a : b;
    slot->fp = fp;
    slot->seen_ms = now;
out:
    if (rc == MCC_DECLINED && st->m_declined != NULL)
        st->host->metric_add(st->m_declined, 1);
    return rc;
}

static int hit_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                      mcc_err *err)
{
    uint64_t window = 0, max_size = 0;
    int64_t tracked = 0;
    if (host->conf_duration(conf, "window", 3600u * 1000u, &window, err) != MCC_OK ||
        host->conf_size(conf, "max_size", 0, &max_size, err) != MCC_OK ||
        host->conf_int(conf, "tracked", 65536, 2, 1 << 26, &tracked, err) != MCC_OK)
        return MCC_ERROR;
    if (window == 0)
        return host->conf_error(conf, "window", err, "a duration above 0");
    hit_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    size_t n = 2;
    while (n < (size_t)tracked)
        n *= 2;
    st->slots = calloc(n, sizeof(*st->slots));
    if (st->slots == NULL) {
        free(st);
        return mcc_err_set(err, "out of memory");
    }
    st->host = host;
    st->self = self;
    st->window_ms = window;
    st->max_size = max_size;
    st->mask = n - 1;
    st->m_declined =
        host->metric(self, MCC_METRIC_COUNTER, "mcc_admission_declined_total",
                     "Objects served without being stored, by admission policy", NULL, NULL, 0);
    *state = st;
    return MCC_OK;
}

static void hit_destroy(void *state)
{
    hit_state *st = state;
    if (st == NULL)
        return;
    free(st->slots);
    free(st);
}

static const mcc_policy_ops hit_ops = {
    .size = sizeof(mcc_policy_ops),
    .type = MCC_POLICY_ADMISSION,
    .admit = hit_admit,
};

static const mcc_plugin hit_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_POLICY, "second-hit", "0.1.0"),
    .description = "admission: store an object on its second request within a window",
    .create = hit_create,
    .destroy = hit_destroy,
    .ops = &hit_ops,
};

MCC_PLUGIN_DEFINE(hit_plugin)
