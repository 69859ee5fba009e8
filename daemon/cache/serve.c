/* Serving one client request: decide whether the stored object may be used (RFC 9111), plan the
 * range as slices, send what is stored with sendfile, join or start transfers for what is
 * missing, and feed the client as bytes land. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cache/pipeline.h"
#include "core/lock.h"
#include "core/metrics.h"
#include "core/text.h"
#include "http/addr.h"
#include "http/range.h"
#include "report/stats.h"

/* The most one chunk hands to the connection: file segments cost no memory, copies do. */
#define SERVE_CHUNK_FILE (4u << 20)
#define SERVE_CHUNK_COPY (256u << 10)
#ifndef SERVE_NOW_MAX
#define SERVE_NOW_MAX (256u << 10) /* stored bodies up to this size are written at once */
#endif
/* serve_send: the whole chunk was written to the socket at once (serve_write_now) */
#define SERVE_SENT 1
/* Bodies longer than this have their stored bytes written by a sender thread (sender.h), if
 * there are any. */
#define SERVE_SENDER_MIN SERVE_NOW_MAX
/* The most header bytes written outside libevent (by mccd or a sender) */
#define SERVE_HEAD_MAX (16u << 10)
/* The most one job carries: a sender goes from one span to the next only through the loop. */
#define SERVE_CHUNK_SENDER (64u << 20)
/* A waiting client this far ahead of a transfer's position gets its own transfer. */
#define SERVE_SPLIT_SLICES 4
/* Transfers that may fail under one response before its connection is given up. */
#define SERVE_MAX_FAILURES 2

static void serve_closed(struct evhttp_connection *evcon, void *arg);

const char *mcc_method_name(int cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "GET";
    }
}

static char *serve_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void serve_link(mcc_serve *s, mcc_entry *e)
{
    s->entry = e;
    s->next = e->serves;
    e->serves = s;
}

void mcc_serve_detach(mcc_serve *s)
{
    mcc_entry *e = s->entry;
    if (e == NULL)
        return;
    for (mcc_serve **p = &e->serves; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    s->entry = NULL;
    s->next = NULL;
    s->waiting_on = NULL;
    mcc_entry_unref(e);
}

/* Logs the request, tells the exporters, and frees S. The request itself is no longer ours.
 * With a job out at a sender, S waits for it to come back (mcc_serve_sent). */
static void serve_release(mcc_serve *s)
{
    struct mcc_cache *c = s->cache;
    if (s->job != NULL) {
        s->release_due = 1;
        s->aborting = 1; /* nothing more is sent */
        if (c->senders != NULL)
            mcc_senders_cancel(c->senders, s->job);
        return;
    }
    int64_t now = mcc_now_us();
    mcc_request_record rec = {
        .time_us = (int64_t)s->t0_us,
        .client = s->client,
        .method = mcc_method_name(s->method),
        .origin_host = s->origin_host != NULL ? s->origin_host : "",
        .path = s->log_path != NULL ? s->log_path : "",
        .status = s->status,
        .bytes_sent = s->hit + s->miss,
        .hit_bytes = s->hit,
        .miss_bytes = s->miss,
        .cache_status = s->cache_status[0] != '\0' ? s->cache_status : "error",
        .upstream_ms = s->upstream_ms,
        .duration_ms = (uint64_t)(now - (int64_t)s->t0_us) / 1000,
    };
    mcc_request_done(c->core, &rec);
    mcc_serve_detach(s);
    if (s->pass != NULL)
        mcc_pass_free(s->pass);
    if (s->kick != NULL)
        event_free(s->kick);
    c->counts.serves--;
    free(s->path);
    free(s->log_path);
    free(s->origin_host);
    free(s->via);
    free(s->range);
    free(s->stored);
    free(s->if_none_match);
    free(s->if_modified_since);
    free(s->if_range);
    free(s);
}

static void serve_detach_connection(mcc_serve *s)
{
    if (s->evcon != NULL)
        evhttp_connection_set_closecb(s->evcon, NULL, NULL);
}

/* The header block of a small hit, written by mccd itself (serve_head_begin): one buffer per
 * event loop, as a loop serves one response at a time up to the point it is sent (the send
 * itself is made without the daemon lock, while other loops write their own blocks). */
static _Thread_local char serve_head[SERVE_HEAD_MAX];

/* The serve whose request's own callback this thread is in (mcc_cache_serve), or NULL: only
 * there may a send let go of the daemon lock. Within a transfer's callback, libcurl's state is
 * half updated, and another loop could call into it. */
static _Thread_local mcc_serve *serve_in_request;

static void serve_head_add(mcc_serve *s, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    if (strpbrk(value, "\r\n") != NULL)
        return; /* as evhttp_add_header: a value never ends the header line early */
    /* the values are bounded by mcc_meta's fields: a hit's block is under 3 KiB */
    if (s->head_len + nlen + vlen + 4 + 2 > sizeof(serve_head))
        return;
    char *p = serve_head + s->head_len;
    memcpy(p, name, nlen);
    memcpy(p + nlen, ": ", 2);
    memcpy(p + nlen + 2, value, vlen);
    memcpy(p + nlen + 2 + vlen, "\r\n", 2);
    s->head_len += nlen + vlen + 4;
}

static void serve_header(mcc_serve *s, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    if (s->own_head)
        serve_head_add(s, name, value);
    else
        evhttp_add_header(evhttp_request_get_output_headers(s->req), name, value);
}

/* Starts the header block of a small hit in serve_head, when libevent's own writing of it can be
 * left out: the request carries no Connection header (so that keeping or closing the
 * connection after it, which evhttp decides from the request, needs no word in the response).
 * libevent formatted every header line with printf and kept each as three allocations. */
static void serve_head_begin(mcc_serve *s)
{
    if (s->evcon == NULL ||
        evhttp_find_header(evhttp_request_get_input_headers(s->req), "Connection") != NULL)
        return;
    if (s->status != 200 && s->status != 206)
        return;
    const char *line =
        s->status == 206 ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n";
    s->head_len = strlen(line);
    memcpy(serve_head, line, s->head_len);
    s->own_head = 1;
}

/* Ends the block with the Date and the empty line. */
static void serve_head_end(mcc_serve *s)
{
    static time_t date_at;
    static char date[40];
    time_t now = time(NULL);
    if (now != date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        date_at = now;
    }
    serve_head_add(s, "Date", date);
    memcpy(serve_head + s->head_len, "\r\n", 2);
    s->head_len += 2;
}

/* Answers with an error before any header went out. */
void mcc_serve_fail(mcc_serve *s, int status)
{
    const char *reason = "Bad Gateway", *body = "upstream unavailable\n";
    switch (status) {
    case 404: reason = "Not Found"; body = "not found upstream\n"; break;
    case 410: reason = "Gone"; body = "gone upstream\n"; break;
    case 416: reason = "Range Not Satisfiable"; body = ""; break;
    case 503: reason = "Service Unavailable"; body = "cache cannot serve this now\n"; break;
    case 504: reason = "Gateway Timeout"; body = "upstream timed out\n"; break;
    case 508: reason = "Loop Detected"; body = "request loop between caches\n"; break;
    default:
        if (status >= 400 && status < 500) {
            reason = "Upstream Refused";
            body = "refused upstream\n";
        }
        break;
    }
    s->status = status;
    if (s->cache_status[0] == '\0')
        snprintf(s->cache_status, sizeof(s->cache_status), "error");
    serve_header(s, "Content-Type", "text/plain");
    if ((status == 503 || status == 429) && s->entry != NULL)
        serve_header(s, "Retry-After", s->entry->retry_after);
    char cs[192];
    snprintf(cs, sizeof(cs), "%s; fwd=miss; detail=%d", s->cache->core->settings.node_name,
             status);
    serve_header(s, "Cache-Status", cs);
    struct evbuffer *b = evbuffer_new();
    if (b != NULL)
        evbuffer_add(b, body, strlen(body));
    serve_detach_connection(s);
    evhttp_send_reply(s->req, status, reason, s->head ? NULL : b);
    if (b != NULL)
        evbuffer_free(b);
    serve_release(s);
}

void mcc_serve_finish(mcc_serve *s)
{
    serve_detach_connection(s);
    evhttp_send_reply_end(s->req);
    serve_release(s);
}

static void serve_kick(evutil_socket_t fd, short what, void *arg)
{
    mcc_serve *s = arg;
    /* closing the connection calls serve_closed, which frees S */
    evhttp_connection_free(s->evcon);
}

/* A started reply cannot be completed (its length is promised): close the connection. */
void mcc_serve_abort(mcc_serve *s)
{
    if (s->aborting)
        return;
    s->aborting = 1;
    s->waiting_on = NULL;
    mcc_log(MCC_LOG_WARN, "closing %s: %s%s stopped at byte %" PRIu64 " of %" PRIu64, s->client,
            s->origin_host, s->log_path, s->cursor, s->last + 1);
    if (s->evcon == NULL) {
        serve_release(s);
        return;
    }
    event_active(s->kick, EV_TIMEOUT, 0);
}

static void serve_closed(struct evhttp_connection *evcon, void *arg)
{
    mcc_serve *s = arg;
    /* libevent calls this before it drops the output buffer: what left it reached the kernel
     * and counts as sent; what is still queued never left the cache */
    if (s->pending > 0 && s->pass == NULL && s->job == NULL) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
        uint64_t left = bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
        uint64_t gone = s->pending > left ? s->pending - left : 0;
        uint64_t hit = s->pending_hit > 0 ? gone : 0, miss = gone - hit;
        s->hit += hit;
        s->miss += miss;
        s->pending = s->pending_hit = 0;
        mcc_stats_sent(s->cache->core->stats, hit, miss);
    }
    s->evcon = NULL;
    /* a request libevent detached from the dying connection is ours to free; one still on it
     * is freed by libevent right after this callback */
    if (evhttp_request_get_connection(s->req) == NULL)
        evhttp_request_free(s->req);
    s->req = NULL;
    if (s->status == 0)
        s->status = 499;
    serve_release(s);
}

