/* In-flight upstream transfers: one per missing run of slices, written into storage as bytes
 * arrive, with every serve waiting on it woken as they land. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "cache/pipeline.h"
#include "core/metrics.h"

static const mcc_fetch_cbs transfer_cbs;

/* "bytes A-B/TOTAL", or "bytes *" + "/TOTAL" (then first = UINT64_MAX). */
static int transfer_parse_content_range(const char *v, uint64_t *first, uint64_t *last,
                                        uint64_t *total)
{
    if (v == NULL || strncasecmp(v, "bytes", 5) != 0)
        return -1;
    v += 5;
    while (*v == ' ')
        v++;
    char *end;
    if (*v == '*') {
        *first = *last = UINT64_MAX;
        v++;
    } else {
        if (*v < '0' || *v > '9')
            return -1;
        *first = strtoull(v, &end, 10);
        if (*end != '-' || end[1] < '0' || end[1] > '9')
            return -1;
        *last = strtoull(end + 1, &end, 10);
        v = end;
        if (*last < *first)
            return -1;
    }
    if (*v != '/' || v[1] < '0' || v[1] > '9')
        return -1;
    *total = strtoull(v + 1, &end, 10);
    if (*end != '\0' && *end != ' ')
        return -1;
    if (*first != UINT64_MAX && *last >= *total)
        return -1;
    return 0;
}

static int transfer_parse_length(const char *v, uint64_t *out)
{
    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    while (*end == ' ')
        end++;
    if (*end != '\0')
        return -1;
    *out = n;
    return 0;
}

/* Copies SRC into DST, cut to fit (header values longer than the field are not validators we
 * could compare anyway). */
static void transfer_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Asks the upstreams in configured order; a retry (ATTEMPT > 0) must get another upstream than
 * AVOID, else there is nothing better to try. */
const mcc_plugin_ref *mcc_upstream_plan(struct mcc_cache *c, const mcc_fetch_request *rq,
                                        unsigned attempt, const char *avoid,
                                        mcc_fetch_plan *plan)
{
    mcc_core *core = c->core;
    const mcc_settings *set = &core->settings;
    for (unsigned i = 0; i < core->nupstreams; i++) {
        const mcc_plugin_ref *up = &core->upstreams[i];
        const mcc_upstream_ops *ops = up->ops;
        memset(plan, 0, sizeof(*plan));
        plan->connect_timeout_ms = (uint32_t)set->connect_timeout_ms;
        plan->low_speed_time_ms = (uint32_t)set->low_speed_time_ms;
        plan->low_speed_limit = (uint32_t)set->low_speed_limit;
        plan->max_redirects = (int)set->max_redirects;
        /* the outbound proxy is a default too: a plugin may set another, or "" for none */
        if (set->proxy[0] != '\0') {
            memcpy(plan->proxy, "http://", 7);
            transfer_copy(plan->proxy + 7, sizeof(plan->proxy) - 7, set->proxy);
        }
        if (ops->plan(up->state, rq, attempt, plan) != MCC_OK)
            continue;
        if (plan->label[0] == '\0')
            transfer_copy(plan->label, sizeof(plan->label), up->name);
        /* a retry must go elsewhere, else there is nothing better to try */
        if (avoid != NULL && strcmp(plan->label, avoid) == 0)
            continue;
        return up;
    }
    return NULL;
}

static int transfer_plan(mcc_transfer *t, unsigned attempt, const char *avoid)
{
    mcc_entry *e = t->entry;
    mcc_fetch_request rq = {
        .method = "GET",
        .origin_host = e->origin_host,
        .origin_port = e->origin_port,
        .path = e->path,
        .ns = e->rule.ns,
        .key = e->key,
        .connect_to = e->rule.connect_to[0] != '\0' ? e->rule.connect_to : NULL,
        .via = e->via,
    };
    const mcc_plugin_ref *up = mcc_upstream_plan(e->cache, &rq, attempt, avoid, &t->plan);
    if (up == NULL)
        return MCC_DECLINED;
    t->up = *up;
    return MCC_OK;
}

/* The series NAME{upstream="<label>"} of the upstream T uses. */
static mcc_metric *transfer_metric(mcc_transfer *t, int type, const char *name, const char *help)
{
    mcc_core *core = t->entry->cache->core;
    if (core->metrics == NULL)
        return NULL;
    char labels[160];
    size_t n = 0;
    memcpy(labels, "upstream=\"", 10);
    n = 10;
    for (const char *p = t->plan.label; *p != '\0' && n < sizeof(labels) - 4; p++) {
        if (*p == '"' || *p == '\\')
            labels[n++] = '\\';
        labels[n++] = *p == '\n' ? ' ' : *p;
    }
    labels[n++] = '"';
    labels[n] = '\0';
    return mcc_metrics_get(core->metrics, type, name, help, labels, NULL, 0);
}

