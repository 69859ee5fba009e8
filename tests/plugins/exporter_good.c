/* Test plugin: a well-formed exporter. Counts on_request and on_period calls and serves the
 * counts on an admin route, so tests can see that the daemon drives it. */
#include <stdlib.h>
#include <string.h>

#include <mcc/mcc.h>

typedef struct good {
    const mcc_host *host;
    mcc_instance *self;
    char route[128];
    char greeting[64];
    unsigned long requests, periods;
    unsigned long long hit, miss;
} good;

static int good_route(void *arg, const mcc_admin_request *req, mcc_reply *reply)
{
    good *g = arg;
    g->host->reply_status(reply, 200, "text/plain");
    g->host->reply_printf(reply, "%s requests=%lu periods=%lu hit=%llu miss=%llu\n", g->greeting,
                          g->requests, g->periods, g->hit, g->miss);
    return MCC_OK;
}

static int good_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                       mcc_err *err)
{
    const char *route, *greeting;
    if (host->conf_str(conf, "route", "/test/count", &route, err) != MCC_OK ||
        host->conf_str(conf, "greeting", "hello", &greeting, err) != MCC_OK)
        return MCC_ERROR;
    if (strlen(route) >= sizeof(((good *)0)->route) || route[0] != '/')
        return host->conf_error(conf, "route", err, "expected an absolute path");
    if (strlen(greeting) >= sizeof(((good *)0)->greeting))
        return host->conf_error(conf, "greeting", err, "expected at most 63 characters");
    good *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return mcc_err_set(err, "out of memory");
    g->host = host;
    g->self = self;
    memcpy(g->route, route, strlen(route) + 1);
    memcpy(g->greeting, greeting, strlen(greeting) + 1);
    *state = g;
    return MCC_OK;
}

static int good_start(void *state, void *base, mcc_err *err)
{
    good *g = state;
    if (g->host->route_add(g->self, g->route, good_route, g) != MCC_OK)
        return mcc_err_set(err, "cannot register %s", g->route);
    return MCC_OK;
}

static void good_destroy(void *state)
{
    free(state);
}

static void good_on_request(void *state, const mcc_request_record *rec)
{
    good *g = state;
    g->requests++;
    g->hit += rec->hit_bytes;
    g->miss += rec->miss_bytes;
}

static void good_on_period(void *state, const mcc_traffic *period, unsigned period_s, int64_t end)
{
    good *g = state;
    g->periods++;
}

static const mcc_exporter_ops good_ops = {
    .size = sizeof(mcc_exporter_ops),
    .on_request = good_on_request,
    .on_period = good_on_period,
};

static const mcc_plugin good_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_EXPORTER, "test-good", "1.2.3"),
    .description = "test exporter counting requests",
    .create = good_create,
    .start = good_start,
    .destroy = good_destroy,
    .ops = &good_ops,
};

MCC_PLUGIN_DEFINE(good_plugin)