/* Accounts the chunk that was written and goes on. */
void mcc_serve_written_cb(struct evhttp_connection *evcon, void *arg)
{
    mcc_serve *s = arg;
    if (s->pass != NULL) {
        mcc_pass_written(s);
        return;
    }
    uint64_t hit = s->pending_hit, miss = s->pending - s->pending_hit;
    s->hit += hit;
    s->miss += miss;
    s->pending = s->pending_hit = 0;
    s->sending = 0;
    mcc_stats_sent(s->cache->core->stats, hit, miss);
    mcc_serve_pump(s);
}

/* Drops the first N bytes of a connection's output buffer, which mccd wrote itself. Its start
 * is frozen to everyone but the bufferevent's own write callback, which thaws it the same way. */
static int serve_output_drain(struct evbuffer *out, size_t n)
{
    evbuffer_unfreeze(out, 1);
    int rc = evbuffer_drain(out, n);
    evbuffer_freeze(out, 1);
    return rc;
}

/* A sender thread was done with S's job: account what left, then go on (or close, or free). */
void mcc_serve_sent(mcc_sendjob *job, void *arg)
{
    mcc_serve *s = job->owner;
    uint64_t sent = job->sent;
    int complete = job->error == 0 && sent == job->len && !atomic_load(&job->cancel);
    if (job->error != 0 && job->error != EPIPE && job->error != ECONNRESET)
        mcc_log(MCC_LOG_WARN, "sending to %s: %s", s->client, strerror(job->error));
    mcc_sendjob_free(job);
    s->job = NULL;
    s->hit += sent; /* jobs carry bytes stored before the response began only */
    s->pending = s->pending_hit = 0;
    s->sending = 0;
    mcc_stats_sent(s->cache->core->stats, sent, 0);
    if (s->cache->m_sender_bytes != NULL)
        mcc_metric_add(s->cache->m_sender_bytes, (double)sent);
    if (s->release_due)
        serve_release(s);
    else if (!complete)
        mcc_serve_abort(s); /* the length is promised: the connection must close */
    else
        mcc_serve_pump(s);
}

