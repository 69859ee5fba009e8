/* The parent upstream: plans a miss as a Delivery Optimization request to a parent cache, picking
 * the parent by rendezvous hashing of the cache key and skipping parents marked down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "parent.h"

#define PARENT_DEFAULT_DOWN_TIME_MS 30000u
#define PARENT_DEFAULT_PROBE_MS 5000u
#define PARENT_IDLE_TICK_MS 1000u

static const char *const parent_outcome_names[PARENT_NOUTCOMES] = {
    [MCC_FETCH_DONE] = "done",       [MCC_FETCH_CONNECT_FAILED] = "connect_failed",
    [MCC_FETCH_TIMEOUT] = "timeout", [MCC_FETCH_SERVER_ERROR] = "server_error",
    [MCC_FETCH_BROKEN] = "broken",
};

uint64_t parent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parent_read_parents(parent *p, const mcc_conf *conf, mcc_err *err)
{
    const mcc_host *h = p->host;
    mcc_err cerr = {.msg = ""};
    const mcc_conf *list = h->conf_child(conf, "parents", 'a', &cerr);
    if (list == NULL) {
        if (cerr.msg[0] != '\0') {
            if (err != NULL)
                *err = cerr;
            return MCC_ERROR;
        }
        return h->conf_error(conf, "parents", err, "expected a list of \"host[:port]\", got none");
    }
    size_t count = h->conf_count(list);
    if (count == 0 || count > PARENT_MAX)
        return h->conf_error(conf, "parents", err, "expected 1 to %d parents, got %zu", PARENT_MAX,
                             count);
    for (size_t i = 0; i < count; i++) {
        const mcc_conf *el = h->conf_index(list, i, NULL);
        const char *s = NULL;
        if (h->conf_str(el, NULL, NULL, &s, err) != MCC_OK)
            return MCC_ERROR;
        parent_node *node = &p->nodes[i];
        if (s == NULL ||
            mcc_hostport_split(s, 80, node->host, sizeof(node->host), &node->port) != MCC_OK)
            return h->conf_error(conf, "parents", err,
                                 "element %zu: expected \"host[:port]\" or \"[v6][:port]\", got "
                                 "\"%s\"",
                                 i, s != NULL ? s : "");
        snprintf(node->name, sizeof(node->name), "%s:%u", node->host, node->port);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->nodes[j].name, node->name) == 0)
                return h->conf_error(conf, "parents", err, "element %zu: %s is listed twice", i,
                                     node->name);
        /* a label cut to fit must stay unique: the daemon retries only on another label */
        int n = snprintf(node->label, sizeof(node->label), "parent:%s", node->name);
        if (n < 0 || (size_t)n >= sizeof(node->label))
            snprintf(node->label, sizeof(node->label), "parent#%zu:%.40s", i, node->name);
        node->seed = XXH3_64bits(node->name, strlen(node->name));
        node->probe_fd = -1;
        node->owner = p;
    }
    p->n = count;
    return MCC_OK;
}

static int parent_read_config(parent *p, const mcc_conf *conf, mcc_err *err)
{
    const mcc_host *h = p->host;
    if (parent_read_parents(p, conf, err) != MCC_OK)
        return MCC_ERROR;
    if (h->conf_duration(conf, "down_time", PARENT_DEFAULT_DOWN_TIME_MS, &p->down_time_ms, err) !=
        MCC_OK)
        return MCC_ERROR;
    if (p->down_time_ms < 1000 || p->down_time_ms > 86400000u)
        return h->conf_error(conf, "down_time", err, "expected a duration from 1s to 1d");
    if (h->conf_duration(conf, "probe_interval", PARENT_DEFAULT_PROBE_MS, &p->probe_interval_ms,
                         err) != MCC_OK)
        return MCC_ERROR;
    if ((p->probe_interval_ms != 0 && p->probe_interval_ms < 100) ||
        p->probe_interval_ms > 3600000u)
        return h->conf_error(conf, "probe_interval", err,
                             "expected 0 (no probes) or a duration from 100ms to 1h");
    if (h->conf_duration(conf, "connect_timeout", PARENT_UNSET, &p->connect_timeout_ms, err) !=
        MCC_OK)
        return MCC_ERROR;
    if (p->connect_timeout_ms != PARENT_UNSET &&
        (p->connect_timeout_ms == 0 || p->connect_timeout_ms > 600000u))
        return h->conf_error(conf, "connect_timeout", err, "expected a duration from 1ms to 10m");

    /* "" is a choice too: no proxy towards the parents, whatever fetch.proxy says */
    return mcc_conf_proxy(h, conf, "proxy", &p->has_proxy, p->proxy, sizeof(p->proxy), err);
}

