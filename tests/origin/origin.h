/* mcc-test-origin: a small HTTP origin for integration tests that serves files from a directory
 * with exact Range and validator behaviour, pacing and faults, and logs every byte it sends. */
#ifndef MCC_TEST_ORIGIN_H
#define MCC_TEST_ORIGIN_H

#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/http.h>

/* Ways the origin can misbehave on purpose. The table in origin_fault.c names them for --fault,
 * for the per-request query parameter (--fault-by-query) and the Host form (--fault-by-host). */
typedef enum origin_fault_kind {
    ORIGIN_FAULT_NONE = 0,
    ORIGIN_FAULT_RESET_AFTER,     /* send ARG body bytes, then abort the connection with a RST */
    ORIGIN_FAULT_CLOSE_AFTER,     /* send ARG body bytes, then close (a body short of its length) */
    ORIGIN_FAULT_IGNORE_RANGE,    /* answer every ranged GET with 200 and the whole body */
    ORIGIN_FAULT_STALL_HEADERS,   /* wait ARG ms before the status line */
    ORIGIN_FAULT_STALL_AFTER,     /* send ARG body bytes, then nothing until the peer goes */
    ORIGIN_FAULT_DRIP,            /* ARG body bytes per second */
    ORIGIN_FAULT_LONG_BODY,       /* ARG bytes more than Content-Length says */
    ORIGIN_FAULT_WRONG_START,     /* 206 for a range ARG bytes later than the one asked */
    ORIGIN_FAULT_WRONG_TOTAL,     /* 206 whose Content-Range total is ARG */
    ORIGIN_FAULT_CHANGE_AFTER,    /* after ARG such GETs, serve FILE.v2 (another version) */
    ORIGIN_FAULT_KEEP_VALIDATORS, /* FILE.v2 keeps the ETag and Last-Modified of FILE */
    ORIGIN_FAULT_STATUS,          /* answer status ARG with an empty body */
    ORIGIN_FAULT_RETRY_AFTER,     /* add "Retry-After: ARG" */
    ORIGIN_FAULT_REDIRECT_LOOP,   /* 302 to the very same target */
    ORIGIN_FAULT_BIG_HEADERS,     /* ARG bytes of extra header lines */
    ORIGIN_FAULT_GARBAGE,         /* ARG pseudo-random bytes instead of HTTP, then close */
    ORIGIN_FAULT_BAD_STATUS,      /* "HTTP/1.1 abc" instead of a status line, then close */
    ORIGIN_FAULT_KINDS
} origin_fault_kind;

/* The faults one response suffers: a set, as several combine (reset-after with change-after,
 * status with retry-after). */
typedef struct origin_faults {
    uint32_t on; /* bit (1u << kind) per fault */
    uint64_t arg[ORIGIN_FAULT_KINDS];
} origin_faults;

#define ORIGIN_FAULT_HAS(set, kind) (((set)->on & (1u << (kind))) != 0)

/* GETs carrying change-after seen so far for one path (the version it is at). */
typedef struct origin_count {
    struct origin_count *next;
    uint64_t gets;
    char path[]; /* the request path without its query */
} origin_count;

typedef struct origin_ctx {
    struct event_base *base;
    struct evhttp *http;
    char root[4096];
    FILE *log;          /* one line per finished request; NULL: no log */
    uint64_t rate;      /* body bytes per second per response; 0 = unthrottled */
    uint64_t delay_ms;  /* before the status line and headers */
    origin_faults faults; /* --fault: every request, or up to the first fault_count GETs */
    uint64_t fault_count; /* 0: every GET */
    uint64_t gets;        /* GET requests seen so far */
    origin_count *change_gets; /* per path: GETs seen so far that carried change-after */
    int by_query;         /* honour ?fault=SPEC[,SPEC...] */
    int by_host;          /* honour Host: NAME[.N]...(.other labels) */
} origin_ctx;

/* The evhttp generic callback: answers one request from ctx->root. */
void origin_serve(struct evhttp_request *req, void *ctx);

/* Frees ctx->change_gets. */
void origin_counts_free(origin_ctx *ctx);

/* A non-negative decimal with an optional K/M/G (powers of 1024) suffix. 0 or -1. */
int origin_parse_u64(const char *s, uint64_t *out);

/* Adds the faults of SPEC, "NAME[=N]" items separated by SEP, to OUT. 0, or -1 on a name it
 * does not know or an argument missing, unexpected or malformed. */
int origin_faults_parse(const char *spec, char sep, origin_faults *out);

/* Adds the faults named by the leading labels of HOST ("reset-after.300000.change-after.1.x.test":
 * NAME, then N for a fault that takes one) to OUT, up to the first label that names none; a port
 * is ignored. Returns the number of faults added, -1 when a fault lacks its number. */
int origin_faults_parse_host(const char *host, origin_faults *out);

/* One help line per fault, indented by INDENT spaces. */
void origin_faults_usage(FILE *out, int indent);

#endif
