/* Unit tests of the prometheus exporter (plugins/prometheus) loaded as a real shared object: the
 * exact text of counters, gauges and histograms, HELP/TYPE once per family, escaping, the gauges
 * read at scrape time, and the route being answered only through the admin access rules. */
#include <stdio.h>
#include <string.h>

#include "core/metrics.h"
#include "cunit_main.h"
#include "harness.h"
#include "http/admin.h"

static char prom_body[65536];

/* Scrapes PATH as PEER; the status, with the body in prom_body. */
static int prom_scrape(mcc_core *core, const char *path, const char *peer)
{
    mcc_admin_request req = {.method = "GET", .path = path, .query = NULL, .peer = peer};
    mcc_reply *r = mcc_reply_new();
    mcc_admin_handle(core->admin, &req, NULL, r);
    int code = mcc_reply_code(r);
    snprintf(prom_body, sizeof(prom_body), "%s", mcc_reply_body(r, NULL));
    const char *ct = mcc_reply_content_type(r);
    if (code == 200)
        CU_ASSERT_STRING_EQUAL(ct, "text/plain; version=0.0.4; charset=utf-8");
    mcc_reply_free(r);
    return code;
}

static int prom_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_prometheus_text(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_core *core = mcc_harness_core(h);
    mcc_plugin_ref ref;
    mcc_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(mcc_harness_load(h, "prometheus", "prometheus", NULL, &ref, &err),
                          MCC_OK);

    mcc_metrics *reg = core->metrics;
    mcc_metric_add(mcc_metrics_get(reg, MCC_METRIC_COUNTER, "t_sent_bytes_total",
                                   "Bytes \\ sent\nsecond line", "source=\"hit\"", NULL, 0),
                   1234567890123.0);
    mcc_metric_add(mcc_metrics_get(reg, MCC_METRIC_COUNTER, "t_sent_bytes_total", "x",
                                   "source=\"miss\"", NULL, 0),
                   5);
    mcc_metric_set(mcc_metrics_get(reg, MCC_METRIC_GAUGE, "t_ratio", "", NULL, NULL, 0), 0.25);
    static const double bounds[] = {0.5, 2};
    mcc_metric *hist = mcc_metrics_get(reg, MCC_METRIC_HISTOGRAM, "t_wait_seconds", "Waits",
                                       "upstream=\"cdn\"", bounds, 2);
    mcc_metric_add(hist, 0.1);
    mcc_metric_add(hist, 1);
    mcc_metric_add(hist, 3);

    CU_ASSERT_EQUAL(prom_scrape(core, "/metrics", "127.0.0.1"), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(prom_body, "# HELP t_sent_bytes_total Bytes \\\\ sent\\nsecond "
                                             "line\n# TYPE t_sent_bytes_total counter\n"
                                             "t_sent_bytes_total{source=\"hit\"} 1234567890123\n"
                                             "t_sent_bytes_total{source=\"miss\"} 5\n"));
    CU_ASSERT_EQUAL(prom_count(prom_body, "# TYPE t_sent_bytes_total"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(prom_body, "# HELP t_ratio (no help given)\n"
                                             "# TYPE t_ratio gauge\nt_ratio 0.25\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(prom_body,
                                  "# HELP t_wait_seconds Waits\n"
                                  "# TYPE t_wait_seconds histogram\n"
                                  "t_wait_seconds_bucket{upstream=\"cdn\",le=\"0.5\"} 1\n"
                                  "t_wait_seconds_bucket{upstream=\"cdn\",le=\"2\"} 2\n"
                                  "t_wait_seconds_bucket{upstream=\"cdn\",le=\"+Inf\"} 3\n"
                                  "t_wait_seconds_sum{upstream=\"cdn\"} 4.1\n"
                                  "t_wait_seconds_count{upstream=\"cdn\"} 3\n"));

    /* read at scrape time from the host */
    char line[128];
    snprintf(line, sizeof(line), "mcc_build_info{version=\"%s\",abi=\"%d.%d\"} 1\n", MCC_VERSION,
             MCC_ABI_MAJOR, MCC_ABI_MINOR);
    CU_ASSERT_PTR_NOT_NULL(strstr(prom_body, line));
    CU_ASSERT_PTR_NOT_NULL(strstr(prom_body, "\nmcc_upstream_transfers_in_flight 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(prom_body, "\nmcc_coalesced_requests_total 0\n"));

    /* the exporter adds no access of its own: the daemon's rule applies */
    CU_ASSERT_EQUAL(prom_scrape(core, "/metrics", "192.0.2.7"), 403);
    mcc_harness_free(h);
}

static void test_prometheus_route(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_plugin_ref ref;
    mcc_err err = {{0}};
    CU_ASSERT_EQUAL_FATAL(mcc_harness_load(h, "prometheus", "p", "{\"route\": \"/m\"}", &ref, &err),
                          MCC_OK);
    CU_ASSERT_EQUAL(prom_scrape(mcc_harness_core(h), "/m", "::1"), 200);
    CU_ASSERT_EQUAL(prom_scrape(mcc_harness_core(h), "/metrics", "::1"), 404);
    /* a second instance on the same route is refused at start */
    CU_ASSERT_EQUAL(mcc_harness_load(h, "prometheus", "q", "{\"route\": \"/m\"}", &ref, &err),
                    MCC_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/m"));
    mcc_harness_free(h);

    h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(mcc_harness_load(h, "prometheus", "p", "{\"route\": \"m\"}", &ref, &err),
                    MCC_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "route"));
    mcc_harness_free(h);
}

static const CU_TestInfo prometheus_tests[] = {
    {"exposition text", test_prometheus_text},
    {"route and refused configuration", test_prometheus_route},
    CU_TEST_INFO_NULL,
};

int mcc_test_register(void)
{
    return mcc_test_suite("prometheus", prometheus_tests);
}
