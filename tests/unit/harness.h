/* A real core context for unit tests of plugins: event loop, metrics, the host API table and the
 * real loader, without listeners. Plugins are loaded from the build tree's plugin directory. */
#ifndef MCC_TEST_HARNESS_H
#define MCC_TEST_HARNESS_H

#include <stddef.h>

#include <event2/event.h>

#include "core/core.h"

typedef struct mcc_harness mcc_harness;

mcc_harness *mcc_harness_new(void);
/* Stops and destroys every instance loaded, then frees the context. */
void mcc_harness_free(mcc_harness *h);
struct event_base *mcc_harness_base(mcc_harness *h);
mcc_core *mcc_harness_core(mcc_harness *h);

/* Loads plugin PLUGIN (a name in the build tree's plugin dir, or a path to a .so) through the
 * real loader, creates an instance named NAME with CONFIG_JSON (the "config" object as JSON text,
 * or NULL) and starts it. MCC_OK with *out filled, else MCC_ERROR with the loader's message in
 * ERR (the same text mccd prints). */
int mcc_harness_load(mcc_harness *h, const char *plugin, const char *name,
                     const char *config_json, mcc_plugin_ref *out, mcc_err *err);

/* Removes PATH and everything below it (a test's temporary directory); links are not followed. */
void mcc_harness_rm_tree(const char *path);

/* Runs the loop until DONE becomes non-zero or TIMEOUT_MS passes; returns *done. */
int mcc_harness_run_until(mcc_harness *h, const int *done, unsigned timeout_ms);

#endif
