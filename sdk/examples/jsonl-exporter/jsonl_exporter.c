/* Example exporter: appends one JSON object per line to a file for every content request and
 * every finished report period, so that log shippers (Fluent Bit, Vector, ...) can pick it up. */
#define _POSIX_C_SOURCE 200809L /* getline, strtok_r, open: also under -std=c11 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcc/exporter.h>

#define JSONL_LINE_MAX 8192
/* request strings longer than this are cut, so that a record always fits one line */
#define JSONL_STR_MAX 1024

typedef struct jsonl {
    const mcc_host *host;
    mcc_instance *self;
    char *path;   /* our copy: config strings die with create */
    int requests; /* write a line per request */
    int periods;  /* write a line per report period */
    int fd;       /* -1 until start */
    mcc_metric *lines;
    mcc_metric *errors;
    int warned; /* one log line per run of write failures, not one per request */
} jsonl;

/* A line being built; overflow is sticky and drops the line rather than cutting JSON. */
typedef struct jsonl_line {
    char buf[JSONL_LINE_MAX];
    size_t len;
    int overflow;
} jsonl_line;

static void jsonl_put(jsonl_line *l, const char *fmt, ...) MCC_PRINTF(2, 3);
static void jsonl_put(jsonl_line *l, const char *fmt, ...)
{
    if (l->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(l->buf) - l->len)
        l->overflow = 1;
    else
        l->len += (size_t)n;
}

/* "KEY":"VALUE" with VALUE escaped for JSON. Bytes outside printable ASCII become \u00XX, so the
 * line stays valid JSON whatever a client put into its request path. */
static void jsonl_str(jsonl_line *l, const char *key, const char *value)
{
    jsonl_put(l, "%s\"%s\":\"", l->len > 1 ? "," : "", key);
    size_t n = 0;
    for (const char *p = value != NULL ? value : ""; *p != '\0' && n < JSONL_STR_MAX; p++, n++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            jsonl_put(l, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            jsonl_put(l, "\\u%04x", c);
        else
            jsonl_put(l, "%c", c);
    }
    jsonl_put(l, "\"");
}

static void jsonl_u64(jsonl_line *l, const char *key, uint64_t v)
{
    jsonl_put(l, "%s\"%s\":%" PRIu64, l->len > 1 ? "," : "", key, v);
}

static void jsonl_write(jsonl *j, jsonl_line *l)
{
    jsonl_put(l, "}\n");
    if (l->overflow || j->fd < 0) {
        j->host->metric_add(j->errors, 1);
        return;
    }
    /* O_APPEND and one write per line: lines of several writers never interleave */
    ssize_t w;
    do
        w = write(j->fd, l->buf, l->len);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)l->len) {
        j->host->metric_add(j->lines, 1);
        j->warned = 0;
        return;
    }
    j->host->metric_add(j->errors, 1);
    if (!j->warned) {
        j->host->log(j->self, MCC_LOG_WARN, "%s: write failed: %s", j->path,
                     w < 0 ? strerror(errno) : "short write");
        j->warned = 1;
    }
}

static void jsonl_on_request(void *state, const mcc_request_record *rec)
{
    jsonl *j = state;
    if (!j->requests)
        return;
    jsonl_line l = {.len = 0};
    jsonl_put(&l, "{");
    jsonl_str(&l, "type", "request");
    jsonl_put(&l, ",\"time\":%" PRId64 ".%06" PRId64, rec->time_us / 1000000,
              rec->time_us % 1000000);
    jsonl_str(&l, "client", rec->client);
    jsonl_str(&l, "method", rec->method);
    jsonl_str(&l, "host", rec->origin_host);
    jsonl_str(&l, "path", rec->path);
    jsonl_put(&l, ",\"status\":%d", rec->status);
    jsonl_u64(&l, "bytes", rec->bytes_sent);
    jsonl_u64(&l, "hit_bytes", rec->hit_bytes);
    jsonl_u64(&l, "miss_bytes", rec->miss_bytes);
    jsonl_str(&l, "cache", rec->cache_status);
    jsonl_u64(&l, "upstream_ms", rec->upstream_ms);
    jsonl_u64(&l, "duration_ms", rec->duration_ms);
    jsonl_write(j, &l);
}

