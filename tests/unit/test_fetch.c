/* Unit tests of the fetcher (libcurl multi on the loop) against a small evhttp origin that runs on
 * the same event loop inside the test process, on 127.0.0.1 at an ephemeral port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/evp.h>

#include "cunit_main.h"
#include "fetch/fetch.h"

#define BODY_SIZE (3u * 1024 * 1024)
#define BODY_ETAG "\"v1\""
#define SLOW_LENGTH 1000000
#define BROKEN_LENGTH 100000
#define BROKEN_SENT 1000
#define MAX_RAW 8

static unsigned char *body; /* the origin's object, made once */

static unsigned char body_byte(uint64_t i)
{
    return (unsigned char)((i * 0x9E3779B97F4A7C15ull) >> 56);
}

/* ---- the origin ------------------------------------------------------------------------------ */

typedef struct origin {
    struct event_base *base;
    struct evhttp *http;
    unsigned port;
    struct evconnlistener *raw; /* answers with a short body and closes: a broken transfer */
    unsigned raw_port;
    struct bufferevent *raw_bevs[MAX_RAW];
    unsigned requests; /* requests the evhttp side saw */
} origin;

static void origin_reply(struct evhttp_request *req, int code, const char *reason, const void *data,
                         size_t len)
{
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/octet-stream");
    if (len > 0)
        evbuffer_add_reference(out, data, len, NULL, NULL);
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

/* "bytes=a-b" or "bytes=a-" within the body; 0 when absent or unsatisfiable */
static int origin_range(const char *h, uint64_t *first, uint64_t *last)
{
    if (h == NULL || strncmp(h, "bytes=", 6) != 0)
        return 0;
    char *end = NULL;
    unsigned long long a = strtoull(h + 6, &end, 10);
    if (end == h + 6 || *end != '-')
        return 0;
    unsigned long long b = BODY_SIZE - 1;
    if (end[1] != '\0') {
        char *end2 = NULL;
        b = strtoull(end + 1, &end2, 10);
        if (*end2 != '\0')
            return 0;
    }
    if (a > b || a >= BODY_SIZE)
        return 0;
    if (b >= BODY_SIZE)
        b = BODY_SIZE - 1;
    *first = a;
    *last = b;
    return 1;
}

static void origin_body_cb(struct evhttp_request *req, void *arg)
{
    origin *o = arg;
    o->requests++;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *outh = evhttp_request_get_output_headers(req);
    const char *host = evhttp_find_header(in, "Host");
    evhttp_add_header(outh, "ETag", BODY_ETAG);
    evhttp_add_header(outh, "X-Dup", "first");
    evhttp_add_header(outh, "x-dup", "second");
    evhttp_add_header(outh, "X-Pad", "  padded value  ");
    evhttp_add_header(outh, "X-Host", host != NULL ? host : "");
    const char *ua = evhttp_find_header(in, "User-Agent");
    evhttp_add_header(outh, "X-Agent", ua != NULL ? ua : "");
    const char *ae = evhttp_find_header(in, "Accept-Encoding");
    evhttp_add_header(outh, "X-Accept-Encoding", ae != NULL ? ae : "none");
    const char *inm = evhttp_find_header(in, "If-None-Match");
    if (inm != NULL && strcmp(inm, BODY_ETAG) == 0) {
        origin_reply(req, 304, "Not Modified", NULL, 0);
        return;
    }
    uint64_t first = 0, last = BODY_SIZE - 1;
    int partial = origin_range(evhttp_find_header(in, "Range"), &first, &last);
    if (partial) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%u", (unsigned long long)first,
                 (unsigned long long)last, BODY_SIZE);
        evhttp_add_header(outh, "Content-Range", cr);
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        char cl[32];
        snprintf(cl, sizeof(cl), "%llu", (unsigned long long)(last - first + 1));
        evhttp_add_header(outh, "Content-Length", cl);
        origin_reply(req, partial ? 206 : 200, partial ? "Partial Content" : "OK", NULL, 0);
        return;
    }
    origin_reply(req, partial ? 206 : 200, partial ? "Partial Content" : "OK", body + first,
                 (size_t)(last - first + 1));
}

static void origin_redirect_cb(struct evhttp_request *req, void *arg)
{
    origin *o = arg;
    o->requests++;
    char loc[128];
    snprintf(loc, sizeof(loc), "http://127.0.0.1:%u/body", o->port);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Redirect", "yes");
    origin_reply(req, 302, "Found", "moved", 5);
}