/* Hands [FILE_OFF, FILE_OFF + LEN) of FILE, with the headers still queued, to a sender thread.
 * Only bytes that were stored before the response began (they wait on nothing, and nothing is
 * relayed after them) of bodies too large to be written at once; MCC_DECLINED sends on the
 * loop. */
static int serve_sender_may(const mcc_serve *s)
{
    return s->cache->senders != NULL && s->evcon != NULL && !s->now && s->relay == NULL &&
           s->last - s->first + 1 > SERVE_SENDER_MIN;
}

static int serve_hand_off(mcc_serve *s, int file, uint64_t file_off, uint64_t len)
{
    struct mcc_cache *c = s->cache;
    if (!serve_sender_may(s))
        return MCC_DECLINED;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
    evutil_socket_t sock = bev != NULL ? bufferevent_getfd(bev) : -1;
    if (sock < 0)
        return MCC_DECLINED;
    struct evbuffer *out = bufferevent_get_output(bev);
    size_t head_len = evbuffer_get_length(out);
    if (head_len > SERVE_HEAD_MAX)
        return MCC_DECLINED;
    const unsigned char *head = head_len > 0 ? evbuffer_pullup(out, (ev_ssize_t)head_len) : NULL;
    if (head_len > 0 && head == NULL)
        return MCC_DECLINED;
    mcc_sendjob *job = mcc_sendjob_new(sock, file, file_off, len, head, head_len);
    if (job == NULL)
        return MCC_DECLINED;
    /* it comes back to the loop that owns the connection */
    job->loop = mcc_senders_loop_of(c->senders, evhttp_connection_get_base(s->evcon));
    /* the sender writes them: libevent has nothing left to send */
    if (serve_output_drain(out, head_len) != 0) {
        mcc_sendjob_free(job);
        return MCC_DECLINED;
    }
    job->owner = s;
    s->job = job;
    mcc_senders_submit(c->senders, job);
    return MCC_OK;
}

/* A small hit's headers and body leave in two system calls made right here: a send of the
 * queued headers with MSG_MORE (they wait for the body) and a sendfile. Through libevent they
 * took a writev, a sendfile on the next turn of the loop, and two epoll_ctl to turn the write
 * event on and off (and TCP_CORK on and off to keep them in one segment). Returns the body bytes
 * written: LEN unless the socket filled up (the rest goes through the buffer, after what was
 * written), or -1 when the connection failed. */
static int64_t serve_write_now(mcc_serve *s, int file, uint64_t file_off, uint64_t len)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
    evutil_socket_t sock = bev != NULL ? bufferevent_getfd(bev) : -1;
    if (sock < 0)
        return 0;
    /* the headers: mccd's own block, or what libevent queued */
    struct evbuffer *out = bufferevent_get_output(bev);
    const char *head = serve_head;
    size_t head_len = s->head_len;
    if (!s->own_head) {
        head_len = evbuffer_get_length(out);
        head = head_len > 0 && head_len <= SERVE_HEAD_MAX
                   ? (const char *)evbuffer_pullup(out, (ev_ssize_t)head_len)
                   : NULL;
        if (head_len > 0 && head == NULL)
            return 0;
    }
    /* the kernel's part, most of a small hit's cost, is made without the daemon lock when this
     * is the request's own callback: nothing else on this thread is half done, and other loops
     * leave this serve alone meanwhile (mcc_serve_pump waits while it is sending) */
    int unlock = serve_in_request == s && mcc_lock_held();
    if (unlock) {
        s->sending = 1;
        mcc_unlock();
    }
    ssize_t w = 0, n = 0;
    int werr = 0, nerr = 0;
    if (head_len > 0) {
        w = send(sock, head, head_len, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
        werr = w < 0 ? errno : 0;
    }
    if (head_len == 0 || w == (ssize_t)head_len) {
        off_t off = (off_t)file_off;
        n = sendfile(sock, file, &off, (size_t)len);
        nerr = n < 0 ? errno : 0;
    }
    if (unlock) {
        mcc_lock();
        s->sending = 0;
    }
    if (head_len > 0) {
        if (w < 0 && werr != EAGAIN && werr != EWOULDBLOCK && werr != EINTR)
            return -1;
        size_t sent = w > 0 ? (size_t)w : 0;
        /* what the socket did not take goes through the buffer; what it took leaves it */
        if (s->own_head) {
            s->own_head = 0;
            if (sent < head_len && evbuffer_add(out, head + sent, head_len - sent) != 0)
                return -1;
        } else if (sent > 0 && serve_output_drain(out, sent) != 0) {
            return -1;
        }
        if (sent < head_len)
            return 0;
    }
    if (n < 0)
        return nerr == EAGAIN || nerr == EWOULDBLOCK || nerr == EINTR ? 0 : -1;
    return n;
}

/* Sends [OFF, OFF + LEN) of the stored object: sendfile where the backend has a file. MCC_OK
 * (written when libevent says so), SERVE_SENT (written already) or MCC_ERROR. */