static void jsonl_on_period(void *state, const mcc_traffic *period, unsigned period_s, int64_t end)
{
    jsonl *j = state;
    if (!j->periods)
        return;
    uint64_t egress = period->hit_bytes + period->miss_bytes;
    jsonl_line l = {.len = 0};
    jsonl_put(&l, "{");
    jsonl_str(&l, "type", "period");
    jsonl_str(&l, "node", j->host->node_name(j->self));
    jsonl_put(&l, ",\"end\":%" PRId64 ",\"seconds\":%u", end, period_s);
    jsonl_u64(&l, "requests", period->requests);
    jsonl_u64(&l, "hit_bytes", period->hit_bytes);
    jsonl_u64(&l, "miss_bytes", period->miss_bytes);
    jsonl_u64(&l, "egress_bytes", egress);
    /* as the summary's hitRatioBytes: 0 for a period that sent nothing */
    jsonl_put(&l, ",\"hit_ratio\":%.4f", egress > 0 ? (double)period->hit_bytes / egress : 0.0);
    jsonl_write(j, &l);
}

static void jsonl_destroy(void *state)
{
    jsonl *j = state;
    if (j == NULL)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j);
}

static int jsonl_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                        void **state, mcc_err *err)
{
    jsonl *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return mcc_err_set(err, "out of memory");
    j->host = host;
    j->self = self;
    j->fd = -1;

    /* read every accepted key: the loader refuses the keys nobody read */
    const char *path = NULL;
    if (host->conf_str(conf, "path", NULL, &path, err) != MCC_OK ||
        host->conf_bool(conf, "requests", 1, &j->requests, err) != MCC_OK ||
        host->conf_bool(conf, "periods", 1, &j->periods, err) != MCC_OK)
        goto fail;
    if (path == NULL || path[0] != '/') {
        host->conf_error(conf, "path", err, "required: the absolute path of the JSON lines file");
        goto fail;
    }
    j->path = strdup(path);
    if (j->path == NULL) {
        mcc_err_set(err, "out of memory");
        goto fail;
    }
    j->lines = host->metric(self, MCC_METRIC_COUNTER, "mcc_jsonl_lines_total",
                            "Lines the jsonl exporter appended to its file", NULL, NULL, 0);
    j->errors = host->metric(self, MCC_METRIC_COUNTER, "mcc_jsonl_errors_total",
                             "Records the jsonl exporter could not write", NULL, NULL, 0);
    if (j->lines == NULL || j->errors == NULL) {
        mcc_err_set(err, "cannot register metrics");
        goto fail;
    }
    *state = j;
    return MCC_OK;

fail:
    jsonl_destroy(j);
    return MCC_ERROR;
}

/* The file is opened at start, not create: `mccd --check-config` creates instances without
 * starting them and should leave no file behind. */
static int jsonl_start(void *state, void *event_base, mcc_err *err)
{
    jsonl *j = state;
    (void)event_base; /* this exporter needs no loop of its own */
    j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (j->fd < 0)
        return mcc_err_set(err, "%s: cannot open: %s", j->path, strerror(errno));
    j->host->log(j->self, MCC_LOG_INFO, "appending %s%s%s to %s", j->requests ? "requests" : "",
                 j->requests && j->periods ? " and " : "", j->periods ? "periods" : "", j->path);
    return MCC_OK;
}

static void jsonl_stop(void *state)
{
    jsonl *j = state;
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
}

static const mcc_exporter_ops jsonl_ops = {
    .size = sizeof(mcc_exporter_ops),
    .on_request = jsonl_on_request,
    .on_period = jsonl_on_period,
};

static const mcc_plugin jsonl_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_EXPORTER, "jsonl", "1.0.0"),
    .description = "example exporter: requests and report periods as JSON lines in a file",
    .create = jsonl_create,
    .start = jsonl_start,
    .stop = jsonl_stop,
    .destroy = jsonl_destroy,
    .ops = &jsonl_ops,
};

MCC_PLUGIN_DEFINE(jsonl_plugin)
