/* Plugin instances and their lifecycle: load the module, create with a config node, refuse
 * unknown keys, start on the loop, stop and destroy in reverse order; and the core's ordered
 * list of instances with the per-layer references resolved from settings. */
#include <stdlib.h>
#include <string.h>

#include "core/instance.h"
#include "http/admin.h"

struct mcc_loaded {
    mcc_instance **items; /* config order */
    size_t n, cap;
};

/* "<name> (<file>)" as every instance error begins. */
static int instance_fail(const mcc_instance *inst, const char *what, mcc_err *err)
{
    return mcc_err_set(err, "%s (%s): %s", inst->name, mcc_module_path(inst->module),
                       what != NULL && what[0] != '\0' ? what : "failed without a message");
}

int mcc_instance_new(mcc_core *core, const char *name, const char *plugin, const mcc_config *cfg,
                     cJSON *config, const char *keypath, mcc_instance **out, mcc_err *err)
{
    cJSON *empty = NULL;
    mcc_conf *node = NULL;
    mcc_err perr = {{0}};

    *out = NULL;
    if (strlen(name) >= sizeof(((mcc_instance *)0)->name))
        return mcc_err_set(err, "instance name \"%.64s...\" too long", name);
    mcc_instance *inst = calloc(1, sizeof(*inst));
    if (inst == NULL)
        return mcc_err_set(err, "%s: out of memory", name);
    memcpy(inst->name, name, strlen(name) + 1);
    snprintf(inst->prefix, sizeof(inst->prefix), "[%s] ", name);
    inst->core = core;

    const char *dir = core->settings.plugin_dir[0] != '\0' ? core->settings.plugin_dir : ".";
    inst->module = mcc_loader_open_named(dir, plugin, err);
    if (inst->module == NULL)
        goto free_inst;
    inst->desc = mcc_module_desc(inst->module);

    if (config == NULL) {
        empty = cJSON_CreateObject();
        if (empty == NULL) {
            instance_fail(inst, "out of memory", err);
            goto close_module;
        }
        config = empty;
    }
    node = mcc_conf_new(cfg, config, keypath);
    if (node == NULL) {
        instance_fail(inst, "out of memory", err);
        goto free_empty;
    }

    if (inst->desc->create(core->host, inst, node, &inst->state, &perr) != MCC_OK) {
        instance_fail(inst, perr.msg, err);
        goto free_node;
    }
    if (mcc_conf_check_unknown(node, &perr) != MCC_OK) {
        instance_fail(inst, perr.msg, err);
        goto destroy;
    }

    mcc_conf_free(node);
    cJSON_Delete(empty);
    inst->phase = MCC_INSTANCE_CREATED;
    *out = inst;
    return MCC_OK;

destroy:
    inst->desc->destroy(inst->state);
    mcc_admin_routes_drop(core->admin, inst);
    mcc_host_timers_reap(inst);
free_node:
    mcc_conf_free(node);
free_empty:
    cJSON_Delete(empty);
close_module:
    mcc_loader_close(inst->module);
free_inst:
    free(inst);
    return MCC_ERROR;
}

int mcc_instance_start(mcc_instance *inst, mcc_err *err)
{
    if (inst->phase != MCC_INSTANCE_CREATED)
        return MCC_OK;
    inst->phase = MCC_INSTANCE_STARTED; /* stop runs even after a failed start */
    if (inst->desc->start == NULL)
        return MCC_OK;
    mcc_err perr = {{0}};
    if (inst->desc->start(inst->state, inst->core->base, &perr) != MCC_OK)
        return instance_fail(inst, perr.msg, err);
    return MCC_OK;
}

void mcc_instance_stop(mcc_instance *inst)
{
    if (inst == NULL || inst->phase != MCC_INSTANCE_STARTED)
        return;
    inst->phase = MCC_INSTANCE_STOPPED;
    if (inst->desc->stop != NULL)
        inst->desc->stop(inst->state);
    mcc_admin_routes_drop(inst->core->admin, inst);
}

void mcc_instance_free(mcc_instance *inst)
{
    if (inst == NULL)
        return;
    mcc_instance_stop(inst);
    inst->desc->destroy(inst->state);
    mcc_admin_routes_drop(inst->core->admin, inst);
    mcc_host_timers_reap(inst);
    mcc_loader_close(inst->module);
    free(inst);
}

void mcc_instance_ref(mcc_instance *inst, mcc_plugin_ref *out)
{
    out->name = inst->name;
    out->desc = inst->desc;
    out->ops = inst->desc->ops;
    out->state = inst->state;
    out->inst = inst;
}

/* --- The core's list ------------------------------------------------------------------------- */

int mcc_core_instance_add(mcc_core *core, mcc_instance *inst, mcc_err *err)
{
    struct mcc_loaded *l = core->loaded;
    if (l == NULL) {
        l = calloc(1, sizeof(*l));
        if (l == NULL)
            return mcc_err_set(err, "out of memory");
        core->loaded = l;
    }
    if (mcc_core_instance_find(core, inst->name) != NULL)
        return mcc_err_set(err, "instance \"%s\" exists already", inst->name);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        mcc_instance **items = realloc(l->items, cap * sizeof(*items));
        if (items == NULL)
            return mcc_err_set(err, "out of memory");
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = inst;
    return MCC_OK;
}

