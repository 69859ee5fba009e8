/* Unit tests of report/stats: hit/miss totals, report period rollover on the loop, exporters'
 * on_period/on_request, the access log line and the request metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/metrics.h"
#include "cunit_main.h"
#include "harness.h"
#include "report/stats.h"

/* A stand-in exporter wired straight into core->exporters: what on_period saw. */
typedef struct periods {
    int n;
    mcc_traffic seen[8];
    unsigned period_s;
    int requests;
} periods;

static void stats_on_period(void *state, const mcc_traffic *p, unsigned period_s, int64_t end)
{
    periods *ps = state;
    if (ps->n < 8)
        ps->seen[ps->n] = *p;
    ps->n++;
    ps->period_s = period_s;
}

static void stats_on_request(void *state, const mcc_request_record *rec)
{
    ((periods *)state)->requests++;
}

static const mcc_exporter_ops stats_ops = {
    .size = sizeof(mcc_exporter_ops),
    .on_request = stats_on_request,
    .on_period = stats_on_period,
};

static void stats_attach(mcc_core *core, periods *ps)
{
    core->exporters[core->nexporters].ops = &stats_ops;
    core->exporters[core->nexporters].state = ps;
    core->exporters[core->nexporters].name = "test";
    core->nexporters++;
}

/* Runs the loop until the exporter has seen N periods, at most 3 s. */
static void stats_wait_periods(mcc_harness *h, periods *ps, int n)
{
    for (int i = 0; i < 300 && ps->n < n; i++) {
        int never = 0;
        mcc_harness_run_until(h, &never, 10);
    }
}

static void test_totals_and_rollover(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_core *core = mcc_harness_core(h);
    mcc_stats_free(core->stats);
    core->stats = mcc_stats_new(core, 60);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core->stats);
    periods ps = {0};
    stats_attach(core, &ps);

    mcc_stats_sent(core->stats, 100, 50);
    mcc_stats_sent(core->stats, 10, 0);
    mcc_request_record rec = {
        .client = "127.0.0.1", .method = "GET", .path = "/", .status = 200, .cache_status = "hit"};
    mcc_request_done(core, &rec);

    mcc_traffic life, per;
    unsigned period_s = 99;
    int64_t end = 99;
    mcc_stats_get(core->stats, &life, &per, &period_s, &end);
    CU_ASSERT_EQUAL(life.hit_bytes, 110);
    CU_ASSERT_EQUAL(life.miss_bytes, 50);
    CU_ASSERT_EQUAL(life.requests, 1);
    /* no period has ended yet */
    CU_ASSERT_EQUAL(per.hit_bytes, 0);
    CU_ASSERT_EQUAL(per.requests, 0);
    CU_ASSERT_EQUAL(period_s, 0);
    CU_ASSERT_EQUAL(end, 0);
    CU_ASSERT_EQUAL(ps.requests, 1);

    stats_wait_periods(h, &ps, 1);
    CU_ASSERT_EQUAL_FATAL(ps.n, 1);
    CU_ASSERT_EQUAL(ps.seen[0].hit_bytes, 110);
    CU_ASSERT_EQUAL(ps.seen[0].miss_bytes, 50);
    CU_ASSERT_EQUAL(ps.seen[0].requests, 1);
    CU_ASSERT_EQUAL(ps.period_s, 1); /* rounded, never 0 */
    mcc_stats_get(core->stats, &life, &per, &period_s, &end);
    CU_ASSERT_EQUAL(per.hit_bytes, 110);
    CU_ASSERT_EQUAL(per.miss_bytes, 50);
    CU_ASSERT_TRUE(end > 1700000000);

    /* the next period holds only what came after the rollover */
    mcc_stats_sent(core->stats, 0, 7);
    stats_wait_periods(h, &ps, 2);
    CU_ASSERT_EQUAL_FATAL(ps.n, 2);
    CU_ASSERT_EQUAL(ps.seen[1].hit_bytes, 0);
    CU_ASSERT_EQUAL(ps.seen[1].miss_bytes, 7);
    CU_ASSERT_EQUAL(ps.seen[1].requests, 0);
    stats_wait_periods(h, &ps, 3);
    CU_ASSERT_EQUAL_FATAL(ps.n, 3);
    CU_ASSERT_EQUAL(ps.seen[2].miss_bytes, 0);
    mcc_stats_get(core->stats, &life, &per, NULL, NULL);
    CU_ASSERT_EQUAL(life.hit_bytes, 110);
    CU_ASSERT_EQUAL(life.miss_bytes, 57);
    CU_ASSERT_EQUAL(per.miss_bytes, 0);
    mcc_harness_free(h);
}

