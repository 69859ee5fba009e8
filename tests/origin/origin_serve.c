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
#define STALL_POLL_USEC 100000u
#define PAD_LINE 1000u /* bytes of one X-Pad-* header value (big-headers) */

typedef enum xfer_next {
    NEXT_RESPOND, /* the delay ran out: send status and headers */
    NEXT_PUMP,    /* pacing allows the next chunk */
    NEXT_ABORT,   /* a fault ends the connection */
    NEXT_STALL,   /* stalled mid-body: look whether the peer is still there */
    NEXT_RAW      /* send bytes that are not HTTP, then close */
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
    uint64_t extra;    /* bytes sent after the LEN announced (long-body) */
    uint64_t rate;     /* body bytes per second; 0 = unthrottled */
    uint64_t sent;     /* body bytes the kernel accepted */
    uint64_t inflight; /* body bytes handed to evhttp, not yet written out */
    uint64_t limit;    /* body bytes to send before a fault ends the connection */
    origin_faults faults; /* the faults this response suffers, none when spared */
    int v2;               /* change-after: this GET gets FILE.v2 */
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

    int reset = ORIGIN_FAULT_HAS(&x->faults, ORIGIN_FAULT_RESET_AFTER);

    if (reset && fd >= 0) {
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
    serve_finish(x, reset ? "reset" : "fault-close");
    evhttp_connection_free(evcon); /* frees the request with it */
}

/* Stalled mid-body (stall-after): nothing more is sent; the response ends when the peer gives up,
 * which evhttp alone may not notice while it has nothing to write. */
static void serve_stall_poll(origin_xfer *x)
{
    struct evhttp_connection *evcon = x->evcon;
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    char c;
    ssize_t r = fd >= 0 ? recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) : 0;

    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        serve_finish(x, "stalled");
        evhttp_connection_free(evcon);
        return;
    }
    serve_schedule(x, NEXT_STALL, STALL_POLL_USEC);
}

/* garbage and bad-status: bytes that are no HTTP answer go out on the bare socket, then the
 * connection closes. The bytes of garbage come from a fixed xorshift sequence. */
static void serve_raw(origin_xfer *x)
{
    static const char bad[] = "HTTP/1.1 abc\r\nContent-Length: 5\r\n\r\nhello";
    struct evhttp_connection *evcon = x->evcon;
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    int garbage = ORIGIN_FAULT_HAS(&x->faults, ORIGIN_FAULT_GARBAGE);
    uint64_t want = garbage ? x->faults.arg[ORIGIN_FAULT_GARBAGE] : sizeof(bad) - 1;
    uint64_t state = 0x9e3779b97f4a7c15u;
    unsigned char buf[4096];

    while (fd >= 0 && x->sent < want) {
        size_t n = want - x->sent < sizeof(buf) ? (size_t)(want - x->sent) : sizeof(buf);
        if (garbage) {
            for (size_t i = 0; i < n; i++) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                buf[i] = (unsigned char)(state >> 24);
            }
        } else {
            memcpy(buf, bad + x->sent, n);
        }
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* a full socket buffer: what went out is what the log says */
        x->sent += (uint64_t)w;
    }
    serve_finish(x, garbage ? "garbage" : "bad-status");
    evhttp_connection_free(evcon);
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
    uint64_t rate = x->rate;
    uint64_t n = x->len + x->extra - x->sent;
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
        if (ORIGIN_FAULT_HAS(&x->faults, ORIGIN_FAULT_STALL_AFTER)) {
            serve_schedule(x, NEXT_STALL, STALL_POLL_USEC);
            return;
        }
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
    if (x->sent < x->len && n > x->len - x->sent)
        n = x->len - x->sent; /* a chunk is file bytes or long-body filler, never both */

    buf = evbuffer_new();
    if (buf == NULL || evbuffer_reserve_space(buf, (ev_ssize_t)n, &vec, 1) < 1)
        goto fail;
    if (x->sent >= x->len) {
        memset(vec.iov_base, '!', n);
    } else {
        got = pread(x->fd, vec.iov_base, n, (off_t)(x->off + x->sent));
        if (got != (ssize_t)n)
            goto fail; /* the file shrank under us: a broken body, not a silent short one */
    }
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

/* Maps the decoded request path (plus SUFFIX) onto ctx->root; refuses ".." segments. */
static int serve_open(origin_xfer *x, struct stat *st, const char *suffix)
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
    n = snprintf(full, sizeof(full), "%s%s%s", x->ctx->root, path, suffix);
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

