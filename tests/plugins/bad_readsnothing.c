/* Test plugin: an exporter whose create reads no config key, so that any key given to it is
 * refused by the loader as unknown. */
#include <stdlib.h>

#include <mcc/mcc.h>

static int rn_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                     mcc_err *err)
{
    *state = malloc(1); /* so that a missed destroy shows up under a leak checker */
    return *state != NULL ? MCC_OK : mcc_err_set(err, "out of memory");
}

static void rn_destroy(void *state)
{
    free(state);
}

static const mcc_exporter_ops rn_ops = {.size = sizeof(mcc_exporter_ops)};

static const mcc_plugin rn_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_EXPORTER, "test-reads-nothing", "1"),
    .description = "reads no config keys",
    .create = rn_create,
    .destroy = rn_destroy,
    .ops = &rn_ops,
};

MCC_PLUGIN_DEFINE(rn_plugin)
