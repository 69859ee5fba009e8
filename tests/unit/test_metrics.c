/* Unit tests of the metrics registry: series identity, counter/gauge/histogram semantics,
 * bucket counts, sorted visits and refusals (bad names, bad bounds, type clashes). */
#include <stdio.h>
#include <string.h>

#include "core/metrics.h"
#include "cunit_main.h"

static void test_counter_gauge(void)
{
    mcc_metrics *reg = mcc_metrics_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
    mcc_metric *c =
        mcc_metrics_get(reg, MCC_METRIC_COUNTER, "req_total", "requests", NULL, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* same name and labels: the same series; NULL labels equal "" */
    CU_ASSERT_PTR_EQUAL(mcc_metrics_get(reg, MCC_METRIC_COUNTER, "req_total", "x", "", NULL, 0), c);
    mcc_metric_add(c, 2);
    mcc_metric_add(c, 0.5);
    mcc_metric_add(c, -7); /* counters never go down */
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(c), 2.5, 1e-12);
    mcc_metric_set(c, 1); /* set never lowers a counter */
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(c), 2.5, 1e-12);
    mcc_metric_set(c, 10);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(c), 10, 1e-12);

    mcc_metric *c2 =
        mcc_metrics_get(reg, MCC_METRIC_COUNTER, "req_total", "", "code=\"200\"", NULL, 0);
    CU_ASSERT_PTR_NOT_NULL(c2);
    CU_ASSERT_PTR_NOT_EQUAL(c2, c);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(c2), 0, 1e-12);

    mcc_metric *g = mcc_metrics_get(reg, MCC_METRIC_GAUGE, "used_bytes", "", NULL, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    mcc_metric_set(g, 100);
    mcc_metric_add(g, -30);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(g), 70, 1e-12);
    mcc_metric_set(g, 5);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(g), 5, 1e-12);
    CU_ASSERT_EQUAL(mcc_metrics_count(reg), 3);
    mcc_metrics_free(reg);
}

static void test_refusals(void)
{
    mcc_metrics *reg = mcc_metrics_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
    CU_ASSERT_PTR_NOT_NULL(
        mcc_metrics_get(reg, MCC_METRIC_COUNTER, "a_total", "", "x=\"1\"", NULL, 0));
    /* a name has one type, whatever the labels */
    CU_ASSERT_PTR_NULL(mcc_metrics_get(reg, MCC_METRIC_GAUGE, "a_total", "", "x=\"1\"", NULL, 0));
    CU_ASSERT_PTR_NULL(mcc_metrics_get(reg, MCC_METRIC_GAUGE, "a_total", "", NULL, NULL, 0));
    CU_ASSERT_PTR_NULL(
        mcc_metrics_get(reg, MCC_METRIC_HISTOGRAM, "a_total", "", "y=\"2\"", NULL, 0));

    const char *bad[] = {"", "9lives", "has-dash", "sp ace", "é", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        CU_ASSERT_FALSE(mcc_metric_name_valid(bad[i]));
        CU_ASSERT_PTR_NULL(mcc_metrics_get(reg, MCC_METRIC_COUNTER, bad[i], "", NULL, NULL, 0));
    }
    CU_ASSERT_PTR_NULL(mcc_metrics_get(reg, MCC_METRIC_COUNTER, NULL, "", NULL, NULL, 0));
    CU_ASSERT_TRUE(mcc_metric_name_valid("_a:b_9"));
    CU_ASSERT_TRUE(mcc_metric_name_valid("Colon:Name"));

    const double descending[] = {1, 0.5};
    const double repeated[] = {1, 1};
    CU_ASSERT_PTR_NULL(mcc_metrics_get(reg, MCC_METRIC_HISTOGRAM, "h", "", NULL, descending, 2));
    CU_ASSERT_PTR_NULL(mcc_metrics_get(reg, MCC_METRIC_HISTOGRAM, "h", "", NULL, repeated, 2));
    CU_ASSERT_EQUAL(mcc_metrics_count(reg), 1);
    mcc_metrics_free(reg);
}

typedef struct seen {
    char rows[16][96];
    int n;
    mcc_metric_sample hist; /* copy of the last histogram sample's scalars */
    uint64_t buckets[16];
    double bounds[16];
} seen;

static void metrics_collect(void *arg, const mcc_metric_sample *s)
{
    seen *v = arg;
    if (v->n < 16)
        snprintf(v->rows[v->n++], sizeof(v->rows[0]), "%s{%s}", s->name, s->labels);
    if (s->type == MCC_METRIC_HISTOGRAM && s->nbuckets <= 16) {
        v->hist = *s;
        memcpy(v->buckets, s->buckets, s->nbuckets * sizeof(uint64_t));
        memcpy(v->bounds, s->bounds, s->nbuckets * sizeof(double));
    }
}

