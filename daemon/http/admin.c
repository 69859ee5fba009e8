/* The admin listener (summary, metrics, health): evhttp on settings.listen_admin, the route table
 * plugins fill through the host, and the access rules of MCC's summary applied before routes. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <mcc/storage.h>

#include "http/admin.h"
#include "http/listen.h"

typedef struct admin_route {
    char path[256];
    mcc_route_fn fn;
    void *arg;
    mcc_instance *owner;
} admin_route;

struct mcc_admin {
    mcc_core *core;
    struct evhttp *http;
    char address[160];
    admin_route *routes;
    size_t nroutes, cap;
};

struct mcc_reply {
    int code;
    char *content_type;
    struct evkeyvalq headers;
    struct evbuffer *body;
    char *flat; /* a NUL-terminated copy of body for mcc_reply_body */
};

/* --- Replies --------------------------------------------------------------------------------- */

mcc_reply *mcc_reply_new(void)
{
    mcc_reply *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    TAILQ_INIT(&r->headers);
    r->body = evbuffer_new();
    if (r->body == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void mcc_reply_free(mcc_reply *r)
{
    if (r == NULL)
        return;
    evhttp_clear_headers(&r->headers);
    evbuffer_free(r->body);
    free(r->content_type);
    free(r->flat);
    free(r);
}

int mcc_reply_code(const mcc_reply *r)
{
    return r->code;
}

const char *mcc_reply_content_type(const mcc_reply *r)
{
    return r->content_type;
}

const char *mcc_reply_header_get(const mcc_reply *r, const char *name)
{
    return evhttp_find_header(&r->headers, name);
}

const char *mcc_reply_body(mcc_reply *r, size_t *len)
{
    size_t n = evbuffer_get_length(r->body);
    free(r->flat);
    r->flat = malloc(n + 1);
    if (r->flat == NULL) {
        if (len != NULL)
            *len = 0;
        return "";
    }
    evbuffer_copyout(r->body, r->flat, n);
    r->flat[n] = '\0';
    if (len != NULL)
        *len = n;
    return r->flat;
}

void mcc_reply_status(mcc_reply *r, int status, const char *content_type)
{
    if (r == NULL)
        return;
    if (status >= 100 && status <= 599)
        r->code = status;
    if (content_type != NULL && strpbrk(content_type, "\r\n") == NULL) {
        char *ct = strdup(content_type);
        if (ct != NULL) {
            free(r->content_type);
            r->content_type = ct;
        }
    }
}

void mcc_reply_header(mcc_reply *r, const char *name, const char *value)
{
    if (r == NULL || name == NULL || value == NULL)
        return;
    if (strcasecmp(name, "Content-Type") == 0) {
        mcc_reply_status(r, 0, value);
        return;
    }
    evhttp_add_header(&r->headers, name, value); /* refuses CR/LF itself */
}

void mcc_reply_append(mcc_reply *r, const void *data, size_t len)
{
    if (r != NULL && len > 0)
        evbuffer_add(r->body, data, len);
}

void mcc_reply_printf(mcc_reply *r, const char *fmt, ...)
{
    if (r == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(r->body, fmt, ap);
    va_end(ap);
}

/* --- Routes ---------------------------------------------------------------------------------- */

mcc_admin *mcc_admin_new(mcc_core *core)
{
    mcc_admin *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->core = core;
    snprintf(a->address, sizeof(a->address), "off");
    return a;
}

void mcc_admin_free(mcc_admin *a)
{
    if (a == NULL)
        return;
    if (a->http != NULL)
        evhttp_free(a->http);
    free(a->routes);
    free(a);
}

int mcc_admin_route_add(mcc_admin *a, mcc_instance *owner, const char *path, mcc_route_fn fn,
                        void *arg)
{
    if (a == NULL || path == NULL || fn == NULL || path[0] != '/' ||
        strlen(path) >= sizeof(a->routes[0].path))
        return MCC_ERROR;
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0)
        return MCC_ERROR;
    for (size_t i = 0; i < a->nroutes; i++)
        if (strcmp(a->routes[i].path, path) == 0)
            return MCC_ERROR;
    if (a->nroutes == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        admin_route *r = realloc(a->routes, cap * sizeof(*r));
        if (r == NULL)
            return MCC_ERROR;
        a->routes = r;
        a->cap = cap;
    }
    admin_route *r = &a->routes[a->nroutes++];
    memcpy(r->path, path, strlen(path) + 1);
    r->fn = fn;
    r->arg = arg;
    r->owner = owner;
    return MCC_OK;
}

void mcc_admin_routes_drop(mcc_admin *a, mcc_instance *owner)
{
    if (a == NULL)
        return;
    size_t j = 0;
    for (size_t i = 0; i < a->nroutes; i++)
        if (a->routes[i].owner != owner)
            a->routes[j++] = a->routes[i];
    a->nroutes = j;
}

/* --- Access control -------------------------------------------------------------------------- */

int mcc_admin_peer_is_loopback(const char *peer)
{
    if (peer == NULL)
        return 0;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, peer, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, peer, &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
    }
    return 0;
}

/* Compares digests so that neither the content nor the length of the key leaks through time. */
static int admin_key_equal(const char *given, const char *key)
{
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned int la = 0, lb = 0;
    if (EVP_Digest(given, strlen(given), a, &la, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(key, strlen(key), b, &lb, EVP_sha256(), NULL) != 1 || la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

/* The key the request offers: the Bearer token, else the apiKey query parameter; NULL none.
 * Writes into BUF. */
static const char *admin_offered_key(const mcc_admin_request *req, const char *authorization,
                                     char *buf, size_t len)
{
    if (authorization != NULL && strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *t = authorization + 7;
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            n--;
        if (n > 0 && n < len) {
            memcpy(buf, t, n);
            buf[n] = '\0';
            return buf;
        }
    }
    if (req->query == NULL)
        return NULL;
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    const char *found = NULL;
    if (evhttp_parse_query_str(req->query, &q) == 0) {
        const char *v = evhttp_find_header(&q, "apiKey");
        if (v != NULL && v[0] != '\0' && strlen(v) < len) {
            memcpy(buf, v, strlen(v) + 1);
            found = buf;
        }
    }
    evhttp_clear_headers(&q);
    return found;
}

/* MCC_OK when the request may go on; else REPLY holds the refusal. */
static int admin_access(mcc_admin *a, const mcc_admin_request *req, const char *authorization,
                        mcc_reply *reply)
{
    const mcc_settings *s = &a->core->settings;
    if (mcc_admin_peer_is_loopback(req->peer) || s->summary_unrestricted)
        return MCC_OK;
    if (s->summary_public) {
        const char *key = s->summary_api_key[0] != '\0' ? s->summary_api_key : s->customer_key;
        char buf[256];
        const char *given = admin_offered_key(req, authorization, buf, sizeof(buf));
        /* An empty configured key matches nothing: a public summary then stays closed. */
        if (key[0] != '\0' && given != NULL && admin_key_equal(given, key))
            return MCC_OK;
        mcc_reply_status(reply, 401, "text/plain; charset=utf-8");
        mcc_reply_header(reply, "WWW-Authenticate", "Bearer");
        mcc_reply_printf(reply, "unauthorized\n");
        return MCC_ERROR;
    }
    mcc_reply_status(reply, 403, "text/plain; charset=utf-8");
    mcc_reply_printf(reply, "forbidden\n");
    return MCC_ERROR;
}

/* --- Built-in routes ------------------------------------------------------------------------- */

/* Why storage cannot take new objects, or NULL: a backend that reports drives needs one that is
 * writable and has capacity; one that does not needs capacity in its totals. */
static const char *admin_storage_unready(const mcc_core *core)
{
    const mcc_storage_ops *ops = core->storage.ops;
    if (MCC_HAS(ops, drives)) {
        mcc_drive_info d;
        unsigned i;
        for (i = 0; i < 1024; i++) {
            memset(&d, 0, sizeof(d));
            if (ops->drives(core->storage.state, i, &d) != MCC_OK)
                break;
            if (d.writable && d.capacity > 0)
                return NULL;
        }
        return i == 0 ? "storage reports no drive" : "no drive is writable";
    }
    uint64_t used = 0, capacity = 0, objects = 0;
    ops->usage(core->storage.state, &used, &capacity, &objects);
    return capacity == 0 ? "storage reports no capacity" : NULL;
}

static void admin_readyz(mcc_admin *a, mcc_reply *reply)
{
    const mcc_core *core = a->core;
    const char *why = NULL;
    if (core->config == NULL)
        why = "configuration not loaded";
    else if (core->front == NULL)
        why = "content listener not up";
    else if (core->storage.ops == NULL)
        why = "no storage instance";
    else
        why = admin_storage_unready(core);
    if (why == NULL) {
        mcc_reply_status(reply, 200, "text/plain; charset=utf-8");
        mcc_reply_printf(reply, "ready\n");
    } else {
        mcc_reply_status(reply, 503, "text/plain; charset=utf-8");
        mcc_reply_printf(reply, "not ready: %s\n", why);
    }
}

void mcc_admin_handle(mcc_admin *a, const mcc_admin_request *req, const char *authorization,
                      mcc_reply *reply)
{
    if (admin_access(a, req, authorization, reply) != MCC_OK)
        goto done;

    int builtin_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/readyz") == 0) {
        if (!builtin_get) {
            mcc_reply_status(reply, 405, "text/plain; charset=utf-8");
            mcc_reply_header(reply, "Allow", "GET, HEAD");
            mcc_reply_printf(reply, "method not allowed\n");
        } else if (strcmp(req->path, "/healthz") == 0) {
            mcc_reply_status(reply, 200, "text/plain; charset=utf-8");
            mcc_reply_printf(reply, "ok\n");
        } else {
            admin_readyz(a, reply);
        }
        goto done;
    }

    for (size_t i = 0; i < a->nroutes; i++) {
        if (strcmp(a->routes[i].path, req->path) != 0)
            continue;
        if (a->routes[i].fn(a->routes[i].arg, req, reply) != MCC_OK) {
            /* a failed route must not leak half an answer */
            evbuffer_drain(reply->body, evbuffer_get_length(reply->body));
            evhttp_clear_headers(&reply->headers);
            mcc_reply_status(reply, 500, "text/plain; charset=utf-8");
            mcc_reply_printf(reply, "internal error\n");
        }
        goto done;
    }

    mcc_reply_status(reply, 404, "text/plain; charset=utf-8");
    mcc_reply_printf(reply, "not found\n");

done:
    if (reply->code == 0)
        reply->code = 200;
    if (reply->content_type == NULL)
        mcc_reply_status(reply, 0, "text/plain; charset=utf-8");
}

/* --- Listener -------------------------------------------------------------------------------- */

static const char *admin_method(enum evhttp_cmd_type cmd)
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

static void admin_on_request(struct evhttp_request *hreq, void *arg)
{
    mcc_admin *a = arg;
    char *path = NULL;
    mcc_reply *reply = mcc_reply_new();
    if (reply == NULL) {
        evhttp_send_error(hreq, 500, NULL);
        return;
    }

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(hreq);
    const char *raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    path = evhttp_uridecode(raw != NULL && raw[0] != '\0' ? raw : "/", 0, NULL);
    char *peer = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(hreq), &peer, &port);

    mcc_admin_request req = {
        .method = admin_method(evhttp_request_get_command(hreq)),
        .path = path != NULL ? path : "/",
        .query = uri != NULL ? evhttp_uri_get_query(uri) : NULL,
        .peer = peer != NULL ? peer : "",
    };
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(hreq), "Authorization");
    mcc_admin_handle(a, &req, auth, reply);

    struct evkeyvalq *out = evhttp_request_get_output_headers(hreq);
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &reply->headers, next)
    evhttp_add_header(out, kv->key, kv->value);
    evhttp_remove_header(out, "Content-Type");
    evhttp_add_header(out, "Content-Type", reply->content_type);
    if (evhttp_find_header(out, "Cache-Control") == NULL)
        evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_send_reply(hreq, reply->code, NULL, reply->body);

    free(path);
    mcc_reply_free(reply);
}

/* Splits "host:port" / "[v6]:port" into HOST (brackets removed) and PORT. */
int mcc_admin_listen(mcc_admin *a, const char *addr, mcc_err *err)
{
    if (addr == NULL || addr[0] == '\0')
        return MCC_OK;
    a->http = evhttp_new(a->core->base);
    if (a->http == NULL)
        return mcc_err_set(err, "admin listener: out of memory");
    evhttp_set_max_headers_size(a->http, 16384);
    evhttp_set_max_body_size(a->http, 65536);
    evhttp_set_timeout(a->http, 30);
    evhttp_set_gencb(a->http, admin_on_request, a);
    if (mcc_listen_bind(a->http, a->core->base, addr, "admin", a->address, sizeof(a->address),
                        err) != MCC_OK) {
        evhttp_free(a->http);
        a->http = NULL;
        return MCC_ERROR;
    }
    mcc_listen_guard(a->http);
    return MCC_OK;
}

const char *mcc_admin_address(const mcc_admin *a)
{
    return a != NULL ? a->address : "off";
}
