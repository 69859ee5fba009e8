/* Unit tests of the parent upstream plugin, loaded through the real loader: the Delivery
 * Optimization URLs it plans, rendezvous hashing over a tier, failover on outcomes, down marks
 * that expire, probes that bring a parent back, metrics and config errors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mcc/hostport.h>

#include "cunit_main.h"
#include "harness.h"

typedef struct parent_case {
    mcc_harness *h;
    mcc_plugin_ref ref;
    const mcc_upstream_ops *ops;
} parent_case;

static int parent_load(parent_case *c, const char *config, mcc_err *err)
{
    memset(c, 0, sizeof(*c));
    memset(err, 0, sizeof(*err));
    c->h = mcc_harness_new();
    if (c->h == NULL)
        return MCC_ERROR;
    if (mcc_harness_load(c->h, "parent", "parent", config, &c->ref, err) != MCC_OK)
        return MCC_ERROR;
    c->ops = c->ref.ops;
    return MCC_OK;
}

static void parent_unload(parent_case *c)
{
    mcc_harness_free(c->h);
}

/* A 32-byte key made from a number, as a SHA-256 would look to the hash: all bytes used. */
static void key_of(unsigned i, uint8_t key[32])
{
    for (unsigned b = 0; b < 32; b++)
        key[b] = (uint8_t)((i * 2654435761u) >> (b % 4 * 8)) ^ (uint8_t)(b * 37 + i);
}

static int plan_full(parent_case *c, const char *host, unsigned port, const char *path,
                     const uint8_t *key, unsigned attempt, mcc_fetch_plan *p)
{
    mcc_fetch_request req = {
        .method = "GET",
        .origin_host = host,
        .origin_port = port,
        .path = path,
        .ns = host,
        .key = key,
        .connect_to = "192.0.2.9:8080", /* the origin's: must not reach the parent plan */
    };
    memset(p, 0, sizeof(*p));
    p->connect_timeout_ms = 5000;
    snprintf(p->proxy, sizeof(p->proxy), "http://daemon-proxy:3128");
    return c->ops->plan(c->ref.state, &req, attempt, p);
}

/* The label of the parent planned for key number I, or "" when the plugin declines. */
static const char *plan_key(parent_case *c, unsigned i, unsigned attempt, mcc_fetch_plan *p)
{
    uint8_t key[32];
    key_of(i, key);
    if (plan_full(c, "origin.test", 80, "/f", key, attempt, p) != MCC_OK)
        p->label[0] = '\0';
    return p->label;
}

typedef struct metric_find {
    const char *name;
    const char *labels;
    double value;
    int found;
} metric_find;

static void metric_find_cb(void *arg, const mcc_metric_sample *s)
{
    metric_find *m = arg;
    if (strcmp(s->name, m->name) == 0 && strcmp(s->labels, m->labels) == 0) {
        m->found++;
        m->value = s->value;
    }
}

/* The value of series NAME{LABELS}, or -1 when it does not exist. */
static double metric_value(parent_case *c, const char *name, const char *labels)
{
    metric_find m = {.name = name, .labels = labels};
    mcc_harness_core(c->h)->host->metric_visit(c->ref.inst, metric_find_cb, &m);
    return m.found == 1 ? m.value : -1;
}