static void test_histogram(void)
{
    mcc_metrics *reg = mcc_metrics_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
    double bounds[] = {1, 2, 5};
    mcc_metric *h = mcc_metrics_get(reg, MCC_METRIC_HISTOGRAM, "size", "sizes", NULL, bounds, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    bounds[0] = 100; /* the registry holds its own copy */
    mcc_metric_add(h, 0.5);
    mcc_metric_add(h, 1); /* on a bound: counts in that bucket (le) */
    mcc_metric_add(h, 1.5);
    mcc_metric_add(h, 7); /* only in +Inf */
    seen v = {0};
    mcc_metrics_visit(reg, metrics_collect, &v);
    CU_ASSERT_EQUAL(v.n, 1);
    CU_ASSERT_EQUAL_FATAL(v.hist.nbuckets, 3);
    CU_ASSERT_DOUBLE_EQUAL(v.bounds[0], 1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(v.bounds[2], 5, 1e-12);
    CU_ASSERT_EQUAL(v.buckets[0], 2);
    CU_ASSERT_EQUAL(v.buckets[1], 3);
    CU_ASSERT_EQUAL(v.buckets[2], 3);
    CU_ASSERT_EQUAL(v.hist.count, 4);
    CU_ASSERT_DOUBLE_EQUAL(v.hist.sum, 10, 1e-12);
    CU_ASSERT_STRING_EQUAL(v.hist.help, "sizes");
    CU_ASSERT_EQUAL(v.hist.type, MCC_METRIC_HISTOGRAM);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(h), 4, 1e-12);

    /* default bounds: latency in seconds, 5 ms to 60 s */
    mcc_metric *lat = mcc_metrics_get(reg, MCC_METRIC_HISTOGRAM, "lat", "", NULL, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lat);
    mcc_metric_add(lat, 0.004);
    mcc_metric_add(lat, 61);
    memset(&v, 0, sizeof(v));
    mcc_metrics_visit(reg, metrics_collect, &v); /* "lat" sorts before "size": check the last */
    CU_ASSERT_STRING_EQUAL(v.rows[0], "lat{}");
    CU_ASSERT_STRING_EQUAL(v.rows[1], "size{}");
    mcc_metrics_free(reg);

    reg = mcc_metrics_new();
    lat = mcc_metrics_get(reg, MCC_METRIC_HISTOGRAM, "lat", "", NULL, NULL, 0);
    mcc_metric_add(lat, 0.004);
    mcc_metric_add(lat, 61);
    memset(&v, 0, sizeof(v));
    mcc_metrics_visit(reg, metrics_collect, &v);
    CU_ASSERT_EQUAL_FATAL(v.hist.nbuckets, 13);
    CU_ASSERT_DOUBLE_EQUAL(v.bounds[0], 0.005, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(v.bounds[12], 60, 1e-12);
    CU_ASSERT_EQUAL(v.buckets[0], 1);
    CU_ASSERT_EQUAL(v.buckets[12], 1);
    CU_ASSERT_EQUAL(v.hist.count, 2);
    mcc_metrics_free(reg);
}

static void test_sorted_visit(void)
{
    mcc_metrics *reg = mcc_metrics_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
    const char *names[] = {"b_total", "a_total", "a_total", "a_total", "ab", "A"};
    const char *labels[] = {NULL, "z=\"1\"", "y=\"2\"", NULL, NULL, NULL};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_PTR_NOT_NULL(
            mcc_metrics_get(reg, MCC_METRIC_COUNTER, names[i], "", labels[i], NULL, 0));
    seen v = {0};
    mcc_metrics_visit(reg, metrics_collect, &v);
    CU_ASSERT_EQUAL_FATAL(v.n, 6);
    CU_ASSERT_STRING_EQUAL(v.rows[0], "A{}");
    CU_ASSERT_STRING_EQUAL(v.rows[1], "a_total{}");
    CU_ASSERT_STRING_EQUAL(v.rows[2], "a_total{y=\"2\"}");
    CU_ASSERT_STRING_EQUAL(v.rows[3], "a_total{z=\"1\"}");
    CU_ASSERT_STRING_EQUAL(v.rows[4], "ab{}");
    CU_ASSERT_STRING_EQUAL(v.rows[5], "b_total{}");
    mcc_metrics_free(reg);
}

static void test_many_series(void)
{
    mcc_metrics *reg = mcc_metrics_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(reg);
    mcc_metric *first = NULL;
    char labels[32];
    for (int i = 199; i >= 0; i--) { /* inserted in reverse: every insert is at the front */
        snprintf(labels, sizeof(labels), "i=\"%03d\"", i);
        mcc_metric *m = mcc_metrics_get(reg, MCC_METRIC_GAUGE, "g", "", labels, NULL, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        mcc_metric_set(m, i);
        if (i == 0)
            first = m;
    }
    CU_ASSERT_EQUAL(mcc_metrics_count(reg), 200);
    CU_ASSERT_PTR_EQUAL(mcc_metrics_get(reg, MCC_METRIC_GAUGE, "g", "", "i=\"000\"", NULL, 0),
                        first);
    mcc_metric *m = mcc_metrics_get(reg, MCC_METRIC_GAUGE, "g", "", "i=\"123\"", NULL, 0);
    CU_ASSERT_DOUBLE_EQUAL(mcc_metric_value(m), 123, 1e-12);
    mcc_metrics_free(reg);
}

static const CU_TestInfo metrics_tests[] = {
    {"counter and gauge", test_counter_gauge}, {"refusals", test_refusals},
    {"histogram buckets", test_histogram},     {"visit order", test_sorted_visit},
    {"many series", test_many_series},         CU_TEST_INFO_NULL,
};

int mcc_test_register(void)
{
    return mcc_test_suite("metrics", metrics_tests);
}
