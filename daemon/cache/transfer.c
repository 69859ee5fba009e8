/* In-flight upstream transfers: one per missing run of slices, written into storage as bytes
 * arrive, with every serve waiting on it woken as they land. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
static const mcc_plugin_ref *transfer_plan(mcc_transfer *t, unsigned attempt, const char *avoid)
{
    mcc_entry *e = t->entry;
    mcc_core *core = e->cache->core;
    const mcc_settings *set = &core->settings;
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
    for (unsigned i = 0; i < core->nupstreams; i++) {
        const mcc_plugin_ref *up = &core->upstreams[i];
        const mcc_upstream_ops *ops = up->ops;
        mcc_fetch_plan plan;
        memset(&plan, 0, sizeof(plan));
        plan.connect_timeout_ms = (uint32_t)set->connect_timeout_ms;
        plan.low_speed_time_ms = (uint32_t)set->low_speed_time_ms;
        plan.low_speed_limit = (uint32_t)set->low_speed_limit;
        plan.max_redirects = (int)set->max_redirects;
        if (ops->plan(up->state, &rq, attempt, &plan) != MCC_OK)
            continue;
        if (plan.label[0] == '\0')
            snprintf(plan.label, sizeof(plan.label), "%s", up->name);
        if (avoid != NULL && strcmp(plan.label, avoid) == 0)
            continue;
        if (plan.proxy[0] == '\0' && set->proxy[0] != '\0') {
            memcpy(plan.proxy, "http://", 7);
            transfer_copy(plan.proxy + 7, sizeof(plan.proxy) - 7, set->proxy);
        }
        t->plan = plan;
        return up;
    }
    return NULL;
}

static int transfer_launch(mcc_transfer *t)
{
    uint64_t first = MCC_RANGE_NONE, last = MCC_RANGE_NONE;
    t->ranged = !(t->start == 0 && t->end == UINT64_MAX);
    if (t->ranged) {
        first = t->start;
        last = t->end == UINT64_MAX ? MCC_RANGE_NONE : t->end - 1;
    }
    t->state = MCC_XFER_HEADERS;
    t->skip = 0;
    t->started_us = (uint64_t)mcc_now_us();
    /* Via names every cache the request passed, so a parent can refuse a loop (RFC 9110 7.6.3) */
    mcc_entry *e = t->entry;
    const char *node = e->cache->core->settings.node_name;
    char via[1024];
    if (e->via != NULL && strlen(e->via) + strlen(node) + 16 < sizeof(via))
        snprintf(via, sizeof(via), "Via: %s, 1.1 %s", e->via, node);
    else
        snprintf(via, sizeof(via), "Via: 1.1 %s", node);
    const char *extra[] = {via, NULL};
    t->fetch = mcc_fetch_start(e->cache->core->fetcher, &t->plan, "GET", first, last, extra,
                               &transfer_cbs, t);
    return t->fetch != NULL ? MCC_OK : MCC_ERROR;
}

mcc_transfer *mcc_transfer_start(mcc_entry *e, uint64_t start, uint64_t end, int probe,
                                 int *fail_status)
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
    t->up = transfer_plan(t, 0, NULL);
    if (t->up == NULL) {
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
    e->cache->counts.transfers++;
    mcc_log(MCC_LOG_DEBUG, "transfer %s bytes %" PRIu64 "-%s via %s", t->plan.url, start,
            end == UINT64_MAX ? "" : "end", t->plan.label);
    return t;
}

static void transfer_unlink(mcc_transfer *t)
{
    mcc_entry *e = t->entry;
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
    const mcc_upstream_ops *ops = t->up->ops;
    if (ops->outcome != NULL)
        ops->outcome(t->up->state, &t->plan, outcome, status);
}

/* Ends T: unlinks it, stops the fetch, and wakes the serves that waited on it. A failed probe
 * fails its entry with STATUS. */
static void transfer_end(mcc_transfer *t, int failed, int status)
{
    mcc_entry *e = t->entry;
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
    } else {
        mcc_serve_wake(e, t, failed);
    }
    mcc_entry_unref(e);
    free(t);
}

void mcc_transfer_cancel(mcc_transfer *t)
{
    transfer_end(t, 1, 502);
}

static int transfer_status_for(int status)
{
    if (status == 503 || status == 504)
        return status;
    if (status >= 400 && status < 500)
        return status; /* the origin's own answer, e.g. 404, passes through */
    return 502;
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
}

