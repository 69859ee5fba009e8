/* The unit-test harness: a real core context (loop, settings from the embedded defaults,
 * metrics, stats, host table, admin route table, real loader) without listeners. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/instance.h"
#include "harness.h"

#ifndef MCC_TEST_PLUGIN_DIR
#error "MCC_TEST_PLUGIN_DIR must name the build tree's plugin directory"
#endif

struct mcc_harness {
    mcc_core core;
};

mcc_harness *mcc_harness_new(void)
{
    mcc_err err = {{0}};
    mcc_settings *s = NULL;
    mcc_harness *h = calloc(1, sizeof(*h));
    mcc_config *cfg = mcc_config_new();
    if (h == NULL || cfg == NULL)
        goto fail;
    s = calloc(1, sizeof(*s));
    if (s == NULL || mcc_config_add_embedded(cfg, &err) != MCC_OK ||
        mcc_settings_load(cfg, s, &err) != MCC_OK)
        goto fail;
    snprintf(s->plugin_dir, sizeof(s->plugin_dir), "%s", MCC_TEST_PLUGIN_DIR);
    s->access_log[0] = '\0'; /* tests that want the log set it and remake core->stats */
    s->listen_content[0] = '\0';
    s->listen_admin[0] = '\0';

    if (mcc_core_init(&h->core, cfg, s, &err) != MCC_OK) {
        cfg = NULL; /* owned by the core now */
        goto fail;
    }
    free(s);
    return h;

fail:
    fprintf(stderr, "harness: %s\n", err.msg[0] != '\0' ? err.msg : "out of memory");
    free(s);
    if (h != NULL)
        mcc_core_fini(&h->core);
    mcc_config_free(cfg);
    free(h);
    return NULL;
}

void mcc_harness_free(mcc_harness *h)
{
    if (h == NULL)
        return;
    mcc_core_fini(&h->core);
    free(h);
}

struct event_base *mcc_harness_base(mcc_harness *h)
{
    return h->core.base;
}

mcc_core *mcc_harness_core(mcc_harness *h)
{
    return &h->core;
}

/* Files the instance under the core's per-layer references by its kind, as mcc_core_resolve
 * would for a configured daemon. */
static void harness_file(mcc_core *core, mcc_instance *inst)
{
    switch (inst->desc->kind) {
    case MCC_KIND_STORAGE:
        if (core->storage.inst == NULL)
            mcc_instance_ref(inst, &core->storage);
        break;
    case MCC_KIND_HOSTS:
        if (core->nhosts < MCC_MAX_ORDER)
            mcc_instance_ref(inst, &core->hosts[core->nhosts++]);
        break;
    case MCC_KIND_UPSTREAM:
        if (core->nupstreams < MCC_MAX_ORDER)
            mcc_instance_ref(inst, &core->upstreams[core->nupstreams++]);
        break;
    case MCC_KIND_EXPORTER:
        if (core->nexporters < MCC_MAX_INSTANCES)
            mcc_instance_ref(inst, &core->exporters[core->nexporters++]);
        break;
    default:
        break;
    }
}

int mcc_harness_load(mcc_harness *h, const char *plugin, const char *name, const char *config_json,
                     mcc_plugin_ref *out, mcc_err *err)
{
    mcc_core *core = &h->core;
    cJSON *frag = NULL, *conf = NULL;
    char *text = NULL;
    int rc = MCC_ERROR;

    /* The config goes in as a fragment of its own so that errors name it like a conf.d file. */
    if (config_json != NULL) {
        conf = cJSON_Parse(config_json);
        if (conf == NULL) {
            mcc_err_set(err, "harness: config of %s is not valid JSON", name);
            goto done;
        }
    }
    frag = cJSON_CreateObject();
    cJSON *plugins = cJSON_AddObjectToObject(frag, "plugins");
    cJSON *block = plugins != NULL ? cJSON_AddObjectToObject(plugins, name) : NULL;
    if (block == NULL || cJSON_AddStringToObject(block, "plugin", plugin) == NULL) {
        mcc_err_set(err, "harness: out of memory");
        goto done;
    }
    if (conf != NULL) {
        cJSON *copy = cJSON_Duplicate(conf, 1);
        if (copy == NULL || !cJSON_AddItemToObject(block, "config", copy)) {
            cJSON_Delete(copy);
            mcc_err_set(err, "harness: out of memory");
            goto done;
        }
    }
    text = cJSON_PrintUnformatted(frag);
    char fragname[128];
    snprintf(fragname, sizeof(fragname), "<test:%s>", name);
    if (text == NULL || mcc_config_add_text(core->config, fragname, text, err) != MCC_OK)
        goto done;

    /* The instance reads the test's own object, not the merged one: a block of that name in
     * the embedded defaults must not add keys. The fragment only makes errors name the test. */
    char keypath[128];
    snprintf(keypath, sizeof(keypath), "plugins.%s.config", name);

    mcc_instance *inst;
    if (mcc_instance_new(core, name, plugin, core->config, conf, keypath, &inst, err) != MCC_OK)
        goto done;
    if (mcc_core_instance_add(core, inst, err) != MCC_OK) {
        mcc_instance_free(inst);
        goto done;
    }
    if (mcc_instance_start(inst, err) != MCC_OK)
        goto done; /* stays in the core's list: harness_free stops and destroys it */
    harness_file(core, inst);
    if (out != NULL)
        mcc_instance_ref(inst, out);
    rc = MCC_OK;

done:
    cJSON_Delete(conf);
    cJSON_Delete(frag);
    free(text);
    return rc;
}

static void harness_timeout(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

int mcc_harness_run_until(mcc_harness *h, const int *done, unsigned timeout_ms)
{
    int expired = 0;
    struct event *t = evtimer_new(h->core.base, harness_timeout, &expired);
    if (t == NULL)
        return *done;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)((timeout_ms % 1000) * 1000)};
    evtimer_add(t, &tv);
    while (!*done && !expired)
        if (event_base_loop(h->core.base, EVLOOP_ONCE) < 0)
            break;
    event_free(t);
    return *done;
}

static int harness_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

void mcc_harness_rm_tree(const char *path)
{
    nftw(path, harness_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
