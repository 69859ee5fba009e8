/* The upstream contracts (mcc/upstream.h): plan answers MCC_OK with a well-formed plan (an
 * absolute http URL, headers and strings that fit their fields) or MCC_DECLINED; the answer does
 * not depend on the order requests and attempts are asked in; outcome() takes every outcome. */
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "kit.h"

static const mcc_upstream_ops *up_ops(kit *k)
{
    return k->ops;
}

/* The requests the daemon makes: plain, another port, a connect-to address from a host rule, a
 * query, a HEAD, a Via chain, an IPv6 literal. */
typedef struct up_sample {
    const char *method, *host;
    unsigned port;
    const char *path, *connect_to, *via;
} up_sample;

static const up_sample up_samples[] = {
    {"GET", "origin.test", 80, "/file.bin", NULL, NULL},
    {"GET", "origin.test", 8080, "/a/b/c.deb", NULL, NULL},
    {"GET", "download.example.com", 80, "/x/y.bin?sv=1&sig=abc", "127.0.0.1:8081", NULL},
    {"HEAD", "origin.test", 80, "/file.bin", NULL, NULL},
    {"GET", "origin.test", 80, "/chained.bin", NULL, "1.1 child-node (mcc)"},
    {"GET", "::1", 80, "/v6.bin", NULL, NULL},
    {"GET", "origin.test", 80, "/", NULL, NULL},
};
#define UP_NSAMPLES (sizeof(up_samples) / sizeof(up_samples[0]))

static void up_request(kit *k, const up_sample *s, uint8_t key[MCC_KEY_LEN], mcc_fetch_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->method = s->method;
    rq->origin_host = s->host;
    rq->origin_port = s->port;
    rq->path = s->path;
    rq->ns = s->host;
    rq->key = key;
    rq->connect_to = s->connect_to;
    rq->via = s->via;
}

/* A plan as the daemon hands it over: zeroed, with its default timeouts. */
static void up_plan_init(mcc_fetch_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->connect_timeout_ms = 5000;
    p->low_speed_time_ms = 20000;
    p->low_speed_limit = 1000;
    p->max_redirects = 5;
}

static int up_terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static int up_clean(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
            return 0;
    return 1;
}

/* Checks a plan answered MCC_OK. 1 when sound; else 0 with the failure recorded. */
static int up_plan_check(kit_case *c, const mcc_fetch_plan *p, const char *what)
{
    if (!up_terminated(p->url, sizeof(p->url)) || !up_terminated(p->proxy, sizeof(p->proxy)) ||
        !up_terminated(p->connect_to, sizeof(p->connect_to)) ||
        !up_terminated(p->label, sizeof(p->label)))
        return kit_fail(c, "%s: a string field of the plan is not NUL-terminated", what);
    size_t scheme = strncmp(p->url, "http://", 7) == 0    ? 7
                    : strncmp(p->url, "https://", 8) == 0 ? 8
                                                          : 0;
    if (scheme == 0 || p->url[scheme] == '\0' || p->url[scheme] == '/')
        return kit_fail(c, "%s: plan URL \"%.200s\" is not an absolute http:// URL", what, p->url);
    if (!up_clean(p->url))
        return kit_fail(c, "%s: plan URL \"%.200s\" has spaces or control characters", what,
                        p->url);
    if (p->proxy[0] != '\0' && strncmp(p->proxy, "http://", 7) != 0)
        return kit_fail(c, "%s: plan proxy \"%s\" is neither \"\" nor http://host:port", what,
                        p->proxy);
    if (p->connect_to[0] != '\0' &&
        (!up_clean(p->connect_to) || strchr(p->connect_to, ':') == NULL))
        return kit_fail(c, "%s: plan connect_to \"%s\" is not host:port:addr:port", what,
                        p->connect_to);
    if (p->nheaders > MCC_PLAN_MAX_HEADERS)
        return kit_fail(c, "%s: plan has %u headers, at most %d fit", what, p->nheaders,
                        MCC_PLAN_MAX_HEADERS);
    for (unsigned i = 0; i < p->nheaders; i++) {
        const char *h = p->headers[i];
        if (!up_terminated(h, sizeof(p->headers[i])))
            return kit_fail(c, "%s: header %u is not NUL-terminated", what, i);
        const char *colon = strchr(h, ':');
        if (colon == NULL || colon == h || strpbrk(h, "\r\n") != NULL)
            return kit_fail(c, "%s: header %u \"%.100s\" is not \"Name: value\"", what, i, h);
    }
    if (p->max_redirects < 0)
        return kit_fail(c, "%s: plan max_redirects %d is negative", what, p->max_redirects);
    return 1;
}

