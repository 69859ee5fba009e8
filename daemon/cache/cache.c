/* The pipeline's lifetime: binds the storage backend and the metrics the pipeline keeps. */
#include <stdlib.h>
#include <string.h>

#include "cache/pipeline.h"
#include "core/instance.h"
#include "core/metrics.h"

/* The freshness policy instance NAME ("" none), checked to be one. */
static int cache_freshness(mcc_core *core, const char *name, const mcc_policy_ops **ops_out,
                           void **state_out, mcc_err *err)
{
    *ops_out = NULL;
    *state_out = NULL;
    if (name[0] == '\0')
        return MCC_OK;
    mcc_instance *inst = mcc_core_instance_find(core, name);
    mcc_plugin_ref ref;
    memset(&ref, 0, sizeof(ref));
    if (inst != NULL)
        mcc_instance_ref(inst, &ref);
    const mcc_policy_ops *ops = ref.ops;
    if (ref.desc == NULL || ref.desc->kind != MCC_KIND_POLICY || ops == NULL ||
        ops->type != MCC_POLICY_FRESHNESS || ops->freshness == NULL)
        return mcc_err_set(err, "cache.freshness: \"%s\" is not a freshness policy instance",
                           name);
    *ops_out = ops;
    *state_out = ref.state;
    return MCC_OK;
}

int mcc_cache_check_freshness(mcc_core *core, struct mcc_instance **made, size_t n,
                              const mcc_settings *new_, mcc_err *err)
{
    if (new_->freshness_policy[0] == '\0')
        return MCC_OK;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(made[i]->name, new_->freshness_policy) != 0)
            continue;
        const mcc_policy_ops *ops = made[i]->desc->ops;
        if (made[i]->desc->kind == MCC_KIND_POLICY && ops != NULL &&
            ops->type == MCC_POLICY_FRESHNESS && ops->freshness != NULL)
            return MCC_OK;
        return mcc_err_set(err, "cache.freshness: \"%s\" is not a freshness policy instance",
                           new_->freshness_policy);
    }
    const mcc_policy_ops *ops;
    void *state;
    return cache_freshness(core, new_->freshness_policy, &ops, &state, err);
}

void mcc_cache_settings_changed(struct mcc_cache *c)
{
    mcc_err err = {{0}};
    if (cache_freshness(c->core, c->core->settings.freshness_policy, &c->freshness_ops,
                        &c->freshness_state, &err) != MCC_OK)
        mcc_log(MCC_LOG_ERROR, "reload: %s", err.msg);
}

struct mcc_cache *mcc_cache_new(mcc_core *core, mcc_err *err)
{
    if (core->storage.ops == NULL) {
        mcc_err_set(err, "no storage instance is configured");
        return NULL;
    }
    struct mcc_cache *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        mcc_err_set(err, "out of memory");
        return NULL;
    }
    c->core = core;
    c->st = core->storage.ops;
    c->st_state = core->storage.state;
    c->slice_size = (uint32_t)core->settings.slice_size;
    if (cache_freshness(core, core->settings.freshness_policy, &c->freshness_ops,
                        &c->freshness_state, err) != MCC_OK) {
        free(c);
        return NULL;
    }
    if (core->settings.send_threads > 0) {
        /* without them every body is sent by the loop, as before: slower, not wrong */
        c->senders = mcc_senders_new(core->base, core->settings.send_threads,
                                     core->settings.client_timeout_ms, mcc_serve_sent, c);
    }
    if (core->metrics != NULL) {
        c->m_upstream_bytes =
            mcc_metrics_get(core->metrics, MCC_METRIC_COUNTER, "mcc_upstream_received_bytes_total",
                            "Body bytes received from upstreams", NULL, NULL, 0);
        c->m_sender_bytes = mcc_metrics_get(
            core->metrics, MCC_METRIC_COUNTER, "mcc_sender_bytes_total",
            "Body bytes written by sender threads (cache.send_threads)", NULL, NULL, 0);
        if (c->senders != NULL)
            c->m_sender_cpu = mcc_metrics_get(
                core->metrics, MCC_METRIC_COUNTER, "mcc_sender_cpu_seconds_total",
                "CPU time (user and system) of the sender threads, together", NULL, NULL, 0);
        c->m_upstream_errors =
            mcc_metrics_get(core->metrics, MCC_METRIC_COUNTER, "mcc_upstream_broken_total",
                            "Upstream transfers that broke off mid-body", NULL, NULL, 0);
    }
    return c;
}

/* Keys whose last response forbade storing (or found no room): their requests go straight to
 * the origin instead of probing twice. Forgotten after a while: the origin may change its mind. */
#define CACHE_NOSTORE_SECONDS 300
#define CACHE_NOSTORE_MAX 4096

struct mcc_nostore {
    uint8_t key[MCC_KEY_LEN];
    int64_t until;
    UT_hash_handle hh;
};

void mcc_nostore_add(struct mcc_cache *c, const uint8_t *key)
{
    struct mcc_nostore *n = NULL;
    HASH_FIND(hh, c->nostore, key, MCC_KEY_LEN, n);
    if (n == NULL) {
        if (HASH_COUNT(c->nostore) >= CACHE_NOSTORE_MAX) {
            struct mcc_nostore *oldest = c->nostore; /* insertion order: the first is oldest */
            HASH_DELETE(hh, c->nostore, oldest);
            free(oldest);
        }
        if ((n = calloc(1, sizeof(*n))) == NULL)
            return;
        memcpy(n->key, key, MCC_KEY_LEN);
        HASH_ADD(hh, c->nostore, key, MCC_KEY_LEN, n);
    }
    n->until = mcc_now_us() / 1000000 + CACHE_NOSTORE_SECONDS;
}

int mcc_nostore_has(struct mcc_cache *c, const uint8_t *key)
{
    struct mcc_nostore *n = NULL;
    HASH_FIND(hh, c->nostore, key, MCC_KEY_LEN, n);
    if (n == NULL)
        return 0;
    if (n->until < mcc_now_us() / 1000000) {
        HASH_DELETE(hh, c->nostore, n);
        free(n);
        return 0;
    }
    return 1;
}

void mcc_nostore_free(struct mcc_cache *c)
{
    struct mcc_nostore *n, *tmp;
    HASH_ITER(hh, c->nostore, n, tmp)
    {
        HASH_DELETE(hh, c->nostore, n);
        free(n);
    }
}

int mcc_cache_add_loop(struct mcc_cache *c, struct event_base *base)
{
    return c->senders != NULL ? mcc_senders_add_loop(c->senders, base) : MCC_OK;
}

void mcc_cache_free(struct mcc_cache *c)
{
    if (c == NULL)
        return;
    /* the senders' last jobs release their serves: before the entries go */
    mcc_senders *senders = c->senders;
    c->senders = NULL;
    mcc_senders_free(senders);
    mcc_nostore_free(c);
    mcc_index_free(c);
    mcc_entry *e, *tmp;
    HASH_ITER(hh, c->index, e, tmp)
    {
        mcc_entry_ref(e);
        while (e->transfers != NULL)
            mcc_transfer_cancel(e->transfers);
        mcc_entry_unref(e);
    }
    free(c);
}

void mcc_cache_get_counts(const struct mcc_cache *c, mcc_cache_counts *out)
{
    *out = c->counts;
}

void mcc_cache_sample(struct mcc_cache *c)
{
    if (c->m_sender_cpu != NULL)
        mcc_metric_set(c->m_sender_cpu, mcc_senders_cpu_seconds(c->senders));
}
