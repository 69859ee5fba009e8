/* Unit tests of the cdn upstream plugin, loaded through the real loader: the plans it makes for
 * origins with and without ports, IPv6 literals, connect-to rules, config overrides and errors. */
#include <stdio.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"

/* One loaded cdn instance with its own harness. */
typedef struct cdn_case {
    mcc_harness *h;
    mcc_plugin_ref ref;
    const mcc_upstream_ops *ops;
} cdn_case;

static int cdn_load(cdn_case *c, const char *config, mcc_err *err)
{
    memset(c, 0, sizeof(*c));
    memset(err, 0, sizeof(*err));
    c->h = mcc_harness_new();
    if (c->h == NULL)
        return MCC_ERROR;
    if (mcc_harness_load(c->h, "cdn", "cdn", config, &c->ref, err) != MCC_OK)
        return MCC_ERROR;
    c->ops = c->ref.ops;
    return MCC_OK;
}

static void cdn_unload(cdn_case *c)
{
    mcc_harness_free(c->h);
}

/* A plan as the daemon hands it in: its defaults filled in. */
static void plan_defaults(mcc_fetch_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->connect_timeout_ms = 5000;
    p->low_speed_time_ms = 20000;
    p->low_speed_limit = 1000;
    p->max_redirects = 5;
    snprintf(p->proxy, sizeof(p->proxy), "http://daemon-proxy:3128");
}

static int cdn_plan(cdn_case *c, const char *host, unsigned port, const char *path,
                    const char *connect_to, mcc_fetch_plan *p)
{
    static const uint8_t key[32] = {1, 2, 3};
    mcc_fetch_request req = {
        .method = "GET",
        .origin_host = host,
        .origin_port = port,
        .path = path,
        .ns = host,
        .key = key,
        .connect_to = connect_to,
    };
    plan_defaults(p);
    return c->ops->plan(c->ref.state, &req, 0, p);
}

