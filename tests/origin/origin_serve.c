/* mcc-test-origin: answers one request from the file tree (validators, conditionals, one Range),
 * sends the body in paced chunks and logs exactly how many body bytes left. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "origin.h"

#define CHUNK_MAX (256 * 1024)
#define CHUNK_PACED_MAX (64 * 1024)
#define ABORT_POLL_USEC 10000u
#define ABORT_POLLS_MAX 200u
#define ABORT_SETTLE_USEC 100000u

typedef enum xfer_next {
    NEXT_RESPOND, /* the delay ran out: send status and headers */
    NEXT_PUMP,    /* pacing allows the next chunk */
    NEXT_ABORT    /* a fault ends the connection */
} xfer_next;

/* One response in progress. Freed by serve_finish() exactly once: on completion, on a fault, or
 * when the connection goes away under it. */
typedef struct origin_xfer {
    origin_ctx *ctx;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct event *timer;
    xfer_next next;
    int fd;
    int head;
    int status;
    char method[8];
    char *uri;
    char range[128]; /* the Range header as received, "-" when none */
    uint64_t off, len; /* body: file offset and length */
    uint64_t sent;     /* body bytes the kernel accepted */
    uint64_t inflight; /* body bytes handed to evhttp, not yet written out */
    uint64_t limit;    /* body bytes to send before a fault ends the connection */
    origin_fault_kind fault; /* the fault this response suffers, NONE when spared */
    unsigned abort_polls; /* waits for the peer's acknowledgement before a RST */
    struct timespec t0; /* start of the body, for pacing */
} origin_xfer;

static void serve_pump(origin_xfer *x);

static void serve_log(origin_xfer *x, const char *end)
{
    if (x->ctx->log == NULL)
        return;
    fprintf(x->ctx->log, "%s %s range=%s status=%d bytes=%" PRIu64 " end=%s\n", x->method,
            x->uri != NULL ? x->uri : "-", x->range, x->status, x->sent, end);
    fflush(x->ctx->log);
}

/* Logs the request and releases everything. The request itself is evhttp's again afterwards. */
static void serve_finish(origin_xfer *x, const char *end)
{
    serve_log(x, end);
    if (x->evcon != NULL)
        evhttp_connection_set_closecb(x->evcon, NULL, NULL);
    if (x->timer != NULL)
        event_free(x->timer);
    if (x->fd >= 0)
        close(x->fd);
    free(x->uri);
    free(x);
}

/* The connection went away while we still owned the request (peer closed, write error). evhttp
 * has already detached a request the user had not finished; finishing it frees it. */
static void serve_closed(struct evhttp_connection *evcon, void *arg)
{
    origin_xfer *x = arg;
    struct evhttp_request *req = x->req;

    x->evcon = NULL;
    serve_finish(x, "closed");
    if (evhttp_request_get_connection(req) == NULL)
        evhttp_send_reply_end(req);
}

static void serve_schedule(origin_xfer *x, xfer_next next, uint64_t usec)
{
    struct timeval tv = {.tv_sec = (time_t)(usec / 1000000), .tv_usec = (long)(usec % 1000000)};

    x->next = next;
    evtimer_add(x->timer, &tv);
}

/* Ends the connection under a fault: a RST (SO_LINGER 0) or an orderly close. A RST makes the
 * peer's kernel drop data its application has not read yet, so the RST waits until the peer
 * acknowledged every byte and then a little longer: the peer then really got the N bytes. */
