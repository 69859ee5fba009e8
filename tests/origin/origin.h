/* mcc-test-origin: a small HTTP origin for integration tests that serves files from a directory
 * with exact Range and validator behaviour, pacing and faults, and logs every byte it sends. */
#ifndef MCC_TEST_ORIGIN_H
#define MCC_TEST_ORIGIN_H

#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/http.h>

/* Ways the origin can misbehave on purpose. The table in origin_main.c maps --fault names onto
 * these; per-request control (query or path) can later resolve to the same struct. */
typedef enum origin_fault_kind {
    ORIGIN_FAULT_NONE = 0,
    ORIGIN_FAULT_RESET_AFTER,  /* send ARG body bytes, then abort the connection with a RST */
    ORIGIN_FAULT_CLOSE_AFTER,  /* send ARG body bytes, then close the connection (FIN) */
    ORIGIN_FAULT_IGNORE_RANGE  /* answer every ranged GET with 200 and the whole body */
} origin_fault_kind;

typedef struct origin_fault {
    origin_fault_kind kind;
    uint64_t arg;
} origin_fault;

typedef struct origin_ctx {
    struct event_base *base;
    struct evhttp *http;
    char root[4096];
    FILE *log;          /* one line per finished request; NULL: no log */
    uint64_t rate;      /* body bytes per second per response; 0 = unthrottled */
    uint64_t delay_ms;  /* before the status line and headers */
    origin_fault fault; /* applies to every request, or up to the first fault_count GETs */
    uint64_t fault_count; /* 0: every GET */
    uint64_t gets;        /* GET requests seen so far */
} origin_ctx;

/* The evhttp generic callback: answers one request from ctx->root. */
void origin_serve(struct evhttp_request *req, void *ctx);

#endif