static int transfer_launch(mcc_transfer *t)
{
    mcc_entry *e = t->entry;
    mcc_metric_add(transfer_metric(t, MCC_METRIC_COUNTER, "mcc_upstream_requests_total",
                                   "Requests sent upstream, by upstream"),
                   1);
    t->m_bytes = transfer_metric(t, MCC_METRIC_COUNTER, "mcc_upstream_body_bytes_total",
                                 "Body bytes received from upstreams, by upstream");
    uint64_t first = MCC_RANGE_NONE, last = MCC_RANGE_NONE;
    t->ranged = !(t->start == 0 && t->end == UINT64_MAX);
    if (t->ranged) {
        first = t->start;
        last = t->end == UINT64_MAX ? MCC_RANGE_NONE : t->end - 1;
    }
    t->state = MCC_XFER_HEADERS;
    t->skip = 0;
    t->started_us = (uint64_t)mcc_now_us();
    t->request_time = (int64_t)time(NULL);

    /* Via names every cache the request passed, so a parent can refuse a loop (RFC 9110
     * 7.6.3) */
    const char *node = e->cache->core->settings.node_name;
    char via[1024], inm[300], ims[96], neg[MCC_NEG_MAX][300];
    const char *extra[4 + MCC_NEG_MAX];
    unsigned n = 0;
    for (unsigned i = 0; i < e->nneg; i++) {
        snprintf(neg[i], sizeof(neg[i]), "%s: %s", e->neg_names[i], e->neg_values[i]);
        extra[n++] = neg[i];
    }
    if (e->via != NULL && strlen(e->via) + strlen(node) + 16 < sizeof(via))
        snprintf(via, sizeof(via), "Via: %s, 1.1 %s", e->via, node);
    else
        snprintf(via, sizeof(via), "Via: 1.1 %s", node);
    extra[n++] = via;
    if (t->validate == MCC_VALIDATE_COND) {
        /* both validators: an origin that ignores one still answers the other (RFC 9111 4.3.1) */
        if (e->meta.etag[0] != '\0') {
            snprintf(inm, sizeof(inm), "If-None-Match: %s", e->meta.etag);
            extra[n++] = inm;
        }
        if (e->meta.last_modified[0] != '\0') {
            snprintf(ims, sizeof(ims), "If-Modified-Since: %s", e->meta.last_modified);
            extra[n++] = ims;
        }
    }
    extra[n] = NULL;
    t->fetch = mcc_fetch_start(e->cache->core->fetcher, &t->plan, "GET", first, last, extra,
                               &transfer_cbs, t);
    return t->fetch != NULL ? MCC_OK : MCC_ERROR;
}

mcc_transfer *mcc_transfer_start(mcc_entry *e, uint64_t start, uint64_t end, int probe,
                                 int validate, int *fail_status)
{
    mcc_transfer *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        *fail_status = 503;
        return NULL;
    }
    t->entry = e;
    t->start = t->pos = start;
    t->end = end;
    t->probe = probe;
    t->validate = validate;
    if (transfer_plan(t, 0, NULL) != MCC_OK) {
        mcc_log(MCC_LOG_WARN, "no upstream plans %s%s", e->origin_host, e->path);
        *fail_status = 502;
        free(t);
        return NULL;
    }
    mcc_entry_ref(e);
    if (transfer_launch(t) != MCC_OK) {
        mcc_log(MCC_LOG_ERROR, "cannot start a transfer of %s", t->plan.url);
        mcc_entry_unref(e);
        *fail_status = 502;
        free(t);
        return NULL;
    }
    t->next = e->transfers;
    e->transfers = t;
    if (validate != MCC_VALIDATE_NONE)
        e->validating = t;
    e->cache->counts.transfers++;
    mcc_log(MCC_LOG_DEBUG, "transfer %s bytes %" PRIu64 "-%s via %s%s", t->plan.url, start,
            end == UINT64_MAX ? "" : "end", t->plan.label,
            validate == MCC_VALIDATE_COND ? " (revalidation)" : "");
    return t;
}

