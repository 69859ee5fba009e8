/* The "summary" exporter: MCC's GET /summary (hit, miss and egress bytes of the last report
 * period and of the lifetime), /summary/history (the last periods, for the status page's chart)
 * and /summary/status (drives, parents, top hosts). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "summary.h"

#define SUMMARY_HISTORY_DEFAULT 240 /* one hour of 15 s periods */
#define SUMMARY_TOP_HOSTS 10

/* "2026-11-26T12:08:44Z" */
static void summary_time(char *buf, size_t len, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%s", "");
}

/* Rounds to DIGITS decimals: per-second averages and ratios read better without 17 digits. */
static double summary_round(double v, int digits)
{
    double f = pow(10, digits);
    return round(v * f) / f;
}

static double summary_ratio(uint64_t hit, uint64_t miss)
{
    uint64_t egress = hit + miss;
    return egress == 0 ? 0.0 : summary_round((double)hit / (double)egress, 6);
}

/* The four MCC figures of HIT and MISS, each divided by DIV (1 for totals). */
static void summary_figures(cJSON *o, uint64_t hit, uint64_t miss, double div)
{
    int digits = div == 1.0 ? 0 : 3;
    cJSON_AddNumberToObject(o, "hitBytes", summary_round((double)hit / div, digits));
    cJSON_AddNumberToObject(o, "missBytes", summary_round((double)miss / div, digits));
    cJSON_AddNumberToObject(o, "egressBytes", summary_round((double)(hit + miss) / div, digits));
    cJSON_AddNumberToObject(o, "hitRatioBytes", summary_ratio(hit, miss));
}

/* Sends J as the reply and frees it. MCC_ERROR (the daemon answers 500) when it cannot print. */
static int summary_reply_json(summary *s, cJSON *j, mcc_reply *reply)
{
    char *text = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (text == NULL)
        return MCC_ERROR;
    s->host->reply_status(reply, 200, "application/json");
    s->host->reply_append(reply, text, strlen(text));
    s->host->reply_append(reply, "\n", 1);
    free(text);
    return MCC_OK;
}

static int summary_route(void *arg, const mcc_admin_request *req, mcc_reply *reply)
{
    summary *s = arg;
    mcc_traffic life, period;
    unsigned period_s = 0;
    int64_t end = 0;
    char buf[32];

    s->host->traffic(s->self, &life, &period, &period_s, &end);
    cJSON *j = cJSON_CreateObject();
    if (j == NULL)
        return MCC_ERROR;
    cJSON_AddStringToObject(j, "nodeId", s->host->node_name(s->self));
    summary_time(buf, sizeof(buf), (int64_t)time(NULL));
    cJSON_AddStringToObject(j, "time", buf);

    cJSON *p = cJSON_AddObjectToObject(j, "period");
    if (p == NULL)
        goto fail;
    /* before the first period closes there is nothing to average: zeros, no times */
    cJSON_AddNumberToObject(p, "seconds", period_s);
    summary_time(buf, sizeof(buf), end > 0 ? end - (int64_t)period_s : 0);
    cJSON_AddStringToObject(p, "start", buf);
    summary_time(buf, sizeof(buf), end);
    cJSON_AddStringToObject(p, "end", buf);
    summary_figures(p, period.hit_bytes, period.miss_bytes, period_s > 0 ? (double)period_s : 1.0);
    cJSON_AddNumberToObject(p, "totalHitBytes", (double)period.hit_bytes);
    cJSON_AddNumberToObject(p, "totalMissBytes", (double)period.miss_bytes);
    cJSON_AddNumberToObject(p, "totalEgressBytes", (double)(period.hit_bytes + period.miss_bytes));
    cJSON_AddNumberToObject(p, "requests", (double)period.requests);

    cJSON *l = cJSON_AddObjectToObject(j, "lifetime");
    if (l == NULL)
        goto fail;
    summary_time(buf, sizeof(buf), s->started);
    cJSON_AddStringToObject(l, "since", buf);
    summary_figures(l, life.hit_bytes, life.miss_bytes, 1.0);
    cJSON_AddNumberToObject(l, "requests", (double)life.requests);
    return summary_reply_json(s, j, reply);

fail:
    cJSON_Delete(j);
    return MCC_ERROR;
}

static int summary_history_route(void *arg, const mcc_admin_request *req, mcc_reply *reply)
{
    summary *s = arg;
    cJSON *j = cJSON_CreateObject();
    if (j == NULL)
        return MCC_ERROR;
    cJSON_AddStringToObject(j, "nodeId", s->host->node_name(s->self));
    cJSON_AddNumberToObject(j, "capacity", s->history_len);
    cJSON *arr = cJSON_AddArrayToObject(j, "periods");
    if (arr == NULL)
        goto fail;
    for (unsigned k = 0; k < s->count; k++) {
        const summary_period *p =
            &s->ring[(s->head + s->history_len - s->count + k) % s->history_len];
        cJSON *o = cJSON_CreateObject();
        if (o == NULL)
            goto fail;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "end", (double)p->end);
        cJSON_AddNumberToObject(o, "seconds", p->seconds);
        /* totals, not averages: the page divides, and sums stay exact */
        cJSON_AddNumberToObject(o, "hitBytes", (double)p->hit);
        cJSON_AddNumberToObject(o, "missBytes", (double)p->miss);
        cJSON_AddNumberToObject(o, "hitRatioBytes", summary_ratio(p->hit, p->miss));
        cJSON_AddNumberToObject(o, "requests", (double)p->requests);
    }
    return summary_reply_json(s, j, reply);