static void origin_missing_cb(struct evhttp_request *req, void *arg)
{
    ((origin *)arg)->requests++;
    origin_reply(req, 404, "Not Found", "not here", 8);
}

static void origin_fail_cb(struct evhttp_request *req, void *arg)
{
    ((origin *)arg)->requests++;
    origin_reply(req, 503, "Service Unavailable", "busy", 4);
}

/* A little of a long body, then nothing: the low-speed limit has to end it. */
static void origin_slow_cb(struct evhttp_request *req, void *arg)
{
    ((origin *)arg)->requests++;
    char cl[32];
    snprintf(cl, sizeof(cl), "%d", SLOW_LENGTH);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", cl);
    evhttp_send_reply_start(req, 200, "OK");
    struct evbuffer *chunk = evbuffer_new();
    evbuffer_add(chunk, body, 100);
    evhttp_send_reply_chunk(req, chunk);
    evbuffer_free(chunk);
}

static void raw_forget(origin *o, struct bufferevent *bev)
{
    for (unsigned i = 0; i < MAX_RAW; i++) {
        if (o->raw_bevs[i] == bev)
            o->raw_bevs[i] = NULL;
    }
    bufferevent_free(bev);
}

static void raw_write_cb(struct bufferevent *bev, void *arg)
{
    /* everything promised so far went out: break off the body */
    raw_forget(arg, bev);
}

static void raw_read_cb(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return;
    evbuffer_drain(in, evbuffer_get_length(in));
    char head[160];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     BROKEN_LENGTH);
    bufferevent_write(bev, head, (size_t)n);
    bufferevent_write(bev, body, BROKEN_SENT);
    bufferevent_setcb(bev, NULL, raw_write_cb, NULL, arg);
}

static void raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        raw_forget(arg, bev);
}

static void raw_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    origin *o = arg;
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    for (unsigned i = 0; i < MAX_RAW; i++) {
        if (o->raw_bevs[i] == NULL) {
            o->raw_bevs[i] = bev;
            break;
        }
    }
    bufferevent_setcb(bev, raw_read_cb, NULL, raw_event_cb, o);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static unsigned sock_port(evutil_socket_t fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        return 0;
    return ntohs(sin.sin_port);
}