void mcc_core_instance_replace(mcc_core *core, size_t i, mcc_instance *inst)
{
    core->loaded->items[i] = inst;
}

mcc_instance *mcc_core_instance_find(const mcc_core *core, const char *name)
{
    if (core->loaded == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < core->loaded->n; i++)
        if (strcmp(core->loaded->items[i]->name, name) == 0)
            return core->loaded->items[i];
    return NULL;
}

size_t mcc_core_instance_count(const mcc_core *core)
{
    return core->loaded != NULL ? core->loaded->n : 0;
}

mcc_instance *mcc_core_instance_at(const mcc_core *core, size_t i)
{
    return i < mcc_core_instance_count(core) ? core->loaded->items[i] : NULL;
}

int mcc_core_instances_create(mcc_core *core, mcc_err *err)
{
    const mcc_settings *s = &core->settings;
    for (unsigned i = 0; i < s->ninstances; i++) {
        const mcc_instance_conf *ic = &s->instances[i];
        if (!ic->enabled)
            continue;
        char keypath[128];
        snprintf(keypath, sizeof(keypath), "plugins.%s.config", ic->name);
        mcc_instance *inst;
        if (mcc_instance_new(core, ic->name, ic->plugin, core->config, ic->config, keypath, &inst,
                             err) != MCC_OK)
            goto fail;
        if (mcc_core_instance_add(core, inst, err) != MCC_OK) {
            mcc_instance_free(inst);
            goto fail;
        }
    }
    if (mcc_core_resolve(core, err) != MCC_OK)
        goto fail;
    return MCC_OK;

fail:
    mcc_core_instances_free(core);
    return MCC_ERROR;
}

int mcc_core_instances_start(mcc_core *core, mcc_err *err)
{
    for (size_t i = 0; i < mcc_core_instance_count(core); i++)
        if (mcc_instance_start(core->loaded->items[i], err) != MCC_OK)
            return MCC_ERROR;
    return MCC_OK;
}

void mcc_core_instances_free(mcc_core *core)
{
    struct mcc_loaded *l = core->loaded;
    memset(&core->storage, 0, sizeof(core->storage));
    core->nhosts = core->nupstreams = core->nexporters = 0;
    if (l == NULL)
        return;
    for (size_t i = l->n; i > 0; i--)
        mcc_instance_stop(l->items[i - 1]);
    for (size_t i = l->n; i > 0; i--)
        mcc_instance_free(l->items[i - 1]);
    free(l->items);
    free(l);
    core->loaded = NULL;
}

/* Finds NAME for settings key KEY and checks that it is of KIND. */
static int resolve_one(mcc_core *core, const char *key, const char *name, int kind,
                       mcc_plugin_ref *ref, mcc_err *err)
{
    const char *file = core->config != NULL ? mcc_config_source(core->config, key) : NULL;
    if (file == NULL)
        file = "<config>";
    mcc_instance *inst = mcc_core_instance_find(core, name);
    if (inst == NULL)
        return mcc_err_set(err, "%s: %s: no enabled instance \"%s\" under \"plugins\"", file, key,
                           name);
    if ((int)inst->desc->kind != kind)
        return mcc_err_set(err, "%s: %s: instance \"%s\" is a %s plugin, expected a %s plugin",
                           file, key, name, mcc_kind_name((int)inst->desc->kind),
                           mcc_kind_name(kind));
    mcc_instance_ref(inst, ref);
    return MCC_OK;
}

int mcc_core_resolve(mcc_core *core, mcc_err *err)
{
    const mcc_settings *s = &core->settings;
    char key[64];

    memset(&core->storage, 0, sizeof(core->storage));
    core->nhosts = core->nupstreams = core->nexporters = 0;
    if (s->storage[0] != '\0' && resolve_one(core, "cache.storage", s->storage, MCC_KIND_STORAGE,
                                             &core->storage, err) != MCC_OK)
        return MCC_ERROR;
    for (unsigned i = 0; i < s->nhosts && i < MCC_MAX_ORDER; i++) {
        snprintf(key, sizeof(key), "cache.hosts[%u]", i);
        if (resolve_one(core, key, s->hosts[i], MCC_KIND_HOSTS, &core->hosts[core->nhosts], err) !=
            MCC_OK)
            return MCC_ERROR;
        core->nhosts++;
    }
    for (unsigned i = 0; i < s->nupstreams && i < MCC_MAX_ORDER; i++) {
        snprintf(key, sizeof(key), "cache.upstreams[%u]", i);
        if (resolve_one(core, key, s->upstreams[i], MCC_KIND_UPSTREAM,
                        &core->upstreams[core->nupstreams], err) != MCC_OK)
            return MCC_ERROR;
        core->nupstreams++;
    }
    for (size_t i = 0; i < mcc_core_instance_count(core); i++) {
        mcc_instance *inst = core->loaded->items[i];
        if (inst->desc->kind == MCC_KIND_EXPORTER && core->nexporters < MCC_MAX_INSTANCES)
            mcc_instance_ref(inst, &core->exporters[core->nexporters++]);
    }
    return MCC_OK;
}