static void test_urls(void)
{
    parent_case c;
    mcc_err err;
    CU_ASSERT_EQUAL_FATAL(parent_load(&c, "{\"parents\": [\"127.0.0.1:3128\"]}", &err), MCC_OK);
    CU_ASSERT_EQUAL(c.ref.desc->kind, MCC_KIND_UPSTREAM);
    CU_ASSERT_STRING_EQUAL(c.ref.desc->name, "parent");
    static const uint8_t key[32] = {7};
    mcc_fetch_plan p;

    CU_ASSERT_EQUAL(plan_full(&c, "origin.test", 80, "/pool/a.deb", key, 0, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://127.0.0.1:3128/pool/a.deb?cacheHostOrigin=origin.test");
    CU_ASSERT_STRING_EQUAL(p.label, "parent:127.0.0.1:3128");
    CU_ASSERT_STRING_EQUAL(p.connect_to, "");
    CU_ASSERT_STRING_EQUAL(p.proxy, "http://daemon-proxy:3128"); /* the daemon's stays */
    CU_ASSERT_EQUAL(p.connect_timeout_ms, 5000);
    CU_ASSERT_EQUAL(p.nheaders, 0);

    /* a query of its own: the parameter is appended; an origin port is kept */
    CU_ASSERT_EQUAL(plan_full(&c, "dl.example.com", 8080, "/f?a=1&b=2", key, 0, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url,
                           "http://127.0.0.1:3128/f?a=1&b=2&cacheHostOrigin=dl.example.com:8080");
    /* IPv6 origins in encoded brackets, as the daemon's addressing decodes them */
    CU_ASSERT_EQUAL(plan_full(&c, "2001:db8::1", 80, "/f", key, 0, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://127.0.0.1:3128/f?cacheHostOrigin=%5B2001:db8::1%5D");
    CU_ASSERT_EQUAL(plan_full(&c, "2001:db8::1", 81, "/f", key, 0, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://127.0.0.1:3128/f?cacheHostOrigin=%5B2001:db8::1%5D:81");

    static char longpath[5000];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    CU_ASSERT_NOT_EQUAL(plan_full(&c, "origin.test", 80, longpath, key, 0, &p), MCC_OK);
    parent_unload(&c);

    /* default port 80 (left out of the URL), IPv6 parents, the proxy and timeout overrides */
    CU_ASSERT_EQUAL_FATAL(parent_load(&c,
                                      "{\"parents\": [\"parent.lan\"], \"proxy\": \"px.lan:8888\","
                                      " \"connect_timeout\": \"750ms\"}",
                                      &err),
                          MCC_OK);
    CU_ASSERT_EQUAL(plan_full(&c, "origin.test", 80, "/x", key, 0, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://parent.lan/x?cacheHostOrigin=origin.test");
    CU_ASSERT_STRING_EQUAL(p.label, "parent:parent.lan:80");
    CU_ASSERT_STRING_EQUAL(p.proxy, "http://px.lan:8888");
    CU_ASSERT_EQUAL(p.connect_timeout_ms, 750);
    parent_unload(&c);

    /* "" asks for no proxy towards the parents */
    CU_ASSERT_EQUAL_FATAL(parent_load(&c, "{\"parents\": [\"p.lan\"], \"proxy\": \"\"}", &err),
                          MCC_OK);
    CU_ASSERT_EQUAL(plan_full(&c, "origin.test", 80, "/x", key, 0, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.proxy, "");
    parent_unload(&c);

    CU_ASSERT_EQUAL_FATAL(parent_load(&c, "{\"parents\": [\"[fd00::7]:8081\"]}", &err), MCC_OK);
    CU_ASSERT_EQUAL(plan_full(&c, "origin.test", 80, "/x", key, 0, &p), MCC_OK);
    CU_ASSERT_STRING_EQUAL(p.url, "http://[fd00::7]:8081/x?cacheHostOrigin=origin.test");
    CU_ASSERT_STRING_EQUAL(p.label, "parent:[fd00::7]:8081");
    parent_unload(&c);
}

#define NKEYS 3000

static void test_hashing(void)
{
    parent_case c3, c3r, c2;
    mcc_err err;
    static char home3[NKEYS][64];
    mcc_fetch_plan p;
    CU_ASSERT_EQUAL_FATAL(
        parent_load(&c3, "{\"parents\": [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\"]}", &err),
        MCC_OK);
    /* the order of the list does not matter: the score depends on the parent and the key */
    CU_ASSERT_EQUAL_FATAL(
        parent_load(&c3r, "{\"parents\": [\"10.0.0.3\", \"10.0.0.1\", \"10.0.0.2\"]}", &err),
        MCC_OK);
    CU_ASSERT_EQUAL_FATAL(parent_load(&c2, "{\"parents\": [\"10.0.0.1\", \"10.0.0.3\"]}", &err),
                          MCC_OK);
    unsigned count[3] = {0, 0, 0}, same_order = 0, kept = 0, moved_ok = 0, lost = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        snprintf(home3[i], sizeof(home3[i]), "%s", plan_key(&c3, i, 0, &p));
        if (strcmp(home3[i], "parent:10.0.0.1:80") == 0)
            count[0]++;
        else if (strcmp(home3[i], "parent:10.0.0.2:80") == 0)
            count[1]++;
        else if (strcmp(home3[i], "parent:10.0.0.3:80") == 0)
            count[2]++;
        same_order += strcmp(plan_key(&c3r, i, 0, &p), home3[i]) == 0;
        /* without 10.0.0.2 only its keys move */
        const char *h2 = plan_key(&c2, i, 0, &p);
        if (strcmp(home3[i], "parent:10.0.0.2:80") != 0)
            kept += strcmp(h2, home3[i]) == 0;
        else
            lost++, moved_ok += h2[0] != '\0';
    }
    CU_ASSERT_EQUAL(count[0] + count[1] + count[2], NKEYS);
    /* each parent's share is near a third (binomial sd ~26 keys out of 1000) */
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(count[i] > 850 && count[i] < 1150);
        if (count[i] <= 850 || count[i] >= 1150)
            fprintf(stderr, "\n  parent %d got %u of %d keys\n", i + 1, count[i], NKEYS);
    }
    CU_ASSERT_EQUAL(same_order, NKEYS);
    CU_ASSERT_EQUAL(kept, NKEYS - count[1]);
    CU_ASSERT_EQUAL(lost, count[1]);
    CU_ASSERT_EQUAL(moved_ok, count[1]);
    /* the same key always gets the same parent */
    CU_ASSERT_STRING_EQUAL(plan_key(&c3, 17, 0, &p), home3[17]);
    parent_unload(&c3);
    parent_unload(&c3r);
    parent_unload(&c2);
}

/* Key number I whose home (first choice) in C is LABEL. */
static unsigned key_homed_at(parent_case *c, const char *label)
{
    mcc_fetch_plan p;
    for (unsigned i = 0; i < 1000; i++)
        if (strcmp(plan_key(c, i, 0, &p), label) == 0)
            return i;
    CU_FAIL("no key homed at the parent");
    return 0;
}

static void test_failover(void)
{
    parent_case c;
    mcc_err err;
    mcc_fetch_plan p, first;
    const char *const cfg =
        "{\"parents\": [\"127.0.0.1:1\", \"127.0.0.1:2\", \"127.0.0.1:3\"], \"probe_interval\": 0}";
    CU_ASSERT_EQUAL_FATAL(parent_load(&c, cfg, &err), MCC_OK);
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_parent_up", "parent=\"127.0.0.1:1\""), 1, 1e-9);
    unsigned k = key_homed_at(&c, "parent:127.0.0.1:1");
    CU_ASSERT_STRING_EQUAL(plan_key(&c, k, 0, &first), "parent:127.0.0.1:1");
    static char before[300][64];
    for (unsigned i = 0; i < 300; i++)
        snprintf(before[i], sizeof(before[i]), "%s", plan_key(&c, i, 0, &p));

    /* refused: marked down, the key's next parent in hash order is planned */
    c.ops->outcome(c.ref.state, &first, MCC_FETCH_CONNECT_FAILED, 0);
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_parent_up", "parent=\"127.0.0.1:1\""), 0, 1e-9);
    char second[64];
    snprintf(second, sizeof(second), "%s", plan_key(&c, k, 1, &p));
    CU_ASSERT(second[0] != '\0' && strcmp(second, "parent:127.0.0.1:1") != 0);
    mcc_fetch_plan sp = p;
    /* keys homed elsewhere stay where they were */
    unsigned stayed = 0, elsewhere = 0;
    for (unsigned i = 0; i < 300; i++) {
        if (strcmp(before[i], "parent:127.0.0.1:1") == 0)
            continue;
        elsewhere++;
        stayed += strcmp(plan_key(&c, i, 0, &p), before[i]) == 0;
    }
    CU_ASSERT(elsewhere > 100);
    CU_ASSERT_EQUAL(stayed, elsewhere);
    unsigned k2 = key_homed_at(&c, second);

    /* timed out too: the third */
    c.ops->outcome(c.ref.state, &sp, MCC_FETCH_TIMEOUT, 0);
    char third[64];
    snprintf(third, sizeof(third), "%s", plan_key(&c, k, 2, &p));
    CU_ASSERT(third[0] != '\0' && strcmp(third, second) != 0 &&
              strcmp(third, "parent:127.0.0.1:1") != 0);
    mcc_fetch_plan tp = p;
    /* a 5xx or a broken body is no verdict on reachability */
    c.ops->outcome(c.ref.state, &tp, MCC_FETCH_SERVER_ERROR, 502);
    c.ops->outcome(c.ref.state, &tp, MCC_FETCH_BROKEN, 0);
    CU_ASSERT_STRING_EQUAL(plan_key(&c, k, 0, &p), third);

    /* all down: declined, so the next upstream in cache.upstreams (if any) is asked */
    c.ops->outcome(c.ref.state, &tp, MCC_FETCH_CONNECT_FAILED, 0);
    CU_ASSERT_EQUAL(plan_key(&c, k, 3, &p)[0], '\0');
    CU_ASSERT_EQUAL(plan_key(&c, k2, 0, &p)[0], '\0');

    /* any answer below 500 brings a parent back at once */
    c.ops->outcome(c.ref.state, &first, MCC_FETCH_DONE, 200);
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_parent_up", "parent=\"127.0.0.1:1\""), 1, 1e-9);
    CU_ASSERT_STRING_EQUAL(plan_key(&c, k, 0, &p), "parent:127.0.0.1:1");
    CU_ASSERT_STRING_EQUAL(plan_key(&c, k2, 0, &p), "parent:127.0.0.1:1");

    /* a plan of another instance (unknown cookie or label) is ignored */
    mcc_fetch_plan alien = first;
    alien.cookie = 99;
    c.ops->outcome(c.ref.state, &alien, MCC_FETCH_CONNECT_FAILED, 0);
    snprintf(alien.label, sizeof(alien.label), "cdn");
    alien.cookie = first.cookie;
    c.ops->outcome(c.ref.state, &alien, MCC_FETCH_CONNECT_FAILED, 0);
    CU_ASSERT_STRING_EQUAL(plan_key(&c, k, 0, &p), "parent:127.0.0.1:1");

    /* outcomes are counted per parent */
    CU_ASSERT_DOUBLE_EQUAL(
        metric_value(&c, "mcc_upstream_outcomes_total",
                     "upstream=\"parent:127.0.0.1:1\",outcome=\"connect_failed\""),
        1, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_upstream_outcomes_total",
                                        "upstream=\"parent:127.0.0.1:1\",outcome=\"done\""),
                           1, 1e-9);
    parent_unload(&c);
}

static void test_down_time_expires(void)
{
    parent_case c;
    mcc_err err;
    mcc_fetch_plan p, first;
    CU_ASSERT_EQUAL_FATAL(parent_load(&c,
                                      "{\"parents\": [\"192.0.2.1\", \"192.0.2.2\"],"
                                      " \"down_time\": \"1s\", \"probe_interval\": 0}",
                                      &err),
                          MCC_OK);
    unsigned k = key_homed_at(&c, "parent:192.0.2.1:80");
    plan_key(&c, k, 0, &first);
    c.ops->outcome(c.ref.state, &first, MCC_FETCH_TIMEOUT, 0);
    CU_ASSERT_STRING_EQUAL(plan_key(&c, k, 1, &p), "parent:192.0.2.2:80");
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_parent_up", "parent=\"192.0.2.1:80\""), 0, 1e-9);
    /* the idle tick (1 s) ends the mark once its time is over, also for the gauge */
    int never = 0;
    mcc_harness_run_until(c.h, &never, 2300);
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_parent_up", "parent=\"192.0.2.1:80\""), 1, 1e-9);
    CU_ASSERT_STRING_EQUAL(plan_key(&c, k, 0, &p), "parent:192.0.2.1:80");
    parent_unload(&c);
}

