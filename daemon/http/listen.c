/* Binding an evhttp server to a configured address, and reporting what was bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "core/core.h"

#include "http/listen.h"

int mcc_listen_split(const char *addr, char *host, size_t hostlen, unsigned *port)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL)
        return MCC_ERROR;
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (h[0] == '[') {
        if (n < 2 || h[n - 1] != ']')
            return MCC_ERROR;
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen)
        return MCC_ERROR;
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535)
        return MCC_ERROR;
    *port = (unsigned)p;
    return MCC_OK;
}

static void listen_resume(evutil_socket_t fd, short ev, void *arg)
{
    evconnlistener_enable(arg);
}

/* Accepting failed. Out of descriptors, the listening socket stays readable and accept would
 * fail again at once: stop listening for a moment, while connections close and free some. */
static void listen_error(struct evconnlistener *l, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
        return; /* a client that went away before accept: nothing to do */
    mcc_log(MCC_LOG_WARN, "listener %d: %s; not accepting for 100 ms",
            (int)evconnlistener_get_fd(l), strerror(e));
    evconnlistener_disable(l);
    struct timeval tv = {0, 100000};
    event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT, listen_resume, l, &tv);
}

static void listen_guard_one(struct evhttp_bound_socket *sock, void *arg)
{
    struct evconnlistener *l = evhttp_bound_socket_get_listener(sock);
    if (l != NULL)
        evconnlistener_set_error_cb(l, listen_error);
}

void mcc_listen_guard(struct evhttp *http)
{
    evhttp_foreach_bound_socket(http, listen_guard_one, NULL);
}

int mcc_listen_bind(struct evhttp *http, struct event_base *base, const char *addr,
                    const char *what, char *bound, size_t boundlen, mcc_err *err)
{
    char host[128];
    unsigned port;
    if (addr == NULL || mcc_listen_split(addr, host, sizeof(host), &port) != MCC_OK)
        return mcc_err_set(err, "%s listener: \"%s\" is not addr:port", what,
                           addr != NULL ? addr : "");
    struct sockaddr_storage want;
    int wantlen = (int)sizeof(want);
    memset(&want, 0, sizeof(want));
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&want, &wantlen) != 0)
        return mcc_err_set(err, "%s listener: \"%s\" is not an address and port", what, addr);
    /* the system's largest backlog (-1): a burst of devices must not wait for SYN retries */
    struct evconnlistener *l = evconnlistener_new_bind(
        base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
        (struct sockaddr *)&want, wantlen);
    if (l == NULL)
        return mcc_err_set(err, "%s listener: cannot bind %s: %s", what, addr, strerror(errno));
    /* accepted sockets inherit it: a response's last small segment must not wait for the
     * client's delayed ACK (Nagle) */
    int one = 1;
    setsockopt(evconnlistener_get_fd(l), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct evhttp_bound_socket *sock = evhttp_bind_listener(http, l);
    if (sock == NULL) {
        evconnlistener_free(l);
        return mcc_err_set(err, "%s listener: cannot listen on %s", what, addr);
    }
    if (bound == NULL)
        return MCC_OK;

    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char text[INET6_ADDRSTRLEN] = "?";
    unsigned real = port;
    memset(&ss, 0, sizeof(ss));
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
            real = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
            real = ntohs(in6->sin6_port);
        }
    }
    snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", text, real);
    return MCC_OK;
}
