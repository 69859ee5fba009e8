/* Unit tests of the summary exporter (plugins/summary) loaded as a real shared object: /summary's
 * per-second and lifetime figures, the history ring, top hosts, the status route's drives and
 * parents, the page, and refused configurations. Routes are asked through the admin handler. */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "core/metrics.h"
#include "cunit_main.h"
#include "harness.h"
#include "http/admin.h"
#include "report/stats.h"

typedef struct fixture {
    mcc_harness *h;
    mcc_core *core;
    mcc_plugin_ref ref;
    const mcc_exporter_ops *ops;
} fixture;

static int sum_load(fixture *f, const char *config)
{
    mcc_err err = {{0}};
    memset(f, 0, sizeof(*f));
    f->h = mcc_harness_new();
    if (f->h == NULL)
        return -1;
    f->core = mcc_harness_core(f->h);
    if (mcc_harness_load(f->h, "summary", "summary", config, &f->ref, &err) != MCC_OK) {
        fprintf(stderr, "\nsummary load: %s\n", err.msg);
        return -1;
    }
    f->ops = f->ref.ops;
    return 0;
}

/* GET PATH from loopback; the parsed JSON body (NULL when it is not JSON), *CODE the status. */
static cJSON *sum_get(fixture *f, const char *path, int *code, char *body, size_t len)
{
    mcc_admin_request req = {.method = "GET", .path = path, .query = NULL, .peer = "127.0.0.1"};
    mcc_reply *r = mcc_reply_new();
    mcc_admin_handle(f->core->admin, &req, NULL, r);
    *code = mcc_reply_code(r);
    const char *b = mcc_reply_body(r, NULL);
    if (body != NULL)
        snprintf(body, len, "%s", b);
    cJSON *j = cJSON_Parse(b);
    mcc_reply_free(r);
    return j;
}

static double num(const cJSON *j, const char *a, const char *b)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, a);
    if (b != NULL)
        o = cJSON_GetObjectItemCaseSensitive(o, b);
    return cJSON_IsNumber(o) ? o->valuedouble : -1;
}

static void test_summary_figures(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(sum_load(&f, NULL), 0);
    int code;
    cJSON *j = sum_get(&f, "/summary", &code, NULL, 0);
    CU_ASSERT_EQUAL(code, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    /* nothing sent yet: zeros, and a ratio of 0 rather than a division by zero */
    CU_ASSERT_EQUAL(num(j, "lifetime", "egressBytes"), 0);
    CU_ASSERT_EQUAL(num(j, "lifetime", "hitRatioBytes"), 0);
    CU_ASSERT_EQUAL(num(j, "period", "seconds"), 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "nodeId")->valuestring,
                           f.core->settings.node_name);
    cJSON_Delete(j);

    /* a 4 s period: per-second figures are the totals divided by 4 */
    mcc_stats_free(f.core->stats);
    f.core->stats = mcc_stats_new(f.core, 4000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f.core->stats);
    f.core->exporters[0] = f.ref;
    f.core->nexporters = 1;
    mcc_stats_sent(f.core->stats, 3000, 1000);
    mcc_stats_sent(f.core->stats, 2, 0);
    mcc_stats_period_end(f.core->stats);
    mcc_stats_sent(f.core->stats, 0, 6); /* the running period: lifetime only */

    j = sum_get(&f, "/summary", &code, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(num(j, "period", "seconds"), 4);
    CU_ASSERT_DOUBLE_EQUAL(num(j, "period", "hitBytes"), 750.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(num(j, "period", "missBytes"), 250, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(num(j, "period", "egressBytes"), 1000.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(num(j, "period", "hitRatioBytes"), 0.750125, 1e-9); /* 3002/4002 */
    CU_ASSERT_EQUAL(num(j, "period", "totalHitBytes"), 3002);
    CU_ASSERT_EQUAL(num(j, "period", "totalEgressBytes"), 4002);
    CU_ASSERT_EQUAL(num(j, "lifetime", "hitBytes"), 3002);
    CU_ASSERT_EQUAL(num(j, "lifetime", "missBytes"), 1006);
    CU_ASSERT_EQUAL(num(j, "lifetime", "egressBytes"), 4008);
    CU_ASSERT_DOUBLE_EQUAL(num(j, "lifetime", "hitRatioBytes"), 0.749002, 1e-9);
    const cJSON *end = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "period"), "end");
    CU_ASSERT(cJSON_IsString(end) && strlen(end->valuestring) == 20);
    cJSON_Delete(j);
    f.core->nexporters = 0;
    mcc_harness_free(f.h);
}

static void test_summary_history(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(sum_load(&f, "{\"history\": 3}"), 0);
    for (unsigned i = 1; i <= 5; i++) {
        mcc_traffic t = {.hit_bytes = i * 10, .miss_bytes = i, .requests = i};
        f.ops->on_period(f.ref.state, &t, 15, 1000 + i);
    }
    int code;
    cJSON *j = sum_get(&f, "/summary/history", &code, NULL, 0);
    CU_ASSERT_EQUAL(code, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(num(j, "capacity", NULL), 3);
    const cJSON *ps = cJSON_GetObjectItem(j, "periods");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(ps), 3);
    /* the oldest two fell out; oldest first */
    for (int k = 0; k < 3; k++) {
        const cJSON *p = cJSON_GetArrayItem(ps, k);
        CU_ASSERT_EQUAL(cJSON_GetObjectItem(p, "end")->valuedouble, 1003 + k);
        CU_ASSERT_EQUAL(cJSON_GetObjectItem(p, "hitBytes")->valuedouble, (3 + k) * 10);
        CU_ASSERT_EQUAL(cJSON_GetObjectItem(p, "missBytes")->valuedouble, 3 + k);
        CU_ASSERT_EQUAL(cJSON_GetObjectItem(p, "seconds")->valuedouble, 15);
    }
    CU_ASSERT_DOUBLE_EQUAL(
        cJSON_GetObjectItem(cJSON_GetArrayItem(ps, 0), "hitRatioBytes")->valuedouble, 0.909091,
        1e-9);
    cJSON_Delete(j);
    mcc_harness_free(f.h);
}

static void test_summary_status(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(sum_load(&f, "{\"max_hosts\": 2}"), 0);
    mcc_request_record rec = {.origin_host = "a.example", .hit_bytes = 10, .miss_bytes = 5};
    f.ops->on_request(f.ref.state, &rec);
    rec.origin_host = "b.example";
    rec.hit_bytes = 100;
    f.ops->on_request(f.ref.state, &rec);
    rec.origin_host = "c.example"; /* past max_hosts: added up as other hosts */
    rec.hit_bytes = 1;
    f.ops->on_request(f.ref.state, &rec);
    rec.origin_host = "";
    f.ops->on_request(f.ref.state, &rec); /* not addressed to an origin: not a host */

    /* a parent plugin's gauge, as docs/reports.md describes it */
    mcc_metric_set(mcc_metrics_get(f.core->metrics, MCC_METRIC_GAUGE, "mcc_parent_up", "",
                                   "upstream=\"parent\",parent=\"p1.example:80\"", NULL, 0),
                   1);
    mcc_metric_set(mcc_metrics_get(f.core->metrics, MCC_METRIC_GAUGE, "mcc_parent_up", "",
                                   "upstream=\"parent\",parent=\"p\\\"2:80\"", NULL, 0),
                   0);

    int code;
    cJSON *j = sum_get(&f, "/summary/status", &code, NULL, 0);
    CU_ASSERT_EQUAL(code, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    const cJSON *top = cJSON_GetObjectItem(j, "topHosts");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(top), 3);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(top, 0), "host")->valuestring,
                           "b.example");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(top, 0), "egressBytes")->valuedouble,
                    105);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(top, 1), "host")->valuestring,
                           "a.example");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(top, 2), "host")->valuestring,
                           "(other hosts)");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(top, 2), "requests")->valuedouble, 1);

    const cJSON *par = cJSON_GetObjectItem(j, "parents");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(par), 2);
    /* in label order: '1' sorts before the escaping backslash */
    const cJSON *p0 = cJSON_GetArrayItem(par, 1), *p1 = cJSON_GetArrayItem(par, 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(p0, "parent")->valuestring, "p\"2:80");
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(p0, "up")));
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(p1, "parent")->valuestring, "p1.example:80");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(p1, "upstream")->valuestring, "parent");
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(p1, "up")));
    /* the harness has no storage instance: no drives */
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "drives")), 0);
    cJSON_Delete(j);
    mcc_harness_free(f.h);
}

