/* Connection accounting for the content listener. libevent 2.1's HTTP server has no hook when a
 * connection opens or closes, and its read timeout restarts with every byte (so a client that
 * trickles its headers keeps its connection forever). So every connection's bufferevent is made
 * here (evhttp_set_bevcb) and held by one extra reference; a sweep notices when evhttp let go
 * of one, enforces limits.max_connections, and closes connections that sent no complete request
 * within limits.client_timeout. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <uthash.h>

#include "core/core.h"
#include "http/conns.h"

#define CONNS_SWEEP_MS 100

typedef struct conns_conn {
    struct bufferevent *bev; /* the key: what evhttp hands back with each request */
    int64_t since_us;        /* opened, or the last request completed */
    unsigned busy;           /* requests being answered */
    int over_limit;          /* opened beyond limits.max_connections */
    int shut;                /* shutdown(2) was called: evhttp sees EOF and frees it */
    int nodelay;             /* TCP_NODELAY is set */
    UT_hash_handle hh;
} conns_conn;

struct mcc_conns {
    conns_conn *table;
    unsigned n, max;
    int64_t timeout_us;
    struct event *sweep;
    uint64_t refused, cut;
};

static int64_t conns_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static struct bufferevent *conns_bevcb(struct event_base *base, void *arg)
{
    mcc_conns *c = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        return NULL;
    conns_conn *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return bev; /* not counted: better than refusing for lack of a few bytes */
    k->bev = bev;
    k->since_us = conns_now_us();
    bufferevent_incref(bev); /* ours: the struct stays readable after evhttp frees it */
    HASH_ADD_PTR(c->table, bev, k);
    if (++c->n > c->max) {
        k->over_limit = 1;
        c->refused++;
    }
    return bev;
}

static void conns_drop(mcc_conns *c, conns_conn *k)
{
    HASH_DEL(c->table, k);
    c->n--;
    bufferevent_decref(k->bev); /* the last reference: closes the socket */
    free(k);
}

static void conns_shut(conns_conn *k)
{
    evutil_socket_t fd = bufferevent_getfd(k->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    k->shut = 1;
}

static void conns_sweep(evutil_socket_t fd, short what, void *arg)
{
    mcc_conns *c = arg;
    int64_t now = conns_now_us();
    conns_conn *k, *tmp;
    HASH_ITER(hh, c->table, k, tmp)
    {
        bufferevent_data_cb rd = NULL, wr = NULL;
        bufferevent_event_cb ev = NULL;
        bufferevent_getcb(k->bev, &rd, &wr, &ev, NULL);
        if ((rd == NULL && wr == NULL && ev == NULL) || bufferevent_getfd(k->bev) < 0) {
            conns_drop(c, k); /* evhttp freed it: the connection is gone */
            continue;
        }
        if (k->shut)
            continue;
        if (k->over_limit && k->busy == 0) {
            conns_shut(k);
        } else if (k->busy == 0 && now - k->since_us > c->timeout_us) {
            /* no complete request for a whole client_timeout: idle, or headers trickled */
            c->cut++;
            conns_shut(k);
        }
    }
}

mcc_conns *mcc_conns_new(struct event_base *base, struct evhttp *http, unsigned max,
                         uint64_t timeout_ms)
{
    mcc_conns *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->max = max;
    c->timeout_us = (int64_t)timeout_ms * 1000;
    c->sweep = event_new(base, -1, EV_PERSIST, conns_sweep, c);
    struct timeval tv = {0, CONNS_SWEEP_MS * 1000};
    if (c->sweep == NULL || event_add(c->sweep, &tv) != 0) {
        if (c->sweep != NULL)
            event_free(c->sweep);
        free(c);
        return NULL;
    }
    evhttp_set_bevcb(http, conns_bevcb, c);
    return c;
}

void mcc_conns_attach(mcc_conns *c, struct evhttp *http)
{
    evhttp_set_bevcb(http, conns_bevcb, c);
}

void mcc_conns_free(mcc_conns *c)
{
    if (c == NULL)
        return;
    event_free(c->sweep);
    conns_conn *k, *tmp;
    HASH_ITER(hh, c->table, k, tmp)
    conns_drop(c, k);
    free(c);
}

static void conns_request_done(struct evhttp_request *req, void *arg)
{
    conns_conn *k = arg;
    if (k->busy > 0)
        k->busy--;
    k->since_us = conns_now_us();
}

int mcc_conns_request(mcc_conns *c, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    conns_conn *k = NULL;
    if (c == NULL || bev == NULL)
        return 0;
    HASH_FIND_PTR(c->table, &bev, k);
    if (k == NULL)
        return 0;
    k->busy++;
    if (!k->nodelay) {
        /* once per connection: a response's last segment leaves without waiting for the ACK
         * of the one before (Nagle), as small hits are written in one go (serve.c) */
        int one = 1;
        evutil_socket_t fd = bufferevent_getfd(bev);
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        k->nodelay = 1;
    }
    evhttp_request_set_on_complete_cb(req, conns_request_done, k);
    return k->over_limit;
}

void mcc_conns_counts(const mcc_conns *c, unsigned *open, uint64_t *refused, uint64_t *cut)
{
    *open = c != NULL ? c->n : 0;
    *refused = c != NULL ? c->refused : 0;
    *cut = c != NULL ? c->cut : 0;
}
