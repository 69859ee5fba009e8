/* Test plugin: a storage backend that, asked to create a key it holds, reuses the old object in
 * place: the replacing object shows the old bytes and their slices as present (stale bytes), and
 * handles of the old object see the new writes. The conformance kit must catch it. */
#include "broken_storage.h"

static int stale_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                        void **state, mcc_err *err)
{
    return bs_plugin_create(host, self, conf, state, err, BS_STALE);
}

static const mcc_plugin stale_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_STORAGE, "test-broken-stale", "1"),
    .description = "storage that keeps a replaced object's bytes (deliberately broken)",
    .create = stale_create,
    .destroy = bs_plugin_destroy,
    .ops = &bs_ops,
};

MCC_PLUGIN_DEFINE(stale_plugin)