static int origin_start(origin *o, struct event_base *base)
{
    memset(o, 0, sizeof(*o));
    o->base = base;
    o->http = evhttp_new(base);
    if (o->http == NULL)
        return -1;
    evhttp_set_allowed_methods(o->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_cb(o->http, "/body", origin_body_cb, o);
    evhttp_set_cb(o->http, "/redirect", origin_redirect_cb, o);
    evhttp_set_cb(o->http, "/missing", origin_missing_cb, o);
    evhttp_set_cb(o->http, "/fail", origin_fail_cb, o);
    evhttp_set_cb(o->http, "/slow", origin_slow_cb, o);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(o->http, "127.0.0.1", 0);
    if (bs == NULL)
        return -1;
    o->port = sock_port(evhttp_bound_socket_get_fd(bs));

    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    o->raw =
        evconnlistener_new_bind(base, raw_accept_cb, o, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                16, (struct sockaddr *)&sin, sizeof(sin));
    if (o->raw == NULL)
        return -1;
    o->raw_port = sock_port(evconnlistener_get_fd(o->raw));
    return o->port != 0 && o->raw_port != 0 ? 0 : -1;
}

static void origin_stop(origin *o)
{
    for (unsigned i = 0; i < MAX_RAW; i++) {
        if (o->raw_bevs[i] != NULL)
            bufferevent_free(o->raw_bevs[i]);
    }
    if (o->raw != NULL)
        evconnlistener_free(o->raw);
    if (o->http != NULL)
        evhttp_free(o->http);
}

/* ---- a transfer as the tests watch it -------------------------------------------------------- */

typedef struct xfer {
    struct event_base *base;
    mcc_fetch *f;
    uint64_t expect_first; /* the body offset the first byte must have */
    int headers_calls, data_calls, done_calls, after_cancel;
    int data_before_headers, data_after_done;
    int status, outcome;
    char errmsg[256];
    uint64_t bytes;
    int mismatch;
    EVP_MD_CTX *sha;
    unsigned char digest[32];
    /* header values seen in on_headers */
    char etag[64], dup[64], pad[64], xhost[128], agent[64], accept_enc[32], location[8];
    char effective[256];
    uint64_t header_ms;
    /* behaviours */
    int again_every;    /* on_data answers MCC_AGAIN on every Nth call */
    int againsn;        /* MCC_AGAIN answers given */
    int cancel_in_data; /* cancel on the first on_data */
    int refuse_headers; /* on_headers answers MCC_ERROR */
    int external_pause; /* mcc_fetch_pause on the first on_data, resume 50 ms later */
    int paused_calls;   /* on_data calls while externally paused (must stay 0) */
    int ext_paused;
    /* starts this other transfer from inside on_headers (inside libcurl's callback) */
    struct xfer *start_other;
    mcc_fetcher *fr;
    const mcc_fetch_plan *other_plan;
    int other_sync_calls; /* callbacks the other one got from inside its start */
    int done;
} xfer;

static const mcc_fetch_cbs xfer_cbs;

static void copy_header(mcc_fetch *f, const char *name, char *buf, size_t size)
{
    const char *v = mcc_fetch_header(f, name);
    snprintf(buf, size, "%s", v != NULL ? v : "(none)");
}

static int xfer_headers(void *arg, mcc_fetch *f, int status)
{
    xfer *x = arg;
    if (x->cancel_in_data && x->f == NULL)
        x->after_cancel++;
    x->headers_calls++;
    x->status = status;
    x->header_ms = mcc_fetch_header_ms(f);
    copy_header(f, "etag", x->etag, sizeof(x->etag));
    copy_header(f, "X-DUP", x->dup, sizeof(x->dup));
    copy_header(f, "x-pad", x->pad, sizeof(x->pad));
    copy_header(f, "X-Host", x->xhost, sizeof(x->xhost));
    copy_header(f, "X-Agent", x->agent, sizeof(x->agent));
    copy_header(f, "X-Accept-Encoding", x->accept_enc, sizeof(x->accept_enc));
    copy_header(f, "Location", x->location, sizeof(x->location));
    if (x->start_other != NULL) {
        xfer *o = x->start_other;
        o->f = mcc_fetch_start(x->fr, x->other_plan, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL,
                               &xfer_cbs, o);
        x->other_sync_calls = o->headers_calls + o->data_calls + o->done_calls;
        x->start_other = NULL;
    }
    const char *eff = mcc_fetch_effective_url(f);
    snprintf(x->effective, sizeof(x->effective), "%s", eff != NULL ? eff : "");
    return x->refuse_headers ? MCC_ERROR : MCC_OK;
}

static void xfer_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    xfer *x = arg;
    x->ext_paused = 0;
    if (x->f != NULL)
        mcc_fetch_resume(x->f);
}

static int xfer_data(void *arg, mcc_fetch *f, const char *buf, size_t len)
{
    xfer *x = arg;
    if (x->cancel_in_data && x->f == NULL) {
        x->after_cancel++;
        return MCC_OK;
    }
    if (x->headers_calls != 1)
        x->data_before_headers++;
    if (x->done_calls > 0)
        x->data_after_done++;
    if (x->ext_paused)
        x->paused_calls++;
    x->data_calls++;
    if (x->again_every > 0 && x->data_calls % x->again_every == 0) {
        /* not taken: the same bytes must come again after the resume */
        x->againsn++;
        struct timeval tv = {0, 1000};
        event_base_once(x->base, -1, EV_TIMEOUT, xfer_resume_cb, x, &tv);
        return MCC_AGAIN;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)buf[i] != body_byte(x->expect_first + x->bytes + i)) {
            x->mismatch++;
            break;
        }
    }
    EVP_DigestUpdate(x->sha, buf, len);
    x->bytes += len;
    if (x->cancel_in_data) {
        mcc_fetch_cancel(f);
        x->f = NULL;
    }
    if (x->external_pause && x->data_calls == 1) {
        mcc_fetch_pause(f);
        x->ext_paused = 1;
        struct timeval tv = {0, 50000};
        event_base_once(x->base, -1, EV_TIMEOUT, xfer_resume_cb, x, &tv);
    }
    return MCC_OK;
}

