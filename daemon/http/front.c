/* The content listener: parses each device request, finds its origin and host rule, computes the
 * cache key, and hands it to the cache pipeline. Not an open proxy: unknown hosts get 403. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cache/cache.h"
#include "cache/key.h"
#include "core/lock.h"
#include "http/addr.h"
#include "http/conns.h"
#include "http/front.h"
#include "http/listen.h"
#include "report/stats.h"

/* An event loop beside the daemon's own, answering connections of the same listening socket
 * (cache.loops; core/lock.h). */
typedef struct front_loop {
    struct mcc_front *front;
    unsigned n; /* 1, 2, ...: the daemon's own loop is 0 */
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    int started;
    int stop; /* set with the lock held: the thread must not (re)enter its loop */
} front_loop;

struct mcc_front {
    mcc_core *core;
    struct evhttp *http;
    struct mcc_cache *cache;
    struct mcc_conns *conns; /* connection limit and request deadline, across every loop */
    char address[80];        /* what was bound */
    front_loop *loops;       /* the other loops, or NULL */
    unsigned nloops;
};

/* The first host rule, in configured order, that accepts HOST. */
static int front_rule(mcc_core *core, const char *host, unsigned port, const char *path,
                      mcc_host_rule *rule)
{
    for (unsigned i = 0; i < core->nhosts; i++) {
        const mcc_hosts_ops *ops = core->hosts[i].ops;
        memset(rule, 0, sizeof(*rule));
        if (ops->match(core->hosts[i].state, host, port, path, rule) == MCC_OK)
            return MCC_OK;
    }
    return MCC_DECLINED;
}

static int front_cacheable(void *arg, const char *host, unsigned port)
{
    struct mcc_front *f = arg;
    mcc_host_rule rule;
    return front_rule(f->core, host, port, "/", &rule) == MCC_OK;
}

/* A reason to refuse REQ whose framing two parsers could read differently (request smuggling):
 * conflicting Content-Length, a Transfer-Encoding other than chunked or next to a length, or a
 * header name that is not a token (RFC 9110 5.1, RFC 9112 6.1 and 6.3). NULL when sound. */
static const char *front_framing(struct evhttp_request *req)
{
    const char *length = NULL, *te = NULL;
    struct evkeyval *h;
    TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next)
    {
        for (const unsigned char *c = (const unsigned char *)h->key; *c != '\0'; c++)
            if (*c <= ' ' || *c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *c) != NULL)
                return "a header name is not a token";
        if (strcasecmp(h->key, "Content-Length") == 0) {
            if (length != NULL && strcmp(length, h->value) != 0)
                return "conflicting Content-Length";
            length = h->value;
        } else if (strcasecmp(h->key, "Transfer-Encoding") == 0) {
            if (te != NULL)
                return "more than one Transfer-Encoding";
            te = h->value;
        }
    }
    if (te != NULL && (length != NULL || strcasecmp(te, "chunked") != 0))
        return "Transfer-Encoding other than chunked, or with Content-Length";
    return NULL;
}

/* Joins every Via header of REQ into BUF ("" when none); 0 when they do not fit. */
static int front_via(struct evhttp_request *req, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    struct evkeyval *h;
    TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next)
    {
        if (strcasecmp(h->key, "Via") != 0)
            continue;
        size_t len = strlen(h->value);
        if (n + len + 3 > cap)
            return 0;
        if (n > 0) {
            memcpy(buf + n, ", ", 2);
            n += 2;
        }
        memcpy(buf + n, h->value, len + 1);
        n += len;
    }
    return 1;
}

/* 1 when NODE already appears as a received-by name in the Via chain: the request went around
 * a cycle of caches. Elements look like "1.1 name", "HTTP/1.1 name:80 (comment)". */
