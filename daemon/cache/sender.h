/* Senders: threads beside the event loop that write large stored bodies to clients.
 *
 * A 1 MiB range is one sendfile, and nearly all of its cost is the kernel's (page cache
 * lookups, building and delivering the segments). On the loop that work is serial: while it
 * sends one range, every other client waits. A job hands a sender a response's pending header
 * bytes and a span of a stored file; the sender writes both on its own copies of the two
 * descriptors, so that nothing the loop closes meanwhile can redirect its writes, and tells the
 * loop when it is done. Everything else about the connection stays on the loop. */
#ifndef MCC_CACHE_SENDER_H
#define MCC_CACHE_SENDER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct mcc_senders mcc_senders;
typedef struct mcc_sendjob mcc_sendjob;

struct mcc_sendjob {
    mcc_sendjob *next; /* in a queue; owned by whichever side holds the job */
    void *owner;       /* the loop's: the response it belongs to */
    int sock, file;    /* the job's own descriptors (closed when it is done) */
    uint64_t off, len; /* the span of FILE to send */
    char *head;        /* bytes that go first (the response's headers), or NULL */
    size_t head_len;
    /* the sender's progress; read by the loop once the job is done */
    size_t head_sent;
    uint64_t sent;
    int error; /* errno of the write that failed, or 0 */
    atomic_int cancel;
    int armed;           /* the sender's: in its epoll set */
    int64_t deadline_ms; /* the sender's: fails with ETIMEDOUT if the client takes nothing */
    unsigned thread;
    unsigned loop; /* where it goes back when done: mcc_senders_loop_of (0: the first loop) */
};

#define MCC_SENDERS_MAX_LOOPS 64

/* Called on the job's loop for every job that ended: sent, failed or cancelled. */
typedef void (*mcc_send_done_fn)(mcc_sendjob *job, void *arg);

/* THREADS sender threads reporting to BASE; a job whose client takes no byte for STALL_MS
 * fails. NULL on failure (logged). */
mcc_senders *mcc_senders_new(struct event_base *base, unsigned threads, uint64_t stall_ms,
                             mcc_send_done_fn done, void *arg);
unsigned mcc_senders_count(const mcc_senders *s);
/* Jobs of connections on BASE, another event loop, go back to it (its own eventfd) rather than
 * to the first loop's. MCC_OK, or MCC_ERROR when out of descriptors or past
 * MCC_SENDERS_MAX_LOOPS. */
int mcc_senders_add_loop(mcc_senders *s, struct event_base *base);
/* The index of BASE's loop for mcc_sendjob.loop: 0 for the first loop, or one not added. */
unsigned mcc_senders_loop_of(const mcc_senders *s, const struct event_base *base);
/* CPU time (user and system) the threads have used, in seconds, all together. */
double mcc_senders_cpu_seconds(const mcc_senders *s);
/* A job over dups of SOCK and FILE, with HEAD_LEN bytes of HEAD copied; NULL when out of
 * descriptors or memory (the caller sends on the loop instead). */
mcc_sendjob *mcc_sendjob_new(int sock, int file, uint64_t off, uint64_t len, const void *head,
                             size_t head_len);
void mcc_sendjob_free(mcc_sendjob *job);
void mcc_senders_submit(mcc_senders *s, mcc_sendjob *job);
/* Stops JOB soon; DONE still comes, with what was sent. */
void mcc_senders_cancel(mcc_senders *s, mcc_sendjob *job);
/* Cancels every job, stops the threads and calls DONE for the jobs still out. */
void mcc_senders_free(mcc_senders *s);

#endif