static void serve_abort(origin_xfer *x)
{
    struct evhttp_connection *evcon = x->evcon;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    evutil_socket_t fd = bufferevent_getfd(bev);

    if (x->fault == ORIGIN_FAULT_RESET_AFTER && fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        int unacked = 0;
        if (x->abort_polls < ABORT_POLLS_MAX && ioctl(fd, SIOCOUTQ, &unacked) == 0 &&
            unacked > 0) {
            x->abort_polls++;
            serve_schedule(x, NEXT_ABORT, ABORT_POLL_USEC);
            return;
        }
        if (x->abort_polls < ABORT_POLLS_MAX) {
            x->abort_polls = ABORT_POLLS_MAX; /* acknowledged: let the peer read, then reset */
            serve_schedule(x, NEXT_ABORT, ABORT_SETTLE_USEC);
            return;
        }
        /* evhttp shuts the socket down (a FIN) before closing it: put an unconnected socket in
         * its place so that the real one is closed now, with the RST alone */
        int spare = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        if (spare >= 0) {
            dup2(spare, fd);
            close(spare);
        }
    }
    serve_finish(x, x->fault == ORIGIN_FAULT_RESET_AFTER ? "reset" : "fault-close");
    evhttp_connection_free(evcon); /* frees the request with it */
}

static void serve_chunk_done(struct evhttp_connection *evcon, void *arg)
{
    origin_xfer *x = arg;

    x->sent += x->inflight;
    x->inflight = 0;
    serve_pump(x);
}

static uint64_t serve_elapsed_usec(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000000u + (uint64_t)now.tv_nsec / 1000u -
           (uint64_t)t0->tv_nsec / 1000u;
}

static void serve_pump(origin_xfer *x)
{
    uint64_t rate = x->ctx->rate;
    uint64_t n = x->len - x->sent;
    struct evbuffer *buf = NULL;
    struct evbuffer_iovec vec;
    ssize_t got;

    if (n == 0) {
        struct evhttp_request *req = x->req;
        serve_finish(x, "ok");
        evhttp_send_reply_end(req);
        return;
    }
    if (x->sent >= x->limit) {
        /* not from inside evhttp's write callback: freeing the connection there is unsafe */
        serve_schedule(x, NEXT_ABORT, 0);
        return;
    }
    if (rate > 0) {
        /* the next chunk may leave once the bytes already sent are due at RATE */
        uint64_t due = x->sent * 1000000u / rate;
        uint64_t now = serve_elapsed_usec(&x->t0);
        if (now < due) {
            serve_schedule(x, NEXT_PUMP, due - now);
            return;
        }
        uint64_t step = rate / 20 > 0 ? rate / 20 : 1;
        if (n > step)
            n = step;
        if (n > CHUNK_PACED_MAX)
            n = CHUNK_PACED_MAX;
    } else if (n > CHUNK_MAX) {
        n = CHUNK_MAX;
    }
    if (n > x->limit - x->sent)
        n = x->limit - x->sent;

    buf = evbuffer_new();
    if (buf == NULL || evbuffer_reserve_space(buf, (ev_ssize_t)n, &vec, 1) < 1)
        goto fail;
    got = pread(x->fd, vec.iov_base, n, (off_t)(x->off + x->sent));
    if (got != (ssize_t)n)
        goto fail; /* the file shrank under us: a broken body, not a silent short one */
    vec.iov_len = n;
    evbuffer_commit_space(buf, &vec, 1);
    x->inflight = n;
    evhttp_send_reply_chunk_with_cb(x->req, buf, serve_chunk_done, x);
    evbuffer_free(buf);
    return;

fail:
    if (buf != NULL)
        evbuffer_free(buf);
    serve_schedule(x, NEXT_ABORT, 0);
}

static void serve_timer(evutil_socket_t fd, short what, void *arg);

/* "bytes=a-b", "bytes=a-", "bytes=-n" against SIZE. Returns 1 with [*off, *len) for a
 * satisfiable single range, 0 to ignore the header (bad syntax, several ranges), -1 when it is
 * unsatisfiable (416). */
static int serve_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    const char *p;
    char *end;
    unsigned long long a = 0, b = 0;
    int have_a = 0, have_b = 0;

    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return 0;
    p = h + 6;
    while (*p == ' ')
        p++;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        a = strtoull(p, &end, 10);
        if (errno != 0)
            return 0;
        p = end;
        have_a = 1;
    }
    if (*p++ != '-')
        return 0;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        b = strtoull(p, &end, 10);
        if (errno != 0)
            return 0;
        p = end;
        have_b = 1;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0' || (!have_a && !have_b))
        return 0;
    if (!have_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return -1;
        *len = b < size ? b : size;
        *off = size - *len;
        return 1;
    }
    if (have_b && b < a)
        return 0;
    if (a >= size)
        return -1;
    if (!have_b || b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 1;
}

