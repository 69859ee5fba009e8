/* The pipeline's lifetime: binds the storage backend and the metrics the pipeline keeps. */
#include <stdlib.h>
#include <string.h>

#include "cache/pipeline.h"
#include "core/instance.h"
#include "core/metrics.h"

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
    const char *fname = core->settings.freshness_policy;
    if (fname[0] != '\0') {
        mcc_instance *inst = mcc_core_instance_find(core, fname);
        mcc_plugin_ref ref;
        memset(&ref, 0, sizeof(ref));
        if (inst != NULL)
            mcc_instance_ref(inst, &ref);
        const mcc_policy_ops *ops = ref.ops;
        if (ref.desc == NULL || ref.desc->kind != MCC_KIND_POLICY || ops == NULL ||
            ops->type != MCC_POLICY_FRESHNESS || ops->freshness == NULL) {
            mcc_err_set(err, "cache.freshness: \"%s\" is not a freshness policy instance", fname);
            free(c);
            return NULL;
        }
        c->freshness_ops = ops;
        c->freshness_state = ref.state;
    }
    if (core->metrics != NULL) {
        c->m_upstream_bytes =
            mcc_metrics_get(core->metrics, MCC_METRIC_COUNTER, "mcc_upstream_received_bytes_total",
                            "Body bytes received from upstreams", NULL, NULL, 0);
        c->m_upstream_errors =
            mcc_metrics_get(core->metrics, MCC_METRIC_COUNTER, "mcc_upstream_broken_total",
                            "Upstream transfers that broke off mid-body", NULL, NULL, 0);
    }
    return c;
}

void mcc_cache_free(struct mcc_cache *c)
{
    if (c == NULL)
        return;
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