static void test_urls(void)
{
    cdn_case c;
    mcc_err err;
    CU_ASSERT_EQUAL_FATAL(cdn_load(&c, "{}", &err), MCC_OK);
    CU_ASSERT_EQUAL(c.ref.desc->kind, MCC_KIND_UPSTREAM);
    CU_ASSERT_STRING_EQUAL(c.ref.desc->name, "cdn");
    mcc_fetch_plan p;

    CU_ASSERT_EQUAL(cdn_plan(&c, "dl.example.com", 80, "/pool/a b.deb?x=1", NULL, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://dl.example.com/pool/a b.deb?x=1");
    CU_ASSERT_STRING_EQUAL(p.connect_to, "");
    CU_ASSERT_STRING_EQUAL(p.label, "cdn");
    /* nothing configured: the daemon's defaults stay */
    CU_ASSERT_EQUAL(p.connect_timeout_ms, 5000);
    CU_ASSERT_EQUAL(p.low_speed_time_ms, 20000);
    CU_ASSERT_EQUAL(p.low_speed_limit, 1000);
    CU_ASSERT_EQUAL(p.max_redirects, 5);
    CU_ASSERT_STRING_EQUAL(p.proxy, "http://daemon-proxy:3128");
    CU_ASSERT_EQUAL(p.nheaders, 0);

    CU_ASSERT_EQUAL(cdn_plan(&c, "dl.example.com", 8080, "/f", NULL, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://dl.example.com:8080/f");
    CU_ASSERT_EQUAL(cdn_plan(&c, "::1", 8080, "/f", NULL, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://[::1]:8080/f");
    CU_ASSERT_EQUAL(cdn_plan(&c, "fe80::1", 80, "/f", NULL, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://[fe80::1]/f");
    CU_ASSERT_EQUAL(cdn_plan(&c, "10.1.2.3", 80, "/", NULL, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://10.1.2.3/");

    /* a path longer than a URL can hold is refused, not cut */
    static char longpath[5000];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    CU_ASSERT_NOT_EQUAL(cdn_plan(&c, "dl.example.com", 80, longpath, NULL, &p), MCC_OK);
    cdn_unload(&c);
}

static void test_connect_to(void)
{
    cdn_case c;
    mcc_err err;
    CU_ASSERT_EQUAL_FATAL(cdn_load(&c, NULL, &err), MCC_OK);
    mcc_fetch_plan p;
    CU_ASSERT_EQUAL(cdn_plan(&c, "repo.example.com", 80, "/x", "192.0.2.7:8081", &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://repo.example.com/x");
    CU_ASSERT_STRING_EQUAL(p.connect_to, "repo.example.com:80:192.0.2.7:8081");
    CU_ASSERT_EQUAL(cdn_plan(&c, "repo.example.com", 8080, "/x", "[2001:db8::7]:9000", &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.connect_to, "repo.example.com:8080:[2001:db8::7]:9000");
    CU_ASSERT_EQUAL(cdn_plan(&c, "2001:db8::1", 8080, "/x", "127.0.0.1:81", &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.connect_to, "[2001:db8::1]:8080:127.0.0.1:81");
    /* no port: the origin's */
    CU_ASSERT_EQUAL(cdn_plan(&c, "repo.example.com", 8080, "/x", "mirror.lan", &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.connect_to, "repo.example.com:8080:mirror.lan:8080");
    /* malformed: refused rather than guessed */
    CU_ASSERT_NOT_EQUAL(cdn_plan(&c, "repo.example.com", 80, "/x", "host:99999", &p), MCC_OK);
    CU_ASSERT_NOT_EQUAL(cdn_plan(&c, "repo.example.com", 80, "/x", "[::1", &p), MCC_OK);
    cdn_unload(&c);
}

static void test_overrides(void)
{
    cdn_case c;
    mcc_err err;
    CU_ASSERT_EQUAL_FATAL(cdn_load(&c,
                                   "{\"connect_timeout\": \"250ms\", \"low_speed_time\": 3,"
                                   " \"low_speed_limit\": 4000, \"max_redirects\": 0,"
                                   " \"proxy\": \"proxy.lan:3128\"}",
                                   &err),
                          MCC_OK);
    mcc_fetch_plan p;
    CU_ASSERT_EQUAL(cdn_plan(&c, "dl.example.com", 80, "/f", NULL, &p), MCC_OK);
    CU_ASSERT_EQUAL(p.connect_timeout_ms, 250);
    CU_ASSERT_EQUAL(p.low_speed_time_ms, 3000);
    CU_ASSERT_EQUAL(p.low_speed_limit, 4000);
    CU_ASSERT_EQUAL(p.max_redirects, 0);
    CU_ASSERT_STRING_EQUAL(p.proxy, "http://proxy.lan:3128");
    cdn_unload(&c);

    /* "" turns the daemon's proxy off for this upstream */
    CU_ASSERT_EQUAL_FATAL(cdn_load(&c, "{\"proxy\": \"\", \"max_redirects\": 20}", &err), MCC_OK);
    CU_ASSERT_EQUAL(cdn_plan(&c, "dl.example.com", 80, "/f", NULL, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.proxy, "");
    CU_ASSERT_EQUAL(p.max_redirects, 20);
    CU_ASSERT_EQUAL(p.connect_timeout_ms, 5000);
    cdn_unload(&c);

    CU_ASSERT_EQUAL_FATAL(cdn_load(&c, "{\"proxy\": \"[fd00::3]:8080\"}", &err), MCC_OK);
    CU_ASSERT_EQUAL(cdn_plan(&c, "dl.example.com", 80, "/f", NULL, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.proxy, "http://[fd00::3]:8080");
    cdn_unload(&c);
}

/* Loading CONFIG fails with a message naming KEY. */
static void expect_refused(const char *config, const char *key)
{
    cdn_case c;
    mcc_err err;
    CU_ASSERT_NOT_EQUAL(cdn_load(&c, config, &err), MCC_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, key));
    if (strstr(err.msg, key) == NULL)
        fprintf(stderr, "\n  %s: message does not name %s: %s\n", config, key, err.msg);
    cdn_unload(&c);
}

static void test_bad_config(void)
{
    expect_refused("{\"max_redirects\": 99}", "max_redirects");
    expect_refused("{\"max_redirects\": -1}", "max_redirects");
    expect_refused("{\"proxy\": \"proxy.lan\"}", "proxy");
    expect_refused("{\"proxy\": \"proxy.lan:0\"}", "proxy");
    expect_refused("{\"proxy\": 3128}", "proxy");
    expect_refused("{\"connect_timeout\": \"soon\"}", "connect_timeout");
    expect_refused("{\"connect_timeout\": 0}", "connect_timeout");
    expect_refused("{\"low_speed_limit\": \"fast\"}", "low_speed_limit");
    expect_refused("{\"low_speed_time\": -2}", "low_speed_time");
    expect_refused("{\"upstream\": \"x\"}", "upstream"); /* unknown key */
}

typedef struct metric_find {
    const char *labels;
    double value;
    int found;
} metric_find;

static void metric_find_cb(void *arg, const mcc_metric_sample *s)
{
    metric_find *m = arg;
    if (strcmp(s->name, "mcc_upstream_outcomes_total") == 0 && strcmp(s->labels, m->labels) == 0) {
        m->found++;
        m->value = s->value;
    }
}

static void test_outcome_metric(void)
{
    cdn_case c;
    mcc_err err;
    CU_ASSERT_EQUAL_FATAL(cdn_load(&c, "{}", &err), MCC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.ops->outcome);
    mcc_fetch_plan p;
    CU_ASSERT_EQUAL(cdn_plan(&c, "dl.example.com", 80, "/f", NULL, &p), MCC_OK);
    c.ops->outcome(c.ref.state, &p, MCC_FETCH_TIMEOUT, 0);
    c.ops->outcome(c.ref.state, &p, MCC_FETCH_TIMEOUT, 0);
    c.ops->outcome(c.ref.state, &p, MCC_FETCH_DONE, 200);
    c.ops->outcome(c.ref.state, &p, 42, 0); /* unknown: ignored */

    const mcc_host *host = mcc_harness_core(c.h)->host;
    metric_find m = {.labels = "upstream=\"cdn\",outcome=\"timeout\""};
    host->metric_visit(c.ref.inst, metric_find_cb, &m);
    CU_ASSERT_EQUAL(m.found, 1);
    CU_ASSERT_DOUBLE_EQUAL(m.value, 2.0, 1e-9);
    metric_find d = {.labels = "upstream=\"cdn\",outcome=\"done\""};
    host->metric_visit(c.ref.inst, metric_find_cb, &d);
    CU_ASSERT_DOUBLE_EQUAL(d.value, 1.0, 1e-9);
    metric_find b = {.labels = "upstream=\"cdn\",outcome=\"broken\""};
    host->metric_visit(c.ref.inst, metric_find_cb, &b);
    CU_ASSERT_EQUAL(b.found, 1);
    CU_ASSERT_DOUBLE_EQUAL(b.value, 0.0, 1e-9);
    cdn_unload(&c);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"URLs with and without port, IPv6", test_urls},
        {"connect_to", test_connect_to},
        {"config overrides", test_overrides},
        {"bad config names the key", test_bad_config},
        {"outcome metric", test_outcome_metric},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("cdn", tests);
}