fail:
    cJSON_Delete(j);
    return MCC_ERROR;
}

/* The value of label KEY in a Prometheus label body into OUT; 0 when absent. */
static int summary_label(const char *labels, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    const char *p = labels;
    while (p != NULL && *p != '\0') {
        const char *eq = strchr(p, '=');
        if (eq == NULL || eq[1] != '"')
            return 0;
        int match = (size_t)(eq - p) == klen && strncmp(p, key, klen) == 0;
        size_t n = 0;
        const char *v = eq + 2;
        for (; *v != '\0' && *v != '"'; v++) {
            if (*v == '\\' && v[1] != '\0')
                v++;
            if (match && n + 1 < len)
                out[n++] = *v;
        }
        if (match) {
            out[n] = '\0';
            return 1;
        }
        p = *v == '"' ? v + 1 : v;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Parents as a parent upstream plugin publishes them: the gauge
 * mcc_parent_up{parent="<host:port>"} (maybe with upstream="<instance>") at 1 (up) or 0 (down). */
static void summary_parent_visit(void *arg, const mcc_metric_sample *m)
{
    cJSON *arr = arg;
    char upstream[128], parent[256];
    if (strcmp(m->name, "mcc_parent_up") != 0 || m->type != MCC_METRIC_GAUGE)
        return;
    if (!summary_label(m->labels, "parent", parent, sizeof(parent)))
        return;
    if (!summary_label(m->labels, "upstream", upstream, sizeof(upstream)))
        upstream[0] = '\0';
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return;
    cJSON_AddItemToArray(arr, o);
    cJSON_AddStringToObject(o, "upstream", upstream);
    cJSON_AddStringToObject(o, "parent", parent);
    cJSON_AddBoolToObject(o, "up", m->value > 0.5);
}

static void summary_drives(summary *s, cJSON *arr)
{
    const mcc_host *h = s->host;
    mcc_drive_info d;
    unsigned i = 0;
    int rc = MCC_DECLINED;
    if (MCC_HAS(h, storage_drive)) {
        for (; i < 1024 && (rc = h->storage_drive(s->self, i, &d)) == MCC_OK; i++) {
            cJSON *o = cJSON_CreateObject();
            if (o == NULL)
                return;
            cJSON_AddItemToArray(arr, o);
            cJSON_AddStringToObject(o, "name", d.name);
            cJSON_AddNumberToObject(o, "usedBytes", (double)d.used);
            cJSON_AddNumberToObject(o, "capacityBytes", (double)d.capacity);
            cJSON_AddNumberToObject(o, "objects", (double)d.objects);
            cJSON_AddNumberToObject(o, "evictions", (double)d.evictions);
            cJSON_AddBoolToObject(o, "writable", d.writable);
        }
    }
    /* a backend without per-drive reports still shows as one drive of its totals */
    uint64_t used, capacity, objects;
    if (i == 0 && rc == MCC_DECLINED && MCC_HAS(h, storage_usage) &&
        h->storage_usage(s->self, &used, &capacity, &objects) == MCC_OK) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL)
            return;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", "storage");
        cJSON_AddNumberToObject(o, "usedBytes", (double)used);
        cJSON_AddNumberToObject(o, "capacityBytes", (double)capacity);
        cJSON_AddNumberToObject(o, "objects", (double)objects);
    }
}

static int summary_status_route(void *arg, const mcc_admin_request *req, mcc_reply *reply)
{
    summary *s = arg;
    const mcc_host *h = s->host;
    cJSON *j = cJSON_CreateObject();
    if (j == NULL)
        return MCC_ERROR;
    cJSON_AddStringToObject(j, "nodeId", h->node_name(s->self));
    cJSON_AddStringToObject(j, "version",
                            MCC_HAS(h, daemon_version) ? h->daemon_version(s->self) : "");
    cJSON_AddNumberToObject(j, "uptimeSeconds", (double)((int64_t)time(NULL) - s->started));
    unsigned period_s = 0;
    h->traffic(s->self, NULL, NULL, &period_s, NULL);
    cJSON_AddNumberToObject(j, "periodSeconds", period_s);
    if (MCC_HAS(h, cache_stats)) {
        mcc_cache_stats c;
        h->cache_stats(s->self, &c);
        cJSON_AddNumberToObject(j, "transfersInFlight", (double)c.transfers);
        cJSON_AddNumberToObject(j, "responsesInProgress", (double)c.serves);
    }
    cJSON *drives = cJSON_AddArrayToObject(j, "drives");
    cJSON *parents = cJSON_AddArrayToObject(j, "parents");
    cJSON *top = cJSON_AddArrayToObject(j, "topHosts");
    if (drives == NULL || parents == NULL || top == NULL) {
        cJSON_Delete(j);
        return MCC_ERROR;
    }
    summary_drives(s, drives);
    h->metric_visit(s->self, summary_parent_visit, parents);
    summary_hosts_top(s, top, SUMMARY_TOP_HOSTS);
    return summary_reply_json(s, j, reply);
}

