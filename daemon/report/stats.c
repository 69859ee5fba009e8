/* Traffic accounting: lifetime and per-period hit/miss bytes and requests, the period timer
 * that feeds the exporters, the access log, and the request metrics. Main thread only. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/metrics.h"
#include "core/text.h"
#include "report/stats.h"

#define STATS_REQUEST_SLOTS 32 /* status class x cache status pairs seen: a handful */

struct mcc_stats {
    mcc_core *core;
    struct event *timer;
    uint64_t period_ms;
    mcc_traffic lifetime;
    mcc_traffic current; /* the period running now */
    mcc_traffic last;    /* the last completed period */
    unsigned last_s;
    int64_t last_end;
    mcc_metric *m_hit, *m_miss; /* mcc_sent_bytes_total, found on first use */
    /* the request metrics, found on first use: a lookup by name on every request cost as much
     * as the rest of the accounting (series are never freed before the registry) */
    struct {
        char labels[96];
        mcc_metric *m;
    } m_requests[STATS_REQUEST_SLOTS];
    mcc_metric *m_duration, *m_upstream_wait;
    int log_fd;                 /* -1 off */
    int log_owned;              /* 1 when log_fd is a file we opened */
};

/* Rounded to whole seconds, never 0: exporters divide by it for per-second averages. */
static unsigned stats_period_s(uint64_t ms)
{
    uint64_t s = (ms + 500) / 1000;
    return s == 0 ? 1 : (unsigned)(s > 86400 ? 86400 : s);
}

static void stats_period_close(evutil_socket_t fd, short what, void *arg)
{
    mcc_stats *st = arg;
    st->last = st->current;
    memset(&st->current, 0, sizeof(st->current));
    st->last_s = stats_period_s(st->period_ms);
    st->last_end = (int64_t)time(NULL);

    mcc_core *core = st->core;
    for (unsigned i = 0; i < core->nexporters; i++) {
        const mcc_exporter_ops *ops = core->exporters[i].ops;
        if (MCC_HAS(ops, on_period))
            ops->on_period(core->exporters[i].state, &st->last, st->last_s, st->last_end);
    }
}

void mcc_stats_period_end(mcc_stats *st)
{
    stats_period_close(-1, EV_TIMEOUT, st);
}

mcc_stats *mcc_stats_new(mcc_core *core, uint64_t period_ms)
{
    mcc_stats *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->core = core;
    st->period_ms = period_ms > 0 ? period_ms : 15000;
    st->log_fd = -1;

    const char *path = core->settings.access_log;
    if (strcmp(path, "-") == 0) {
        st->log_fd = STDERR_FILENO;
    } else if (path[0] != '\0') {
        /* Opened once: a log rotated away keeps receiving lines until restart, as with nginx
         * before a reopen signal. */
        st->log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (st->log_fd < 0) {
            mcc_log(MCC_LOG_ERROR, "access log %s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        st->log_owned = 1;
    }

    if (core->base != NULL) {
        st->timer = event_new(core->base, -1, EV_PERSIST, stats_period_close, st);
        struct timeval tv = {(time_t)(st->period_ms / 1000),
                             (suseconds_t)((st->period_ms % 1000) * 1000)};
        if (st->timer == NULL || event_add(st->timer, &tv) != 0) {
            mcc_log(MCC_LOG_ERROR, "stats: cannot arm the report period timer");
            goto fail;
        }
    }
    return st;

fail:
    mcc_stats_free(st);
    return NULL;
}

void mcc_stats_free(mcc_stats *st)
{
    if (st == NULL)
        return;
    if (st->timer != NULL)
        event_free(st->timer);
    if (st->log_owned)
        close(st->log_fd);
    free(st);
}

void mcc_stats_sent(mcc_stats *st, uint64_t hit, uint64_t miss)
{
    if (st == NULL)
        return;
    st->lifetime.hit_bytes += hit;
    st->lifetime.miss_bytes += miss;
    st->current.hit_bytes += hit;
    st->current.miss_bytes += miss;
    /* counted here, as bytes leave, so that /metrics and /summary agree while responses run */
    if (st->m_hit == NULL && st->core->metrics != NULL) {
        static const char help[] = "Body bytes sent to clients, by where they came from";
        st->m_hit = mcc_metrics_get(st->core->metrics, MCC_METRIC_COUNTER, "mcc_sent_bytes_total",
                                    help, "source=\"hit\"", NULL, 0);
        st->m_miss = mcc_metrics_get(st->core->metrics, MCC_METRIC_COUNTER, "mcc_sent_bytes_total",
                                     help, "source=\"miss\"", NULL, 0);
    }
    mcc_metric_add(st->m_hit, (double)hit);
    mcc_metric_add(st->m_miss, (double)miss);
}

void mcc_stats_get(const mcc_stats *st, mcc_traffic *lifetime, mcc_traffic *period,
                   unsigned *period_s, int64_t *period_end)
{
    if (lifetime != NULL)
        *lifetime = st->lifetime;
    if (period != NULL)
        *period = st->last;
    if (period_s != NULL)
        *period_s = st->last_s;
    if (period_end != NULL)
        *period_end = st->last_end;
}

/* Appends S to the line, escaping what would break a space-separated line or a terminal. */
static size_t stats_field(char *line, size_t n, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL || s[0] == '\0')
        s = "-";
    for (; *s != '\0' && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '%') {
            line[n++] = '%';
            line[n++] = hex[c >> 4];
            line[n++] = hex[c & 15];
        } else {
            line[n++] = (char)c;
        }
    }
    return n;
}