static void transfer_unlink(mcc_transfer *t)
{
    mcc_entry *e = t->entry;
    if (e->validating == t)
        e->validating = NULL;
    for (mcc_transfer **p = &e->transfers; *p != NULL; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            e->cache->counts.transfers--;
            break;
        }
    }
}

static void transfer_outcome(mcc_transfer *t, int outcome, int status)
{
    const mcc_upstream_ops *ops = t->up.ops;
    if (ops->outcome != NULL)
        ops->outcome(t->up.state, &t->plan, outcome, status);
}

/* Ends T: unlinks it, stops the fetch, and tells the serves that waited on it. A failed probe
 * fails its entry with STATUS; a revalidation tells how it went. */
static void transfer_end(mcc_transfer *t, int failed, int status)
{
    mcc_entry *e = t->entry;
    int validate = t->validate;
    t->state = MCC_XFER_ENDED;
    transfer_unlink(t);
    if (t->fetch != NULL) {
        mcc_fetch_cancel(t->fetch);
        t->fetch = NULL;
    }
    if (t->probe && e->state == MCC_ENTRY_PROBING) {
        e->state = MCC_ENTRY_FAILED;
        e->fail_status = status != 0 ? status : 502;
        if (e->in_index) {
            HASH_DELETE(hh, e->cache->index, e);
            e->in_index = 0;
        }
        mcc_serve_entry_changed(e);
    } else if (validate != MCC_VALIDATE_NONE) {
        mcc_serve_validation_done(e, t, !failed, status);
    } else if (t->relay) {
        mcc_serve_relay_done(e, t);
    } else {
        mcc_serve_wake(e, t, failed);
    }
    mcc_entry_unref(e);
    if (t->yield != NULL)
        event_free(t->yield);
    free(t);
}

void mcc_transfer_cancel(mcc_transfer *t)
{
    transfer_end(t, 1, 502);
}

static int transfer_status_for(int status)
{
    if (status == 503 || status == 504 || status == 508)
        return status; /* 508: a cache above saw the request come around: say so downstream */
    /* the origin is busy: transient trouble, which a Delivery Optimization client must see as
     * 5xx (a 4xx makes it shun the cache for 15 minutes) */
    if (status == 429)
        return 503;
    if (status >= 400 && status < 500)
        return status; /* the origin's own answer, e.g. 404, passes through */
    return 502;
}

/* Collects every value of one header name, joined by ", " (RFC 9110 5.3). */
struct transfer_join {
    const char *name;
    char *dst;
    size_t cap, n;
};

static void transfer_join_one(void *arg, const char *hname, const char *value)
{
    struct transfer_join *j = arg;
    if (strcasecmp(hname, j->name) != 0)
        return;
    size_t len = strlen(value);
    if (j->n + len + 3 > j->cap)
        return;
    if (j->n > 0) {
        memcpy(j->dst + j->n, ", ", 2);
        j->n += 2;
    }
    memcpy(j->dst + j->n, value, len + 1);
    j->n += len;
}

static void transfer_join(mcc_fetch *f, const char *name, char *dst, size_t cap)
{
    struct transfer_join j = {name, dst, cap, 0};
    dst[0] = '\0';
    mcc_fetch_headers_visit(f, transfer_join_one, &j);
}

void mcc_transfer_read_meta(mcc_fetch *f, mcc_meta *meta, int64_t request_time)
{
    transfer_join(f, "Cache-Control", meta->cache_control, sizeof(meta->cache_control));
    transfer_copy(meta->expires, sizeof(meta->expires), mcc_fetch_header(f, "Expires"));
    transfer_copy(meta->content_encoding, sizeof(meta->content_encoding),
                  mcc_fetch_header(f, "Content-Encoding"));
    transfer_join(f, "Vary", meta->vary, sizeof(meta->vary));
    int64_t d = mcc_http_date(mcc_fetch_header(f, "Date"));
    meta->date = d > 0 ? d : 0;
    const char *age = mcc_fetch_header(f, "Age");
    uint64_t a = 0;
    meta->age_value = transfer_parse_length(age, &a) == 0 && a < (1ull << 40) ? (int64_t)a : 0;
    meta->request_time = request_time;
    meta->response_time = (int64_t)time(NULL);
}