static const char *serve_reason(int status)
{
    switch (status) {
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Fault";
    }
}

/* The answers that do not depend on the file: a chosen status, a redirect to the same target.
 * Returns 1 when it answered. */
static int serve_respond_fault(origin_xfer *x, struct evkeyvalq *out)
{
    const origin_faults *f = &x->faults;

    if (ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_STATUS)) {
        uint64_t status = f->arg[ORIGIN_FAULT_STATUS];
        if (status < 200 || status > 599)
            status = 500; /* 1xx and odd numbers would need another framing: not offered */
        serve_reply_empty(x, (int)status, serve_reason((int)status));
        return 1;
    }
    if (ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_REDIRECT_LOOP)) {
        evhttp_add_header(out, "Location", x->uri);
        serve_reply_empty(x, 302, "Found");
        return 1;
    }
    return 0;
}

/* big-headers: X-Pad-N lines of PAD_LINE bytes each until SIZE bytes were added. */
static void serve_pad_headers(struct evkeyvalq *out, uint64_t size)
{
    char name[32], value[PAD_LINE + 1];

    memset(value, 'p', PAD_LINE);
    value[PAD_LINE] = '\0';
    for (uint64_t done = 0, i = 0; done < size; i++) {
        snprintf(name, sizeof(name), "X-Pad-%" PRIu64, i);
        evhttp_add_header(out, name, value);
        done += strlen(name) + 2 + PAD_LINE + 2;
    }
}

/* change-after: swaps the open FILE for FILE.v2 when there is one. ST becomes the served file's;
 * VST keeps FILE's under keep-validators (the validators then do not tell the versions apart). */
static void serve_pick_version(origin_xfer *x, struct stat *st, struct stat *vst)
{
    int fd1 = x->fd;
    struct stat st2;

    *vst = *st;
    if (!x->v2)
        return;
    x->fd = -1;
    if (serve_open(x, &st2, ".v2") != 0) {
        x->fd = fd1;
        return;
    }
    close(fd1);
    *st = st2;
    if (!ORIGIN_FAULT_HAS(&x->faults, ORIGIN_FAULT_KEEP_VALIDATORS))
        *vst = st2;
}

static void serve_respond(origin_xfer *x)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(x->req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(x->req);
    const origin_faults *f = &x->faults;
    struct stat st, vst;
    char etag[96], lastmod[64], num[64];
    const char *h;
    time_t since;
    uint64_t total;
    int ranged = 0;

    if (ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_GARBAGE) || ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_BAD_STATUS)) {
        serve_schedule(x, NEXT_RAW, 0); /* the connection is freed: not inside evhttp's call */
        return;
    }
    if (ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_RETRY_AFTER)) {
        snprintf(num, sizeof(num), "%" PRIu64, f->arg[ORIGIN_FAULT_RETRY_AFTER]);
        evhttp_add_header(out, "Retry-After", num);
    }
    if (ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_BIG_HEADERS))
        serve_pad_headers(out, f->arg[ORIGIN_FAULT_BIG_HEADERS]);
    if (serve_respond_fault(x, out))
        return;
    evhttp_add_header(out, "Content-Type", "application/octet-stream");
    if (serve_open(x, &st, "") != 0) {
        serve_reply_empty(x, HTTP_NOTFOUND, "Not Found");
        return;
    }
    serve_pick_version(x, &st, &vst);
    snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%" PRIx64 "-%lx\"", (uint64_t)vst.st_size,
             (uint64_t)vst.st_mtim.tv_sec, (long)vst.st_mtim.tv_nsec);
    serve_http_date(vst.st_mtim.tv_sec, lastmod, sizeof(lastmod));
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
    if (h != NULL && !ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_IGNORE_RANGE)) {
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
    total = (uint64_t)st.st_size;
    if (ranged > 0 && ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_WRONG_START) &&
        x->off + f->arg[ORIGIN_FAULT_WRONG_START] < total) {
        /* bytes and Content-Range agree with each other, not with the request */
        x->off += f->arg[ORIGIN_FAULT_WRONG_START];
        if (x->len > total - x->off)
            x->len = total - x->off;
    }
    if (ranged > 0 && ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_WRONG_TOTAL))
        total = f->arg[ORIGIN_FAULT_WRONG_TOTAL];
    if (ranged > 0) {
        snprintf(num, sizeof(num), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, x->off,
                 x->off + x->len - 1, total);
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
    if (ORIGIN_FAULT_HAS(f, ORIGIN_FAULT_LONG_BODY))
        x->extra = f->arg[ORIGIN_FAULT_LONG_BODY];
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
    case NEXT_STALL:
        serve_stall_poll(x);
        break;
    case NEXT_RAW:
        serve_raw(x);
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

/* The faults the request itself asks for (--fault-by-query, --fault-by-host) into OUT. Returns 1
 * when it named any, 0 when not, -1 when it named them badly. */
static int serve_request_faults(origin_xfer *x, origin_faults *out)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(x->req);
    const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    int chosen = 0;

    if (x->ctx->by_query && query != NULL) {
        struct evkeyvalq params;
        const char *spec;
        TAILQ_INIT(&params);
        if (evhttp_parse_query_str(query, &params) == 0 &&
            (spec = evhttp_find_header(&params, "fault")) != NULL) {
            chosen = origin_faults_parse(spec, ',', out) == 0 ? 1 : -1;
        }
        evhttp_clear_headers(&params);
        if (chosen != 0)
            return chosen;
    }
    if (x->ctx->by_host) {
        const char *host = evhttp_find_header(evhttp_request_get_input_headers(x->req), "Host");
        int n = host != NULL ? origin_faults_parse_host(host, out) : 0;
        chosen = n < 0 ? -1 : n > 0;
    }
    return chosen;
}