/* A listening loopback socket; its port in *port. */
static int listen_any(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_probe(void)
{
    unsigned live_port = 0, dead_port = 0;
    int live = listen_any(&live_port);
    int dead = listen_any(&dead_port);
    CU_ASSERT_FATAL(live >= 0 && dead >= 0);
    close(dead); /* nothing listens there any more: connects are refused */

    char cfg[256];
    snprintf(cfg, sizeof(cfg),
             "{\"parents\": [\"127.0.0.1:%u\", \"127.0.0.1:%u\"], \"down_time\": \"1h\","
             " \"probe_interval\": \"100ms\"}",
             live_port, dead_port);
    parent_case c;
    mcc_err err;
    CU_ASSERT_EQUAL_FATAL(parent_load(&c, cfg, &err), MCC_OK);
    char live_label[64], dead_label[64], live_metric[64], dead_metric[64];
    snprintf(live_label, sizeof(live_label), "parent:127.0.0.1:%u", live_port);
    snprintf(dead_label, sizeof(dead_label), "parent:127.0.0.1:%u", dead_port);
    snprintf(live_metric, sizeof(live_metric), "parent=\"127.0.0.1:%u\"", live_port);
    snprintf(dead_metric, sizeof(dead_metric), "parent=\"127.0.0.1:%u\"", dead_port);

    mcc_fetch_plan pl, pd, p;
    plan_key(&c, key_homed_at(&c, live_label), 0, &pl);
    plan_key(&c, key_homed_at(&c, dead_label), 0, &pd);
    c.ops->outcome(c.ref.state, &pl, MCC_FETCH_CONNECT_FAILED, 0);
    c.ops->outcome(c.ref.state, &pd, MCC_FETCH_CONNECT_FAILED, 0);
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_parent_up", live_metric), 0, 1e-9);

    /* within a few probe intervals the listening one is back, long before its hour is over */
    for (int i = 0; i < 30 && metric_value(&c, "mcc_parent_up", live_metric) < 0.5; i++) {
        int never = 0;
        mcc_harness_run_until(c.h, &never, 100);
    }
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_parent_up", live_metric), 1, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(metric_value(&c, "mcc_parent_up", dead_metric), 0, 1e-9);
    CU_ASSERT_STRING_EQUAL(plan_key(&c, key_homed_at(&c, live_label), 0, &p), live_label);
    /* the refused one's keys go to the live one meanwhile */
    unsigned kd = 0;
    for (unsigned i = 0; i < 1000; i++) {
        mcc_fetch_plan q;
        plan_key(&c, i, 0, &q);
        kd += strcmp(q.label, live_label) == 0;
    }
    CU_ASSERT_EQUAL(kd, 1000);
    parent_unload(&c);
    close(live);
}

static void expect_refused(const char *config, const char *key)
{
    parent_case c;
    mcc_err err;
    CU_ASSERT_NOT_EQUAL(parent_load(&c, config, &err), MCC_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, key));
    if (strstr(err.msg, key) == NULL)
        fprintf(stderr, "\n  %s: message does not name %s: %s\n", config, key, err.msg);
    parent_unload(&c);
}

