/* Reachability probes of parents marked down: a non-blocking TCP connect on the daemon's event
 * loop; a connect that succeeds ends the down mark before its time is over. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "parent.h"

#define PARENT_PROBE_TIMEOUT_MS 3000u

static void probe_end(parent_node *node)
{
    if (node->probe_ev != NULL) {
        event_free(node->probe_ev);
        node->probe_ev = NULL;
    }
    if (node->probe_fd >= 0) {
        close(node->probe_fd);
        node->probe_fd = -1;
    }
}

static void probe_done(evutil_socket_t fd, short what, void *arg)
{
    parent_node *node = arg;
    parent *p = node->owner;
    int soerr = ETIMEDOUT;
    if (what & EV_WRITE) {
        socklen_t len = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            soerr = errno;
    }
    probe_end(node);
    if (soerr == 0)
        parent_mark_up(p, node, "probe connected");
    else
        p->host->log(p->self, MCC_LOG_DEBUG, "probe of parent %s: %s", node->name, strerror(soerr));
}

void parent_probe_start(parent *p, parent_node *node)
{
    struct sockaddr_storage ss;
    int sslen = (int)sizeof(ss);
    if (node->probe_ev != NULL || p->base == NULL)
        return;
    if (evutil_parse_sockaddr_port(node->name, (struct sockaddr *)&ss, &sslen) != 0)
        return; /* a host name: resolving it would block; the down mark expires instead */

    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (connect(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == 0) {
        close(fd);
        parent_mark_up(p, node, "probe connected");
        return;
    }
    if (errno != EINPROGRESS) {
        p->host->log(p->self, MCC_LOG_DEBUG, "probe of parent %s: %s", node->name, strerror(errno));
        close(fd);
        return;
    }
    node->probe_fd = fd;
    node->probe_ev = event_new(p->base, fd, EV_WRITE, probe_done, node);
    if (node->probe_ev == NULL) {
        probe_end(node);
        return;
    }
    uint64_t ms = PARENT_PROBE_TIMEOUT_MS;
    if (p->connect_timeout_ms != PARENT_UNSET && p->connect_timeout_ms < ms)
        ms = p->connect_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    if (event_add(node->probe_ev, &tv) != 0)
        probe_end(node);
}

void parent_probe_cancel(parent_node *node)
{
    probe_end(node);
}