static void serve_http_date(time_t t, char *out, size_t outlen)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int serve_parse_http_date(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    *out = timegm(&tm);
    return 0;
}

/* Weak or strong, a listed tag equal to ETAG (or "*") matches. */
static int serve_etag_listed(const char *list, const char *etag)
{
    size_t n = strlen(etag);
    const char *p = list;

    if (strcmp(list, "*") == 0)
        return 1;
    while ((p = strstr(p, etag)) != NULL) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ')
            return 1;
        p += n;
    }
    return 0;
}

/* The last Range header wins, as the Delivery Optimization client may send it twice. */
static const char *serve_last_header(struct evkeyvalq *headers, const char *name)
{
    const char *v = NULL;
    struct evkeyval *kv;

    TAILQ_FOREACH(kv, headers, next) {
        if (strcasecmp(kv->key, name) == 0)
            v = kv->value;
    }
    return v;
}

/* Maps the decoded request path onto ctx->root; refuses ".." segments. */
static int serve_open(origin_xfer *x, struct stat *st)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(x->req);
    const char *raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    char *path = NULL, *seg, *save = NULL, *copy = NULL;
    char full[8192];
    int rc = -1, n;

    if (raw == NULL || raw[0] != '/')
        return -1;
    path = evhttp_uridecode(raw, 0, NULL);
    if (path == NULL)
        return -1;
    copy = strdup(path);
    if (copy == NULL)
        goto out;
    for (seg = strtok_r(copy, "/", &save); seg != NULL; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, "..") == 0)
            goto out;
    }
    n = snprintf(full, sizeof(full), "%s%s", x->ctx->root, path);
    if (n < 0 || (size_t)n >= sizeof(full))
        goto out;
    x->fd = open(full, O_RDONLY | O_CLOEXEC);
    if (x->fd < 0)
        goto out;
    if (fstat(x->fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(x->fd);
        x->fd = -1;
        goto out;
    }
    rc = 0;
out:
    free(copy);
    free(path);
    return rc;
}

static void serve_reply_empty(origin_xfer *x, int status, const char *reason)
{
    struct evhttp_request *req = x->req;

    x->status = status;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", "0");
    serve_finish(x, "ok");
    evhttp_send_reply(req, status, reason, NULL);
}

