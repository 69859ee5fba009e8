/* mcc-test-origin: command line, listener, pid/port files and signals of the integration tests'
 * origin server (the serving itself is in origin_serve.c). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "origin.h"

static void origin_usage(FILE *out)
{
    fprintf(out,
            "usage: mcc-test-origin --root DIR [options]\n"
            "  --listen ADDR:PORT  address to bind (default 127.0.0.1:0, an ephemeral port)\n"
            "  --root DIR          directory whose files are served\n"
            "  --log FILE          one line per request: METHOD URI range=R status=S bytes=N "
            "end=E\n"
            "  --pidfile FILE      write the process id\n"
            "  --port-file FILE    write the bound port (written last: ready when it exists)\n"
            "  --rate N            body bytes per second per response (K, M suffixes)\n"
            "  --delay-ms N        wait before sending status and headers\n"
            "  --fault NAME[=N][,NAME[=N]...]  misbehave on every request (repeatable):\n");
    origin_faults_usage(out, 6);
    fprintf(out,
            "  --fault-count N     the --fault faults hit only the first N GETs (default: all)\n"
            "  --fault-by-query    a request's query parameter fault=NAME[=N][,NAME[=N]...]\n"
            "                      chooses its faults (instead of --fault's)\n"
            "  --fault-by-host     the leading labels of a request's Host header choose its\n"
            "                      faults (instead of --fault's): NAME, then N when the fault\n"
            "                      takes one, up to the first label naming no fault, e.g.\n"
            "                      Host: reset-after.300000.change-after.1.fault.test\n"
            "                      (a cache then keys the object under the host's namespace,\n"
            "                      so one object can be asked cleanly and with faults)\n"
            "  Without a fault, or when FILE.v2 is missing under change-after: plain answers.\n");
}

static int origin_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    unsigned long p;

    if (colon == NULL || (size_t)(colon - s) >= hostlen || colon == s)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    errno = 0;
    p = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}

/* Writes TEXT to PATH through a temporary file, so that a reader never sees half of it. */
static int origin_write_file(const char *path, const char *text)
{
    char tmp[4096];
    FILE *f;
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    if (fputs(text, f) < 0) {
        fclose(f);
        return -1;
    }
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static void origin_on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},  {"root", required_argument, NULL, 'r'},
        {"log", required_argument, NULL, 'L'},     {"pidfile", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'P'}, {"rate", required_argument, NULL, 'R'},
        {"delay-ms", required_argument, NULL, 'd'}, {"fault", required_argument, NULL, 'f'},
        {"fault-count", required_argument, NULL, 'c'},
        {"fault-by-query", no_argument, NULL, 'Q'}, {"fault-by-host", no_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    origin_ctx ctx;
    const char *listen = "127.0.0.1:0", *logpath = NULL, *pidfile = NULL, *portfile = NULL;
    char host[256], text[64];
    unsigned port;
    struct evhttp_bound_socket *bound;
    struct event *sigterm = NULL, *sigint = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int c, rc = 1;

    memset(&ctx, 0, sizeof(ctx));
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'r':
            if (snprintf(ctx.root, sizeof(ctx.root), "%s", optarg) >= (int)sizeof(ctx.root)) {
                fprintf(stderr, "mcc-test-origin: --root: path too long\n");
                return 2;
            }
            break;
        case 'L':
            logpath = optarg;
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 'P':
            portfile = optarg;
            break;
        case 'R':
            if (origin_parse_u64(optarg, &ctx.rate) != 0) {
                fprintf(stderr, "mcc-test-origin: --rate: expected bytes per second\n");
                return 2;
            }
            break;
        case 'd':
            if (origin_parse_u64(optarg, &ctx.delay_ms) != 0) {
                fprintf(stderr, "mcc-test-origin: --delay-ms: expected milliseconds\n");
                return 2;
            }
            break;
        case 'f':
            if (origin_faults_parse(optarg, ',', &ctx.faults) != 0) {
                fprintf(stderr, "mcc-test-origin: --fault: unknown fault or bad argument '%s'\n",
                        optarg);
                origin_usage(stderr);
                return 2;
            }
            break;
        case 'c':
            if (origin_parse_u64(optarg, &ctx.fault_count) != 0 || ctx.fault_count == 0) {
                fprintf(stderr, "mcc-test-origin: --fault-count: expected a count above 0\n");
                return 2;
            }
            break;
        case 'Q':
            ctx.by_query = 1;
            break;
        case 'H':
            ctx.by_host = 1;
            break;
        case 'h':
            origin_usage(stdout);
            return 0;
        default:
            origin_usage(stderr);
            return 2;
        }
    }
    if (optind != argc || ctx.root[0] == '\0') {
        origin_usage(stderr);
        return 2;
    }
    if (origin_parse_listen(listen, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "mcc-test-origin: --listen: expected ADDR:PORT, got '%s'\n", listen);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (logpath != NULL) {
        ctx.log = fopen(logpath, "a");
        if (ctx.log == NULL) {
            fprintf(stderr, "mcc-test-origin: %s: %s\n", logpath, strerror(errno));
            return 1;
        }
    }
    ctx.base = event_base_new();
    if (ctx.base == NULL)
        goto out;
    ctx.http = evhttp_new(ctx.base);
    if (ctx.http == NULL)
        goto out_base;
    evhttp_set_allowed_methods(ctx.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS);
    evhttp_set_timeout(ctx.http, 600); /* paced bodies may take minutes */
    evhttp_set_gencb(ctx.http, origin_serve, &ctx);
    bound = evhttp_bind_socket_with_handle(ctx.http, host, (ev_uint16_t)port);
    if (bound == NULL) {
        fprintf(stderr, "mcc-test-origin: cannot listen on %s\n", listen);
        goto out_http;
    }
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sslen) != 0)
        goto out_http;
    port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);

    sigterm = evsignal_new(ctx.base, SIGTERM, origin_on_signal, ctx.base);
    sigint = evsignal_new(ctx.base, SIGINT, origin_on_signal, ctx.base);
    if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
        evsignal_add(sigint, NULL) != 0)
        goto out_http;

    snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (pidfile != NULL && origin_write_file(pidfile, text) != 0) {
        fprintf(stderr, "mcc-test-origin: %s: %s\n", pidfile, strerror(errno));
        goto out_http;
    }
    snprintf(text, sizeof(text), "%u\n", port);
    if (portfile != NULL && origin_write_file(portfile, text) != 0) {
        fprintf(stderr, "mcc-test-origin: %s: %s\n", portfile, strerror(errno));
        goto out_http;
    }
    fprintf(stderr, "mcc-test-origin: serving %s on %s:%u\n", ctx.root, host, port);
    event_base_dispatch(ctx.base);
    rc = 0;
    if (pidfile != NULL)
        unlink(pidfile);

out_http:
    if (sigterm != NULL)
        event_free(sigterm);
    if (sigint != NULL)
        event_free(sigint);
    evhttp_free(ctx.http); /* responses still in flight end as "closed" in the log */
out_base:
    event_base_free(ctx.base);
out:
    origin_counts_free(&ctx);
    if (ctx.log != NULL)
        fclose(ctx.log);
    return rc;
}