static void test_summary_page(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(sum_load(&f, "{\"route\": \"/s&x\"}"), 0);
    static char body[32768];
    int code;
    cJSON *j = sum_get(&f, "/", &code, body, sizeof(body));
    cJSON_Delete(j);
    CU_ASSERT_EQUAL(code, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "<body data-route=\"/s&amp;x\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "id=\"life-hit\""));
    /* nothing loaded from elsewhere (the SVG namespace URI is a name, not a load) */
    CU_ASSERT_PTR_NULL(strstr(body, "src=\""));
    CU_ASSERT_PTR_NULL(strstr(body, "href="));
    CU_ASSERT_PTR_NULL(strstr(body, "@import"));
    j = sum_get(&f, "/s&x/history", &code, NULL, 0);
    CU_ASSERT_EQUAL(code, 200);
    cJSON_Delete(j);
    mcc_harness_free(f.h);

    CU_ASSERT_EQUAL_FATAL(sum_load(&f, "{\"page\": false}"), 0);
    j = sum_get(&f, "/", &code, NULL, 0);
    cJSON_Delete(j);
    CU_ASSERT_EQUAL(code, 404);
    mcc_harness_free(f.h);
}

static void test_summary_refused(void)
{
    static const char *const bad[][2] = {
        {"{\"route\": \"summary\"}", "route"},
        {"{\"history\": 0}", "history"},
        {"{\"max_hosts\": \"many\"}", "max_hosts"},
        {"{\"colour\": \"red\"}", "colour"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mcc_harness *h = mcc_harness_new();
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        mcc_plugin_ref ref;
        mcc_err err = {{0}};
        CU_ASSERT_EQUAL(mcc_harness_load(h, "summary", "s", bad[i][0], &ref, &err), MCC_ERROR);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad[i][1]));
        mcc_harness_free(h);
    }
}

static const CU_TestInfo summary_tests[] = {
    {"per-second and lifetime figures", test_summary_figures},
    {"history ring", test_summary_history},
    {"status: top hosts and parents", test_summary_status},
    {"status page", test_summary_page},
    {"refused configurations", test_summary_refused},
    CU_TEST_INFO_NULL,
};

int mcc_test_register(void)
{
    return mcc_test_suite("summary", summary_tests);
}
