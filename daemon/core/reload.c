/* Configuration reload (SIGHUP): a valid new conf.d takes effect without dropping connections or
 * the cache; an invalid one is refused and the running configuration stays. Host rules,
 * upstreams, the freshness policy and the tunables are replaced; what binds sockets or holds the
 * cache (listeners, storage, paths, plugin directory, exporters, other policies) needs a
 * restart and is reported as such. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "core/instance.h"
#include "core/reload.h"

#define RELOAD_MAX_NEW (2 * MCC_MAX_ORDER + 1)

/* Instances replaced by a reload: in-flight transfers may still call them, so they stay until
 * nothing is in flight. */
struct mcc_retired {
    mcc_instance *items[64];
    size_t n;
};

static const mcc_instance_conf *reload_find(const mcc_settings *s, const char *name)
{
    for (unsigned i = 0; i < s->ninstances; i++)
        if (strcmp(s->instances[i].name, name) == 0 && s->instances[i].enabled)
            return &s->instances[i];
    return NULL;
}

/* Is instance NAME configured the same way in both? */
static int reload_same_instance(const mcc_settings *a, const mcc_settings *b, const char *name)
{
    const mcc_instance_conf *x = reload_find(a, name), *y = reload_find(b, name);
    if (x == NULL || y == NULL)
        return x == y;
    if (strcmp(x->plugin, y->plugin) != 0)
        return 0;
    if (x->config == NULL || y->config == NULL)
        return x->config == y->config;
    return cJSON_Compare(x->config, y->config, 1);
}

static void reload_restart_notes(const mcc_settings *old, const mcc_settings *new_)
{
    struct {
        const char *key, *a, *b;
    } fixed[] = {
        {"listen.content", old->listen_content, new_->listen_content},
        {"listen.admin", old->listen_admin, new_->listen_admin},
        {"paths.cache_root", old->cache_root, new_->cache_root},
        {"paths.plugin_dir", old->plugin_dir, new_->plugin_dir},
        {"cache.storage", old->storage, new_->storage},
        {"log.access_log", old->access_log, new_->access_log},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp(fixed[i].a, fixed[i].b) != 0)
            mcc_log(MCC_LOG_WARN, "reload: %s changed; it takes effect at the next restart",
                    fixed[i].key);
    if (old->slice_size != new_->slice_size)
        mcc_log(MCC_LOG_WARN, "reload: cache.slice_size changed; it takes effect at the next "
                              "restart");
    if (old->send_threads != new_->send_threads)
        mcc_log(MCC_LOG_WARN, "reload: cache.send_threads changed; it takes effect at the next "
                              "restart");
    if (old->loops != new_->loops)
        mcc_log(MCC_LOG_WARN, "reload: cache.loops changed; it takes effect at the next restart");
    /* instances that are not replaced: storage, exporters, policies other than freshness */
    for (unsigned i = 0; i < old->ninstances; i++) {
        const char *name = old->instances[i].name;
        int replaced = strcmp(name, new_->freshness_policy) == 0;
        for (unsigned j = 0; j < new_->nhosts; j++)
            replaced |= strcmp(name, new_->hosts[j]) == 0;
        for (unsigned j = 0; j < new_->nupstreams; j++)
            replaced |= strcmp(name, new_->upstreams[j]) == 0;
        if (!replaced && !reload_same_instance(old, new_, name))
            mcc_log(MCC_LOG_WARN, "reload: plugins.%s changed; it takes effect at the next restart",
                    name);
    }
}

static void reload_reap(mcc_core *core)
{
    struct mcc_retired *r = core->retired;
    if (r == NULL || r->n == 0)
        return;
    mcc_cache_counts counts = {0};
    if (core->cache != NULL)
        mcc_cache_get_counts(core->cache, &counts);
    if (counts.transfers > 0 || counts.serves > 0)
        return;
    for (size_t i = 0; i < r->n; i++)
        mcc_instance_free(r->items[i]);
    r->n = 0;
}

