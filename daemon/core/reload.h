/* Configuration reload on SIGHUP (core/reload.c). */
#ifndef MCC_RELOAD_H
#define MCC_RELOAD_H

#include "core/core.h"

/* Applies the already validated CFG / NEW_ (NEW_ from mcc_settings_load of CFG): new host-rule,
 * upstream and freshness instances are created and started first; only when all succeed do
 * they replace the running ones, and CFG becomes core->config (taken over). On MCC_ERROR
 * nothing changed and CFG is still the caller's. */
int mcc_core_reload(mcc_core *core, mcc_config *cfg, mcc_settings *new_, mcc_err *err);
/* Frees instances replaced by reloads (at shutdown). */
void mcc_core_retired_free(mcc_core *core);

#endif