static void test_bad_config(void)
{
    expect_refused("{}", "parents");
    expect_refused("{\"parents\": []}", "parents");
    expect_refused("{\"parents\": \"p.lan\"}", "parents");
    expect_refused("{\"parents\": [\"p.lan:0\"]}", "parents");
    expect_refused("{\"parents\": [\"p.lan:99999\"]}", "parents");
    expect_refused("{\"parents\": [\"fd00::1\"]}", "parents");
    expect_refused("{\"parents\": [\"p.lan/x\"]}", "parents");
    expect_refused("{\"parents\": [3128]}", "parents");
    expect_refused("{\"parents\": [\"p.lan\", \"p.lan:80\"]}", "parents");
    expect_refused("{\"parents\": [\"p.lan\"], \"proxy\": \"px.lan\"}", "proxy");
    expect_refused("{\"parents\": [\"p.lan\"], \"down_time\": 0}", "down_time");
    expect_refused("{\"parents\": [\"p.lan\"], \"down_time\": \"soon\"}", "down_time");
    expect_refused("{\"parents\": [\"p.lan\"], \"probe_interval\": \"10ms\"}", "probe_interval");
    expect_refused("{\"parents\": [\"p.lan\"], \"connect_timeout\": 0}", "connect_timeout");
    expect_refused("{\"parents\": [\"p.lan\"], \"go_direct\": true}", "go_direct");
}

