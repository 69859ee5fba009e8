/* Upstream transfers: libcurl's multi_socket interface driven by the daemon's libevent loop.
 * One multi handle per loop, so connections to an origin are kept and reused across transfers. */
#include "fetch/fetch.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "core/core.h"

#define FETCH_MAX_CONNECTS 64L
/* libcurl's receive buffer, one per transfer. 256 KiB took a fifth less CPU per GiB stored than
 * 64 KiB (docs/performance.md, cold single); -DFETCH_BUFFER_SIZE=... measures another. */
#ifndef FETCH_BUFFER_SIZE
#define FETCH_BUFFER_SIZE (256L * 1024)
#endif

/* One socket libcurl asked us to watch: the libevent event and the list link for cleanup. */
typedef struct fetch_sock {
    struct event *ev;
    struct fetch_sock *prev, *next;
} fetch_sock;

typedef struct fetch_header {
    char *name; /* one allocation: "name\0value\0", value points inside it */
    char *value;
} fetch_header;

struct mcc_fetcher {
    struct event_base *base;
    CURLM *multi;
    struct event *timer; /* the single timeout libcurl keeps for all its transfers */
    struct event *tidy;  /* runs work that may not happen inside libcurl's callbacks */
    int in_curl;         /* > 0 while a libcurl call that may run callbacks is on the stack */
    int busy;            /* > 0 while a libcurl call or a caller's callback is on the stack */
    mcc_fetch *live;     /* every transfer not yet freed, newest first */
    fetch_sock *socks;
};

struct mcc_fetch {
    mcc_fetcher *fr;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    mcc_fetch_cbs cbs;
    void *arg;
    mcc_fetch *prev, *next; /* fr->live */

    unsigned added : 1;         /* in the multi handle (adding waits when started in a callback) */
    unsigned cancelled : 1;     /* no callback any more; freed as soon as libcurl allows */
    unsigned finishing : 1;     /* on_done is running; freed when it returns */
    unsigned paused : 1;        /* on_data said MCC_AGAIN or mcc_fetch_pause was called */
    unsigned resume_wanted : 1; /* mcc_fetch_resume called inside libcurl: done by tidy */
    unsigned follow : 1;        /* redirects are followed */
    unsigned block_done : 1;    /* the header block being read ended with its blank line */
    unsigned announced : 1;     /* on_headers was called */

    int status; /* status of the response whose headers are being read */
    uint64_t start_ms, block_ms, header_ms, body_bytes;
    fetch_header *hdrs;
    size_t nhdrs, cap;
    char errbuf[CURL_ERROR_SIZE];
};

static void fetch_drive(mcc_fetcher *fr, curl_socket_t s, int action);
static void fetch_tidy(mcc_fetcher *fr);

static uint64_t fetch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- headers of the response being read ------------------------------------------------- */

static void fetch_headers_reset(mcc_fetch *f)
{
    for (size_t i = 0; i < f->nhdrs; i++)
        free(f->hdrs[i].name);
    f->nhdrs = 0;
}

static int fetch_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Stores NAME and VALUE (trimmed); a CONT header line continues the last value instead. */
static int fetch_headers_add(mcc_fetch *f, const char *name, size_t nlen, const char *value,
                             size_t vlen)
{
    while (vlen > 0 && fetch_is_space(*value)) {
        value++;
        vlen--;
    }
    while (vlen > 0 && fetch_is_space(value[vlen - 1]))
        vlen--;
    while (nlen > 0 && fetch_is_space(name[nlen - 1]))
        nlen--;
    if (f->nhdrs == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        fetch_header *h = realloc(f->hdrs, cap * sizeof(*h));
        if (h == NULL)
            return MCC_ERROR;
        f->hdrs = h;
        f->cap = cap;
    }
    char *block = malloc(nlen + vlen + 2);
    if (block == NULL)
        return MCC_ERROR;
    memcpy(block, name, nlen);
    block[nlen] = '\0';
    memcpy(block + nlen + 1, value, vlen);
    block[nlen + 1 + vlen] = '\0';
    f->hdrs[f->nhdrs].name = block;
    f->hdrs[f->nhdrs].value = block + nlen + 1;
    f->nhdrs++;
    return MCC_OK;
}