static int parent_metrics(parent *p, mcc_err *err)
{
    const mcc_host *h = p->host;
    for (size_t i = 0; i < p->n; i++) {
        parent_node *node = &p->nodes[i];
        char labels[400];
        snprintf(labels, sizeof(labels), "parent=\"%s\"", node->name);
        node->up = h->metric(p->self, MCC_METRIC_GAUGE, "mcc_parent_up",
                             "1 when the parent cache is planned, 0 while it is marked down",
                             labels, NULL, 0);
        if (node->up == NULL)
            return mcc_err_set(err, "parent: cannot register mcc_parent_up");
        h->metric_set(node->up, 1);
        for (int o = 0; o < PARENT_NOUTCOMES; o++) {
            snprintf(labels, sizeof(labels), "upstream=\"%s\",outcome=\"%s\"", node->label,
                     parent_outcome_names[o]);
            node->outcomes[o] =
                h->metric(p->self, MCC_METRIC_COUNTER, "mcc_upstream_outcomes_total",
                          "Upstream transfers by upstream and outcome", labels, NULL, 0);
            if (node->outcomes[o] == NULL)
                return mcc_err_set(err, "parent: cannot register mcc_upstream_outcomes_total");
        }
    }
    return MCC_OK;
}

static int parent_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                         void **state, mcc_err *err)
{
    parent *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return mcc_err_set(err, "parent: out of memory");
    p->host = host;
    p->self = self;
    if (parent_read_config(p, conf, err) != MCC_OK || parent_metrics(p, err) != MCC_OK)
        goto fail;
    *state = p;
    return MCC_OK;

fail:
    free(p);
    return MCC_ERROR;
}

void parent_mark_up(parent *p, parent_node *node, const char *why)
{
    if (node->down)
        p->host->log(p->self, MCC_LOG_INFO, "parent %s is up again (%s)", node->name, why);
    node->down = 0;
    p->host->metric_set(node->up, 1);
}

static void parent_mark_down(parent *p, parent_node *node, const char *why)
{
    if (!node->down)
        p->host->log(p->self, MCC_LOG_WARN, "parent %s is down (%s): skipped for %llums%s",
                     node->name, why, (unsigned long long)p->down_time_ms,
                     p->probe_interval_ms != 0 ? " or until a probe connects" : "");
    node->down = 1;
    node->down_until_ms = parent_now_ms() + p->down_time_ms;
    p->host->metric_set(node->up, 0);
}

/* Ends the down marks whose time is over and probes the others. */
static void parent_tick(void *arg)
{
    parent *p = arg;
    uint64_t now = parent_now_ms();
    for (size_t i = 0; i < p->n; i++) {
        parent_node *node = &p->nodes[i];
        if (!node->down)
            continue;
        if (now >= node->down_until_ms)
            parent_mark_up(p, node, "down time over");
        else if (p->probe_interval_ms != 0)
            parent_probe_start(p, node);
    }
}

static int parent_start(void *state, void *event_base, mcc_err *err)
{
    parent *p = state;
    p->base = event_base;
    p->tick = p->host->timer_new(p->self, parent_tick, p);
    uint64_t every = p->probe_interval_ms != 0 ? p->probe_interval_ms : PARENT_IDLE_TICK_MS;
    if (p->tick == NULL || p->host->timer_arm(p->tick, every, 1) != MCC_OK)
        return mcc_err_set(err, "parent: cannot arm the probe timer");
    return MCC_OK;
}

static void parent_stop(void *state)
{
    parent *p = state;
    for (size_t i = 0; i < p->n; i++)
        parent_probe_cancel(&p->nodes[i]);
    if (p->tick != NULL) {
        p->host->timer_free(p->tick);
        p->tick = NULL;
    }
}

static void parent_destroy(void *state)
{
    parent *p = state;
    if (p == NULL)
        return;
    parent_stop(p);
    free(p);
}

/* ORDER gets the node indexes from the most to the least preferred for KEY: highest rendezvous
 * score first, so each key has one home and a lost parent moves only the keys it was home for. */