static size_t stats_append(char *line, size_t n, size_t cap, const char *fmt, ...) MCC_PRINTF(4, 5);
static size_t stats_append(char *line, size_t n, size_t cap, const char *fmt, ...)
{
    if (n >= cap)
        return n;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + n, cap - n, fmt, ap);
    va_end(ap);
    if (k < 0)
        return n;
    return n + ((size_t)k < cap - n ? (size_t)k : cap - n - 1);
}

static void stats_access_log(mcc_stats *st, const mcc_request_record *rec)
{
    char line[6144];
    size_t cap = sizeof(line) - 1; /* room for the newline */
    time_t t = (time_t)(rec->time_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(line, cap, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    n = stats_field(line, n, cap, rec->client);
    line[n++] = ' ';
    n = stats_field(line, n, cap, rec->method);
    line[n++] = ' ';
    n = stats_field(line, n, cap, rec->origin_host);
    line[n++] = ' ';
    n = stats_field(line, n, cap, rec->path);
    n = stats_append(line, n, cap, " %d %llu ", rec->status, (unsigned long long)rec->bytes_sent);
    n = stats_field(line, n, cap, rec->cache_status);
    n = stats_append(line, n, cap, " hit=%llu miss=%llu up=%llums dur=%llums",
                     (unsigned long long)rec->hit_bytes, (unsigned long long)rec->miss_bytes,
                     (unsigned long long)rec->upstream_ms, (unsigned long long)rec->duration_ms);
    line[n++] = '\n';
    ssize_t w;
    do
        w = write(st->log_fd, line, n);
    while (w < 0 && errno == EINTR);
}

/* A label value we can trust: the cache status as sent, if it is a plain word. */
static const char *stats_cache_label(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 32)
        return "other";
    for (const char *p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_' || *p == '-'))
            return "other";
    return s;
}

/* FNV-1a, to spread label sets over the slots */
static unsigned stats_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static mcc_metric *stats_requests_metric(mcc_core *core, mcc_stats *st, const char *labels)
{
    if (st == NULL)
        return mcc_metrics_get(core->metrics, MCC_METRIC_COUNTER, "mcc_requests_total",
                               "Content requests answered", labels, NULL, 0);
    unsigned i = stats_hash(labels) % STATS_REQUEST_SLOTS;
    if (st->m_requests[i].m == NULL || strcmp(st->m_requests[i].labels, labels) != 0) {
        mcc_metric *m = mcc_metrics_get(core->metrics, MCC_METRIC_COUNTER, "mcc_requests_total",
                                        "Content requests answered", labels, NULL, 0);
        if (m == NULL || strlen(labels) >= sizeof(st->m_requests[i].labels))
            return m;
        strcpy(st->m_requests[i].labels, labels);
        st->m_requests[i].m = m;
    }
    return st->m_requests[i].m;
}

static mcc_metric *stats_histogram(mcc_core *core, mcc_metric **memo, const char *name,
                                   const char *help)
{
    if (memo != NULL && *memo != NULL)
        return *memo;
    mcc_metric *m = mcc_metrics_get(core->metrics, MCC_METRIC_HISTOGRAM, name, help, "", NULL, 0);
    if (memo != NULL)
        *memo = m;
    return m;
}

static void stats_metrics(mcc_core *core, const mcc_request_record *rec)
{
    if (core->metrics == NULL)
        return;
    mcc_stats *st = core->stats;
    /* status_class="2xx",cache="hit": built by hand, this runs for every request */
    char labels[96], cls[8] = "other";
    if (rec->status >= 100 && rec->status <= 599) {
        cls[0] = (char)('0' + rec->status / 100);
        memcpy(cls + 1, "xx", 3);
    }
    size_t n = 0;
    labels[0] = '\0';
    mcc_text_cat(labels, sizeof(labels), &n, "status_class=\"");
    mcc_text_cat(labels, sizeof(labels), &n, cls);
    mcc_text_cat(labels, sizeof(labels), &n, "\",cache=\"");
    mcc_text_cat(labels, sizeof(labels), &n, stats_cache_label(rec->cache_status)); /* <= 32 */
    mcc_text_cat(labels, sizeof(labels), &n, "\"");
    mcc_metric_add(stats_requests_metric(core, st, labels), 1);
    mcc_metric_add(stats_histogram(core, st != NULL ? &st->m_duration : NULL,
                                   "mcc_request_duration_seconds",
                                   "Time from request to the last byte sent"),
                   (double)rec->duration_ms / 1000.0);
    if (rec->upstream_ms > 0)
        mcc_metric_add(stats_histogram(core, st != NULL ? &st->m_upstream_wait : NULL,
                                       "mcc_request_upstream_wait_seconds",
                                       "Time a request waited for an upstream's response headers"),
                       (double)rec->upstream_ms / 1000.0);
}

void mcc_request_done(mcc_core *core, const mcc_request_record *rec)
{
    mcc_stats *st = core->stats;
    if (st != NULL) {
        st->lifetime.requests++;
        st->current.requests++;
        if (st->log_fd >= 0)
            stats_access_log(st, rec);
    }
    stats_metrics(core, rec);
    for (unsigned i = 0; i < core->nexporters; i++) {
        const mcc_exporter_ops *ops = core->exporters[i].ops;
        if (MCC_HAS(ops, on_request))
            ops->on_request(core->exporters[i].state, rec);
    }
}
