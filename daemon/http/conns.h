/* Connection accounting for the content listener: the connection limit and the deadline for a
 * complete request (http/conns.c). */
#ifndef MCC_CONNS_H
#define MCC_CONNS_H

#include <stdint.h>

struct event_base;
struct evhttp;
struct evhttp_request;

typedef struct mcc_conns mcc_conns;

/* Makes every connection of HTTP through itself. Connections beyond MAX are answered 503 and
 * closed; one with no request being answered for TIMEOUT_MS (idle, or trickling its headers)
 * is closed. NULL on out-of-memory. */
mcc_conns *mcc_conns_new(struct event_base *base, struct evhttp *http, unsigned max,
                         uint64_t timeout_ms);
/* Counts the connections of one more server, HTTP, against the same limit: the content
 * listener of another event loop. The sweep stays on the first one's loop. */
void mcc_conns_attach(mcc_conns *c, struct evhttp *http);
/* After evhttp_free: lets go of every connection. */
void mcc_conns_free(mcc_conns *c);
/* REQ arrived: its connection is busy until REQ is answered. Returns 1 when the connection is
 * over the limit (answer 503 and close). */
int mcc_conns_request(mcc_conns *c, struct evhttp_request *req);
/* Connections open now, refused for the limit, and cut for the deadline since start. */
void mcc_conns_counts(const mcc_conns *c, unsigned *open, uint64_t *refused, uint64_t *cut);

#endif
