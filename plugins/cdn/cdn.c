/* The cdn upstream: plans a miss as a plain HTTP request to the origin host itself, optionally
 * at a host rule's connect-to address, through a proxy, or with its own timeouts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcc/mcc.h>

#define CDN_UNSET UINT64_MAX
#define CDN_MAX_REDIRECTS 20
#define CDN_NOUTCOMES 5

static const char *const cdn_outcome_names[CDN_NOUTCOMES] = {
    [MCC_FETCH_DONE] = "done",       [MCC_FETCH_CONNECT_FAILED] = "connect_failed",
    [MCC_FETCH_TIMEOUT] = "timeout", [MCC_FETCH_SERVER_ERROR] = "server_error",
    [MCC_FETCH_BROKEN] = "broken",
};

typedef struct cdn {
    const mcc_host *host;
    mcc_instance *self;
    /* overrides of the daemon's defaults; CDN_UNSET (or has_proxy 0) keeps the default */
    uint64_t connect_timeout_ms;
    uint64_t low_speed_time_ms;
    uint64_t low_speed_limit;
    uint64_t max_redirects;
    int has_proxy;
    char proxy[256]; /* "http://host:port" or "" */
    mcc_metric *outcomes[CDN_NOUTCOMES];
} cdn;

/* HOST as it goes into a URL or CONNECT_TO: an IPv6 literal inside brackets. */
static const char *cdn_host_form(const char *host, char *buf, size_t size)
{
    if (host[0] != '[' && strchr(host, ':') != NULL) {
        snprintf(buf, size, "[%s]", host);
        return buf;
    }
    return host;
}

static int cdn_read_duration(cdn *c, const mcc_conf *conf, const char *key, int allow_zero,
                             uint64_t *out, mcc_err *err)
{
    const mcc_host *h = c->host;
    if (h->conf_duration(conf, key, CDN_UNSET, out, err) != MCC_OK)
        return MCC_ERROR;
    if (*out == CDN_UNSET)
        return MCC_OK;
    if ((*out == 0 && !allow_zero) || *out > UINT32_MAX)
        return h->conf_error(conf, key, err, "expected a duration from %s to 49d",
                             allow_zero ? "0" : "1ms");
    return MCC_OK;
}

static int cdn_read_config(cdn *c, const mcc_conf *conf, mcc_err *err)
{
    const mcc_host *h = c->host;
    int64_t v;

    if (cdn_read_duration(c, conf, "connect_timeout", 0, &c->connect_timeout_ms, err) != MCC_OK ||
        cdn_read_duration(c, conf, "low_speed_time", 1, &c->low_speed_time_ms, err) != MCC_OK)
        return MCC_ERROR;
    if (h->conf_int(conf, "low_speed_limit", -1, 0, UINT32_MAX, &v, err) != MCC_OK)
        return MCC_ERROR;
    c->low_speed_limit = v < 0 ? CDN_UNSET : (uint64_t)v;
    if (h->conf_int(conf, "max_redirects", -1, 0, CDN_MAX_REDIRECTS, &v, err) != MCC_OK)
        return MCC_ERROR;
    c->max_redirects = v < 0 ? CDN_UNSET : (uint64_t)v;

    return mcc_conf_proxy(h, conf, "proxy", &c->has_proxy, c->proxy, sizeof(c->proxy), err);
}

static int cdn_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                      mcc_err *err)
{
    cdn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return mcc_err_set(err, "cdn: out of memory");
    c->host = host;
    c->self = self;
    if (cdn_read_config(c, conf, err) != MCC_OK)
        goto fail;
    for (int i = 0; i < CDN_NOUTCOMES; i++) {
        char labels[96];
        snprintf(labels, sizeof(labels), "upstream=\"cdn\",outcome=\"%s\"", cdn_outcome_names[i]);
        c->outcomes[i] =
            host->metric(self, MCC_METRIC_COUNTER, "mcc_upstream_outcomes_total",
                         "Upstream transfers by upstream and outcome", labels, NULL, 0);
        if (c->outcomes[i] == NULL) {
            mcc_err_set(err, "cdn: cannot register mcc_upstream_outcomes_total");
            goto fail;
        }
    }
    *state = c;
    return MCC_OK;

fail:
    free(c);
    return MCC_ERROR;
}

static void cdn_destroy(void *state)
{
    free(state);
}

static int cdn_plan(void *state, const mcc_fetch_request *req, unsigned attempt,
                    mcc_fetch_plan *plan)
{
    (void)attempt;
    cdn *c = state;
    char hbuf[300];
    const char *host = cdn_host_form(req->origin_host, hbuf, sizeof(hbuf));
    unsigned port = req->origin_port != 0 ? req->origin_port : 80;
    const char *path = req->path != NULL && req->path[0] != '\0' ? req->path : "/";
    const char *slash = path[0] == '/' ? "" : "/";
    char pbuf[16] = "";
    if (port != 80)
        snprintf(pbuf, sizeof(pbuf), ":%u", port);
    int n = snprintf(plan->url, sizeof(plan->url), "http://%s%s%s%s", host, pbuf, slash, path);
    if (n < 0 || (size_t)n >= sizeof(plan->url)) {
        c->host->log(c->self, MCC_LOG_WARN, "URL of %s too long to fetch", req->origin_host);
        return MCC_ERROR;
    }

    plan->connect_to[0] = '\0';
    if (req->connect_to != NULL && req->connect_to[0] != '\0') {
        char addr[200], abuf[210];
        unsigned aport;
        if (mcc_hostport_split(req->connect_to, port, addr, sizeof(addr), &aport) != MCC_OK) {
            c->host->log(c->self, MCC_LOG_WARN, "bad connect_to \"%s\" for %s", req->connect_to,
                         req->origin_host);
            return MCC_ERROR;
        }
        n = snprintf(plan->connect_to, sizeof(plan->connect_to), "%s:%u:%s:%u", host, port,
                     cdn_host_form(addr, abuf, sizeof(abuf)), aport);
        if (n < 0 || (size_t)n >= sizeof(plan->connect_to))
            return MCC_ERROR;
    }

    if (c->connect_timeout_ms != CDN_UNSET)
        plan->connect_timeout_ms = (uint32_t)c->connect_timeout_ms;
    if (c->low_speed_time_ms != CDN_UNSET)
        plan->low_speed_time_ms = (uint32_t)c->low_speed_time_ms;
    if (c->low_speed_limit != CDN_UNSET)
        plan->low_speed_limit = (uint32_t)c->low_speed_limit;
    if (c->max_redirects != CDN_UNSET)
        plan->max_redirects = (int)c->max_redirects;
    if (c->has_proxy)
        memcpy(plan->proxy, c->proxy, sizeof(plan->proxy));
    snprintf(plan->label, sizeof(plan->label), "cdn");
    return MCC_OK;
}

static void cdn_outcome(void *state, const mcc_fetch_plan *plan, int outcome, int http_status)
{
    (void)plan;
    (void)http_status;
    cdn *c = state;
    if (outcome >= 0 && outcome < CDN_NOUTCOMES)
        c->host->metric_add(c->outcomes[outcome], 1);
}

static const mcc_upstream_ops cdn_ops = {
    .size = sizeof(mcc_upstream_ops),
    .plan = cdn_plan,
    .outcome = cdn_outcome,
};

static const mcc_plugin cdn_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_UPSTREAM, "cdn", CDN_VERSION),
    .description = "fetches misses from the origin host, directly or through a proxy",
    .create = cdn_create,
    .destroy = cdn_destroy,
    .ops = &cdn_ops,
};

MCC_PLUGIN_DEFINE(cdn_plugin)