static int front_via_has(const char *via, const char *node)
{
    size_t nlen = strlen(node);
    const char *p = via;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        while (*p != '\0' && *p != ' ' && *p != ',') /* protocol */
            p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *name = p;
        while (*p != '\0' && *p != ' ' && *p != ',' && *p != ':')
            p++;
        if ((size_t)(p - name) == nlen && strncasecmp(name, node, nlen) == 0)
            return 1;
        while (*p != '\0' && *p != ',') /* port, comment */
            p++;
    }
    return 0;
}

/* Answers REQ here with a short text body; counted and logged like any request. */
static void front_reply(struct mcc_front *f, struct evhttp_request *req, int status,
                        const char *reason, const char *body, const char *host)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "text/plain");
    struct evbuffer *b = evbuffer_new();
    if (b != NULL)
        evbuffer_add(b, body, strlen(body));
    int head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
    evhttp_send_reply(req, status, reason, head ? NULL : b);
    if (b != NULL)
        evbuffer_free(b);

    char *peer = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon != NULL)
        evhttp_connection_get_peer(evcon, &peer, &port);
    /* the path as received, without its query (which may carry keys) */
    const char *uri = evhttp_request_get_uri(req);
    char path[1024];
    size_t n = uri != NULL ? strcspn(uri, "?") : 0;
    if (n >= sizeof(path))
        n = sizeof(path) - 1;
    if (n > 0)
        memcpy(path, uri, n);
    path[n] = '\0';
    mcc_request_record rec = {
        .time_us = mcc_now_us(),
        .client = peer != NULL ? peer : "-",
        .method = mcc_method_name((int)evhttp_request_get_command(req)),
        .origin_host = host != NULL ? host : "",
        .path = path,
        .status = status,
        .cache_status = "refused",
    };
    mcc_request_done(f->core, &rec);
}

static void front_request(struct evhttp_request *req, void *arg)
{
    struct mcc_front *f = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (mcc_conns_request(f->conns, req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        front_reply(f, req, 503, "Service Unavailable", "too many connections\n", NULL);
        return;
    }
    /* other methods are relayed to a cacheable origin uncached; TRACE and CONNECT never */
    if (cmd == EVHTTP_REQ_TRACE || cmd == EVHTTP_REQ_CONNECT) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH");
        front_reply(f, req, 405, "Method Not Allowed", "method not relayed\n", NULL);
        return;
    }

    const char *why = front_framing(req);
    if (why != NULL) {
        /* the connection's framing is in doubt: answer and close it */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        char body[128];
        snprintf(body, sizeof(body), "bad request: %s\n", why);
        front_reply(f, req, 400, "Bad Request", body, NULL);
        return;
    }

    mcc_addr a;
    mcc_err err = {{0}};
    int rc = mcc_addr_from_request(req, front_cacheable, f, &a, &err);
    if (rc == MCC_ERROR) {
        char body[600];
        snprintf(body, sizeof(body), "bad request: %s\n", err.msg);
        front_reply(f, req, 400, "Bad Request", body, NULL);
        return;
    }
    if (rc != MCC_OK) {
        front_reply(f, req, 403, "Forbidden", "no cacheable origin named in this request\n", NULL);
        return;
    }

    mcc_target t;
    memset(&t, 0, sizeof(t));
    if (front_rule(f->core, a.host, a.port, a.path, &t.rule) != MCC_OK) {
        front_reply(f, req, 403, "Forbidden", "this host is not cacheable here\n", a.host);
        mcc_addr_fini(&a);
        return;
    }
    if (mcc_cache_key(t.rule.ns, a.path, a.query, t.key, NULL, 0) != MCC_OK) {
        front_reply(f, req, 503, "Service Unavailable", "out of memory\n", a.host);
        mcc_addr_fini(&a);
        return;
    }
    size_t plen = strlen(a.path) + (a.query != NULL ? strlen(a.query) + 1 : 0) + 1;
    char *path = malloc(plen);
    if (path == NULL) {
        front_reply(f, req, 503, "Service Unavailable", "out of memory\n", a.host);
        mcc_addr_fini(&a);
        return;
    }
    snprintf(path, plen, "%s%s%s", a.path, a.query != NULL ? "?" : "",
             a.query != NULL ? a.query : "");
    t.origin_host = a.host;
    t.origin_port = t.rule.port != 0 ? t.rule.port : (a.port != 0 ? a.port : 80);
    t.path = path;
    t.log_path = path;
    char via[2048];
    if (!front_via(req, via, sizeof(via))) {
        front_reply(f, req, 400, "Bad Request", "Via chain too long\n", a.host);
        goto done;
    }
    if (via[0] != '\0' && front_via_has(via, f->core->settings.node_name)) {
        mcc_log(MCC_LOG_WARN, "loop: %s%s came back through this node (Via: %s)", a.host, path,
                via);
        front_reply(f, req, 508, "Loop Detected", "request loop between caches\n", a.host);
        goto done;
    }
    t.via = via[0] != '\0' ? via : NULL;
    mcc_cache_serve(f->cache, req, &t);
done:
    free(path);
    mcc_addr_fini(&a);
}