/* An obsolete folded line (RFC 9112 5.2): joins the last value with one space. */
static int fetch_headers_fold(mcc_fetch *f, const char *more, size_t mlen)
{
    if (f->nhdrs == 0)
        return MCC_OK;
    fetch_header *h = &f->hdrs[f->nhdrs - 1];
    size_t nlen = strlen(h->name), vlen = strlen(h->value);
    while (mlen > 0 && fetch_is_space(*more)) {
        more++;
        mlen--;
    }
    while (mlen > 0 && fetch_is_space(more[mlen - 1]))
        mlen--;
    char *block = malloc(nlen + vlen + mlen + 3);
    if (block == NULL)
        return MCC_ERROR;
    memcpy(block, h->name, nlen + 1 + vlen);
    block[nlen + 1 + vlen] = ' ';
    memcpy(block + nlen + 2 + vlen, more, mlen);
    block[nlen + 2 + vlen + mlen] = '\0';
    free(h->name);
    h->name = block;
    h->value = block + nlen + 1;
    return MCC_OK;
}

/* Whether the block just read can be the final response. Interim 1xx answers never are; a
 * redirect libcurl is about to follow is not either. When unsure (a redirect whose following
 * libcurl may refuse) the block stays pending and is announced on the first body byte or at a
 * successful end, because libcurl delivers neither body nor success for a redirect it follows. */
static int fetch_block_is_final(const mcc_fetch *f)
{
    if (f->status < 200)
        return 0;
    if (f->follow) {
        switch (f->status) {
        case 301:
        case 302:
        case 303:
        case 307:
        case 308:
            return mcc_fetch_header(f, "Location") == NULL;
        default:
            break;
        }
    }
    return 1;
}

/* Calls on_headers once. Returns MCC_OK to go on, MCC_ERROR when the transfer is to stop
 * (the caller refused the response, or cancelled the transfer). */
static int fetch_announce(mcc_fetch *f)
{
    f->announced = 1;
    f->header_ms = f->block_ms > 0 ? f->block_ms : 1;
    int rc = MCC_OK;
    if (f->cbs.on_headers != NULL) {
        f->fr->busy++;
        rc = f->cbs.on_headers(f->arg, f, f->status);
        f->fr->busy--;
    }
    return f->cancelled || rc != MCC_OK ? MCC_ERROR : MCC_OK;
}

static int fetch_parse_status(const char *line, size_t len)
{
    /* "HTTP/1.1 200 OK" or "HTTP/2 200" */
    const char *sp = memchr(line, ' ', len);
    if (sp == NULL || (size_t)(line + len - sp) < 4)
        return 0;
    int status = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return 0;
        status = status * 10 + (sp[i] - '0');
    }
    return status;
}

/* libcurl hands every header line of every response here, redirects and 1xx included, and
 * trailers of a chunked body after it. Only the final response's block is kept. */
static size_t fetch_header_cb(char *buf, size_t size, size_t n, void *userp)
{
    mcc_fetch *f = userp;
    size_t len = size * n;
    if (f->cancelled)
        return 0;
    if (f->announced)
        return len; /* trailers */

    size_t l = len;
    while (l > 0 && (buf[l - 1] == '\r' || buf[l - 1] == '\n'))
        l--;
    if (l >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response: whatever block came before was interim or a followed redirect */
        fetch_headers_reset(f);
        f->status = fetch_parse_status(buf, l);
        f->block_done = 0;
        return len;
    }
    if (l == 0) {
        f->block_done = 1;
        f->block_ms = fetch_now_ms() - f->start_ms;
        if (fetch_block_is_final(f) && fetch_announce(f) != MCC_OK)
            return 0;
        return len;
    }
    if (buf[0] == ' ' || buf[0] == '\t')
        return fetch_headers_fold(f, buf, l) == MCC_OK ? len : 0;
    const char *colon = memchr(buf, ':', l);
    if (colon == NULL || colon == buf)
        return len; /* not a header; libcurl would have refused anything harmful */
    if (fetch_headers_add(f, buf, (size_t)(colon - buf), colon + 1,
                          l - (size_t)(colon + 1 - buf)) != MCC_OK)
        return 0;
    return len;
}

