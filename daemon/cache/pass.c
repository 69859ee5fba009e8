/* Relaying without storing: requests the cache may not answer from storage (other methods,
 * Authorization, no-store) and responses it may not keep (no-store, private, no room) go to the
 * origin as they are, one upstream request per client request, with backpressure. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cache/pipeline.h"
#include "report/stats.h"

#define PASS_MAX_HEADERS 40
/* Bytes queued for a client before the upstream is paused. */
#define PASS_HIGH_WATER (1u << 20)

struct mcc_pass {
    mcc_serve *s;
    mcc_fetch *fetch;
    mcc_fetch_plan plan;
    mcc_plugin_ref up; /* a copy: a reload may replace the configured upstreams meanwhile */
    unsigned attempt;
    char *body;
    size_t body_len;
    char *headers[PASS_MAX_HEADERS + 1];
    char why[32]; /* the Cache-Status fwd parameter */
    int paused;
    uint64_t pending; /* bytes handed to the connection since the last drain */
};

static const mcc_fetch_cbs pass_cbs;

/* Hop-by-hop and framing headers are the connection's own, never relayed (RFC 9110 7.6.1). */
static int pass_hop_by_hop(const char *name)
{
    static const char *const hop[] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
        "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host",
        "Content-Length", "Via", "Expect", NULL,
    };
    for (size_t i = 0; hop[i] != NULL; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return 1;
    return 0;
}

static const char *pass_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 416: return "Range Not Satisfiable";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : "Error";
    }
}

static int pass_launch(struct mcc_pass *p)
{
    const char *method = mcc_method_name(p->s->method);
    p->fetch = mcc_fetch_start_body(p->s->cache->core->fetcher, &p->plan, method, MCC_RANGE_NONE,
                                    MCC_RANGE_NONE, (const char *const *)p->headers, p->body,
                                    p->body_len, &pass_cbs, p->s);
    return p->fetch != NULL ? MCC_OK : MCC_ERROR;
}

static int pass_plan(struct mcc_pass *p, const char *avoid)
{
    mcc_serve *s = p->s;
    mcc_fetch_request rq = {
        .method = mcc_method_name(s->method),
        .origin_host = s->target.origin_host,
        .origin_port = s->target.origin_port,
        .path = s->target.path,
        .ns = s->target.rule.ns,
        .key = s->target.key,
        .connect_to = s->target.rule.connect_to[0] != '\0' ? s->target.rule.connect_to : NULL,
        .via = s->target.via,
    };
    const mcc_plugin_ref *up = mcc_upstream_plan(s->cache, &rq, p->attempt, avoid, &p->plan);
    if (up == NULL)
        return MCC_ERROR;
    p->up = *up;
    return MCC_OK;
}

/* The client's end-to-end headers, our Via, and no 100-continue dance with the origin. */
static int pass_headers(struct mcc_pass *p)
{
    mcc_serve *s = p->s;
    unsigned n = 0;
    const char *node = s->cache->core->settings.node_name;
    size_t need = strlen(node) + 16 + (s->via != NULL ? strlen(s->via) + 2 : 0);
    char *via = malloc(need);
    if (via == NULL)
        return MCC_ERROR;
    snprintf(via, need, "Via: %s%s1.1 %s", s->via != NULL ? s->via : "",
             s->via != NULL ? ", " : "", node);
    p->headers[n++] = via;
    if (p->body != NULL && (p->headers[n] = strdup("Expect:")) != NULL)
        n++;
    struct evkeyval *h;
    TAILQ_FOREACH(h, evhttp_request_get_input_headers(s->req), next)
    {
        if (n >= PASS_MAX_HEADERS)
            break;
        if (pass_hop_by_hop(h->key))
            continue;
        size_t len = strlen(h->key) + strlen(h->value) + 3;
        char *line = malloc(len);
        if (line == NULL)
            return MCC_ERROR;
        snprintf(line, len, "%s: %s", h->key, h->value);
        p->headers[n++] = line;
    }
    p->headers[n] = NULL;
    return MCC_OK;
}

void mcc_pass_start(mcc_serve *s, const char *why)
{
    struct mcc_pass *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        mcc_serve_fail(s, 503);
        return;
    }
    p->s = s;
    s->pass = p;
    snprintf(p->why, sizeof(p->why), "%s", why);
    snprintf(s->cache_status, sizeof(s->cache_status), "pass");
    struct evbuffer *in = evhttp_request_get_input_buffer(s->req);
    size_t blen = in != NULL ? evbuffer_get_length(in) : 0;
    if (blen > 0 || s->method == EVHTTP_REQ_POST || s->method == EVHTTP_REQ_PUT) {
        p->body = malloc(blen + 1);
        if (p->body == NULL) {
            mcc_serve_fail(s, 503);
            return;
        }
        if (blen > 0)
            evbuffer_copyout(in, p->body, blen);
        p->body[blen] = '\0';
        p->body_len = blen;
    }
    if (pass_headers(p) != MCC_OK) {
        mcc_serve_fail(s, 503);
        return;
    }
    if (pass_plan(p, NULL) != MCC_OK) {
        mcc_log(MCC_LOG_WARN, "no upstream plans %s%s", s->target.origin_host, s->target.path);
        mcc_serve_fail(s, 502);
        return;
    }
    if (pass_launch(p) != MCC_OK) {
        mcc_serve_fail(s, 502);
        return;
    }
    mcc_log(MCC_LOG_DEBUG, "relaying %s %s (%s)",
            mcc_method_name(s->method), p->plan.url, why);
}