/* A content server on BASE, answering with front_request. */
static struct evhttp *front_http_new(struct mcc_front *f, struct event_base *base)
{
    const mcc_settings *set = &f->core->settings;
    struct evhttp *http = evhttp_new(base);
    if (http == NULL)
        return NULL;
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(http, (ev_ssize_t)set->max_header_bytes);
    evhttp_set_max_body_size(http, 1 << 20);
    evhttp_set_timeout(http, (int)((set->client_timeout_ms + 999) / 1000));
    evhttp_set_default_content_type(http, "application/octet-stream");
    evhttp_set_gencb(http, front_request, f);
    return http;
}

struct mcc_front *mcc_front_new(mcc_core *core, mcc_err *err)
{
    const mcc_settings *set = &core->settings;
    struct mcc_front *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        mcc_err_set(err, "out of memory");
        return NULL;
    }
    f->core = core;
    f->cache = mcc_cache_new(core, err);
    if (f->cache == NULL)
        goto fail;
    f->http = front_http_new(f, core->base);
    if (f->http == NULL) {
        mcc_err_set(err, "cannot create the content listener");
        goto fail;
    }
    f->conns = mcc_conns_new(core->base, f->http, (unsigned)set->max_connections,
                             set->client_timeout_ms);
    if (f->conns == NULL) {
        mcc_err_set(err, "out of memory");
        goto fail;
    }
    if (mcc_listen_bind(f->http, core->base, set->listen_content, "content", f->address,
                        sizeof(f->address), err) != MCC_OK)
        goto fail;
    mcc_listen_guard(f->http);
    core->cache = f->cache;
    return f;
fail:
    mcc_front_free(f);
    return NULL;
}

static void *front_loop_main(void *arg)
{
    front_loop *l = arg;
    mcc_lock();
    /* a stop that came before the loop ran would be lost: event_base_loop clears the break */
    if (!l->stop)
        event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    mcc_unlock();
    return NULL;
}

static void front_listen_fd(struct evhttp_bound_socket *sock, void *arg)
{
    int *fd = arg;
    if (*fd < 0)
        *fd = (int)evhttp_bound_socket_get_fd(sock);
}