static void xfer_done(void *arg, mcc_fetch *f, int outcome, const char *errmsg)
{
    xfer *x = arg;
    if (x->cancel_in_data && x->f == NULL)
        x->after_cancel++;
    x->done_calls++;
    x->outcome = outcome;
    snprintf(x->errmsg, sizeof(x->errmsg), "%s", errmsg != NULL ? errmsg : "");
    if (x->bytes != mcc_fetch_body_bytes(f))
        x->mismatch++;
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(x->sha, x->digest, &dlen);
    x->f = NULL;
    x->done = 1;
}

static const mcc_fetch_cbs xfer_cbs = {xfer_headers, xfer_data, xfer_done};

static void xfer_init(xfer *x, struct event_base *base)
{
    memset(x, 0, sizeof(*x));
    x->base = base;
    x->sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(x->sha, EVP_sha256(), NULL);
}

static void xfer_fini(xfer *x)
{
    EVP_MD_CTX_free(x->sha);
}

/* SHA-256 of the body's bytes [first, first+len) */
static void body_digest(uint64_t first, uint64_t len, unsigned char out[32])
{
    unsigned int dlen = 0;
    EVP_Digest(body + first, len, out, &dlen, EVP_sha256(), NULL);
}

static void plan_init(mcc_fetch_plan *p, unsigned port, const char *path)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%u%s", port, path);
    p->connect_timeout_ms = 2000;
    p->low_speed_time_ms = 10000;
    p->low_speed_limit = 1;
    p->max_redirects = 5;
    snprintf(p->label, sizeof(p->label), "test");
}

static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

