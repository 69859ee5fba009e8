/* Upstream transfers: libcurl's multi interface driven by the daemon's libevent loop. */
#ifndef MCC_FETCH_H
#define MCC_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <mcc/upstream.h>

typedef struct mcc_fetcher mcc_fetcher; /* one per loop: the curl multi handle */
typedef struct mcc_fetch mcc_fetch;     /* one transfer */

#define MCC_RANGE_NONE UINT64_MAX

typedef struct mcc_fetch_cbs {
    /* The final response's status line and headers are complete (after redirects). Return
     * MCC_OK to receive the body, MCC_ERROR to abort (on_done follows with MCC_FETCH_BROKEN,
     * unless the caller cancelled). */
    int (*on_headers)(void *arg, mcc_fetch *f, int status);
    /* Body bytes, in order. Return MCC_OK when all LEN were taken, or MCC_AGAIN to pause the
     * transfer without taking them (they are delivered again after mcc_fetch_resume, possibly
     * from inside that call). Any other return aborts (on_done with MCC_FETCH_BROKEN). */
    int (*on_data)(void *arg, mcc_fetch *f, const char *buf, size_t len);
    /* The transfer ended: mcc_fetch_outcome, and libcurl's message when it failed. Called exactly
     * once unless the transfer was cancelled; F is freed right after it returns. */
    void (*on_done)(void *arg, mcc_fetch *f, int outcome, const char *errmsg);
} mcc_fetch_cbs;

/* The first call runs curl_global_init, which is not thread-safe: make the first fetcher on the
 * main thread before other threads start. NULL with ERRBUF filled on failure. */
mcc_fetcher *mcc_fetcher_new(struct event_base *base, char *errbuf, size_t errlen);
/* Cancels every transfer still running (no callbacks) and frees the multi handle. Not from
 * inside a fetch callback. */
void mcc_fetcher_free(mcc_fetcher *fr);

/* Starts METHOD ("GET"/"HEAD") of PLAN (url, proxy, connect_to, headers, timeouts, redirects).
 * The range [FIRST, LAST] (inclusive) is requested when FIRST is not MCC_RANGE_NONE; LAST may be
 * MCC_RANGE_NONE for "FIRST-". EXTRA is a NULL-terminated list of more "Name: value" headers
 * (validators), may be NULL. Returns NULL only when libcurl refuses the setup. Callbacks are
 * never called from within mcc_fetch_start. */
mcc_fetch *mcc_fetch_start(mcc_fetcher *fr, const mcc_fetch_plan *plan, const char *method,
                           uint64_t first, uint64_t last, const char *const *extra,
                           const mcc_fetch_cbs *cbs, void *arg);
/* Holds the transfer's body (as on_data returning MCC_AGAIN does) until mcc_fetch_resume. */
/* The same for any METHOD (a token of capital letters, e.g. "POST", "DELETE"), with a request
 * BODY of BODY_LEN bytes (copied; NULL for none). Used to forward requests the cache does not
 * store. */
mcc_fetch *mcc_fetch_start_body(mcc_fetcher *fr, const mcc_fetch_plan *plan, const char *method,
                                uint64_t first, uint64_t last, const char *const *extra,
                                const void *body, size_t body_len, const mcc_fetch_cbs *cbs,
                                void *arg);
void mcc_fetch_pause(mcc_fetch *f);
/* Lets a paused transfer go on. Note: libcurl hands the bytes it held back to on_data (and
 * on_headers when it was paused before them) synchronously, from inside this call. Called from
 * inside on_headers or on_data (of any transfer), the resume is deferred to the loop instead. */
void mcc_fetch_resume(mcc_fetch *f);
/* Stops the transfer now; no callback is called afterwards; F is freed. Safe inside callbacks
 * (of F or of another transfer): then the libcurl handle is released once they return. */
void mcc_fetch_cancel(mcc_fetch *f);

/* Response headers of the final response, valid from on_headers until on_done returns.
 * Lookup is case-insensitive; the last header of that name wins; NULL when absent. */
const char *mcc_fetch_header(const mcc_fetch *f, const char *name);
/* Visits every header of the final response in arrival order. */
void mcc_fetch_headers_visit(const mcc_fetch *f,
                             void (*fn)(void *arg, const char *name, const char *value), void *arg);
/* Milliseconds from start until the final response's headers arrived (0 before). */
uint64_t mcc_fetch_header_ms(const mcc_fetch *f);
/* Bytes of body received so far. */
uint64_t mcc_fetch_body_bytes(const mcc_fetch *f);
/* The URL of the final response (after redirects), owned by F; valid until on_done returns. */
const char *mcc_fetch_effective_url(const mcc_fetch *f);

#endif