static int serve_send(mcc_serve *s, uint64_t off, uint64_t len, int from_storage)
{
    mcc_entry *e = s->entry;
    const mcc_storage_ops *st = s->cache->st;
    int fd = -1;
    uint64_t fd_off = 0;
    int rc = MCC_ERROR;
    int have_fd = st->read_fd != NULL && st->read_fd(e->obj, off, &fd, &fd_off) == MCC_OK;
    int now = have_fd && from_storage && s->now && s->evcon != NULL;
    if (s->own_head && !now) {
        /* the body goes through the buffer after all: so do the headers mccd wrote */
        s->own_head = 0;
        struct bufferevent *bev =
            s->evcon != NULL ? evhttp_connection_get_bufferevent(s->evcon) : NULL;
        if (bev == NULL || evbuffer_add(bufferevent_get_output(bev), serve_head, s->head_len) != 0)
            return MCC_ERROR;
    }
    if (now) {
        int64_t n = serve_write_now(s, fd, fd_off, len);
        if (n < 0)
            return MCC_ERROR;
        s->hit += (uint64_t)n;
        mcc_stats_sent(s->cache->core->stats, (uint64_t)n, 0);
        s->cursor = off + (uint64_t)n;
        if ((uint64_t)n == len)
            return SERVE_SENT;
        off += (uint64_t)n; /* the socket is full: the rest through the buffer */
        fd_off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    if (have_fd && from_storage && len <= SERVE_CHUNK_SENDER &&
        serve_hand_off(s, fd, fd_off, len) == MCC_OK) {
        s->sending = 1;
        s->pending = s->pending_hit = len;
        s->cursor = off + len;
        return MCC_OK;
    }
    if (have_fd && len > SERVE_CHUNK_FILE)
        len = SERVE_CHUNK_FILE;
    struct evbuffer *b = evbuffer_new();
    if (b == NULL)
        return MCC_ERROR;
    if (have_fd) {
        /* the buffer drains to a socket: libevent then uses sendfile instead of mapping. The
         * segment borrows the handle's fd (no dup, no close): the serve holds the entry, and so
         * the handle, until the bytes are with the kernel or the connection is gone. */
        evbuffer_set_flags(b, EVBUFFER_FLAG_DRAINS_TO_FD);
        struct evbuffer_file_segment *seg = evbuffer_file_segment_new(
            fd, (ev_off_t)fd_off, (ev_off_t)len, EVBUF_FS_DISABLE_LOCKING);
        if (seg != NULL && evbuffer_add_file_segment(b, seg, 0, (ev_off_t)len) == 0)
            rc = MCC_OK;
        if (seg != NULL)
            evbuffer_file_segment_free(seg); /* the buffer holds its own reference */
    } else {
        if (len > SERVE_CHUNK_COPY)
            len = SERVE_CHUNK_COPY;
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(b, (ev_ssize_t)len, &v, 1) == 1 &&
            st->read(e->obj, off, v.iov_base, (size_t)len) == MCC_OK) {
            v.iov_len = (size_t)len;
            if (evbuffer_commit_space(b, &v, 1) == 0)
                rc = MCC_OK;
        }
    }
    if (rc != MCC_OK) {
        evbuffer_free(b);
        mcc_log(MCC_LOG_ERROR, "cannot read %" PRIu64 " bytes at %" PRIu64 " from storage", len,
                off);
        return MCC_ERROR;
    }
    s->sending = 1;
    s->pending = len;
    s->pending_hit = from_storage ? len : 0;
    s->cursor = off + len;
    evhttp_send_reply_chunk_with_cb(s->req, b, mcc_serve_written_cb, s);
    evbuffer_free(b);
    return MCC_OK;
}

/* --- Conditional requests (RFC 9110 13) ------------------------------------------------------ */

/* Does the If-None-Match list LIST name ETAG? Weak comparison: W/ prefixes are ignored. */
static int serve_etag_in(const char *list, const char *etag)
{
    if (etag == NULL || etag[0] == '\0')
        return 0;
    const char *want = strncmp(etag, "W/", 2) == 0 ? etag + 2 : etag;
    size_t wlen = strlen(want);
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        const char *tag = p;
        if (*p == '"') {
            p++;
            while (*p != '\0' && *p != '"')
                p++;
            if (*p == '"')
                p++;
        }
        if ((size_t)(p - tag) == wlen && strncmp(tag, want, wlen) == 0)
            return 1;
        while (*p != '\0' && *p != ',')
            p++;
    }
    return 0;
}

/* 1 when the client's validators say it has the stored version (answer 304). */
static int serve_not_modified(mcc_serve *s)
{
    const mcc_meta *m = &s->entry->meta;
    if (s->if_none_match != NULL)
        return serve_etag_in(s->if_none_match, m->etag);
    if (s->if_modified_since != NULL) {
        int64_t ims = mcc_http_date(s->if_modified_since);
        int64_t lm = mcc_http_date(m->last_modified);
        return ims > 0 && lm > 0 && lm <= ims;
    }
    return 0;
}

/* If-Range: the Range applies only when the validator is the stored version's (strong). */
static int serve_if_range_holds(mcc_serve *s)
{
    const mcc_meta *m = &s->entry->meta;
    const char *v = s->if_range;
    if (v == NULL)
        return 1;
    if (v[0] == '"' || strncmp(v, "W/", 2) == 0)
        return v[0] == '"' && m->etag[0] == '"' && strcmp(v, m->etag) == 0;
    int64_t d = mcc_http_date(v);
    return d > 0 && d == mcc_http_date(m->last_modified);
}

/* --- Freshness (RFC 9111 4) ------------------------------------------------------------------ */

static const char *serve_vary_lookup(void *arg, const char *name)
{
    mcc_serve *s = arg;
    return s->req != NULL ? evhttp_find_header(evhttp_request_get_input_headers(s->req), name)
                          : NULL;
}

void mcc_serve_vary_values(mcc_serve *s, const char *vary, char *out, size_t cap)
{
    mcc_vary_values(vary, serve_vary_lookup, s, out, cap);
}