static void parent_rank(const parent *p, const uint8_t *key, size_t order[PARENT_MAX])
{
    uint64_t score[PARENT_MAX];
    for (size_t i = 0; i < p->n; i++) {
        score[i] = XXH3_64bits_withSeed(key, 32, p->nodes[i].seed);
        size_t j = i;
        while (j > 0 && score[order[j - 1]] < score[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

/* The origin as the cacheHostOrigin value: IPv6 literals in encoded brackets, a port other than
 * 80 kept. */
static int parent_origin_value(const mcc_fetch_request *req, char *buf, size_t size)
{
    int v6 = strchr(req->origin_host, ':') != NULL && req->origin_host[0] != '[';
    char port[16] = "";
    if (req->origin_port != 0 && req->origin_port != 80)
        snprintf(port, sizeof(port), ":%u", req->origin_port);
    int n =
        snprintf(buf, size, "%s%s%s%s", v6 ? "%5B" : "", req->origin_host, v6 ? "%5D" : "", port);
    return n >= 0 && (size_t)n < size ? MCC_OK : MCC_ERROR;
}

static int parent_plan(void *state, const mcc_fetch_request *req, unsigned attempt,
                       mcc_fetch_plan *plan)
{
    parent *p = state;
    size_t order[PARENT_MAX];
    parent_node *node = NULL;
    uint64_t now = parent_now_ms();

    /* a retry (ATTEMPT > 0) finds the parent that failed marked down by outcome() already */
    parent_rank(p, req->key, order);
    for (size_t i = 0; i < p->n && node == NULL; i++) {
        parent_node *cand = &p->nodes[order[i]];
        if (cand->down && now >= cand->down_until_ms)
            parent_mark_up(p, cand, "down time over");
        if (!cand->down)
            node = cand;
    }
    if (node == NULL) {
        p->host->log(p->self, MCC_LOG_DEBUG,
                     "every parent is down: %s%s left to the next upstream"
                     " (attempt %u)",
                     req->origin_host, req->path, attempt);
        return MCC_DECLINED;
    }

    char origin[300];
    const char *path = req->path != NULL && req->path[0] != '\0' ? req->path : "/";
    if (parent_origin_value(req, origin, sizeof(origin)) != MCC_OK)
        return MCC_ERROR;
    char port[16] = "";
    if (node->port != 80)
        snprintf(port, sizeof(port), ":%u", node->port);
    int n = snprintf(plan->url, sizeof(plan->url), "http://%s%s%s%s%ccacheHostOrigin=%s",
                     node->host, port, path[0] == '/' ? "" : "/", path,
                     strchr(path, '?') != NULL ? '&' : '?', origin);
    if (n < 0 || (size_t)n >= sizeof(plan->url)) {
        p->host->log(p->self, MCC_LOG_WARN, "URL of %s too long to fetch", req->origin_host);
        return MCC_ERROR;
    }
    /* a host rule's connect-to address is the origin's, never the parent's */
    plan->connect_to[0] = '\0';
    if (p->connect_timeout_ms != PARENT_UNSET)
        plan->connect_timeout_ms = (uint32_t)p->connect_timeout_ms;
    if (p->has_proxy)
        memcpy(plan->proxy, p->proxy, sizeof(plan->proxy));
    plan->cookie = (uint64_t)(node - p->nodes) + 1;
    memcpy(plan->label, node->label, sizeof(plan->label));
    return MCC_OK;
}

static void parent_outcome(void *state, const mcc_fetch_plan *plan, int outcome, int http_status)
{
    (void)http_status;
    parent *p = state;
    if (plan->cookie == 0 || plan->cookie > p->n)
        return;
    parent_node *node = &p->nodes[plan->cookie - 1];
    if (strcmp(node->label, plan->label) != 0)
        return;
    if (outcome >= 0 && outcome < PARENT_NOUTCOMES)
        p->host->metric_add(node->outcomes[outcome], 1);
    switch (outcome) {
    case MCC_FETCH_CONNECT_FAILED:
        parent_mark_down(p, node, "connect failed");
        break;
    case MCC_FETCH_TIMEOUT:
        parent_mark_down(p, node, "timed out");
        break;
    case MCC_FETCH_DONE:
        parent_mark_up(p, node, "answered");
        break;
    default:
        /* a 5xx may come from a proxy on the way, a broken body from anywhere: no verdict */
        break;
    }
}

static const mcc_upstream_ops parent_ops = {
    .size = sizeof(mcc_upstream_ops),
    .plan = parent_plan,
    .outcome = parent_outcome,
};

static const mcc_plugin parent_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_UPSTREAM, "parent", PARENT_VERSION),
    .description = "fetches misses from parent caches chosen by consistent hashing of the key",
    .create = parent_create,
    .start = parent_start,
    .stop = parent_stop,
    .destroy = parent_destroy,
    .ops = &parent_ops,
};

MCC_PLUGIN_DEFINE(parent_plugin)
