/* Binding an evhttp server to a configured "addr:port" or "[v6addr]:port". */
#ifndef MCC_LISTEN_H
#define MCC_LISTEN_H

#include <stddef.h>

#include <mcc/plugin.h>

struct evhttp;
struct event_base;

/* Splits ADDR into host (brackets removed) and port. MCC_OK or MCC_ERROR. */
int mcc_listen_split(const char *addr, char *host, size_t hostlen, unsigned *port);

/* Binds HTTP to ADDR. On MCC_OK and BOUND not NULL, writes the bound address (the real port
 * when ADDR asked for port 0) as "addr:port" or "[addr]:port". WHAT names the listener in
 * errors. */
int mcc_listen_bind(struct evhttp *http, struct event_base *base, const char *addr,
                    const char *what, char *bound, size_t boundlen, mcc_err *err);

/* Pauses accepting on HTTP's listeners while the process is out of file descriptors (EMFILE,
 * ENFILE), and resumes after a short while, instead of spinning on a readable socket. */
void mcc_listen_guard(struct evhttp *http);

#endif
