/* Test plugin: a storage backend whose ops table lacks the required write op. */
#include <mcc/mcc.h>

static int nw_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                     mcc_err *err)
{
    *state = NULL;
    return MCC_OK;
}

static void nw_destroy(void *state) {}

static int nw_open(void *state, const uint8_t key[MCC_KEY_LEN], mcc_object **obj)
{
    return MCC_NOTFOUND;
}

static int nw_create_obj(void *state, const uint8_t key[MCC_KEY_LEN], uint64_t length,
                         uint32_t slice_size, const void *meta, size_t meta_len, mcc_object **obj)
{
    return MCC_NOSPACE;
}

static void nw_close(mcc_object *obj) {}

static int nw_info(mcc_object *obj, mcc_object_info *info)
{
    return MCC_ERROR;
}

static int nw_has_slice(mcc_object *obj, uint64_t idx)
{
    return 0;
}

static int nw_commit(mcc_object *obj, uint64_t idx)
{
    return MCC_ERROR;
}

static int nw_read(mcc_object *obj, uint64_t off, void *buf, size_t len)
{
    return MCC_ERROR;
}

static int nw_remove(void *state, const uint8_t key[MCC_KEY_LEN])
{
    return MCC_NOTFOUND;
}

static void nw_usage(void *state, uint64_t *used, uint64_t *capacity, uint64_t *objects)
{
    *used = *capacity = *objects = 0;
}

static const mcc_storage_ops nw_ops = {
    .size = sizeof(mcc_storage_ops),
    .open = nw_open,
    .create = nw_create_obj,
    .close = nw_close,
    .info = nw_info,
    .has_slice = nw_has_slice,
    .write = NULL, /* the defect under test */
    .commit = nw_commit,
    .read = nw_read,
    .remove = nw_remove,
    .usage = nw_usage,
};

static const mcc_plugin nw_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_STORAGE, "test-nowrite", "1"),
    .description = "storage without write",
    .create = nw_create,
    .destroy = nw_destroy,
    .ops = &nw_ops,
};

MCC_PLUGIN_DEFINE(nw_plugin)