/* Whether the stored object may answer S now: MCC_VALIDATE_NONE, or how to ask the origin. */
static int serve_freshness(mcc_serve *s)
{
    mcc_entry *e = s->entry;
    const mcc_meta *m = &e->meta;
    if (m->vary[0] != '\0') {
        char values[sizeof(m->vary_values)];
        mcc_serve_vary_values(s, m->vary, values, sizeof(values));
        if (strcmp(values, m->vary_values) != 0)
            return MCC_VALIDATE_RELOAD; /* another variant: fetch the one asked for */
    }
    int validators = m->etag[0] != '\0' || m->last_modified[0] != '\0';
    int how = validators ? MCC_VALIDATE_COND : MCC_VALIDATE_RELOAD;
    /* a stored 404 or 410 of immutable content follows the origin's caching headers: the
     * object may appear later under the same name */
    int cls = s->freshness;
    if (cls == MCC_FRESH_IMMUTABLE && m->status != 0 && m->status != 200)
        cls = MCC_FRESH_STANDARD;
    if (cls == MCC_FRESH_IMMUTABLE)
        return MCC_VALIDATE_NONE;
    if (cls == MCC_FRESH_REVALIDATE)
        return how;

    mcc_cc resp, *req = &s->req_cc;
    mcc_cc_init(&resp);
    mcc_cc_parse(m->cache_control[0] != '\0' ? m->cache_control : NULL, &resp);
    int explicit_;
    int64_t lifetime = mcc_fresh_lifetime(m, (int64_t)(s->cache->core->settings.heuristic_max_ms /
                                                       1000),
                                          &explicit_);
    int64_t age = mcc_fresh_age(m, (int64_t)time(NULL));
    if (resp.no_cache || req->no_cache)
        return how;
    if (req->max_age != MCC_CC_ABSENT && age > req->max_age)
        return how;
    int64_t left = lifetime - age;
    if (req->min_fresh != MCC_CC_ABSENT && left < req->min_fresh)
        return how;
    if (left > 0)
        return MCC_VALIDATE_NONE;
    /* stale: a client may accept that, unless the origin forbade it (RFC 9111 4.2.4) */
    if (!resp.must_revalidate && !resp.proxy_revalidate && resp.s_maxage == MCC_CC_ABSENT &&
        req->max_stale != MCC_CC_ABSENT && -left <= req->max_stale)
        return MCC_VALIDATE_NONE;
    return how;
}

/* May S be answered from the stale stored object because the origin failed? */
static int serve_stale_allowed(mcc_serve *s)
{
    mcc_entry *e = s->entry;
    if (e->obj == NULL || e->state != MCC_ENTRY_READY)
        return 0;
    if (s->freshness == MCC_FRESH_IMMUTABLE)
        return 1;
    const mcc_meta *m = &e->meta;
    mcc_cc resp;
    mcc_cc_init(&resp);
    mcc_cc_parse(m->cache_control[0] != '\0' ? m->cache_control : NULL, &resp);
    /* s-maxage implies proxy-revalidate for a shared cache (RFC 9111 5.2.2.10) */
    if (resp.must_revalidate || resp.proxy_revalidate || resp.no_cache ||
        resp.s_maxage != MCC_CC_ABSENT)
        return 0;
    uint64_t limit_ms = s->cache->core->settings.offline_stale_ms;
    if (limit_ms == 0)
        return 1;
    int explicit_;
    int64_t lifetime = mcc_fresh_lifetime(m, (int64_t)(s->cache->core->settings.heuristic_max_ms /
                                                       1000),
                                          &explicit_);
    int64_t stale = mcc_fresh_age(m, (int64_t)time(NULL)) - lifetime;
    return stale <= (int64_t)(limit_ms / 1000);
}

/* --- Responses -------------------------------------------------------------------------------- */

/* The headers every answer from the stored object carries. */
static void serve_object_headers(mcc_serve *s, const char *cs_text)
{
    mcc_entry *e = s->entry;
    const char *node = s->cache->core->settings.node_name;
    serve_header(s, "ETag", e->meta.etag);
    serve_header(s, "Last-Modified", e->meta.last_modified);
    serve_header(s, "Cache-Control", e->meta.cache_control);
    serve_header(s, "Expires", e->meta.expires);
    serve_header(s, "Vary", e->meta.vary);
    char age[24];
    int64_t a = mcc_fresh_age(&e->meta, (int64_t)time(NULL));
    mcc_text_u64(age, a > 0 ? (uint64_t)a : 0);
    serve_header(s, "Age", age);
    /* caches above us answered a miss: their entries come first (RFC 9211 section 2) */
    char cs[512];
    size_t n = 0;
    cs[0] = '\0';
    if ((strncmp(cs_text, "fwd=miss", 8) == 0 || strncmp(cs_text, "fwd=partial", 11) == 0) &&
        e->up_status[0] != '\0') {
        char up[301];
        mcc_text_copy(up, sizeof(up), e->up_status);
        mcc_text_cat(cs, sizeof(cs), &n, up);
        mcc_text_cat(cs, sizeof(cs), &n, ", ");
    }
    mcc_text_cat(cs, sizeof(cs), &n, node);
    mcc_text_cat(cs, sizeof(cs), &n, "; ");
    mcc_text_cat(cs, sizeof(cs), &n, cs_text);
    serve_header(s, "Cache-Status", cs);
}

/* Decides status and range from the stored object and sends the headers. Returns 1 when the
 * response is already complete. */
