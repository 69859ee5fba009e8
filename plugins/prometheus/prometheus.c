/* The "prometheus" exporter: GET /metrics in the Prometheus text exposition format (0.0.4): every
 * series of the daemon's registry, plus gauges of the pipeline and storage read at scrape time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mcc/mcc.h>

typedef struct prom {
    const mcc_host *host;
    mcc_instance *self;
    char route[128];
    char family[256]; /* the metric family being written, while visiting */
    mcc_reply *reply; /* while visiting */
} prom;

/* Shortest text that reads back as V; the spellings Prometheus wants for the special values. */
static const char *prom_number(char *buf, size_t len, double v)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, len, "%.17g", v);
    return buf;
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void prom_label_value(char *out, size_t len, const char *v)
{
    size_t n = 0;
    for (; *v != '\0' && n + 3 < len; v++) {
        if (*v == '\\' || *v == '"' || *v == '\n') {
            out[n++] = '\\';
            out[n++] = *v == '\n' ? 'n' : *v;
        } else {
            out[n++] = *v;
        }
    }
    out[n] = '\0';
}

static void prom_help(prom *p, const char *help)
{
    const mcc_host *h = p->host;
    if (help == NULL || help[0] == '\0')
        help = "(no help given)";
    for (const char *c = help; *c != '\0'; c++) {
        if (*c == '\\')
            h->reply_append(p->reply, "\\\\", 2);
        else if (*c == '\n')
            h->reply_append(p->reply, "\\n", 2);
        else
            h->reply_append(p->reply, c, 1);
    }
    h->reply_append(p->reply, "\n", 1);
}

/* NAME{LABELS[,EXTRA]} VALUE */
static void prom_line(prom *p, const char *name, const char *suffix, const char *labels,
                      const char *extra, double v)
{
    char num[40];
    const char *sep = labels[0] != '\0' && extra != NULL ? "," : "";
    if (labels[0] == '\0' && extra == NULL)
        p->host->reply_printf(p->reply, "%s%s %s\n", name, suffix,
                              prom_number(num, sizeof(num), v));
    else
        p->host->reply_printf(p->reply, "%s%s{%s%s%s} %s\n", name, suffix, labels, sep,
                              extra != NULL ? extra : "", prom_number(num, sizeof(num), v));
}

static void prom_visit(void *arg, const mcc_metric_sample *m)
{
    prom *p = arg;
    static const char *const types[] = {"counter", "gauge", "histogram"};
    if ((unsigned)m->type > MCC_METRIC_HISTOGRAM)
        return;
    /* series come sorted by name: one HELP and TYPE per family, before its first series */
    if (strcmp(p->family, m->name) != 0) {
        snprintf(p->family, sizeof(p->family), "%s", m->name);
        p->host->reply_printf(p->reply, "# HELP %s ", m->name);
        prom_help(p, m->help);
        p->host->reply_printf(p->reply, "# TYPE %s %s\n", m->name, types[m->type]);
    }
    if (m->type != MCC_METRIC_HISTOGRAM) {
        prom_line(p, m->name, "", m->labels, NULL, m->value);
        return;
    }
    char le[64], num[40];
    for (size_t i = 0; i < m->nbuckets; i++) {
        snprintf(le, sizeof(le), "le=\"%s\"", prom_number(num, sizeof(num), m->bounds[i]));
        prom_line(p, m->name, "_bucket", m->labels, le, (double)m->buckets[i]);
    }
    prom_line(p, m->name, "_bucket", m->labels, "le=\"+Inf\"", (double)m->count);
    prom_line(p, m->name, "_sum", m->labels, NULL, m->sum);
    prom_line(p, m->name, "_count", m->labels, NULL, (double)m->count);
}

static void prom_gauge(prom *p, int type, const char *name, const char *help, const char *labels,
                       double v)
{
    mcc_metric *m = p->host->metric(p->self, type, name, help, labels, NULL, 0);
    if (m != NULL)
        p->host->metric_set(m, v);
}