static void up_plan_fills(kit_case *c)
{
    kit *k = c->k;
    unsigned ok = 0, declined = 0;
    char what[300];
    for (size_t i = 0; i < UP_NSAMPLES; i++) {
        uint8_t key[MCC_KEY_LEN];
        mcc_fetch_request rq;
        mcc_fetch_plan plan;
        kit_key(k, key);
        up_request(k, &up_samples[i], key, &rq);
        up_plan_init(&plan);
        snprintf(what, sizeof(what), "%s %s:%u%s", rq.method, rq.origin_host, rq.origin_port,
                 rq.path);
        int rc = up_ops(k)->plan(k->state, &rq, 0, &plan);
        if (rc == MCC_DECLINED) {
            declined++;
            continue;
        }
        KIT_CHECK(c, rc == MCC_OK, "%s: plan answered %d, not MCC_OK or MCC_DECLINED", what, rc);
        if (!up_plan_check(c, &plan, what))
            goto done;
        ok++;
        if (MCC_HAS(up_ops(k), outcome))
            up_ops(k)->outcome(k->state, &plan, MCC_FETCH_DONE, 200);
    }
    /* a path longer than any URL: refused (MCC_ERROR or MCC_DECLINED) or planned in full */
    {
        static char longpath[5000];
        uint8_t key[MCC_KEY_LEN];
        mcc_fetch_request rq;
        mcc_fetch_plan plan;
        longpath[0] = '/';
        memset(longpath + 1, 'a', sizeof(longpath) - 2);
        longpath[sizeof(longpath) - 1] = '\0';
        up_sample s = {"GET", "origin.test", 80, longpath, NULL, NULL};
        kit_key(k, key);
        up_request(k, &s, key, &rq);
        up_plan_init(&plan);
        int rc = up_ops(k)->plan(k->state, &rq, 0, &plan);
        KIT_CHECK(c,
                  rc != MCC_OK || (up_plan_check(c, &plan, "a 5000-byte path") &&
                                   strstr(plan.url, longpath) != NULL),
                  "a 5000-byte path: plan answered MCC_OK with the path cut in the URL");
        if (c->failed)
            goto done;
    }
    if (ok == 0)
        kit_note(c, "declined every sample request");
    else
        kit_note(c, "%u planned, %u declined", ok, declined);
done:
    return;
}

/* The same request and attempt, asked again with nothing reported in between, get the same
 * answer, whatever was asked before: the daemon asks upstreams in configured order, attempt
 * after attempt, and stops asking one that declined. */
static void up_order(kit_case *c)
{
    kit *k = c->k;
    uint8_t keys[UP_NSAMPLES][MCC_KEY_LEN];
    int first[UP_NSAMPLES][4];
    uint64_t urls[UP_NSAMPLES][4]; /* XXH3 of each URL planned */
    for (size_t i = 0; i < UP_NSAMPLES; i++)
        kit_key(k, keys[i]);
    /* forwards, attempts 0..3 */
    for (size_t i = 0; i < UP_NSAMPLES; i++) {
        for (unsigned a = 0; a < 4; a++) {
            mcc_fetch_request rq;
            mcc_fetch_plan plan;
            up_request(k, &up_samples[i], keys[i], &rq);
            up_plan_init(&plan);
            first[i][a] = up_ops(k)->plan(k->state, &rq, a, &plan);
            KIT_CHECK(c, first[i][a] == MCC_OK || first[i][a] == MCC_DECLINED,
                      "plan of sample %zu, attempt %u answered %d", i, a, first[i][a]);
            urls[i][a] = first[i][a] == MCC_OK
                             ? XXH3_64bits(plan.url, strnlen(plan.url, sizeof(plan.url)))
                             : 0;
            if (first[i][a] == MCC_OK && !up_plan_check(c, &plan, "a retry's plan"))
                goto done;
        }
    }
    /* backwards, attempts out of order */
    for (size_t n = UP_NSAMPLES; n-- > 0;) {
        static const unsigned order[4] = {3, 1, 0, 2};
        for (unsigned j = 0; j < 4; j++) {
            unsigned a = order[j];
            mcc_fetch_request rq;
            mcc_fetch_plan plan;
            up_request(k, &up_samples[n], keys[n], &rq);
            up_plan_init(&plan);
            int rc = up_ops(k)->plan(k->state, &rq, a, &plan);
            KIT_CHECK(c, rc == first[n][a],
                      "sample %zu, attempt %u: plan answered %d, and %d "
                      "when asked in another order",
                      n, a, first[n][a], rc);
            KIT_CHECK(c,
                      rc != MCC_OK ||
                          urls[n][a] == XXH3_64bits(plan.url, strnlen(plan.url, sizeof(plan.url))),
                      "sample %zu, attempt %u: plan gave another URL (\"%.100s\") when asked in "
                      "another order",
                      n, a, plan.url);
        }
    }
done:
    return;
}