int mcc_front_start_loops(struct mcc_front *f, unsigned n, mcc_err *err)
{
    if (n <= 1 || f->loops != NULL)
        return MCC_OK;
    if (!mcc_lock_held() || !mcc_lock_waits_release(f->core->base)) {
        mcc_log(MCC_LOG_WARN,
                "cache.loops %u: libevent's waits cannot release the daemon lock "
                "here (%s backend); running one event loop",
                n, event_base_get_method(f->core->base));
        return MCC_OK;
    }
    int listen_fd = -1;
    evhttp_foreach_bound_socket(f->http, front_listen_fd, &listen_fd);
    if (listen_fd < 0)
        return mcc_err_set(err, "cache.loops: no content listener to share");
    f->loops = calloc(n - 1, sizeof(*f->loops));
    if (f->loops == NULL)
        return mcc_err_set(err, "out of memory");
    int rc = MCC_OK;
    for (unsigned i = 0; i < n - 1 && rc == MCC_OK; i++) {
        front_loop *l = &f->loops[i];
        l->front = f;
        l->n = i + 1;
        l->base = mcc_core_base_new();
        l->http = l->base != NULL ? front_http_new(f, l->base) : NULL;
        f->nloops++;
        /* every loop accepts on the same socket: whichever is free takes the next client */
        int fd = l->http != NULL ? dup(listen_fd) : -1;
        struct evhttp_bound_socket *bound =
            fd >= 0 ? evhttp_accept_socket_with_handle(l->http, fd) : NULL;
        if (bound == NULL && fd >= 0)
            close(fd);
        if (bound == NULL || !mcc_lock_waits_release(l->base)) {
            rc = mcc_err_set(err, "cache.loops: cannot start event loop %u", l->n);
            break;
        }
        mcc_listen_guard(l->http);
        mcc_conns_attach(f->conns, l->http);
        if (mcc_cache_add_loop(f->cache, l->base) != MCC_OK)
            mcc_log(MCC_LOG_WARN,
                    "event loop %u: its clients' sender jobs come back through "
                    "the first loop",
                    l->n);
        char name[16];
        snprintf(name, sizeof(name), "mccd-loop%u", l->n);
        if (mcc_thread_start(&l->thread, front_loop_main, l, name) != 0) {
            rc = mcc_err_set(err, "cache.loops: cannot start a thread for event loop %u", l->n);
            break;
        }
        l->started = 1;
    }
    if (rc == MCC_OK)
        mcc_log(MCC_LOG_INFO, "%u event loops answer %s", n, f->address);
    return rc;
}

void mcc_front_stop_loops(struct mcc_front *f)
{
    if (f == NULL)
        return;
    for (unsigned i = 0; i < f->nloops; i++) {
        f->loops[i].stop = 1; /* the caller holds the lock, as the threads do when they look */
        if (f->loops[i].started)
            event_base_loopbreak(f->loops[i].base);
    }
    /* they finish their turn with the lock: wait for them without it */
    int held = mcc_lock_held();
    if (held)
        mcc_unlock();
    for (unsigned i = 0; i < f->nloops; i++) {
        if (f->loops[i].started)
            pthread_join(f->loops[i].thread, NULL);
        f->loops[i].started = 0;
    }
    if (held)
        mcc_lock();
}

double mcc_front_loops_cpu_seconds(const struct mcc_front *f)
{
    double sum = 0;
    for (unsigned i = 0; f != NULL && i < f->nloops; i++)
        if (f->loops[i].started)
            sum += mcc_thread_cpu_seconds(f->loops[i].thread);
    return sum;
}

unsigned mcc_front_loops(const struct mcc_front *f)
{
    unsigned n = 1;
    for (unsigned i = 0; f != NULL && i < f->nloops; i++)
        n += f->loops[i].started;
    return n;
}

const char *mcc_front_address(const struct mcc_front *f)
{
    return f != NULL ? f->address : "off";
}

void mcc_front_free(struct mcc_front *f)
{
    if (f == NULL)
        return;
    mcc_front_stop_loops(f);
    /* closing the connections releases every serve before the transfers go */
    for (unsigned i = 0; i < f->nloops; i++) {
        if (f->loops[i].http != NULL)
            evhttp_free(f->loops[i].http);
    }
    if (f->http != NULL)
        evhttp_free(f->http);
    mcc_conns_free(f->conns); /* after the connections evhttp held */
    if (f->core->cache == f->cache)
        f->core->cache = NULL;
    mcc_cache_free(f->cache);
    for (unsigned i = 0; i < f->nloops; i++) {
        if (f->loops[i].base != NULL)
            event_base_free(f->loops[i].base);
    }
    free(f->loops);
    free(f);
}