/* The host's traffic() reports what stats holds, for exporters. */
static void test_host_traffic(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_core *core = mcc_harness_core(h);
    mcc_err err = {{0}};
    mcc_plugin_ref ref;
    CU_ASSERT_EQUAL_FATAL(mcc_harness_load(h, "test_exporter_good", "g", NULL, &ref, &err), MCC_OK);
    mcc_stats_sent(core->stats, 3, 4);
    mcc_traffic life;
    core->host->traffic(ref.inst, &life, NULL, NULL, NULL);
    CU_ASSERT_EQUAL(life.hit_bytes, 3);
    CU_ASSERT_EQUAL(life.miss_bytes, 4);
    CU_ASSERT_STRING_EQUAL(core->host->instance_name(ref.inst), "g");
    CU_ASSERT_STRING_EQUAL(core->host->node_name(ref.inst), core->settings.node_name);
    CU_ASSERT(core->settings.node_name[0] != '\0');
    mcc_harness_free(h);
}

static void test_access_log_and_metrics(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_core *core = mcc_harness_core(h);
    char path[] = "/tmp/mcc-test-access-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    snprintf(core->settings.access_log, sizeof(core->settings.access_log), "%s", path);
    mcc_stats_free(core->stats);
    core->stats = mcc_stats_new(core, 15000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(core->stats);

    mcc_request_record rec = {
        .time_us = 1700000000LL * 1000000 + 123456,
        .client = "10.1.2.3",
        .method = "GET",
        .origin_host = "o.example.com",
        .path = "/a b/c\n%",
        .status = 206,
        .bytes_sent = 1000,
        .hit_bytes = 600,
        .miss_bytes = 400,
        .cache_status = "hit",
        .upstream_ms = 12,
        .duration_ms = 34,
    };
    mcc_request_done(core, &rec);
    rec.origin_host = "";
    rec.status = 403;
    rec.bytes_sent = rec.hit_bytes = rec.miss_bytes = 0;
    rec.cache_status = "Bad Label";
    mcc_request_done(core, &rec);

    char buf[1024] = {0};
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    unlink(path);
    buf[n] = '\0';
    CU_ASSERT_STRING_EQUAL(buf,
                           "2023-11-14T22:13:20Z 10.1.2.3 GET o.example.com /a%20b/c%0A%25 206 "
                           "1000 hit hit=600 miss=400 up=12ms dur=34ms\n"
                           "2023-11-14T22:13:20Z 10.1.2.3 GET - /a%20b/c%0A%25 403 0 "
                           "Bad%20Label hit=0 miss=0 up=12ms dur=34ms\n");

    mcc_metrics *reg = core->metrics;
    mcc_metric *m = mcc_metrics_get(reg, MCC_METRIC_COUNTER, "mcc_requests_total", "",
                                    "status_class=\"2xx\",cache=\"hit\"", NULL, 0);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 1, 1e-12);
    /* the same labels again (the series found on first use) and another pair (its own slot) */
    rec.status = 206;
    rec.cache_status = "hit";
    mcc_request_done(core, &rec);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 2, 1e-12);
    rec.status = 200;
    rec.cache_status = "miss";
    mcc_request_done(core, &rec);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 2, 1e-12);
    m = mcc_metrics_get(reg, MCC_METRIC_COUNTER, "mcc_requests_total", "",
                        "status_class=\"2xx\",cache=\"miss\"", NULL, 0);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 1, 1e-12);
    m = mcc_metrics_get(reg, MCC_METRIC_COUNTER, "mcc_requests_total", "",
                        "status_class=\"4xx\",cache=\"other\"", NULL, 0);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 1, 1e-12);
    /* bytes are counted as they are sent, not from the record at the end */
    m = mcc_metrics_get(reg, MCC_METRIC_COUNTER, "mcc_sent_bytes_total", "", "source=\"hit\"", NULL,
                        0);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 0, 1e-12);
    mcc_stats_sent(core->stats, 600, 400);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 600, 1e-12);
    m = mcc_metrics_get(reg, MCC_METRIC_COUNTER, "mcc_sent_bytes_total", "", "source=\"miss\"",
                        NULL, 0);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 400, 1e-12);
    m = mcc_metrics_get(reg, MCC_METRIC_HISTOGRAM, "mcc_request_duration_seconds", "", NULL, NULL,
                        0);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 4, 1e-12);
    mcc_harness_free(h);
}

static void test_access_log_unwritable(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_core *core = mcc_harness_core(h);
    snprintf(core->settings.access_log, sizeof(core->settings.access_log),
             "/nonexistent-dir/access.log");
    CU_ASSERT_PTR_NULL(mcc_stats_new(core, 1000));
    mcc_harness_free(h);
}

static const CU_TestInfo stats_tests[] = {
    {"totals and period rollover", test_totals_and_rollover},
    {"host traffic()", test_host_traffic},
    {"access log and request metrics", test_access_log_and_metrics},
    {"unwritable access log", test_access_log_unwritable},
    CU_TEST_INFO_NULL,
};

int mcc_test_register(void)
{
    return mcc_test_suite("stats", stats_tests);
}