void mcc_pass_free(struct mcc_pass *p)
{
    if (p->fetch != NULL)
        mcc_fetch_cancel(p->fetch);
    for (unsigned i = 0; p->headers[i] != NULL; i++)
        free(p->headers[i]);
    free(p->body);
    free(p);
}

static void pass_account(mcc_serve *s)
{
    struct mcc_pass *p = s->pass;
    s->miss += p->pending;
    mcc_stats_sent(s->cache->core->stats, 0, p->pending);
    p->pending = 0;
}

void mcc_pass_written(mcc_serve *s)
{
    struct mcc_pass *p = s->pass;
    pass_account(s);
    if (p->paused && p->fetch != NULL) {
        p->paused = 0;
        mcc_fetch_resume(p->fetch);
    }
}

static void pass_copy_header(void *arg, const char *name, const char *value)
{
    mcc_serve *s = arg;
    if (pass_hop_by_hop(name) && strcasecmp(name, "Content-Length") != 0)
        return;
    if (strcasecmp(name, "Cache-Status") == 0)
        return; /* rewritten with ours appended */
    evhttp_add_header(evhttp_request_get_output_headers(s->req), name, value);
}

static int pass_on_headers(void *arg, mcc_fetch *f, int status)
{
    mcc_serve *s = arg;
    struct mcc_pass *p = s->pass;
    s->upstream_ms = mcc_fetch_header_ms(f);
    mcc_fetch_headers_visit(f, pass_copy_header, s);
    const char *up = mcc_fetch_header(f, "Cache-Status");
    char cs[512];
    snprintf(cs, sizeof(cs), "%.300s%s%s; %s", up != NULL ? up : "", up != NULL ? ", " : "",
             s->cache->core->settings.node_name, p->why);
    evhttp_add_header(evhttp_request_get_output_headers(s->req), "Cache-Status", cs);
    s->status = status;
    s->started = 1;
    evhttp_send_reply_start(s->req, status, pass_reason(status));
    return MCC_OK;
}

static int pass_on_data(void *arg, mcc_fetch *f, const char *buf, size_t len)
{
    mcc_serve *s = arg;
    struct mcc_pass *p = s->pass;
    struct evhttp_connection *evcon = evhttp_request_get_connection(s->req);
    if (evcon == NULL)
        return MCC_ERROR;
    struct evbuffer *out = bufferevent_get_output(evhttp_connection_get_bufferevent(evcon));
    if (evbuffer_get_length(out) > PASS_HIGH_WATER) {
        p->paused = 1; /* resumed when the client has drained it (mcc_pass_written) */
        return MCC_AGAIN;
    }
    struct evbuffer *b = evbuffer_new();
    if (b == NULL || evbuffer_add(b, buf, len) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        return MCC_ERROR;
    }
    p->pending += len;
    s->cursor += len;
    evhttp_send_reply_chunk_with_cb(s->req, b, mcc_serve_written_cb, s);
    evbuffer_free(b);
    return MCC_OK;
}

/* A successful unsafe method changes what the URL names: the stored object goes
 * (RFC 9111 4.4). */
static void pass_invalidate(mcc_serve *s)
{
    struct mcc_cache *c = s->cache;
    mcc_entry *e = NULL;
    HASH_FIND(hh, c->index, s->target.key, MCC_KEY_LEN, e);
    if (e != NULL) {
        mcc_entry_doom(e);
    } else {
        c->st->remove(c->st_state, s->target.key);
    }
    mcc_log(MCC_LOG_INFO, "%s %s%s invalidated the stored object",
            mcc_method_name(s->method), s->target.origin_host,
            s->target.path);
}

static void pass_on_done(void *arg, mcc_fetch *f, int outcome, const char *errmsg)
{
    mcc_serve *s = arg;
    struct mcc_pass *p = s->pass;
    p->fetch = NULL; /* freed by the fetcher after this returns */
    if (!s->started) {
        if (outcome == MCC_FETCH_CONNECT_FAILED || outcome == MCC_FETCH_TIMEOUT) {
            const mcc_upstream_ops *ops = p->up.ops;
            if (ops->outcome != NULL)
                ops->outcome(p->up.state, &p->plan, outcome, 0);
            char failed[sizeof(p->plan.label)];
            memcpy(failed, p->plan.label, sizeof(failed));
            p->attempt++;
            if (pass_plan(p, failed) == MCC_OK && pass_launch(p) == MCC_OK)
                return;
        }
        mcc_log(MCC_LOG_WARN, "relaying %s failed: %s", p->plan.url,
                errmsg != NULL ? errmsg : "no answer");
        mcc_serve_fail(s, outcome == MCC_FETCH_TIMEOUT ? 504 : 502);
        return;
    }
    if (outcome != MCC_FETCH_DONE && outcome != MCC_FETCH_SERVER_ERROR) {
        mcc_log(MCC_LOG_WARN, "relaying %s broke off: %s", p->plan.url,
                errmsg != NULL ? errmsg : "short body");
        pass_account(s);
        mcc_serve_abort(s);
        return;
    }
    int unsafe = s->method == EVHTTP_REQ_POST || s->method == EVHTTP_REQ_PUT ||
                 s->method == EVHTTP_REQ_DELETE || s->method == EVHTTP_REQ_PATCH;
    if (unsafe && s->status >= 200 && s->status < 400)
        pass_invalidate(s);
    pass_account(s); /* what is still queued leaves after this; libevent flushes it */
    mcc_serve_finish(s);
}

static const mcc_fetch_cbs pass_cbs = {
    .on_headers = pass_on_headers,
    .on_data = pass_on_data,
    .on_done = pass_on_done,
};
