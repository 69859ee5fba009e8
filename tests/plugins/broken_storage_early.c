/* Test plugin: a storage backend whose has_slice() says a slice is present as soon as its bytes
 * are written, before the commit that records it. The conformance kit must catch it. */
#include "broken_storage.h"

static int early_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                        void **state, mcc_err *err)
{
    return bs_plugin_create(host, self, conf, state, err, BS_EARLY);
}

static const mcc_plugin early_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_STORAGE, "test-broken-early", "1"),
    .description = "storage reporting slices present before their commit (deliberately broken)",
    .create = early_create,
    .destroy = bs_plugin_destroy,
    .ops = &bs_ops,
};

MCC_PLUGIN_DEFINE(early_plugin)
