/* Plugin instances: one per enabled block under "plugins", each with its loaded module, private
 * state and lifecycle (create -> start -> stop -> destroy), and the core's ordered list of them. */
#ifndef MCC_INSTANCE_H
#define MCC_INSTANCE_H

#include "core/core.h"
#include "core/loader.h"

enum mcc_instance_phase {
    MCC_INSTANCE_CREATED = 0,
    MCC_INSTANCE_STARTED = 1,
    MCC_INSTANCE_STOPPED = 2,
};

struct mcc_timer;

/* The daemon's side of a plugin instance (opaque to plugins). */
struct mcc_instance {
    char name[64];
    char prefix[72]; /* "[name] " for log lines */
    mcc_core *core;
    mcc_module *module;
    const mcc_plugin *desc;
    void *state;
    int phase;                /* enum mcc_instance_phase */
    struct mcc_timer *timers; /* live timers the instance made (host.c) */
};

/* The host API table every plugin gets (core/host.c). */
const mcc_host *mcc_host_table(void);
/* Frees timers the instance left behind (after destroy), with a warning. */
void mcc_host_timers_reap(mcc_instance *inst);

/* Creates instance NAME of PLUGIN (a name in core->settings.plugin_dir, or a path containing
 * '/'): loads the module, makes a config node of CONFIG (an item of CFG at KEYPATH, reported in
 * errors; NULL means an empty object), calls create and refuses keys create did not read.
 * Errors: the loader's "<file>: <reason>", or "<name> (<file>): <message>". */
int mcc_instance_new(mcc_core *core, const char *name, const char *plugin, const mcc_config *cfg,
                     cJSON *config, const char *keypath, mcc_instance **out, mcc_err *err);
/* start(core->base). Errors: "<name> (<file>): <message>". */
int mcc_instance_start(mcc_instance *inst, mcc_err *err);
/* stop, once, when started; the instance's admin routes are dropped. */
void mcc_instance_stop(mcc_instance *inst);
/* Stops when still started, destroys, unloads. NULL is fine. */
void mcc_instance_free(mcc_instance *inst);
/* The view other layers use. */
void mcc_instance_ref(mcc_instance *inst, mcc_plugin_ref *out);

/* --- The core's instances (core->loaded) ------------------------------------------------------ */

/* Creates every enabled instance of core->settings in config order, then resolves core->storage,
 * hosts, upstreams and exporters. On error every instance made so far is destroyed. */
int mcc_core_instances_create(mcc_core *core, mcc_err *err);
/* Appends a created instance to core->loaded (the core owns it from then on). */
int mcc_core_instance_add(mcc_core *core, mcc_instance *inst, mcc_err *err);
/* Starts every instance in order. On error the ones started are left for instances_free. */
int mcc_core_instances_start(mcc_core *core, mcc_err *err);
/* Stops all in reverse order, then destroys all in reverse order; clears the resolved refs. */
void mcc_core_instances_free(mcc_core *core);
/* Resolves cache.storage, cache.hosts, cache.upstreams (checking kinds) and the exporters. */
int mcc_core_resolve(mcc_core *core, mcc_err *err);
/* Puts INST at position I of core->loaded in place of the instance there (which the caller
 * keeps). */
void mcc_core_instance_replace(mcc_core *core, size_t i, mcc_instance *inst);
/* The instance named NAME, or NULL. */
mcc_instance *mcc_core_instance_find(const mcc_core *core, const char *name);
size_t mcc_core_instance_count(const mcc_core *core);
mcc_instance *mcc_core_instance_at(const mcc_core *core, size_t i);

#endif