/* Counts a change-after GET of the request's path; returns how many came before it. A path the
 * table cannot hold counts as its first GET. */
static uint64_t serve_count_get(origin_xfer *x)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(x->req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    origin_count *c;

    if (path == NULL)
        return 0;
    for (c = x->ctx->change_gets; c != NULL; c = c->next) {
        if (strcmp(c->path, path) == 0)
            return c->gets++;
    }
    c = malloc(sizeof(*c) + strlen(path) + 1);
    if (c == NULL)
        return 0;
    memcpy(c->path, path, strlen(path) + 1);
    c->gets = 1;
    c->next = x->ctx->change_gets;
    x->ctx->change_gets = c;
    return 0;
}

void origin_counts_free(origin_ctx *ctx)
{
    while (ctx->change_gets != NULL) {
        origin_count *c = ctx->change_gets;
        ctx->change_gets = c->next;
        free(c);
    }
}

/* A fault that ends the body after ARG bytes lowers the response's limit. */
static void serve_limit(origin_xfer *x, origin_fault_kind kind)
{
    if (ORIGIN_FAULT_HAS(&x->faults, kind) && x->faults.arg[kind] < x->limit)
        x->limit = x->faults.arg[kind];
}

void origin_serve(struct evhttp_request *req, void *arg)
{
    origin_ctx *ctx = arg;
    origin_xfer *x;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *range;
    uint64_t delay_ms;
    int chosen;

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
    chosen = serve_request_faults(x, &x->faults);
    if (chosen == 0 && (ctx->fault_count == 0 || ctx->gets < ctx->fault_count))
        x->faults = ctx->faults; /* --fault-count spares what comes after the first N GETs */
    if (cmd == EVHTTP_REQ_GET)
        ctx->gets++;
    if (cmd == EVHTTP_REQ_GET && ORIGIN_FAULT_HAS(&x->faults, ORIGIN_FAULT_CHANGE_AFTER))
        x->v2 = serve_count_get(x) >= x->faults.arg[ORIGIN_FAULT_CHANGE_AFTER];
    serve_limit(x, ORIGIN_FAULT_RESET_AFTER);
    serve_limit(x, ORIGIN_FAULT_CLOSE_AFTER);
    serve_limit(x, ORIGIN_FAULT_STALL_AFTER);
    x->rate = ORIGIN_FAULT_HAS(&x->faults, ORIGIN_FAULT_DRIP) ? x->faults.arg[ORIGIN_FAULT_DRIP]
                                                               : ctx->rate;
    delay_ms = ctx->delay_ms;
    if (ORIGIN_FAULT_HAS(&x->faults, ORIGIN_FAULT_STALL_HEADERS))
        delay_ms += x->faults.arg[ORIGIN_FAULT_STALL_HEADERS];
    x->timer = evtimer_new(ctx->base, serve_timer, x);
    if (x->uri == NULL || x->timer == NULL || chosen < 0) {
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
    if (delay_ms > 0) {
        serve_schedule(x, NEXT_RESPOND, delay_ms * 1000u);
        return;
    }
    serve_respond(x);
}