static int serve_start(mcc_serve *s)
{
    mcc_entry *e = s->entry;
    char buf[MCC_RANGE_CONTENT_RANGE_MAX];
    char cs_text[96];

    if (s->stale_status != 0)
        snprintf(cs_text, sizeof(cs_text), "fwd=stale; fwd-status=%d; detail=upstream-failed",
                 s->stale_status);
    else if (s->revalidated)
        snprintf(cs_text, sizeof(cs_text), "fwd=stale; fwd-status=304");
    else
        cs_text[0] = '\0';

    int negative = e->meta.status != 0 && e->meta.status != 200;
    if (!negative && (s->method == EVHTTP_REQ_GET || s->method == EVHTTP_REQ_HEAD) &&
        serve_not_modified(s)) {
        snprintf(s->cache_status, sizeof(s->cache_status), "hit");
        serve_object_headers(s, cs_text[0] != '\0' ? cs_text : "hit");
        s->status = 304;
        serve_detach_connection(s);
        evhttp_send_reply(s->req, 304, "Not Modified", NULL);
        serve_release(s);
        return 1;
    }

    mcc_range r;
    mcc_range_kind kind = negative ? mcc_range_parse(NULL, e->length, &r)
                                   : mcc_range_parse(serve_if_range_holds(s) ? s->range : NULL,
                                                     e->length, &r);
    if (kind == MCC_RANGE_UNSATISFIABLE) {
        mcc_range_content_range_unsatisfied(buf, sizeof(buf), e->length);
        serve_header(s, "Content-Range", buf);
        mcc_serve_fail(s, 416);
        return 1;
    }
    s->status = negative ? e->meta.status : kind == MCC_RANGE_SINGLE ? 206 : 200;
    s->first = kind == MCC_RANGE_SINGLE ? r.first : 0;
    s->last = kind == MCC_RANGE_SINGLE ? r.last : e->length - 1; /* wraps for length 0 */
    s->cursor = s->first;

    /* Bytes count as hits only from slices stored before this response began: what a
     * transfer brings in meanwhile was fetched for it, even when read back from storage. */
    uint64_t count = e->length == 0 ? 0 : s->last - s->first + 1;
    uint64_t have = 0, need = 0;
    if (count > 0) {
        uint64_t first_idx = s->first / e->slice, last_idx = s->last / e->slice;
        s->stored = calloc((size_t)((last_idx - first_idx) / 8 + 1), 1);
        if (s->stored == NULL) {
            mcc_serve_fail(s, 503);
            return 1;
        }
        for (uint64_t i = first_idx; i <= last_idx; i++) {
            need++;
            if (mcc_entry_has_slice(e, i)) {
                have++;
                s->stored[(i - first_idx) / 8] |= (uint8_t)(1u << ((i - first_idx) % 8));
            }
        }
    }
    /* an empty body has no slices: it is a hit only when nothing was fetched for it */
    int all_stored = have == need && !(need == 0 && s->probed);
    const char *short_status = all_stored ? "hit" : have == 0 ? "miss" : "partial";
    mcc_text_copy(s->cache_status, sizeof(s->cache_status),
                  s->stale_status != 0           ? "stale"
                  : s->revalidated && all_stored ? "revalidated"
                                                 : short_status);
    if (cs_text[0] == '\0')
        mcc_text_copy(cs_text, sizeof(cs_text),
                      e->nostore   ? "fwd=miss"
                      : all_stored ? "hit"
                      : have == 0  ? "fwd=miss; stored"
                                   : "fwd=partial; stored");

    s->now = all_stored && !s->head && count > 0 && count <= SERVE_NOW_MAX &&
             s->cache->st->read_fd != NULL;
    if (s->now && !negative && s->method == EVHTTP_REQ_GET)
        serve_head_begin(s);
    serve_header(s, "Content-Type", e->meta.content_type[0] != '\0' ? e->meta.content_type
                                                                    : "application/octet-stream");
    serve_header(s, "Content-Encoding", e->meta.content_encoding);
    char num[32];
    mcc_text_u64(num, count);
    serve_header(s, "Content-Length", num);
    if (s->status == 206) {
        mcc_range_content_range(buf, sizeof(buf), s->first, s->last, e->length);
        serve_header(s, "Content-Range", buf);
    }
    serve_header(s, "Accept-Ranges", "bytes");
    serve_object_headers(s, cs_text);

    s->started = 1;
    if (s->own_head)
        serve_head_end(s); /* sent with the body (serve_write_now) */
    else
        evhttp_send_reply_start(s->req, s->status,
                                s->status == 206   ? "Partial Content"
                                : s->status == 404 ? "Not Found"
                                : s->status == 410 ? "Gone"
                                                   : "OK");
    if (s->head || count == 0) {
        mcc_serve_finish(s);
        return 1;
    }
    return 0;
}

/* The extent a probe asks for, from the client's Range before the length is known. */
static void serve_probe_extent(mcc_serve *s, uint32_t slice, uint64_t *start, uint64_t *end)
{
    const uint64_t huge = UINT64_MAX / 2;
    mcc_range r;
    *start = 0;
    *end = UINT64_MAX;
    if (s->head) {
        *end = slice; /* the first slice tells length and validators, and is kept */
        return;
    }
    if (s->if_range != NULL || mcc_range_parse(s->range, huge, &r) != MCC_RANGE_SINGLE)
        return;
    if (r.last >= huge - 1 && r.first > huge / 2) {
        *end = slice; /* a suffix range: learn the length first */
        return;
    }
    *start = r.first / slice * slice;
    if (r.last < huge - 1)
        *end = (r.last / slice + 1) * slice;
}

static int serve_was_stored(const mcc_serve *s, uint64_t idx)
{
    uint64_t i = idx - s->first / s->entry->slice;
    return (s->stored[i / 8] >> (i % 8)) & 1;
}

/* A new transfer for the run of missing slices from the one holding the cursor, up to the last
 * slice of the response, stopping at a stored slice or another transfer's range. */
static mcc_transfer *serve_start_transfer(mcc_serve *s, int *fail_status)
{
    mcc_entry *e = s->entry;
    uint64_t idx = s->cursor / e->slice, last_idx = s->last / e->slice;
    uint64_t j = idx + 1;
    while (j <= last_idx && !mcc_entry_has_slice(e, j) &&
           mcc_entry_transfer_at(e, j * e->slice) == NULL)
        j++;
    uint64_t end = j * e->slice;
    if (end > e->length)
        end = e->length;
    return mcc_transfer_start(e, idx * e->slice, end, 0, MCC_VALIDATE_NONE, fail_status);
}

/* Joins S to the entry of its key (made, or opened from storage, if need be) and goes on. */
static void serve_attach(mcc_serve *s)
{
    mcc_entry *e = mcc_entry_get(s->cache, &s->target);
    if (e == NULL) {
        mcc_serve_fail(s, 503);
        return;
    }
    serve_link(s, e);
    mcc_entry_take_negotiation(e, s->req);
    mcc_serve_pump(s);
}

/* The serve's entry was superseded or dropped before it sent anything: start over on the
 * current version. */
static void serve_restart(mcc_serve *s)
{
    if (++s->failures > SERVE_MAX_FAILURES) {
        mcc_serve_fail(s, 502);
        return;
    }
    mcc_serve_detach(s);
    serve_attach(s);
}