/* The length of the whole object from a 200 or 206, and where the body starts. */
static int transfer_extent(mcc_transfer *t, mcc_fetch *f, int status, uint64_t *length)
{
    if (status == 200) {
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

static int transfer_on_headers(void *arg, mcc_fetch *f, int status)
{
    mcc_transfer *t = arg;
    mcc_entry *e = t->entry;

    transfer_copy(e->up_status, sizeof(e->up_status), mcc_fetch_header(f, "Cache-Status"));
    uint64_t up_ms = mcc_fetch_header_ms(f);
    for (mcc_serve *s = e->serves; s != NULL; s = s->next)
        if (!s->started || s->waiting_on == t)
            s->upstream_ms = up_ms;

    if (status != 200 && status != 206 && !(status == 416 && t->probe)) {
        mcc_log(MCC_LOG_INFO, "upstream %s answered %d", t->plan.url, status);
        transfer_outcome(t, status >= 500 ? MCC_FETCH_SERVER_ERROR : MCC_FETCH_DONE, status);
        if (!t->probe && (status == 404 || status == 410)) {
            mcc_entry_doom(e); /* the origin dropped it: so do we */
            return MCC_ERROR;
        }
        transfer_end(t, 1, transfer_status_for(status));
        return MCC_ERROR;
    }
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

    if (t->probe && e->state == MCC_ENTRY_PROBING) {
        int rc = mcc_entry_ready(e, length, &meta);
        if (rc != MCC_OK) {
            transfer_end(t, 1, 503);
            return MCC_ERROR;
        }
        if (t->end == UINT64_MAX || t->end > length)
            t->end = length;
        t->probe = 0;
        transfer_outcome(t, MCC_FETCH_DONE, status);
        t->state = status == 416 ? MCC_XFER_ENDED : MCC_XFER_BODY;
        mcc_serve_entry_changed(e);
        if (status == 416 || t->start >= t->end) {
            transfer_end(t, 0, 0);
            return MCC_ERROR;
        }
        return MCC_OK;
    }

    /* a transfer of an object already known: it must be the same version */
    int changed = length != e->length ||
                  (e->meta.etag[0] != '\0' && meta.etag[0] != '\0' &&
                   strcmp(e->meta.etag, meta.etag) != 0) ||
                  status == 416;
    if (changed) {
        mcc_log(MCC_LOG_INFO, "object at %s changed upstream (length %" PRIu64 " -> %" PRIu64
                ", etag %s -> %s): dropped",
                t->plan.url, e->length, length, e->meta.etag, meta.etag);
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

/* Is anyone still to read bytes this transfer has not written yet? */
static int transfer_wanted(mcc_transfer *t)
{
    for (mcc_serve *s = t->entry->serves; s != NULL; s = s->next)
        if (!s->aborting && s->started && s->cursor < t->end && s->last >= t->pos)
            return 1;
    return 0;
}

static int transfer_on_data(void *arg, mcc_fetch *f, const char *buf, size_t len)
{
    mcc_transfer *t = arg;
    mcc_entry *e = t->entry;
    const mcc_storage_ops *st = e->cache->st;

    if (e->cache->m_upstream_bytes != NULL)
        mcc_metric_add(e->cache->m_upstream_bytes, (double)len);
    if (t->skip > 0) {
        size_t n = t->skip < len ? (size_t)t->skip : len;
        t->skip -= n;
        buf += n;
        len -= n;
    }
    int boundary = 0;
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
        char failed[sizeof(t->plan.label)];
        memcpy(failed, t->plan.label, sizeof(failed));
        mcc_log(MCC_LOG_WARN, "upstream %s via %s: %s", t->plan.url, failed,
                errmsg != NULL ? errmsg : "failed");
        const mcc_plugin_ref *up = transfer_plan(t, ++t->attempt, failed);
        if (up != NULL) {
            t->up = up;
            if (transfer_launch(t) == MCC_OK)
                return;
        }
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
    }
    transfer_end(t, 1, outcome == MCC_FETCH_TIMEOUT ? 504 : 502);
}

static const mcc_fetch_cbs transfer_cbs = {
    .on_headers = transfer_on_headers,
    .on_data = transfer_on_data,
    .on_done = transfer_on_done,
};
