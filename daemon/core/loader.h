/* The plugin loader: opens a shared object with libltdl and checks its descriptor against the
 * ABI this mccd speaks, refusing anything else with "<file>: <reason>". Main thread only. */
#ifndef MCC_LOADER_H
#define MCC_LOADER_H

#include <mcc/mcc.h>

typedef struct mcc_module mcc_module; /* one opened, checked plugin shared object */

/* Opens the plugin at PATH. NULL with err "<path>: <reason>" when it is not a loadable shared
 * object or its descriptor is refused; never crashes on a bad file. */
mcc_module *mcc_loader_open(const char *path, mcc_err *err);
/* Opens NAME as DIR/NAME.so, or NAME itself when it contains a '/' (a path). */
mcc_module *mcc_loader_open_named(const char *dir, const char *name, mcc_err *err);
/* Unloads the object; no pointer into it (descriptor, ops, strings) may be used afterwards. */
void mcc_loader_close(mcc_module *mod);

const mcc_plugin *mcc_module_desc(const mcc_module *mod);
const char *mcc_module_path(const mcc_module *mod);

/* "upstream", "storage", ... or "unknown" */
const char *mcc_kind_name(int kind);
/* Checks a descriptor as the loader does (also for descriptors not from a file). FILE names it
 * in the message. MCC_OK or MCC_ERROR with err "<file>: <reason>". */
int mcc_loader_check(const char *file, const mcc_plugin *desc, mcc_err *err);

#endif