static void transfer_meta(mcc_transfer *t, mcc_fetch *f, mcc_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    meta->status = 200;
    transfer_copy(meta->etag, sizeof(meta->etag), mcc_fetch_header(f, "ETag"));
    transfer_copy(meta->last_modified, sizeof(meta->last_modified),
                  mcc_fetch_header(f, "Last-Modified"));
    transfer_copy(meta->content_type, sizeof(meta->content_type),
                  mcc_fetch_header(f, "Content-Type"));
    meta->stored_at = (int64_t)time(NULL);
    transfer_copy(meta->url, sizeof(meta->url), t->plan.url);
    mcc_transfer_read_meta(f, meta, t->request_time);
}

/* The length of the whole object from a 200 or 206, and where the body starts. */
static int transfer_extent(mcc_transfer *t, mcc_fetch *f, int status, uint64_t *length)
{
    if (status == 200 || status == 404 || status == 410) {
        if (transfer_parse_length(mcc_fetch_header(f, "Content-Length"), length) != 0)
            return -1;
        t->skip = t->start; /* the whole object came: drop what precedes our range */
        return 0;
    }
    uint64_t a, b, total;
    if (transfer_parse_content_range(mcc_fetch_header(f, "Content-Range"), &a, &b, &total) != 0)
        return -1;
    if (status == 416) {
        *length = total;
        return 0;
    }
    if (a != t->start)
        return -1;
    *length = total;
    return 0;
}

/* May this response be stored (RFC 9111 3)? A response nobody may reuse is relayed instead. */
static int transfer_storable(const mcc_meta *meta)
{
    mcc_cc cc;
    mcc_cc_init(&cc);
    mcc_cc_parse(meta->cache_control[0] != '\0' ? meta->cache_control : NULL, &cc);
    if (cc.no_store || cc.priv)
        return 0;
    if (strcmp(meta->vary, "*") == 0 || strstr(meta->vary, "*") != NULL)
        return 0;
    return 1;
}

/* A 304 (or a 200 proving the same version) refreshes the stored headers (RFC 9111 4.3.4):
 * validators and content headers stay, caching headers and times are the new ones. */
static void transfer_refresh(mcc_transfer *t, mcc_fetch *f)
{
    mcc_entry *e = t->entry;
    mcc_meta m = e->meta;
    mcc_transfer_read_meta(f, &m, t->request_time);
    /* a 304 need not repeat these: keep what the stored response said */
    if (m.content_encoding[0] == '\0')
        memcpy(m.content_encoding, e->meta.content_encoding, sizeof(m.content_encoding));
    if (m.vary[0] == '\0')
        memcpy(m.vary, e->meta.vary, sizeof(m.vary));
    memcpy(m.vary_values, e->meta.vary_values, sizeof(m.vary_values));
    const char *etag = mcc_fetch_header(f, "ETag");
    if (etag != NULL)
        transfer_copy(m.etag, sizeof(m.etag), etag);
    const char *lm = mcc_fetch_header(f, "Last-Modified");
    if (lm != NULL)
        transfer_copy(m.last_modified, sizeof(m.last_modified), lm);
    if (mcc_fetch_header(f, "Cache-Control") == NULL)
        memcpy(m.cache_control, e->meta.cache_control, sizeof(m.cache_control));
    if (mcc_fetch_header(f, "Expires") == NULL)
        memcpy(m.expires, e->meta.expires, sizeof(m.expires));
    e->meta = m;
    mcc_entry_save_meta(e);
}

/* Is the 200 that answered a revalidation the version we hold? */
static int transfer_same_version(mcc_transfer *t, mcc_fetch *f)
{
    mcc_entry *e = t->entry;
    const char *etag = mcc_fetch_header(f, "ETag");
    uint64_t len = 0;
    if (transfer_parse_length(mcc_fetch_header(f, "Content-Length"), &len) != 0 ||
        len != e->length)
        return 0;
    if (e->meta.etag[0] != '\0' || etag != NULL)
        return etag != NULL && e->meta.etag[0] != '\0' && strncmp(etag, "W/", 2) != 0 &&
               strcmp(etag, e->meta.etag) == 0;
    const char *lm = mcc_fetch_header(f, "Last-Modified");
    return lm != NULL && e->meta.last_modified[0] != '\0' &&
           strcmp(lm, e->meta.last_modified) == 0;
}

static int transfer_probe_headers(mcc_transfer *t, mcc_fetch *f, int status);