/* Before the first byte: is the stored object usable, or must the origin be asked? Returns 1
 * when S has to wait. */
static int serve_check(mcc_serve *s)
{
    mcc_entry *e = s->entry;
    if (s->validated)
        return 0;
    int how = serve_freshness(s);
    if (how == MCC_VALIDATE_NONE) {
        s->validated = 1;
        return 0;
    }
    if (e->validating != NULL) {
        if (!s->coalesced) {
            s->coalesced = 1;
            s->cache->counts.coalesced++;
        }
        s->waiting_on = e->validating;
        return 1;
    }
    int fail_status = 502;
    mcc_transfer *t = mcc_transfer_start(e, 0, UINT64_MAX, 0, how, &fail_status);
    if (t == NULL) {
        if (serve_stale_allowed(s)) {
            s->validated = 1;
            s->stale_status = fail_status;
            return 0;
        }
        mcc_serve_fail(s, fail_status);
        return 1;
    }
    s->waiting_on = t;
    return 1;
}

void mcc_serve_pump(mcc_serve *s)
{
    if (s->aborting || s->sending || s->pass != NULL)
        return;
    if (s->relay != NULL) {
        /* bytes are pushed by the transfer; a drained client lets a paused one go on */
        mcc_transfer *t = s->relay;
        if (t->paused && t->fetch != NULL) {
            t->paused = 0;
            mcc_fetch_resume(t->fetch);
        }
        if (s->cursor <= s->last)
            return;
        s->relay = NULL; /* it has all it asked for: finish below */
    }
    mcc_entry *e = s->entry;
    int fail_status = 502;
    switch (e->state) {
    case MCC_ENTRY_NEW: {
        if (e->nostore) {
            mcc_serve_detach(s);
            mcc_pass_start(s, "fwd=miss");
            return;
        }
        uint64_t start, end;
        serve_probe_extent(s, s->cache->slice_size, &start, &end);
        e->state = MCC_ENTRY_PROBING;
        /* what the probe brings is current: no revalidation for the requests waiting on it */
        s->validated = 1;
        s->probed = 1;
        s->coalesced = 2; /* it leads the probe: it did not join anyone */
        if (mcc_transfer_start(e, start, end, 1, MCC_VALIDATE_NONE, &fail_status) == NULL) {
            e->state = MCC_ENTRY_NEW;
            mcc_serve_fail(s, fail_status);
        }
        return;
    }
    case MCC_ENTRY_PROBING:
        /* only serves that arrived after the probe started get here */
        if (!s->coalesced) {
            s->coalesced = 1;
            s->cache->counts.coalesced++;
        }
        s->validated = 1;
        s->probed = 1;
        return;
    case MCC_ENTRY_FAILED:
        mcc_serve_fail(s, e->fail_status);
        return;
    case MCC_ENTRY_DOOMED:
        if (!s->started) {
            serve_restart(s);
            return;
        }
        break; /* finish from what this version has stored, or close */
    default:
        break;
    }
    if (!s->started) {
        if (e->nostore) {
            mcc_serve_detach(s);
            mcc_pass_start(s, "fwd=miss");
            return;
        }
        if (serve_check(s) || serve_start(s))
            return;
    }

    while (s->cursor <= s->last) {
        uint64_t idx = s->cursor / e->slice;
        if (mcc_entry_has_slice(e, idx)) {
            int hit = serve_was_stored(s, idx);
            uint64_t chunk = hit && serve_sender_may(s) ? SERVE_CHUNK_SENDER : SERVE_CHUNK_FILE;
            uint64_t end = (idx + 1) * e->slice;
            while (end <= s->last && end - s->cursor < chunk &&
                   mcc_entry_has_slice(e, end / e->slice) &&
                   serve_was_stored(s, end / e->slice) == hit)
                end += e->slice;
            if (end > s->last + 1)
                end = s->last + 1;
            int rc = serve_send(s, s->cursor, end - s->cursor, hit);
            if (rc == SERVE_SENT)
                continue;
            if (rc != MCC_OK)
                mcc_serve_abort(s);
            return;
        }
        if (e->state == MCC_ENTRY_DOOMED) {
            mcc_serve_abort(s); /* the rest of this version is nowhere any more */
            return;
        }
        mcc_transfer *t = mcc_entry_transfer_at(e, s->cursor);
        if (t != NULL && s->cursor < t->pos) {
            uint64_t end = t->pos < s->last + 1 ? t->pos : s->last + 1;
            if (serve_send(s, s->cursor, end - s->cursor, 0) != MCC_OK)
                mcc_serve_abort(s);
            return;
        }
        if (t != NULL && t->state == MCC_XFER_BODY &&
            idx > t->pos / e->slice + SERVE_SPLIT_SLICES) {
            /* far ahead of where the transfer is: fetch from here instead of waiting */
            t->end = idx * e->slice;
            t = NULL;
        }
        if (t != NULL) {
            if (s->waiting_on != t && t->pos == t->start && !s->coalesced) {
                s->coalesced = 1;
                s->cache->counts.coalesced++;
            }
            s->waiting_on = t;
            return;
        }
        if (s->failures > SERVE_MAX_FAILURES || e->nostore ||
            (t = serve_start_transfer(s, &fail_status)) == NULL) {
            mcc_serve_abort(s);
            return;
        }
        if (!s->coalesced)
            s->coalesced = 2;
        s->waiting_on = t;
        return;
    }
    mcc_serve_finish(s);
}

void mcc_serve_wake(mcc_entry *e, mcc_transfer *t, int failed)
{
    mcc_entry_ref(e);
    mcc_serve *next;
    for (mcc_serve *s = e->serves; s != NULL; s = next) {
        next = s->next;
        if (s->waiting_on != t)
            continue;
        s->waiting_on = NULL;
        if (failed)
            s->failures++;
        mcc_serve_pump(s);
    }
    mcc_entry_unref(e);
}