/* Runs the loop until *FLAG or MS pass. */
static int run_until(struct event_base *base, const int *flag, unsigned ms)
{
    int expired = 0;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct event *t = evtimer_new(base, expire_cb, &expired);
    evtimer_add(t, &tv);
    while (!*flag && !expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return *flag;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One test's world: loop, origin, fetcher. */
typedef struct world {
    struct event_base *base;
    origin o;
    mcc_fetcher *fr;
} world;

static int world_new(world *w)
{
    char err[256] = "";
    w->base = event_base_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(w->base);
    CU_ASSERT_EQUAL_FATAL(origin_start(&w->o, w->base), 0);
    w->fr = mcc_fetcher_new(w->base, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(w->fr);
    return 0;
}

static void world_free(world *w)
{
    mcc_fetcher_free(w->fr);
    origin_stop(&w->o);
    event_base_free(w->base);
}

static void check_whole_body(xfer *x)
{
    unsigned char want[32];
    body_digest(0, BODY_SIZE, want);
    CU_ASSERT_EQUAL(x->bytes, BODY_SIZE);
    CU_ASSERT_EQUAL(memcmp(want, x->digest, 32), 0);
    CU_ASSERT_EQUAL(x->mismatch, 0);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_full_body(void)
{
    world w;
    world_new(&w);
    xfer x;
    xfer_init(&x, w.base);
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/body");
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x.f);
    CU_ASSERT_EQUAL(x.headers_calls, 0); /* nothing from inside start */
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(x.status, 200);
    CU_ASSERT_EQUAL(x.headers_calls, 1);
    CU_ASSERT_EQUAL(x.done_calls, 1);
    CU_ASSERT_EQUAL(x.data_before_headers, 0);
    CU_ASSERT_TRUE(x.data_calls > 1);
    check_whole_body(&x);
    CU_ASSERT_STRING_EQUAL(x.etag, BODY_ETAG);
    CU_ASSERT_STRING_EQUAL(x.dup, "second"); /* case-insensitive, last wins */
    CU_ASSERT_STRING_EQUAL(x.pad, "padded value");
    CU_ASSERT_STRING_EQUAL(x.agent, "mcc/" MCC_VERSION);
    CU_ASSERT_STRING_EQUAL(x.accept_enc, "none");
    CU_ASSERT_TRUE(x.header_ms >= 1 && x.header_ms < 10000);
    xfer_fini(&x);
    world_free(&w);
}

static void test_range(void)
{
    world w;
    world_new(&w);
    xfer x, y;
    xfer_init(&x, w.base);
    xfer_init(&y, w.base);
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/body");
    x.expect_first = 1048576 + 17;
    x.f = mcc_fetch_start(w.fr, &p, "GET", x.expect_first, 2097151, NULL, &xfer_cbs, &x);
    y.expect_first = BODY_SIZE - 1000;
    y.f = mcc_fetch_start(w.fr, &p, "GET", y.expect_first, MCC_RANGE_NONE, NULL, &xfer_cbs, &y);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_TRUE(run_until(w.base, &y.done, 10000));
    unsigned char want[32];
    CU_ASSERT_EQUAL(x.status, 206);
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(x.bytes, 2097151 - x.expect_first + 1);
    body_digest(x.expect_first, 2097151 - x.expect_first + 1, want);
    CU_ASSERT_EQUAL(memcmp(want, x.digest, 32), 0);
    CU_ASSERT_EQUAL(y.status, 206);
    CU_ASSERT_EQUAL(y.bytes, 1000);
    body_digest(y.expect_first, 1000, want);
    CU_ASSERT_EQUAL(memcmp(want, y.digest, 32), 0);
    CU_ASSERT_EQUAL(x.mismatch + y.mismatch, 0);
    xfer_fini(&x);
    xfer_fini(&y);
    world_free(&w);
}

static void test_redirect(void)
{
    world w;
    world_new(&w);
    xfer x;
    xfer_init(&x, w.base);
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/redirect");
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(x.status, 200);
    CU_ASSERT_EQUAL(x.headers_calls, 1);
    CU_ASSERT_STRING_EQUAL(x.location, "(none)"); /* the redirect's headers were dropped */
    CU_ASSERT_STRING_EQUAL(x.etag, BODY_ETAG);
    char want[128];
    snprintf(want, sizeof(want), "http://127.0.0.1:%u/body", w.o.port);
    CU_ASSERT_STRING_EQUAL(x.effective, want);
    check_whole_body(&x);
    xfer_fini(&x);

    /* max_redirects 0: the 302 itself is the answer */
    xfer_init(&x, w.base);
    p.max_redirects = 0;
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(x.status, 302);
    CU_ASSERT_EQUAL(x.headers_calls, 1);
    CU_ASSERT_EQUAL(x.bytes, 5);
    CU_ASSERT_STRING_NOT_EQUAL(x.location, "(none)");
    xfer_fini(&x);
    world_free(&w);
}

static void test_statuses(void)
{
    world w;
    world_new(&w);
    xfer x, y, z;
    xfer_init(&x, w.base);
    xfer_init(&y, w.base);
    xfer_init(&z, w.base);
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/missing");
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    plan_init(&p, w.o.port, "/fail");
    y.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &y);
    /* a validator that matches: 304 with no body still gets on_headers before on_done */
    const char *extra[] = {"If-None-Match: " BODY_ETAG, NULL};
    plan_init(&p, w.o.port, "/body");
    z.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, extra, &xfer_cbs, &z);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_TRUE(run_until(w.base, &y.done, 10000));
    CU_ASSERT_TRUE(run_until(w.base, &z.done, 10000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(x.status, 404);
    CU_ASSERT_EQUAL(x.bytes, 8);
    CU_ASSERT_EQUAL(y.outcome, MCC_FETCH_SERVER_ERROR);
    CU_ASSERT_EQUAL(y.status, 503);
    CU_ASSERT_EQUAL(y.headers_calls, 1);
    CU_ASSERT_EQUAL(z.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(z.status, 304);
    CU_ASSERT_EQUAL(z.headers_calls, 1);
    CU_ASSERT_EQUAL(z.data_calls, 0);
    CU_ASSERT_EQUAL(z.done_calls, 1);
    xfer_fini(&x);
    xfer_fini(&y);
    xfer_fini(&z);
    world_free(&w);
}

static void test_head(void)
{
    world w;
    world_new(&w);
    xfer x;
    xfer_init(&x, w.base);
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/body");
    x.f = mcc_fetch_start(w.fr, &p, "HEAD", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(x.status, 200);
    CU_ASSERT_EQUAL(x.headers_calls, 1);
    CU_ASSERT_EQUAL(x.data_calls, 0);
    CU_ASSERT_EQUAL(x.done_calls, 1);
    CU_ASSERT_STRING_EQUAL(x.etag, BODY_ETAG);
    CU_ASSERT_PTR_NULL(
        mcc_fetch_start(w.fr, &p, "POST", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x));
    xfer_fini(&x);
    world_free(&w);
}

static void test_pause_resume(void)
{
    world w;
    world_new(&w);
    xfer x, y;
    xfer_init(&x, w.base);
    xfer_init(&y, w.base);
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/body");
    x.again_every = 3;
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    y.external_pause = 1;
    y.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &y);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 20000));
    CU_ASSERT_TRUE(run_until(w.base, &y.done, 20000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_DONE);
    CU_ASSERT_TRUE(x.againsn > 3);
    check_whole_body(&x);
    CU_ASSERT_EQUAL(y.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(y.paused_calls, 0);
    check_whole_body(&y);
    xfer_fini(&x);
    xfer_fini(&y);
    world_free(&w);
}

static void test_cancel_in_data(void)
{
    world w;
    world_new(&w);
    xfer x;
    xfer_init(&x, w.base);
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/body");
    x.cancel_in_data = 1;
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    int never = 0;
    run_until(w.base, &never, 500);
    CU_ASSERT_EQUAL(x.data_calls, 1);
    CU_ASSERT_EQUAL(x.after_cancel, 0);
    CU_ASSERT_EQUAL(x.done_calls, 0);
    xfer_fini(&x);

    /* the fetcher goes on working after it */
    xfer_init(&x, w.base);
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    check_whole_body(&x);
    xfer_fini(&x);

    /* a transfer started from inside another's on_headers runs normally */
    xfer other;
    xfer_init(&x, w.base);
    xfer_init(&other, w.base);
    x.start_other = &other;
    x.fr = w.fr;
    x.other_plan = &p;
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_TRUE(run_until(w.base, &other.done, 10000));
    CU_ASSERT_EQUAL(x.other_sync_calls, 0);
    check_whole_body(&x);
    CU_ASSERT_EQUAL(other.outcome, MCC_FETCH_DONE);
    check_whole_body(&other);
    xfer_fini(&x);
    xfer_fini(&other);

    /* on_headers refusing the response ends it as broken, without data */
    xfer_init(&x, w.base);
    x.refuse_headers = 1;
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_BROKEN);
    CU_ASSERT_EQUAL(x.headers_calls, 1);
    CU_ASSERT_EQUAL(x.data_calls, 0);
    xfer_fini(&x);

    /* cancel before anything happened: no callback at all */
    xfer_init(&x, w.base);
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    mcc_fetch_cancel(x.f);
    run_until(w.base, &never, 200);
    CU_ASSERT_EQUAL(x.headers_calls + x.data_calls + x.done_calls, 0);
    xfer_fini(&x);
    world_free(&w);
}

static void test_failures(void)
{
    world w;
    world_new(&w);
    xfer x, y, z;
    xfer_init(&x, w.base);
    xfer_init(&y, w.base);
    xfer_init(&z, w.base);

    /* a port nobody listens on: bind one, learn it, close it */
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    unsigned closed_port = sock_port(fd);
    close(fd);

    mcc_fetch_plan p;
    plan_init(&p, closed_port, "/body");
    uint64_t t0 = now_ms();
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 5000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_CONNECT_FAILED);
    CU_ASSERT_EQUAL(x.headers_calls, 0);
    CU_ASSERT_TRUE(now_ms() - t0 < 1500);
    CU_ASSERT_TRUE(x.errmsg[0] != '\0');

    /* the body breaks off after 1000 of 100000 bytes */
    plan_init(&p, w.o.raw_port, "/broken");
    y.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &y);
    CU_ASSERT_TRUE(run_until(w.base, &y.done, 5000));
    CU_ASSERT_EQUAL(y.outcome, MCC_FETCH_BROKEN);
    CU_ASSERT_EQUAL(y.status, 200);
    CU_ASSERT_EQUAL(y.bytes, BROKEN_SENT);
    CU_ASSERT_EQUAL(y.mismatch, 0);

    /* 100 bytes then silence: the low-speed limit (1 s below 1000 B/s) ends it */
    plan_init(&p, w.o.port, "/slow");
    p.low_speed_time_ms = 1000;
    p.low_speed_limit = 1000;
    t0 = now_ms();
    z.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &z);
    CU_ASSERT_TRUE(run_until(w.base, &z.done, 8000));
    CU_ASSERT_EQUAL(z.outcome, MCC_FETCH_TIMEOUT);
    CU_ASSERT_EQUAL(z.bytes, 100);
    uint64_t took = now_ms() - t0;
    CU_ASSERT_TRUE(took >= 900 && took < 5000);
    xfer_fini(&x);
    xfer_fini(&y);
    xfer_fini(&z);
    world_free(&w);
}

