/* The exporter contracts (mcc/exporter.h): every admin route the plugin registers answers a
 * request, and keeps answering (well-formed, bounded) after many on_request and on_period calls,
 * which stay quick. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "http/admin.h"
#include "kit.h"

#define EX_REQUESTS 20000u
#define EX_MAX_BODY (4u * 1024u * 1024u) /* a report that outgrows this grows without bound */
#define EX_MAX_US_PER_CALL 500u          /* on_request "must be quick" */

static const mcc_exporter_ops *ex_ops(kit *k)
{
    return k->ops;
}

static uint64_t ex_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Asks route I with GET from loopback. 1 with its status and body size, else 0 with the failure
 * recorded. JSON answers must parse. */
static int ex_ask(kit_case *c, unsigned i, int *status, size_t *body_len)
{
    kit *k = c->k;
    mcc_admin_request req = {
        .method = "GET", .path = k->routes[i], .query = NULL, .peer = "127.0.0.1"};
    mcc_reply *r = mcc_reply_new();
    if (r == NULL)
        return kit_fail(c, "out of memory");
    mcc_admin_handle(k->core.admin, &req, NULL, r);
    int code = mcc_reply_code(r);
    size_t len = 0;
    const char *body = mcc_reply_body(r, &len);
    const char *type = mcc_reply_content_type(r);
    int ok = 1;
    if (code < 100 || code > 599) {
        ok = kit_fail(c, "GET %s: the route answered no status (%d)", k->routes[i], code);
    } else if (code >= 200 && code < 300 && type != NULL && strstr(type, "json") != NULL) {
        cJSON *doc = cJSON_ParseWithLength(body, len);
        if (doc == NULL)
            ok = kit_fail(c, "GET %s: %s answer of %zu bytes is not valid JSON", k->routes[i], type,
                          len);
        cJSON_Delete(doc);
    }
    *status = code;
    *body_len = len;
    mcc_reply_free(r);
    return ok;
}

static void ex_routes_answer(kit_case *c)
{
    kit *k = c->k;
    if (k->nroutes == 0) {
        kit_note(c, "no admin routes registered");
        return;
    }
    char list[200] = "";
    size_t used = 0;
    for (unsigned i = 0; i < k->nroutes; i++) {
        int status;
        size_t len;
        if (!ex_ask(c, i, &status, &len))
            return;
        int n = snprintf(list + used, sizeof(list) - used, "%s%s %d", i > 0 ? ", " : "",
                         k->routes[i], status);
        if (n > 0 && (size_t)n < sizeof(list) - used)
            used += (size_t)n;
    }
    kit_note(c, "%s", list);
}

static void ex_many_requests(kit_case *c)
{
    kit *k = c->k;
    const mcc_exporter_ops *o = ex_ops(k);
    int before[KIT_MAX_ROUTES];
    size_t len;
    static const char *const statuses[] = {"hit", "miss", "stale", "bypass", "", "miss; stored"};
    static const int codes[] = {200, 206, 304, 404, 502, 0};
    for (unsigned i = 0; i < k->nroutes; i++)
        if (!ex_ask(c, i, &before[i], &len))
            return;
    int has_req = MCC_HAS(o, on_request), has_period = MCC_HAS(o, on_period);
    if (!has_req && !has_period) {
        kit_note(c, "neither on_request nor on_period");
        return;
    }
    uint64_t t0 = ex_now_us();
    for (unsigned n = 0; n < EX_REQUESTS; n++) {
        char host[96], path[160];
        /* many distinct hosts and paths, some with characters every output format escapes */
        snprintf(host, sizeof(host), n % 5 == 0 ? "" : "host-%u.example.com", n % 4000);
        snprintf(path, sizeof(path), "/dir \"%u\"/file<%u>\\%s.bin", n % 97, n,
                 n % 11 == 0 ? "\n\t\x01" : "");
        mcc_request_record rec = {
            .time_us = (int64_t)time(NULL) * 1000000 + n,
            .client = n % 2 ? "127.0.0.1" : "::1",
            .method = n % 9 == 0 ? "HEAD" : "GET",
            .origin_host = host,
            .path = path,
            .status = codes[n % 6],
            .bytes_sent = (uint64_t)n * 1000u,
            .hit_bytes = (uint64_t)n * 600u,
            .miss_bytes = (uint64_t)n * 400u,
            .cache_status = statuses[n % 6],
            .upstream_ms = n % 50,
            .duration_ms = n % 700,
        };
        if (has_req)
            o->on_request(k->state, &rec);
        if (has_period && n % 400 == 0) {
            mcc_traffic t = {.hit_bytes = n * 10u, .miss_bytes = n * 5u, .requests = n};
            o->on_period(k->state, &t, 15, (int64_t)time(NULL));
        }
    }
    uint64_t spent = ex_now_us() - t0;
    KIT_CHECK(c, spent <= (uint64_t)EX_REQUESTS * EX_MAX_US_PER_CALL,
              "%u on_request calls took %llu ms: more than %u us each on the main thread",
              EX_REQUESTS, (unsigned long long)(spent / 1000), EX_MAX_US_PER_CALL);
    kit_loop(k, 20);
    for (unsigned i = 0; i < k->nroutes; i++) {
        int status;
        if (!ex_ask(c, i, &status, &len))
            return;
        KIT_CHECK(c, status == before[i], "GET %s answered %d before the requests, %d after",
                  k->routes[i], before[i], status);
        KIT_CHECK(c, len <= EX_MAX_BODY,
                  "GET %s answered %zu bytes after %u requests: the "
                  "report grows with every request",
                  k->routes[i], len, EX_REQUESTS);
    }
    kit_note(c, "%u requests in %llu ms", EX_REQUESTS, (unsigned long long)(spent / 1000));
done:
    return;
}

void kit_exporter_run(kit *k)
{
    kit_run_case(k, "exporter.routes_answer", ex_routes_answer);
    kit_run_case(k, "exporter.many_requests", ex_many_requests);
}