static size_t fetch_write_cb(char *buf, size_t size, size_t n, void *userp)
{
    mcc_fetch *f = userp;
    size_t len = size * n;
    if (f->cancelled)
        return 0;
    if (!f->announced && fetch_announce(f) != MCC_OK)
        return 0;
    if (f->paused)
        return CURL_WRITEFUNC_PAUSE; /* paused from a callback: libcurl still hands on the rest
                                      * of the buffer it was delivering; hold it back */
    f->fr->busy++;
    int rc = f->cbs.on_data(f->arg, f, buf, len);
    f->fr->busy--;
    if (f->cancelled)
        return 0;
    if (rc == MCC_AGAIN) {
        f->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (rc != MCC_OK)
        return 0;
    f->body_bytes += len;
    return len;
}

/* ---- lifetime ----------------------------------------------------------------------------- */

static void fetch_free(mcc_fetch *f)
{
    mcc_fetcher *fr = f->fr;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        fr->live = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    if (f->added)
        curl_multi_remove_handle(fr->multi, f->easy);
    curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->headers);
    curl_slist_free_all(f->connect_to);
    fetch_headers_reset(f);
    free(f->hdrs);
    free(f);
}

static int fetch_outcome(mcc_fetch *f, CURLcode res)
{
    switch (res) {
    case CURLE_OK: {
        long status = 0;
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
        return status >= 500 ? MCC_FETCH_SERVER_ERROR : MCC_FETCH_DONE;
    }
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return MCC_FETCH_CONNECT_FAILED;
    case CURLE_OPERATION_TIMEDOUT:
        return MCC_FETCH_TIMEOUT;
    default:
        return MCC_FETCH_BROKEN;
    }
}

static void fetch_finish(mcc_fetch *f, CURLcode res)
{
    mcc_fetcher *fr = f->fr;
    if (f->cancelled)
        return; /* tidy frees it */
    int outcome = fetch_outcome(f, res);
    /* an empty body (HEAD, 204, 304, a pending redirect not followed) still gets on_headers */
    if (res == CURLE_OK && !f->announced && f->block_done) {
        if (fetch_announce(f) != MCC_OK) {
            if (f->cancelled) {
                fetch_free(f);
                return;
            }
            outcome = MCC_FETCH_BROKEN;
            res = CURLE_WRITE_ERROR;
        }
    }
    const char *msg = NULL;
    if (res != CURLE_OK)
        msg = f->errbuf[0] != '\0' ? f->errbuf : curl_easy_strerror(res);
    f->finishing = 1;
    fr->busy++;
    f->cbs.on_done(f->arg, f, outcome, msg);
    fr->busy--;
    fetch_free(f);
}

/* Resumes a paused transfer. libcurl may deliver the bytes it held to on_data (and on_headers)
 * before curl_easy_pause returns. */
static void fetch_unpause(mcc_fetch *f)
{
    mcc_fetcher *fr = f->fr;
    f->paused = 0;
    fr->in_curl++;
    fr->busy++;
    curl_easy_pause(f->easy, CURLPAUSE_CONT);
    fr->busy--;
    fr->in_curl--;
}

/* Reports every transfer libcurl finished. */
static void fetch_collect(mcc_fetcher *fr)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(fr->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        mcc_fetch *f = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
        if (f != NULL)
            fetch_finish(f, res);
    }
}

/* Work that must wait until no libcurl call is on the stack: freeing cancelled transfers,
 * adding transfers started from a callback, resuming transfers resumed from a callback. */
static void fetch_tidy(mcc_fetcher *fr)
{
    if (fr->busy > 0)
        return;
    int again = 0;
    mcc_fetch *next;
    for (mcc_fetch *f = fr->live; f != NULL; f = next) {
        next = f->next;
        if (f->cancelled) {
            fetch_free(f);
        } else if (!f->added) {
            if (curl_multi_add_handle(fr->multi, f->easy) == CURLM_OK) {
                f->added = 1;
            } else {
                /* report like any failed start, from the loop, never synchronously */
                mcc_log(MCC_LOG_ERROR, "fetch: libcurl refused a transfer");
                f->finishing = 1;
                fr->busy++;
                f->cbs.on_done(f->arg, f, MCC_FETCH_BROKEN, "libcurl refused the transfer");
                fr->busy--;
                fetch_free(f);
            }
        } else if (f->resume_wanted) {
            f->resume_wanted = 0;
            fetch_unpause(f);
            /* the callbacks it ran may have cancelled NEXT (only marked, as we were busy) or
             * started others: finish in a new pass from the loop */
            again = 1;
            break;
        }
    }
    if (again)
        event_active(fr->tidy, EV_TIMEOUT, 1);
}

static void fetch_tidy_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fetch_tidy(arg);
}

/* ---- libcurl <-> libevent ------------------------------------------------------------------ */

