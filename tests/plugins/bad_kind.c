/* Test plugin: a descriptor of a kind no daemon knows (99). */
#include <mcc/mcc.h>

static int bad_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                      mcc_err *err)
{
    *state = NULL;
    return MCC_OK;
}

static void bad_destroy(void *state) {}

static const mcc_exporter_ops bad_ops = {.size = sizeof(mcc_exporter_ops)};

static const mcc_plugin bad_plugin = {
    .size = sizeof(mcc_plugin),
    .abi_major = MCC_ABI_MAJOR,
    .abi_minor = MCC_ABI_MINOR,
    .kind = (mcc_kind)99,
    .name = "test-kind",
    .version = "1",
    .create = bad_create,
    .destroy = bad_destroy,
    .ops = &bad_ops,
};

MCC_PLUGIN_DEFINE(bad_plugin)