/* --- exporter ops ------------------------------------------------------------------------------
 */

static void summary_on_request(void *state, const mcc_request_record *rec)
{
    summary *s = state;
    if (rec->origin_host != NULL && rec->origin_host[0] != '\0')
        summary_hosts_add(s, rec->origin_host, rec->hit_bytes, rec->miss_bytes);
}

static void summary_on_period(void *state, const mcc_traffic *period, unsigned period_s,
                              int64_t end)
{
    summary *s = state;
    summary_period *p = &s->ring[s->head];
    p->end = end;
    p->seconds = period_s;
    p->hit = period->hit_bytes;
    p->miss = period->miss_bytes;
    p->requests = period->requests;
    s->head = (s->head + 1) % s->history_len;
    if (s->count < s->history_len)
        s->count++;
}

/* --- lifecycle ---------------------------------------------------------------------------------
 */

static void summary_destroy(void *state)
{
    summary *s = state;
    if (s == NULL)
        return;
    summary_hosts_free(s);
    free(s->ring);
    free(s);
}

static int summary_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                          void **state, mcc_err *err)
{
    const char *route = NULL;
    int64_t history = 0, max_hosts = 0;
    int page = 1;
    if (host->conf_str(conf, "route", "/summary", &route, err) != MCC_OK ||
        host->conf_int(conf, "history", SUMMARY_HISTORY_DEFAULT, 1, 100000, &history, err) !=
            MCC_OK ||
        host->conf_int(conf, "max_hosts", 1000, 1, 1000000, &max_hosts, err) != MCC_OK ||
        host->conf_bool(conf, "page", 1, &page, err) != MCC_OK)
        return MCC_ERROR;
    /* the history and status routes hang below the route: leave room for them */
    if (route == NULL || route[0] != '/' || strlen(route) + 16 > sizeof(((summary *)0)->route))
        return host->conf_error(conf, "route", err, "an absolute path of at most 100 characters");

    summary *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return mcc_err_set(err, "out of memory");
    s->ring = calloc((size_t)history, sizeof(*s->ring));
    if (s->ring == NULL) {
        summary_destroy(s);
        return mcc_err_set(err, "out of memory");
    }
    s->host = host;
    s->self = self;
    memcpy(s->route, route, strlen(route) + 1);
    s->page = page;
    s->history_len = (unsigned)history;
    s->max_hosts = (unsigned)max_hosts;
    s->started = (int64_t)time(NULL);
    snprintf(s->other.name, sizeof(s->other.name), "(other hosts)");
    *state = s;
    return MCC_OK;
}

static int summary_start(void *state, void *base, mcc_err *err)
{
    summary *s = state;
    char path[sizeof(s->route) + 16];
    if (s->host->route_add(s->self, s->route, summary_route, s) != MCC_OK)
        return mcc_err_set(err, "cannot serve %s: the path is taken", s->route);
    snprintf(path, sizeof(path), "%s/history", strcmp(s->route, "/") == 0 ? "" : s->route);
    if (s->host->route_add(s->self, path, summary_history_route, s) != MCC_OK)
        return mcc_err_set(err, "cannot serve %s: the path is taken", path);
    snprintf(path, sizeof(path), "%s/status", strcmp(s->route, "/") == 0 ? "" : s->route);
    if (s->host->route_add(s->self, path, summary_status_route, s) != MCC_OK)
        return mcc_err_set(err, "cannot serve %s: the path is taken", path);
    if (s->page && s->host->route_add(s->self, "/", summary_page_route, s) != MCC_OK)
        return mcc_err_set(err, "cannot serve the status page at /: the path is taken");
    return MCC_OK;
}

static const mcc_exporter_ops summary_ops = {
    .size = sizeof(mcc_exporter_ops),
    .on_request = summary_on_request,
    .on_period = summary_on_period,
};

static const mcc_plugin summary_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_EXPORTER, "summary", "0.1.0"),
    .description = "MCC's /summary of hit and miss bytes, its history and the status page",
    .create = summary_create,
    .start = summary_start,
    .destroy = summary_destroy,
    .ops = &summary_ops,
};

MCC_PLUGIN_DEFINE(summary_plugin)