/* The answer to a revalidation. */
static int transfer_validate_headers(mcc_transfer *t, mcc_fetch *f, int status)
{
    mcc_entry *e = t->entry;
    int same_negative = (status == 404 || status == 410) && status == e->meta.status;
    if (status == 304 || same_negative ||
        (status == 200 && e->meta.status == 200 && t->validate == MCC_VALIDATE_COND &&
         transfer_same_version(t, f))) {
        transfer_outcome(t, MCC_FETCH_DONE, status);
        transfer_refresh(t, f);
        transfer_end(t, 0, status);
        return MCC_ERROR; /* nothing more to read */
    }
    if (status == 200 || ((status == 404 || status == 410) &&
                          mcc_fetch_header(f, "Content-Length") != NULL)) {
        /* a new version (or the object is gone): it becomes a new entry, the old one is
         * dropped, never mixed */
        mcc_log(MCC_LOG_INFO, "%s changed upstream: replacing the stored version", t->plan.url);
        if (mcc_entry_supersede(e, t) == NULL) {
            transfer_end(t, 1, 503);
            return MCC_ERROR;
        }
        t->validate = MCC_VALIDATE_NONE;
        t->probe = 1;
        return transfer_probe_headers(t, f, status);
    }
    transfer_outcome(t, status >= 500 ? MCC_FETCH_SERVER_ERROR : MCC_FETCH_DONE, status);
    if (status == 404 || status == 410) {
        mcc_log(MCC_LOG_INFO, "%s is gone upstream (%d): dropped", t->plan.url, status);
        t->validate = MCC_VALIDATE_NONE;
        mcc_entry_doom(e);
        return MCC_ERROR;
    }
    mcc_log(MCC_LOG_INFO, "revalidation of %s answered %d", t->plan.url, status);
    transfer_end(t, 1, transfer_status_for(status));
    return MCC_ERROR;
}

static int transfer_probe_headers(mcc_transfer *t, mcc_fetch *f, int status)
{
    mcc_entry *e = t->entry;
    uint64_t length = 0;
    if (transfer_extent(t, f, status, &length) != 0) {
        mcc_log(MCC_LOG_WARN, "upstream %s: status %d without a usable length or range",
                t->plan.url, status);
        transfer_outcome(t, MCC_FETCH_BROKEN, status);
        transfer_end(t, 1, 502);
        return MCC_ERROR;
    }
    mcc_meta meta;
    transfer_meta(t, f, &meta);
    /* the stored variant is the one the transfer's negotiation headers chose */
    if (meta.vary[0] != '\0')
        mcc_entry_vary_values(e, meta.vary, meta.vary_values, sizeof(meta.vary_values));
    transfer_outcome(t, MCC_FETCH_DONE, status);
    meta.status = status == 206 ? 200 : status;
    int rc = transfer_storable(&meta) ? mcc_entry_ready(e, length, &meta) : MCC_DECLINED;
    if (rc != MCC_OK) {
        /* not to be stored (no-store, private, Vary: *), or no room: the requests waiting for
         * the whole object get this response relayed, the others and later ones (for a while)
         * are relayed on their own */
        mcc_log(MCC_LOG_INFO, "%s is relayed, not stored (%s)", t->plan.url,
                rc == MCC_DECLINED ? "response forbids storing" : "storage refused it");
        mcc_nostore_add(e->cache, e->key);
        e->nostore = 1;
        e->meta = meta;
        e->length = length;
        e->slice = e->cache->slice_size; /* nothing is stored: this only plans the response */
        e->nslices = length == 0 ? 0 : (length + e->slice - 1) / e->slice;
        e->state = MCC_ENTRY_READY;
        t->probe = 0;
        if (t->start == 0 && t->skip == 0 && (status == 200 || meta.status != 200)) {
            t->end = length;
            t->relay = 1;
            t->state = MCC_XFER_BODY;
            int any = 0;
            mcc_entry_ref(e);
            mcc_serve *next;
            for (mcc_serve *s = e->serves; s != NULL; s = next) {
                next = s->next;
                if (!s->started)
                    any |= mcc_serve_adopt_relay(s, t);
            }
            mcc_entry_unref(e);
            if (any && t->state != MCC_XFER_ENDED) {
                mcc_serve_entry_changed(e); /* the rest go their own way */
                if (length == 0 && t->state != MCC_XFER_ENDED)
                    transfer_end(t, 0, 0);
                return t->state != MCC_XFER_ENDED ? MCC_OK : MCC_ERROR;
            }
            t->relay = 0;
        }
        transfer_end(t, 0, 0);
        mcc_serve_entry_changed(e);
        return MCC_ERROR;
    }
    if (t->end == UINT64_MAX || t->end > length)
        t->end = length;
    t->probe = 0;
    t->state = status == 416 ? MCC_XFER_ENDED : MCC_XFER_BODY;
    mcc_serve_entry_changed(e);
    if (status == 416 || t->start >= t->end) {
        transfer_end(t, 0, 0);
        return MCC_ERROR;
    }
    return MCC_OK;
}