static void serve_respond(origin_xfer *x)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(x->req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(x->req);
    struct stat st;
    char etag[96], lastmod[64], num[64];
    const char *h;
    time_t since;
    int ranged = 0;

    evhttp_add_header(out, "Content-Type", "application/octet-stream");
    if (serve_open(x, &st) != 0) {
        serve_reply_empty(x, HTTP_NOTFOUND, "Not Found");
        return;
    }
    snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%" PRIx64 "-%lx\"", (uint64_t)st.st_size,
             (uint64_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    serve_http_date(st.st_mtim.tv_sec, lastmod, sizeof(lastmod));
    evhttp_add_header(out, "ETag", etag);
    evhttp_add_header(out, "Last-Modified", lastmod);
    evhttp_add_header(out, "Accept-Ranges", "bytes");

    h = evhttp_find_header(in, "If-None-Match");
    if (h != NULL ? serve_etag_listed(h, etag)
                  : ((h = evhttp_find_header(in, "If-Modified-Since")) != NULL &&
                     serve_parse_http_date(h, &since) == 0 && st.st_mtim.tv_sec <= since)) {
        struct evhttp_request *req = x->req;
        x->status = HTTP_NOTMODIFIED;
        serve_finish(x, "ok");
        evhttp_send_reply(req, HTTP_NOTMODIFIED, "Not Modified", NULL);
        return;
    }

    x->off = 0;
    x->len = (uint64_t)st.st_size;
    h = serve_last_header(in, "Range");
    if (h != NULL && x->fault != ORIGIN_FAULT_IGNORE_RANGE) {
        const char *ifr = evhttp_find_header(in, "If-Range");
        if (ifr == NULL || strcmp(ifr, etag) == 0 || strcmp(ifr, lastmod) == 0) {
            ranged = serve_parse_range(h, (uint64_t)st.st_size, &x->off, &x->len);
        }
    }
    if (ranged < 0) {
        snprintf(num, sizeof(num), "bytes */%" PRIu64, (uint64_t)st.st_size);
        evhttp_add_header(out, "Content-Range", num);
        serve_reply_empty(x, 416, "Range Not Satisfiable");
        return;
    }
    if (ranged > 0) {
        snprintf(num, sizeof(num), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, x->off,
                 x->off + x->len - 1, (uint64_t)st.st_size);
        evhttp_add_header(out, "Content-Range", num);
    }
    x->status = ranged > 0 ? 206 : HTTP_OK;
    snprintf(num, sizeof(num), "%" PRIu64, x->len);
    evhttp_add_header(out, "Content-Length", num);

    if (x->head || x->len == 0) {
        /* evhttp keeps our Content-Length and sends no body for HEAD */
        struct evhttp_request *req = x->req;
        int status = x->status;
        serve_finish(x, "ok");
        evhttp_send_reply(req, status, status == 206 ? "Partial Content" : "OK", NULL);
        return;
    }
    evhttp_send_reply_start(x->req, x->status, x->status == 206 ? "Partial Content" : "OK");
    clock_gettime(CLOCK_MONOTONIC, &x->t0);
    serve_pump(x);
}

static void serve_timer(evutil_socket_t fd, short what, void *arg)
{
    origin_xfer *x = arg;

    switch (x->next) {
    case NEXT_RESPOND:
        serve_respond(x);
        break;
    case NEXT_PUMP:
        serve_pump(x);
        break;
    case NEXT_ABORT:
        serve_abort(x);
        break;
    }
}

static const char *serve_method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

void origin_serve(struct evhttp_request *req, void *arg)
{
    origin_ctx *ctx = arg;
    origin_xfer *x;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *range;

    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    x->ctx = ctx;
    x->req = req;
    x->evcon = evhttp_request_get_connection(req);
    x->fd = -1;
    x->limit = UINT64_MAX;
    x->head = cmd == EVHTTP_REQ_HEAD;
    snprintf(x->method, sizeof(x->method), "%s", serve_method_name(cmd));
    x->uri = strdup(evhttp_request_get_uri(req));
    range = serve_last_header(evhttp_request_get_input_headers(req), "Range");
    snprintf(x->range, sizeof(x->range), "%s", range != NULL ? range : "-");
    for (char *p = x->range; *p != '\0'; p++) {
        if (*p == ' ' || *p == '\r' || *p == '\n')
            *p = '_'; /* keep one request on one line, fields split by spaces */
    }
    if (ctx->fault_count == 0 || ctx->gets < ctx->fault_count)
        x->fault = ctx->fault.kind; /* --fault-count spares what comes after the first N GETs */
    if (cmd == EVHTTP_REQ_GET)
        ctx->gets++;
    if (x->fault == ORIGIN_FAULT_RESET_AFTER || x->fault == ORIGIN_FAULT_CLOSE_AFTER)
        x->limit = ctx->fault.arg;
    x->timer = evtimer_new(ctx->base, serve_timer, x);
    if (x->uri == NULL || x->timer == NULL) {
        x->status = HTTP_INTERNAL;
        serve_finish(x, "error");
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evhttp_connection_set_closecb(x->evcon, serve_closed, x);

    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        serve_reply_empty(x, 405, "Method Not Allowed");
        return;
    }
    if (ctx->delay_ms > 0) {
        serve_schedule(x, NEXT_RESPOND, ctx->delay_ms * 1000u);
        return;
    }
    serve_respond(x);
}
