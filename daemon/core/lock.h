/* The daemon lock: what lets mccd run more than one event loop.
 *
 * Each loop (cache.loops) owns its own client connections, but the rest of the daemon (the index,
 * the in-flight transfers that feed clients on every loop, the plugins, the metrics) is shared
 * and written for one thread at a time. So a loop's thread holds this lock whenever it runs, and
 * lets go of it only where it would otherwise sit in the kernel: while it waits for events, and
 * while it writes a small stored body to its client (serve.c). The loops' waiting and their
 * sends overlap; the parsing, the pipeline and the plugins take turns. libevent is made
 * thread-safe (evthread_use_pthreads) so that a loop may touch another loop's connections, as
 * a transfer does for the clients that wait on it. */
#ifndef MCC_CORE_LOCK_H
#define MCC_CORE_LOCK_H

struct event_base;

void mcc_lock(void);
void mcc_unlock(void);
/* 1 when the calling thread holds the lock. */
int mcc_lock_held(void);
/* Time threads have spent waiting for the lock while another held it, together, in seconds. */
double mcc_lock_wait_seconds(void);

/* 1 when libevent's waits on BASE go through mcc's epoll_wait, which lets go of the lock while
 * the thread waits; 0 (and more than one loop would deadlock) when BASE does not use epoll, or
 * when the dynamic linker binds libevent's epoll_wait elsewhere. */
int mcc_lock_waits_release(struct event_base *base);

#endif