/* What the registry does not hold because it is state, not events: read it now. */
static void prom_refresh(prom *p)
{
    const mcc_host *h = p->host;
    char labels[400], esc[300];

    if (MCC_HAS(h, daemon_version)) {
        prom_label_value(esc, sizeof(esc), h->daemon_version(p->self));
        snprintf(labels, sizeof(labels), "version=\"%s\",abi=\"%d.%d\"", esc, h->abi_major,
                 h->abi_minor);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_build_info",
                   "The daemon's version and plugin ABI; the value is always 1", labels, 1);
    }
    if (MCC_HAS(h, cache_stats)) {
        mcc_cache_stats c;
        h->cache_stats(p->self, &c);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_cache_objects_in_use",
                   "Objects the pipeline holds open (being served or fetched)", NULL,
                   (double)c.objects_in_use);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_upstream_transfers_in_flight",
                   "Upstream transfers running now", NULL, (double)c.transfers);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_responses_in_progress",
                   "Client responses being sent now", NULL, (double)c.serves);
        prom_gauge(p, MCC_METRIC_COUNTER, "mcc_coalesced_requests_total",
                   "Requests that joined an upstream transfer another request started", NULL,
                   (double)c.coalesced);
    }
    if (!MCC_HAS(h, storage_drive))
        return;
    mcc_drive_info d;
    unsigned i = 0;
    int rc;
    for (; i < 1024 && (rc = h->storage_drive(p->self, i, &d)) == MCC_OK; i++) {
        prom_label_value(esc, sizeof(esc), d.name);
        snprintf(labels, sizeof(labels), "drive=\"%s\"", esc);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_storage_used_bytes",
                   "Bytes taken by stored objects on a drive", labels, (double)d.used);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_storage_capacity_bytes", "Bytes a drive may hold",
                   labels, (double)d.capacity);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_storage_objects", "Objects stored on a drive", labels,
                   (double)d.objects);
        prom_gauge(p, MCC_METRIC_COUNTER, "mcc_storage_evictions_total",
                   "Objects evicted from a drive to make room", labels, (double)d.evictions);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_storage_drive_writable",
                   "1 when new objects can be written to the drive", labels, d.writable ? 1 : 0);
    }
    uint64_t used, capacity, objects;
    if (i == 0 && rc == MCC_DECLINED && MCC_HAS(h, storage_usage) &&
        h->storage_usage(p->self, &used, &capacity, &objects) == MCC_OK) {
        /* a backend without drives reports its totals as one drive */
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_storage_used_bytes",
                   "Bytes taken by stored objects on a drive", "drive=\"all\"", (double)used);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_storage_capacity_bytes", "Bytes a drive may hold",
                   "drive=\"all\"", (double)capacity);
        prom_gauge(p, MCC_METRIC_GAUGE, "mcc_storage_objects", "Objects stored on a drive",
                   "drive=\"all\"", (double)objects);
    }
}

static int prom_route(void *arg, const mcc_admin_request *req, mcc_reply *reply)
{
    prom *p = arg;
    prom_refresh(p);
    p->host->reply_status(reply, 200, "text/plain; version=0.0.4; charset=utf-8");
    p->reply = reply;
    p->family[0] = '\0';
    p->host->metric_visit(p->self, prom_visit, p);
    p->reply = NULL;
    return MCC_OK;
}

static int prom_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                       mcc_err *err)
{
    const char *route = NULL;
    if (host->conf_str(conf, "route", "/metrics", &route, err) != MCC_OK)
        return MCC_ERROR;
    if (route == NULL || route[0] != '/' || strlen(route) >= sizeof(((prom *)0)->route))
        return host->conf_error(conf, "route", err, "an absolute path of at most 127 characters");
    prom *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return mcc_err_set(err, "out of memory");
    p->host = host;
    p->self = self;
    memcpy(p->route, route, strlen(route) + 1);
    *state = p;
    return MCC_OK;
}

static int prom_start(void *state, void *base, mcc_err *err)
{
    prom *p = state;
    if (p->host->route_add(p->self, p->route, prom_route, p) != MCC_OK)
        return mcc_err_set(err, "cannot serve %s: the path is taken", p->route);
    return MCC_OK;
}

static void prom_destroy(void *state)
{
    free(state);
}

static const mcc_exporter_ops prom_ops = {
    .size = sizeof(mcc_exporter_ops),
};

static const mcc_plugin prom_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_EXPORTER, "prometheus", "0.1.0"),
    .description = "every metric in the Prometheus text format at /metrics",
    .create = prom_create,
    .start = prom_start,
    .destroy = prom_destroy,
    .ops = &prom_ops,
};

MCC_PLUGIN_DEFINE(prom_plugin)