static void fetch_drive(mcc_fetcher *fr, curl_socket_t s, int action)
{
    int running = 0;
    fr->in_curl++;
    fr->busy++;
    CURLMcode rc = curl_multi_socket_action(fr->multi, s, action, &running);
    fr->busy--;
    fr->in_curl--;
    if (rc != CURLM_OK)
        mcc_log(MCC_LOG_ERROR, "fetch: curl_multi_socket_action: %s", curl_multi_strerror(rc));
    fetch_tidy(fr); /* cancelled transfers go before their completion could be reported */
    fetch_collect(fr);
    fetch_tidy(fr);
}

static void fetch_event_cb(evutil_socket_t fd, short what, void *arg)
{
    int action =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    fetch_drive(arg, fd, action);
}

static void fetch_timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fetch_drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: one persistent event per socket, changed as libcurl's interest does. */
static int fetch_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    mcc_fetcher *fr = userp;
    fetch_sock *sk = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sk != NULL) {
            event_free(sk->ev);
            if (sk->prev != NULL)
                sk->prev->next = sk->next;
            else
                fr->socks = sk->next;
            if (sk->next != NULL)
                sk->next->prev = sk->prev;
            free(sk);
            curl_multi_assign(fr->multi, s, NULL);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (sk == NULL) {
        sk = calloc(1, sizeof(*sk));
        if (sk == NULL)
            return -1;
        sk->ev = event_new(fr->base, s, kind, fetch_event_cb, fr);
        if (sk->ev == NULL) {
            free(sk);
            return -1;
        }
        sk->next = fr->socks;
        if (fr->socks != NULL)
            fr->socks->prev = sk;
        fr->socks = sk;
        curl_multi_assign(fr->multi, s, sk);
    } else {
        event_del(sk->ev);
        event_assign(sk->ev, fr->base, s, kind, fetch_event_cb, fr);
    }
    return event_add(sk->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: arms the one timer; libcurl is driven from the loop, never from here. */
static int fetch_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    mcc_fetcher *fr = userp;
    if (timeout_ms < 0)
        return evtimer_del(fr->timer) == 0 ? 0 : -1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    return evtimer_add(fr->timer, &tv) == 0 ? 0 : -1;
}

/* ---- public API ------------------------------------------------------------------------------ */

mcc_fetcher *mcc_fetcher_new(struct event_base *base, char *errbuf, size_t errlen)
{
    /* curl_global_init is not thread-safe: the first fetcher is made on the main thread before
     * any other thread exists (mccd and the tests do so), and later calls skip it. */
    static int curl_ready;
    if (!curl_ready) {
        CURLcode gc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (gc != CURLE_OK) {
            snprintf(errbuf, errlen, "curl_global_init: %s", curl_easy_strerror(gc));
            return NULL;
        }
        curl_ready = 1;
    }

    mcc_fetcher *fr = calloc(1, sizeof(*fr));
    if (fr == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    fr->base = base;
    fr->timer = evtimer_new(base, fetch_timer_event_cb, fr);
    fr->tidy = event_new(base, -1, 0, fetch_tidy_cb, fr);
    fr->multi = curl_multi_init();
    if (fr->timer == NULL || fr->tidy == NULL || fr->multi == NULL) {
        snprintf(errbuf, errlen, "cannot set up libcurl on the event loop");
        goto fail;
    }
    if (curl_multi_setopt(fr->multi, CURLMOPT_SOCKETFUNCTION, fetch_socket_cb) != CURLM_OK ||
        curl_multi_setopt(fr->multi, CURLMOPT_SOCKETDATA, fr) != CURLM_OK ||
        curl_multi_setopt(fr->multi, CURLMOPT_TIMERFUNCTION, fetch_timer_cb) != CURLM_OK ||
        curl_multi_setopt(fr->multi, CURLMOPT_TIMERDATA, fr) != CURLM_OK ||
        curl_multi_setopt(fr->multi, CURLMOPT_MAXCONNECTS, FETCH_MAX_CONNECTS) != CURLM_OK ||
        curl_multi_setopt(fr->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L) != CURLM_OK) {
        snprintf(errbuf, errlen, "libcurl refused the multi handle's options");
        goto fail;
    }
    return fr;

fail:
    if (fr->multi != NULL)
        curl_multi_cleanup(fr->multi);
    if (fr->tidy != NULL)
        event_free(fr->tidy);
    if (fr->timer != NULL)
        event_free(fr->timer);
    free(fr);
    return NULL;
}

void mcc_fetcher_free(mcc_fetcher *fr)
{
    if (fr == NULL)
        return;
    assert(fr->busy == 0); /* never from inside a fetch callback */
    while (fr->live != NULL)
        fetch_free(fr->live);
    curl_multi_cleanup(fr->multi);
    /* libcurl normally says CURL_POLL_REMOVE for each socket; free any it did not */
    while (fr->socks != NULL) {
        fetch_sock *sk = fr->socks;
        fr->socks = sk->next;
        event_free(sk->ev);
        free(sk);
    }
    event_free(fr->tidy);
    event_free(fr->timer);
    free(fr);
}

#define FETCH_SET(opt, val)                                                                        \
    do {                                                                                           \
        if (curl_easy_setopt(f->easy, opt, val) != CURLE_OK)                                       \
            goto fail;                                                                             \
    } while (0)

mcc_fetch *mcc_fetch_start(mcc_fetcher *fr, const mcc_fetch_plan *plan, const char *method,
                           uint64_t first, uint64_t last, const char *const *extra,
                           const mcc_fetch_cbs *cbs, void *arg)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return NULL;
    return mcc_fetch_start_body(fr, plan, method, first, last, extra, NULL, 0, cbs, arg);
}

mcc_fetch *mcc_fetch_start_body(mcc_fetcher *fr, const mcc_fetch_plan *plan, const char *method,
                                uint64_t first, uint64_t last, const char *const *extra,
                                const void *body, size_t body_len, const mcc_fetch_cbs *cbs,
                                void *arg)
{
    int head = strcmp(method, "HEAD") == 0;
    for (const char *m = method; *m != '\0'; m++)
        if (*m < 'A' || *m > 'Z')
            return NULL; /* a token of capitals: nothing else reaches a request line */
    if (method[0] == '\0' || strlen(method) > 16)
        return NULL;
    assert(cbs != NULL && cbs->on_data != NULL && cbs->on_done != NULL);

    mcc_fetch *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->fr = fr;
    f->cbs = *cbs;
    f->arg = arg;
    f->easy = curl_easy_init();
    if (f->easy == NULL)
        goto fail;

    unsigned nh = plan->nheaders < MCC_PLAN_MAX_HEADERS ? plan->nheaders : MCC_PLAN_MAX_HEADERS;
    for (unsigned i = 0; i < nh; i++) {
        if (plan->headers[i][0] == '\0')
            continue;
        struct curl_slist *l = curl_slist_append(f->headers, plan->headers[i]);
        if (l == NULL)
            goto fail;
        f->headers = l;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        struct curl_slist *l = curl_slist_append(f->headers, extra[i]);
        if (l == NULL)
            goto fail;
        f->headers = l;
    }
    if (plan->connect_to[0] != '\0') {
        f->connect_to = curl_slist_append(NULL, plan->connect_to);
        if (f->connect_to == NULL)
            goto fail;
    }

    FETCH_SET(CURLOPT_PRIVATE, (void *)f);
    FETCH_SET(CURLOPT_URL, plan->url);
    FETCH_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    FETCH_SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* set even when empty: an unset option would let http_proxy / no_proxy from the
     * environment decide, and only the plan may */
    FETCH_SET(CURLOPT_PROXY, plan->proxy);
    FETCH_SET(CURLOPT_NOPROXY, "");
    FETCH_SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    if (f->connect_to != NULL)
        FETCH_SET(CURLOPT_CONNECT_TO, f->connect_to);
    if (f->headers != NULL)
        FETCH_SET(CURLOPT_HTTPHEADER, f->headers);
    if (first != MCC_RANGE_NONE) {
        char range[48];
        if (last != MCC_RANGE_NONE)
            snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, first, last);
        else
            snprintf(range, sizeof(range), "%" PRIu64 "-", first);
        FETCH_SET(CURLOPT_RANGE, range); /* libcurl copies option strings */
    }
    if (plan->connect_timeout_ms > 0)
        FETCH_SET(CURLOPT_CONNECTTIMEOUT_MS, (long)plan->connect_timeout_ms);
    if (plan->low_speed_time_ms > 0 && plan->low_speed_limit > 0) {
        long secs = (long)((plan->low_speed_time_ms + 999u) / 1000u);
        FETCH_SET(CURLOPT_LOW_SPEED_TIME, secs < 1 ? 1L : secs);
        FETCH_SET(CURLOPT_LOW_SPEED_LIMIT, (long)plan->low_speed_limit);
    }
    f->follow = plan->max_redirects > 0;
    FETCH_SET(CURLOPT_FOLLOWLOCATION, f->follow ? 1L : 0L);
    FETCH_SET(CURLOPT_MAXREDIRS, f->follow ? (long)plan->max_redirects : 0L);
    FETCH_SET(CURLOPT_NOSIGNAL, 1L);
    FETCH_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    FETCH_SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* the cache stores the origin's bytes: no Accept-Encoding is sent, nothing is decoded */
    FETCH_SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
    /* the origin sees the client's path, not one with dot segments removed */
    FETCH_SET(CURLOPT_PATH_AS_IS, 1L);
    FETCH_SET(CURLOPT_USERAGENT, "mcc/" MCC_VERSION);
    FETCH_SET(CURLOPT_BUFFERSIZE, FETCH_BUFFER_SIZE);
    if (head) {
        FETCH_SET(CURLOPT_NOBODY, 1L);
    } else if (body != NULL) {
        FETCH_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        FETCH_SET(CURLOPT_COPYPOSTFIELDS, body);
        if (strcmp(method, "POST") != 0)
            FETCH_SET(CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        FETCH_SET(CURLOPT_CUSTOMREQUEST, method);
    }
    FETCH_SET(CURLOPT_HEADERFUNCTION, fetch_header_cb);
    FETCH_SET(CURLOPT_HEADERDATA, (void *)f);
    FETCH_SET(CURLOPT_WRITEFUNCTION, fetch_write_cb);
    FETCH_SET(CURLOPT_WRITEDATA, (void *)f);
    FETCH_SET(CURLOPT_ERRORBUFFER, f->errbuf);

    f->start_ms = fetch_now_ms();
    /* libcurl refuses curl_multi_add_handle inside its own callbacks: add from the loop then */
    if (fr->in_curl == 0) {
        if (curl_multi_add_handle(fr->multi, f->easy) != CURLM_OK)
            goto fail;
        f->added = 1;
    } else {
        event_active(fr->tidy, EV_TIMEOUT, 1);
    }
    f->next = fr->live;
    if (fr->live != NULL)
        fr->live->prev = f;
    fr->live = f;
    return f;

fail:
    if (f->easy != NULL)
        curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->headers);
    curl_slist_free_all(f->connect_to);
    free(f);
    return NULL;
}