static int headers_seen(const xfer *x)
{
    return x->headers_calls > 0;
}

static void test_fetcher_free(void)
{
    world w;
    world_new(&w);
    xfer x;
    xfer_init(&x, w.base);
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/slow");
    x.f = mcc_fetch_start(w.fr, &p, "GET", MCC_RANGE_NONE, MCC_RANGE_NONE, NULL, &xfer_cbs, &x);
    uint64_t deadline = now_ms() + 5000;
    int never = 0;
    while (!headers_seen(&x) && now_ms() < deadline)
        run_until(w.base, &never, 20);
    CU_ASSERT_EQUAL(x.headers_calls, 1);
    /* a transfer still running when the fetcher goes: no callback, nothing leaked (ASan) */
    world_free(&w);
    CU_ASSERT_EQUAL(x.done_calls, 0);
    xfer_fini(&x);
}

static void test_concurrent(void)
{
    enum { N = 20, SPAN = 150000 };
    world w;
    world_new(&w);
    static xfer xs[N];
    mcc_fetch_plan p;
    plan_init(&p, w.o.port, "/body");
    for (int i = 0; i < N; i++) {
        xfer_init(&xs[i], w.base);
        xs[i].expect_first = (uint64_t)i * SPAN + (uint64_t)i;
        xs[i].f = mcc_fetch_start(w.fr, &p, "GET", xs[i].expect_first,
                                  xs[i].expect_first + SPAN - 1, NULL, &xfer_cbs, &xs[i]);
        CU_ASSERT_PTR_NOT_NULL(xs[i].f);
    }
    int all = 0;
    uint64_t deadline = now_ms() + 20000;
    while (!all && now_ms() < deadline) {
        run_until(w.base, &all, 50);
        all = 1;
        for (int i = 0; i < N; i++)
            all = all && xs[i].done;
    }
    CU_ASSERT_TRUE(all);
    for (int i = 0; i < N; i++) {
        unsigned char want[32];
        body_digest(xs[i].expect_first, SPAN, want);
        CU_ASSERT_EQUAL(xs[i].outcome, MCC_FETCH_DONE);
        CU_ASSERT_EQUAL(xs[i].status, 206);
        CU_ASSERT_EQUAL(xs[i].bytes, SPAN);
        CU_ASSERT_EQUAL(memcmp(want, xs[i].digest, 32), 0);
        CU_ASSERT_EQUAL(xs[i].mismatch, 0);
        xfer_fini(&xs[i]);
    }
    world_free(&w);
}

