/* The content listener: accepts device requests and hands them to the cache pipeline. */
#ifndef MCC_FRONT_H
#define MCC_FRONT_H

#include "core/core.h"

struct mcc_front;

/* Binds settings.listen_content on core->base and serves content requests. NULL + err when the
 * address cannot be bound. */
struct mcc_front *mcc_front_new(mcc_core *core, mcc_err *err);
/* The bound content address, "addr:port". */
const char *mcc_front_address(const struct mcc_front *front);
/* Closes the listener and every client connection; transfers in flight are cancelled. */
void mcc_front_free(struct mcc_front *front);

#endif
