/* The content listener: accepts device requests and hands them to the cache pipeline. */
#ifndef MCC_FRONT_H
#define MCC_FRONT_H

#include "core/core.h"

struct mcc_front;

/* Binds settings.listen_content on core->base and serves content requests. NULL + err when the
 * address cannot be bound. */
struct mcc_front *mcc_front_new(mcc_core *core, mcc_err *err);
/* Starts N - 1 more event loops, each on a thread of its own, answering the same listener
 * (cache.loops). The caller holds the daemon lock (core/lock.h) and runs core->base. Where
 * libevent's waits cannot release the lock, warns and keeps one loop. */
int mcc_front_start_loops(struct mcc_front *front, unsigned n, mcc_err *err);
/* Stops the loops started above and waits for their threads; their connections stay open
 * until mcc_front_free. The caller holds the daemon lock, or no loop runs. */
void mcc_front_stop_loops(struct mcc_front *front);
/* Event loops answering clients, the daemon's own included. */
unsigned mcc_front_loops(const struct mcc_front *front);
/* CPU time (user and system) of the loops started above, together, in seconds. */
double mcc_front_loops_cpu_seconds(const struct mcc_front *front);
/* The bound content address, "addr:port". */
const char *mcc_front_address(const struct mcc_front *front);
/* Closes the listener and every client connection; transfers in flight are cancelled. */
void mcc_front_free(struct mcc_front *front);

#endif