static void test_connect_to(void)
{
    world w;
    world_new(&w);
    xfer x;
    xfer_init(&x, w.base);
    mcc_fetch_plan p;
    memset(&p, 0, sizeof(p));
    /* a name that does not resolve, reached at the origin's address; Host keeps the name */
    snprintf(p.url, sizeof(p.url), "http://origin.invalid:8080/body");
    snprintf(p.connect_to, sizeof(p.connect_to), "origin.invalid:8080:127.0.0.1:%u", w.o.port);
    p.connect_timeout_ms = 2000;
    x.f = mcc_fetch_start(w.fr, &p, "GET", 0, 99, NULL, &xfer_cbs, &x);
    CU_ASSERT_TRUE(run_until(w.base, &x.done, 10000));
    CU_ASSERT_EQUAL(x.outcome, MCC_FETCH_DONE);
    CU_ASSERT_EQUAL(x.status, 206);
    CU_ASSERT_EQUAL(x.bytes, 100);
    CU_ASSERT_STRING_EQUAL(x.xhost, "origin.invalid:8080");
    xfer_fini(&x);
    world_free(&w);
}

int mcc_test_register(void)
{
    /* environment proxies must never be used: only a plan's proxy counts */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    signal(SIGPIPE, SIG_IGN); /* evhttp writes to peers that may have gone */
    body = malloc(BODY_SIZE);
    if (body == NULL)
        return -1;
    for (uint64_t i = 0; i < BODY_SIZE; i++)
        body[i] = body_byte(i);

    static const CU_TestInfo tests[] = {
        {"full body, headers, hash", test_full_body},
        {"range requests", test_range},
        {"redirect followed or not", test_redirect},
        {"404, 503, 304", test_statuses},
        {"HEAD", test_head},
        {"pause and resume", test_pause_resume},
        {"cancel inside callbacks", test_cancel_in_data},
        {"refused, broken, slow", test_failures},
        {"20 concurrent ranges", test_concurrent},
        {"fetcher freed with a transfer running", test_fetcher_free},
        {"connect_to", test_connect_to},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("fetch", tests);
}