static int transfer_on_headers(void *arg, mcc_fetch *f, int status)
{
    mcc_transfer *t = arg;
    mcc_entry *e = t->entry;

    transfer_copy(e->up_status, sizeof(e->up_status), mcc_fetch_header(f, "Cache-Status"));
    uint64_t up_ms = mcc_fetch_header_ms(f);
    mcc_metric_add(transfer_metric(t, MCC_METRIC_HISTOGRAM, "mcc_upstream_response_seconds",
                                   "Time from an upstream request to its response headers"),
                   (double)up_ms / 1000.0);
    for (mcc_serve *s = e->serves; s != NULL; s = s->next)
        if (!s->started || s->waiting_on == t)
            s->upstream_ms = up_ms;

    if (t->validate != MCC_VALIDATE_NONE)
        return transfer_validate_headers(t, f, status);

    /* a 404 or 410 is stored like any response (RFC 9111 3), so that it is answered offline */
    int negative = t->probe && e->state == MCC_ENTRY_PROBING && t->start == 0 &&
                   (status == 404 || status == 410) &&
                   mcc_fetch_header(f, "Content-Length") != NULL;
    if (status != 200 && status != 206 && !(status == 416 && t->probe) && !negative) {
        mcc_log(MCC_LOG_INFO, "upstream %s answered %d", t->plan.url, status);
        transfer_outcome(t, status >= 500 || status == 429 ? MCC_FETCH_SERVER_ERROR
                                                           : MCC_FETCH_DONE,
                         status);
        transfer_copy(e->retry_after, sizeof(e->retry_after), mcc_fetch_header(f, "Retry-After"));
        if (!t->probe && (status == 404 || status == 410)) {
            mcc_entry_doom(e); /* the origin dropped it: so do we */
            return MCC_ERROR;
        }
        transfer_end(t, 1, transfer_status_for(status));
        return MCC_ERROR;
    }
    if (t->probe && e->state == MCC_ENTRY_PROBING)
        return transfer_probe_headers(t, f, status);

    /* a transfer of an object already known: it must be the same version */
    uint64_t length = 0;
    if (transfer_extent(t, f, status, &length) != 0) {
        mcc_log(MCC_LOG_WARN, "upstream %s: status %d without a usable length or range",
                t->plan.url, status);
        transfer_outcome(t, MCC_FETCH_BROKEN, status);
        transfer_end(t, 1, 502);
        return MCC_ERROR;
    }
    const char *etag = mcc_fetch_header(f, "ETag");
    int changed = length != e->length || status == 416 ||
                  (e->meta.etag[0] != '\0' && etag != NULL && strcmp(e->meta.etag, etag) != 0);
    if (changed) {
        mcc_log(MCC_LOG_INFO, "object at %s changed upstream (length %" PRIu64 " -> %" PRIu64
                ", etag %s -> %s): dropped",
                t->plan.url, e->length, length, e->meta.etag, etag != NULL ? etag : "none");
        transfer_outcome(t, MCC_FETCH_DONE, status);
        mcc_entry_doom(e);
        return MCC_ERROR;
    }
    if (t->end > e->length)
        t->end = e->length;
    transfer_outcome(t, MCC_FETCH_DONE, status);
    t->state = MCC_XFER_BODY;
    return MCC_OK;
}

#define TRANSFER_RELAY_HIGH_WATER (1u << 20)

/* Storage refused a write (a full drive): the serves that have every byte up to here get the
 * rest pushed to them, the others cannot be completed. Returns 1 when someone takes bytes. */
static int transfer_to_relay(mcc_transfer *t)
{
    mcc_entry *e = t->entry;
    int any = 0;
    t->relay = 1;
    e->nostore = 1; /* later requests are relayed on their own */
    for (mcc_serve *s = e->serves; s != NULL; s = s->next) {
        /* a serve with a job out at a sender would get bytes ahead of that job's */
        if (s->aborting || !s->started || s->cursor != t->pos || s->cursor > s->last ||
            s->job != NULL)
            continue;
        if (s->waiting_on == t)
            s->waiting_on = NULL;
        s->relay = t;
        any = 1;
    }
    return any;
}