/* The SDK's "host[:port]" splitter, which the parent and cdn plugins read their config with. */
static void test_hostport_split(void)
{
    static const struct {
        const char *in;
        unsigned defport;
        int rc;
        const char *host;
        unsigned port;
    } cases[] = {
        {"gw.local:8080", 80, MCC_OK, "gw.local", 8080},
        {"gw.local", 80, MCC_OK, "gw.local", 80},
        {"10.0.0.1:1", 0, MCC_OK, "10.0.0.1", 1},
        {"[fd00::1]:65535", 80, MCC_OK, "[fd00::1]", 65535},
        {"[fd00::1]", 80, MCC_OK, "[fd00::1]", 80},
        {"gw.local", 0, MCC_ERROR, NULL, 0},    /* no port and no default */
        {"fd00::1", 80, MCC_ERROR, NULL, 0},    /* bare IPv6: the port is ambiguous */
        {"[fd00::1", 80, MCC_ERROR, NULL, 0},   /* unclosed */
        {"[]:80", 80, MCC_ERROR, NULL, 0},      /* empty */
        {"[fd00::1]x", 80, MCC_ERROR, NULL, 0}, /* junk after the bracket */
        {":80", 80, MCC_ERROR, NULL, 0},        /* no host */
        {"gw.local:0", 80, MCC_ERROR, NULL, 0}, /* port out of range */
        {"gw.local:65536", 80, MCC_ERROR, NULL, 0},
        {"gw.local:+80", 80, MCC_ERROR, NULL, 0}, /* not digits */
        {"gw.local:80x", 80, MCC_ERROR, NULL, 0},
        {"gw local:80", 80, MCC_ERROR, NULL, 0}, /* characters no host name has */
        {"gw/x:80", 80, MCC_ERROR, NULL, 0},
        {"user@gw:80", 80, MCC_ERROR, NULL, 0},
        {"gw%2e:80", 80, MCC_ERROR, NULL, 0},
        {"a-host-name-longer-than-the-buffer.example:80", 80, MCC_ERROR, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[32] = "unchanged";
        unsigned port = 7;
        int rc = mcc_hostport_split(cases[i].in, cases[i].defport, host, sizeof(host), &port);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "\n    \"%s\": rc %d", cases[i].in, rc);
        if (cases[i].rc == MCC_OK) {
            CU_ASSERT_STRING_EQUAL(host, cases[i].host);
            CU_ASSERT_EQUAL(port, cases[i].port);
        } else {
            CU_ASSERT_STRING_EQUAL(host, "unchanged"); /* nothing written on failure */
        }
    }
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"Delivery Optimization URLs to the parent", test_urls},
        {"rendezvous hashing over the tier", test_hashing},
        {"failover on outcomes, declining when all are down", test_failover},
        {"down marks expire", test_down_time_expires},
        {"probes bring a listening parent back", test_probe},
        {"bad config names the key", test_bad_config},
        {"host[:port] splitting", test_hostport_split},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("parent", tests);
}
