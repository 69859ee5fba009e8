/* Test plugins: a small in-memory storage backend with one deliberate defect each, for the
 * conformance kit to catch. broken_storage_base.c is the backend, the other files its variants. */
#ifndef MCC_TEST_BROKEN_STORAGE_H
#define MCC_TEST_BROKEN_STORAGE_H

#include <mcc/mcc.h>

enum bs_defect {
    BS_STALE = 1, /* create() of a stored key reuses the old object: its bytes show through */
    BS_EARLY = 2  /* has_slice() says 1 once a slice is written, before its commit */
};

/* The plugin's create with DEFECT built in; config: "size" (byte limit, default 1MiB). */
int bs_plugin_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                     mcc_err *err, int defect);
void bs_plugin_destroy(void *state);
extern const mcc_storage_ops bs_ops;

#endif