static void transfer_relay(mcc_transfer *t, const char *buf, size_t len)
{
    mcc_entry *e = t->entry;
    for (mcc_serve *s = e->serves; s != NULL; s = s->next) {
        if (s->relay != t || s->aborting || s->cursor > s->last)
            continue;
        uint64_t n = s->last + 1 - s->cursor;
        if (n > len)
            n = len;
        struct evbuffer *b = evbuffer_new();
        if (b == NULL || evbuffer_add(b, buf, (size_t)n) != 0) {
            if (b != NULL)
                evbuffer_free(b);
            mcc_serve_abort(s);
            continue;
        }
        s->pending += n;
        s->cursor += n;
        s->sending = 1;
        evhttp_send_reply_chunk_with_cb(s->req, b, mcc_serve_written_cb, s);
        evbuffer_free(b);
        struct evhttp_connection *evcon = evhttp_request_get_connection(s->req);
        struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
        if (bev != NULL && evbuffer_get_length(bufferevent_get_output(bev)) >
                               TRANSFER_RELAY_HIGH_WATER && !t->paused && t->fetch != NULL) {
            t->paused = 1; /* resumed when that client has drained (mcc_serve_pump) */
            mcc_fetch_pause(t->fetch);
        }
    }
    t->pos += len;
}

/* Is anyone still to read bytes this transfer has not written yet? */
static int transfer_wanted(mcc_transfer *t)
{
    for (mcc_serve *s = t->entry->serves; s != NULL; s = s->next)
        if (!s->aborting && s->started && s->cursor < t->end && s->last >= t->pos)
            return 1;
    return 0;
}

static void transfer_yield_cb(evutil_socket_t fd, short what, void *arg)
{
    mcc_transfer *t = arg;
    /* a relay that paused it meanwhile resumes it itself, once its client has drained */
    if (t->fetch != NULL && !t->paused)
        mcc_fetch_resume(t->fetch);
}

/* How long a transfer's first yield waits when a client is on another event loop: long enough
 * for that loop to take the lock and write the headers and first bytes (~0.1 ms), and libevent's
 * epoll waits in whole milliseconds anyway. */
#define TRANSFER_YIELD_ELSEWHERE_US 1000

/* Is a client of T's entry answered by another event loop than T's (cache.loops)? */
static int transfer_clients_elsewhere(const mcc_transfer *t, struct event_base *base)
{
    for (const mcc_serve *s = t->entry->serves; s != NULL; s = s->next)
        if (s->evcon != NULL && evhttp_connection_get_base(s->evcon) != base)
            return 1;
    return 0;
}

/* libcurl reads a socket for as long as it has bytes, and a fast upstream (a loopback one, a
 * parent on the same LAN) can fill it with a whole transfer: its waiting clients would get their
 * first byte only after the last was stored. Once per transfer, after its first bytes, the
 * fetch waits one turn of the loop, in which the clients' sockets are written first (a zero
 * timer runs after the I/O events of its turn). A client on another loop is written by that
 * loop's thread, which needs the daemon lock: this loop then waits a millisecond (its wait lets
 * go of the lock), not just a turn it would keep the lock through. */
static void transfer_yield(mcc_transfer *t)
{
    struct event_base *base = t->entry->cache->core->base;
    t->yielded = 1;
    if (t->yield == NULL)
        t->yield = evtimer_new(base, transfer_yield_cb, t);
    int elsewhere = transfer_clients_elsewhere(t, base);
    struct timeval wait = {0, elsewhere ? TRANSFER_YIELD_ELSEWHERE_US : 0};
    if (t->yield == NULL || evtimer_add(t->yield, &wait) != 0)
        return;
    mcc_fetch_pause(t->fetch);
    mcc_log(MCC_LOG_DEBUG, "transfer %s: clients first after %" PRIu64 " bytes%s", t->plan.url,
            t->pos - t->start, elsewhere ? " (one on another loop)" : "");
}