/* outcome() takes every value for a plan the plugin made, and the plugin plans on afterwards;
 * repeated failures may make it decline (a parent marked down), never answer anything else. */
static void up_outcomes(kit_case *c)
{
    kit *k = c->k;
    static const struct {
        int outcome, status;
    } outs[] = {{MCC_FETCH_DONE, 200},         {MCC_FETCH_DONE, 404},
                {MCC_FETCH_CONNECT_FAILED, 0}, {MCC_FETCH_TIMEOUT, 0},
                {MCC_FETCH_SERVER_ERROR, 503}, {MCC_FETCH_BROKEN, 200},
                {MCC_FETCH_DONE, 206}};
    unsigned declined = 0;
    if (!MCC_HAS(up_ops(k), outcome)) {
        kit_note(c, "no outcome op");
        return;
    }
    for (unsigned round = 0; round < 3; round++) {
        for (size_t o = 0; o < sizeof(outs) / sizeof(outs[0]); o++) {
            for (unsigned attempt = 0; attempt < 3; attempt++) {
                uint8_t key[MCC_KEY_LEN];
                mcc_fetch_request rq;
                mcc_fetch_plan plan;
                kit_key(k, key);
                up_request(k, &up_samples[0], key, &rq);
                up_plan_init(&plan);
                int rc = up_ops(k)->plan(k->state, &rq, attempt, &plan);
                KIT_CHECK(c, rc == MCC_OK || rc == MCC_DECLINED,
                          "after outcomes were reported, plan answered %d", rc);
                if (rc == MCC_DECLINED) {
                    declined++;
                    continue;
                }
                if (!up_plan_check(c, &plan, "a plan after outcomes"))
                    goto done;
                up_ops(k)->outcome(k->state, &plan, outs[o].outcome, outs[o].status);
            }
        }
        kit_loop(k, 5); /* timers the outcomes armed (probes, down times) run */
    }
    /* everything answered again: a plugin that marks upstreams down must not stay stuck */
    for (unsigned i = 0; i < 8; i++) {
        uint8_t key[MCC_KEY_LEN];
        mcc_fetch_request rq;
        mcc_fetch_plan plan;
        kit_key(k, key);
        up_request(k, &up_samples[0], key, &rq);
        up_plan_init(&plan);
        int rc = up_ops(k)->plan(k->state, &rq, 0, &plan);
        KIT_CHECK(c, rc == MCC_OK || rc == MCC_DECLINED, "plan answered %d", rc);
        if (rc == MCC_OK)
            up_ops(k)->outcome(k->state, &plan, MCC_FETCH_DONE, 200);
    }
    if (declined > 0)
        kit_note(c, "declined %u plans after failures were reported", declined);
done:
    return;
}

void kit_upstream_run(kit *k)
{
    const mcc_upstream_ops *o = up_ops(k);
    if (o->size < offsetof(mcc_upstream_ops, plan) + sizeof(o->plan) || o->plan == NULL) {
        printf("FAIL upstream.plan_fills_url: the ops table has no plan\n");
        k->failed++;
        return;
    }
    kit_run_case(k, "upstream.plan_fills_url", up_plan_fills);
    kit_run_case(k, "upstream.decline_accept_order", up_order);
    kit_run_case(k, "upstream.outcome_values", up_outcomes);
}