void mcc_serve_entry_changed(mcc_entry *e)
{
    mcc_entry_ref(e);
    mcc_serve *next;
    for (mcc_serve *s = e->serves; s != NULL; s = next) {
        next = s->next;
        s->waiting_on = NULL;
        mcc_serve_pump(s);
    }
    mcc_entry_unref(e);
}

int mcc_serve_adopt_relay(mcc_serve *s, mcc_transfer *t)
{
    mcc_range r;
    if (s->head || s->aborting ||
        (s->range != NULL && s->entry->meta.status == 200 &&
         mcc_range_parse(s->range, s->entry->length, &r) == MCC_RANGE_SINGLE))
        return 0;
    s->validated = 1;
    s->waiting_on = NULL;
    if (serve_start(s))
        return 1; /* already complete (an empty body): nothing to push */
    s->relay = t;
    return 1;
}

void mcc_serve_relay_done(mcc_entry *e, mcc_transfer *t)
{
    mcc_entry_ref(e);
    mcc_serve *next;
    for (mcc_serve *s = e->serves; s != NULL; s = next) {
        next = s->next;
        if (s->relay != t)
            continue;
        s->relay = NULL;
        if (s->cursor <= s->last)
            mcc_serve_abort(s); /* the upstream ended before the promised length */
        else
            mcc_serve_pump(s); /* finishes once the last chunk is written */
    }
    mcc_entry_unref(e);
}

void mcc_serve_validation_done(mcc_entry *e, mcc_transfer *t, int ok, int status)
{
    mcc_entry_ref(e);
    mcc_serve *next;
    for (mcc_serve *s = e->serves; s != NULL; s = next) {
        next = s->next;
        if (s->waiting_on != t)
            continue;
        s->waiting_on = NULL;
        if (ok) {
            s->validated = 1;
            s->revalidated = 1;
        } else if (serve_stale_allowed(s)) {
            /* the gateway is cut off: what it has is better than an error (offline serving) */
            s->validated = 1;
            s->stale_status = status;
        } else {
            mcc_serve_fail(s, status != 0 ? status : 502);
            continue;
        }
        mcc_serve_pump(s);
    }
    mcc_entry_unref(e);
}

static void serve_client(mcc_serve *s)
{
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (s->evcon != NULL)
        evhttp_connection_get_peer(s->evcon, &addr, &port);
    mcc_text_copy(s->client, sizeof(s->client), addr != NULL ? addr : "-");
}

/* The request's caching directives (RFC 9111 5.2.1, Pragma only without Cache-Control). */
static void serve_read_request(mcc_serve *s)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(s->req);
    mcc_cc_init(&s->req_cc);
    struct evkeyval *h;
    int pragma_no_cache = 0;
    TAILQ_FOREACH(h, in, next)
    {
        if (strcasecmp(h->key, "Cache-Control") == 0)
            mcc_cc_parse(h->value, &s->req_cc);
        else if (strcasecmp(h->key, "Pragma") == 0 && strcasestr(h->value, "no-cache") != NULL)
            pragma_no_cache = 1;
    }
    if (!s->req_cc.present && pragma_no_cache)
        s->req_cc.no_cache = 1;
    s->range = serve_strdup(mcc_addr_header_last(in, "Range"));
    s->if_none_match = serve_strdup(evhttp_find_header(in, "If-None-Match"));
    s->if_modified_since = serve_strdup(evhttp_find_header(in, "If-Modified-Since"));
    s->if_range = serve_strdup(evhttp_find_header(in, "If-Range"));
}

/* The freshness class of the target: the host rule's, refined by a freshness policy. */
static int serve_class(struct mcc_cache *c, const mcc_target *t)
{
    int cls = t->rule.freshness;
    if (c->freshness_ops != NULL) {
        int r = c->freshness_ops->freshness(c->freshness_state, t->rule.ns, t->origin_host,
                                            t->path, cls);
        if (r == MCC_FRESH_STANDARD || r == MCC_FRESH_IMMUTABLE || r == MCC_FRESH_REVALIDATE)
            cls = r;
    }
    return cls;
}

void mcc_cache_serve(struct mcc_cache *c, struct evhttp_request *req, const mcc_target *target)
{
    mcc_serve *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        evhttp_send_error(req, 503, "Service Unavailable");
        return;
    }
    s->cache = c;
    s->req = req;
    s->evcon = evhttp_request_get_connection(req);
    s->t0_us = (uint64_t)mcc_now_us();
    s->method = (int)evhttp_request_get_command(req);
    s->head = s->method == EVHTTP_REQ_HEAD;
    s->target = *target;
    s->path = serve_strdup(target->path);
    s->log_path = serve_strdup(target->log_path != NULL ? target->log_path : target->path);
    s->origin_host = serve_strdup(target->origin_host);
    s->via = serve_strdup(target->via);
    s->target.path = s->path;
    s->target.log_path = s->log_path;
    s->target.origin_host = s->origin_host;
    s->target.via = s->via;
    serve_read_request(s);
    s->freshness = serve_class(c, target);
    /* deferred work runs on the loop that owns the connection */
    s->kick = evtimer_new(s->evcon != NULL ? evhttp_connection_get_base(s->evcon) : c->core->base,
                          serve_kick, s);
    serve_client(s);
    c->counts.serves++;
    if (s->kick == NULL || s->path == NULL || s->origin_host == NULL) {
        mcc_serve_fail(s, 503);
        return;
    }
    if (s->evcon != NULL)
        evhttp_connection_set_closecb(s->evcon, serve_closed, s);

    /* what the cache must not answer from storage goes to the origin as it is */
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    if (s->method != EVHTTP_REQ_GET && s->method != EVHTTP_REQ_HEAD) {
        mcc_pass_start(s, "fwd=method");
        return;
    }
    if (evhttp_find_header(in, "Authorization") != NULL || s->req_cc.no_store) {
        mcc_pass_start(s, "fwd=request");
        return;
    }
    serve_in_request = s;
    serve_attach(s); /* S may be gone after it: a small hit is finished within the call */
    serve_in_request = NULL;
}