static int transfer_on_data(void *arg, mcc_fetch *f, const char *buf, size_t len)
{
    mcc_transfer *t = arg;
    mcc_entry *e = t->entry;
    const mcc_storage_ops *st = e->cache->st;

    if (e->cache->m_upstream_bytes != NULL)
        mcc_metric_add(e->cache->m_upstream_bytes, (double)len);
    if (t->m_bytes != NULL)
        mcc_metric_add(t->m_bytes, (double)len);
    if (t->skip > 0) {
        size_t n = t->skip < len ? (size_t)t->skip : len;
        t->skip -= n;
        buf += n;
        len -= n;
    }
    if (t->relay) {
        transfer_relay(t, buf, len);
        if (t->pos >= t->end)
            transfer_end(t, 0, 0);
        return MCC_OK;
    }
    int boundary = 0;
    uint64_t pos0 = t->pos;
    while (len > 0 && t->pos < t->end) {
        uint64_t idx = t->pos / e->slice;
        uint64_t slice_end = (idx + 1) * e->slice;
        if (slice_end > e->length)
            slice_end = e->length;
        uint64_t n = slice_end - t->pos;
        if (n > len)
            n = len;
        int rc = st->write(e->obj, t->pos, buf, (size_t)n);
        if (rc != MCC_OK) {
            mcc_log(MCC_LOG_ERROR, "storage write failed (%d) at %" PRIu64 " of %s", rc, t->pos,
                    t->plan.url);
            /* a full drive: the clients that are up to date get the rest straight from the
             * upstream, and later requests for this object are relayed */
            if (rc == MCC_NOSPACE && transfer_to_relay(t)) {
                transfer_relay(t, buf, len);
                if (t->pos >= t->end)
                    transfer_end(t, 0, 0);
                return MCC_OK;
            }
            transfer_end(t, 1, 503);
            return MCC_OK; /* the fetch was cancelled by transfer_end */
        }
        t->pos += n;
        buf += n;
        len -= (size_t)n;
        if (t->pos == slice_end) {
            if (st->commit(e->obj, idx) != MCC_OK)
                mcc_log(MCC_LOG_WARN, "slice %" PRIu64 " of %s not committed", idx, t->plan.url);
            boundary = 1;
        }
    }
    mcc_entry_ref(e);
    mcc_serve_wake(e, t, 0);
    if (t->state != MCC_XFER_ENDED &&
        (t->pos >= t->end || (boundary && !transfer_wanted(t))))
        transfer_end(t, 0, 0);
    else if (t->state != MCC_XFER_ENDED && !t->yielded && pos0 == t->start && t->pos > pos0 &&
             t->fetch != NULL && e->serves != NULL)
        transfer_yield(t);
    mcc_entry_unref(e);
    return MCC_OK;
}

static void transfer_on_done(void *arg, mcc_fetch *f, int outcome, const char *errmsg)
{
    mcc_transfer *t = arg;
    t->fetch = NULL; /* freed by the fetcher after this returns */
    if (t->state == MCC_XFER_HEADERS &&
        (outcome == MCC_FETCH_CONNECT_FAILED || outcome == MCC_FETCH_TIMEOUT)) {
        transfer_outcome(t, outcome, 0);
        mcc_metric_add(transfer_metric(t, MCC_METRIC_COUNTER, "mcc_upstream_errors_total",
                                       "Upstream transfers that failed, by upstream"),
                       1);
        char failed[sizeof(t->plan.label)];
        memcpy(failed, t->plan.label, sizeof(failed));
        mcc_log(MCC_LOG_WARN, "upstream %s via %s: %s", t->plan.url, failed,
                errmsg != NULL ? errmsg : "failed");
        if (transfer_plan(t, ++t->attempt, failed) == MCC_OK && transfer_launch(t) == MCC_OK)
            return;
        transfer_end(t, 1, outcome == MCC_FETCH_TIMEOUT ? 504 : 502);
        return;
    }
    if (t->state == MCC_XFER_BODY && t->pos >= t->end) {
        transfer_end(t, 0, 0);
        return;
    }
    if (outcome != MCC_FETCH_DONE || t->state != MCC_XFER_HEADERS) {
        mcc_log(MCC_LOG_WARN, "upstream %s broke off at %" PRIu64 " of %" PRIu64 ": %s",
                t->plan.url, t->pos, t->end, errmsg != NULL ? errmsg : "short body");
        if (t->state != MCC_XFER_HEADERS)
            transfer_outcome(t, outcome == MCC_FETCH_DONE ? MCC_FETCH_BROKEN : outcome, 0);
        if (t->entry->cache->m_upstream_errors != NULL)
            mcc_metric_add(t->entry->cache->m_upstream_errors, 1);
        mcc_metric_add(transfer_metric(t, MCC_METRIC_COUNTER, "mcc_upstream_errors_total",
                                       "Upstream transfers that failed, by upstream"),
                       1);
    }
    transfer_end(t, 1, outcome == MCC_FETCH_TIMEOUT ? 504 : 502);
}

static const mcc_fetch_cbs transfer_cbs = {
    .on_headers = transfer_on_headers,
    .on_data = transfer_on_data,
    .on_done = transfer_on_done,
};
