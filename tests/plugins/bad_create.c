/* Test plugin: an exporter whose create always fails with a message of its own. */
#include <mcc/mcc.h>

static int bc_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                     mcc_err *err)
{
    return mcc_err_set(err, "cannot reach the frobnicator");
}

static void bc_destroy(void *state) {}

static const mcc_exporter_ops bc_ops = {.size = sizeof(mcc_exporter_ops)};

static const mcc_plugin bc_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_EXPORTER, "test-create-fails", "1"),
    .description = "create always fails",
    .create = bc_create,
    .destroy = bc_destroy,
    .ops = &bc_ops,
};

MCC_PLUGIN_DEFINE(bc_plugin)