/* Creates and starts the instance NAME of NEW_ (not yet in core->loaded). */
static int reload_create(mcc_core *core, const mcc_config *cfg, const mcc_settings *new_,
                         const char *name, mcc_instance **out, mcc_err *err)
{
    const mcc_instance_conf *ic = reload_find(new_, name);
    if (ic == NULL)
        return mcc_err_set(err, "no enabled instance \"%s\" under \"plugins\"", name);
    char keypath[96];
    snprintf(keypath, sizeof(keypath), "plugins.%s.config", name);
    if (mcc_instance_new(core, name, ic->plugin, cfg, ic->config, keypath, out, err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_instance_start(*out, err) != MCC_OK) {
        mcc_instance_free(*out);
        *out = NULL;
        return MCC_ERROR;
    }
    return MCC_OK;
}

static int reload_kind_ok(mcc_instance *inst, int kind, const char *name, mcc_err *err)
{
    if ((int)inst->desc->kind == kind)
        return MCC_OK;
    return mcc_err_set(err, "instance \"%s\" is a %s plugin, expected a %s plugin", name,
                       mcc_kind_name((int)inst->desc->kind), mcc_kind_name(kind));
}

/* Puts NEW in the place of the loaded instance of the same name (or appends it) and retires the
 * old one. */
static int reload_install(mcc_core *core, mcc_instance *inst, mcc_err *err)
{
    for (size_t i = 0; i < mcc_core_instance_count(core); i++) {
        mcc_instance *old = mcc_core_instance_at(core, i);
        if (strcmp(old->name, inst->name) != 0)
            continue;
        struct mcc_retired *r = core->retired;
        if (r->n == sizeof(r->items) / sizeof(r->items[0]))
            return mcc_err_set(err, "too many reloads with transfers in flight; try again");
        r->items[r->n++] = old;
        mcc_core_instance_replace(core, i, inst);
        return MCC_OK;
    }
    return mcc_core_instance_add(core, inst, err);
}

int mcc_core_reload(mcc_core *core, mcc_config *cfg, mcc_settings *new_, mcc_err *err)
{
    mcc_instance *made[RELOAD_MAX_NEW];
    const char *names[RELOAD_MAX_NEW];
    int kinds[RELOAD_MAX_NEW];
    size_t n = 0;

    if (core->retired == NULL && (core->retired = calloc(1, sizeof(struct mcc_retired))) == NULL)
        return mcc_err_set(err, "out of memory");
    reload_reap(core);
    /* the restart-only parts keep their running values */
    memcpy(new_->listen_content, core->settings.listen_content, sizeof(new_->listen_content));
    memcpy(new_->listen_admin, core->settings.listen_admin, sizeof(new_->listen_admin));
    reload_restart_notes(&core->settings, new_);

    for (unsigned i = 0; i < new_->nhosts; i++) {
        names[n] = new_->hosts[i];
        kinds[n++] = MCC_KIND_HOSTS;
    }
    for (unsigned i = 0; i < new_->nupstreams; i++) {
        names[n] = new_->upstreams[i];
        kinds[n++] = MCC_KIND_UPSTREAM;
    }
    if (new_->freshness_policy[0] != '\0') {
        names[n] = new_->freshness_policy;
        kinds[n++] = MCC_KIND_POLICY;
    }
    /* everything new is made first: any failure leaves the running configuration untouched */
    size_t made_n = 0;
    for (size_t i = 0; i < n; i++) {
        mcc_instance *inst = NULL;
        for (size_t j = 0; j < made_n; j++) /* the same instance named twice */
            if (strcmp(made[j]->name, names[i]) == 0)
                inst = made[j];
        if (inst == NULL) {
            if (reload_create(core, cfg, new_, names[i], &inst, err) != MCC_OK)
                goto undo;
            made[made_n++] = inst;
        }
        if (reload_kind_ok(inst, kinds[i], names[i], err) != MCC_OK)
            goto undo;
    }
    if (core->cache != NULL && mcc_cache_check_freshness(core, made, made_n, new_, err) != MCC_OK)
        goto undo;

    for (size_t j = 0; j < made_n; j++) {
        if (reload_install(core, made[j], err) != MCC_OK) {
            /* installed ones are live already; the rest are dropped */
            for (size_t k = j; k < made_n; k++)
                mcc_instance_free(made[k]);
            return MCC_ERROR;
        }
    }
    mcc_config *old_cfg = core->config;
    memcpy(new_->storage, core->settings.storage, sizeof(new_->storage));
    core->settings = *new_;
    core->config = cfg;
    /* the storage reference is the running one; hosts, upstreams and exporters are re-read */
    mcc_plugin_ref storage = core->storage;
    if (mcc_core_resolve(core, err) != MCC_OK)
        mcc_log(MCC_LOG_ERROR, "reload: %s", err->msg);
    core->storage = storage;
    if (core->cache != NULL)
        mcc_cache_settings_changed(core->cache);
    mcc_log_set_level(core->settings.log_level);
    mcc_config_free(old_cfg);
    reload_reap(core);
    return MCC_OK;

undo:
    for (size_t j = 0; j < made_n; j++)
        mcc_instance_free(made[j]);
    return MCC_ERROR;
}

void mcc_core_retired_free(mcc_core *core)
{
    struct mcc_retired *r = core->retired;
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        mcc_instance_free(r->items[i]);
    free(r);
    core->retired = NULL;
}