void mcc_fetch_pause(mcc_fetch *f)
{
    if (f == NULL || f->cancelled || f->finishing || f->paused)
        return;
    f->paused = 1;
    f->resume_wanted = 0;
    f->fr->in_curl++;
    f->fr->busy++;
    curl_easy_pause(f->easy, CURLPAUSE_RECV);
    f->fr->busy--;
    f->fr->in_curl--;
}

void mcc_fetch_resume(mcc_fetch *f)
{
    if (f == NULL || f->cancelled || f->finishing || !f->paused)
        return;
    mcc_fetcher *fr = f->fr;
    if (fr->in_curl > 0 || !f->added) {
        /* unpausing inside libcurl's callbacks would re-enter it: resume from the loop */
        f->resume_wanted = 1;
        event_active(fr->tidy, EV_TIMEOUT, 1);
        return;
    }
    fetch_unpause(f);
    if (fr->busy == 0)
        fetch_tidy(fr);
    else
        event_active(fr->tidy, EV_TIMEOUT, 1);
}

void mcc_fetch_cancel(mcc_fetch *f)
{
    if (f == NULL || f->cancelled)
        return;
    f->cancelled = 1;
    if (f->finishing)
        return; /* freed when on_done returns */
    if (f->fr->busy > 0) {
        event_active(f->fr->tidy, EV_TIMEOUT, 1);
        return;
    }
    fetch_free(f);
}

const char *mcc_fetch_header(const mcc_fetch *f, const char *name)
{
    for (size_t i = f->nhdrs; i > 0; i--) {
        if (strcasecmp(f->hdrs[i - 1].name, name) == 0)
            return f->hdrs[i - 1].value;
    }
    return NULL;
}

void mcc_fetch_headers_visit(const mcc_fetch *f,
                             void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
    for (size_t i = 0; i < f->nhdrs; i++)
        fn(arg, f->hdrs[i].name, f->hdrs[i].value);
}

uint64_t mcc_fetch_header_ms(const mcc_fetch *f)
{
    return f->announced ? f->header_ms : 0;
}

uint64_t mcc_fetch_body_bytes(const mcc_fetch *f)
{
    return f->body_bytes;
}

const char *mcc_fetch_effective_url(const mcc_fetch *f)
{
    char *url = NULL;
    if (curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK)
        return NULL;
    return url;
}
