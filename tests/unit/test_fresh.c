/* Unit tests of daemon/cache/fresh.c: Cache-Control parsing, HTTP dates, freshness lifetime
 * (RFC 9111 4.2.1, 4.2.2) and age (4.2.3) with exact numbers. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cache/fresh.h"
#include "cunit_main.h"

static mcc_cc parsed(const char *value)
{
    mcc_cc cc;
    mcc_cc_init(&cc);
    mcc_cc_parse(value, &cc);
    return cc;
}

static void test_cc_init(void)
{
    mcc_cc cc;
    memset(&cc, 0x5a, sizeof(cc));
    mcc_cc_init(&cc);
    CU_ASSERT_EQUAL(cc.present, 0);
    CU_ASSERT_EQUAL(cc.no_store, 0);
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
    CU_ASSERT_EQUAL(cc.s_maxage, MCC_CC_ABSENT);
    CU_ASSERT_EQUAL(cc.max_stale, MCC_CC_ABSENT);
    CU_ASSERT_EQUAL(cc.min_fresh, MCC_CC_ABSENT);
    mcc_cc_parse(NULL, &cc);
    CU_ASSERT_EQUAL(cc.present, 0);
}

static void test_cc_simple(void)
{
    mcc_cc cc = parsed("max-age=60");
    CU_ASSERT_EQUAL(cc.present, 1);
    CU_ASSERT_EQUAL(cc.max_age, 60);
    CU_ASSERT_EQUAL(cc.s_maxage, MCC_CC_ABSENT);
    CU_ASSERT_EQUAL(cc.no_cache, 0);

    cc = parsed("no-store, no-cache, private, public, must-revalidate, proxy-revalidate, "
                "immutable, only-if-cached");
    CU_ASSERT_EQUAL(cc.no_store, 1);
    CU_ASSERT_EQUAL(cc.no_cache, 1);
    CU_ASSERT_EQUAL(cc.priv, 1);
    CU_ASSERT_EQUAL(cc.pub, 1);
    CU_ASSERT_EQUAL(cc.must_revalidate, 1);
    CU_ASSERT_EQUAL(cc.proxy_revalidate, 1);
    CU_ASSERT_EQUAL(cc.immutable, 1);
    CU_ASSERT_EQUAL(cc.only_if_cached, 1);
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);

    cc = parsed("s-maxage=0");
    CU_ASSERT_EQUAL(cc.s_maxage, 0); /* zero is a value, not absence */
    cc = parsed("min-fresh=12, max-stale=34");
    CU_ASSERT_EQUAL(cc.min_fresh, 12);
    CU_ASSERT_EQUAL(cc.max_stale, 34);
    cc = parsed("max-stale");
    CU_ASSERT_EQUAL(cc.max_stale, INT64_MAX);
}

static void test_cc_spacing_case(void)
{
    mcc_cc cc = parsed("  MAX-AGE=5 ,\tNo-Cache\t,,  ,Public  ");
    CU_ASSERT_EQUAL(cc.max_age, 5);
    CU_ASSERT_EQUAL(cc.no_cache, 1);
    CU_ASSERT_EQUAL(cc.pub, 1);
    cc = parsed("max-age = 30 , must-revalidate");
    CU_ASSERT_EQUAL(cc.max_age, 30);
    CU_ASSERT_EQUAL(cc.must_revalidate, 1);
    cc = parsed(",,,");
    CU_ASSERT_EQUAL(cc.present, 1);
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
    cc = parsed("");
    CU_ASSERT_EQUAL(cc.present, 1);
    CU_ASSERT_EQUAL(cc.no_store, 0);
}

static void test_cc_quotes(void)
{
    mcc_cc cc = parsed("max-age=\"120\"");
    CU_ASSERT_EQUAL(cc.max_age, 120);
    /* a quoted list of field names holds commas: they do not end the directive */
    cc = parsed("no-cache=\"Set-Cookie, max-age=1\", max-age=7");
    CU_ASSERT_EQUAL(cc.no_cache, 1);
    CU_ASSERT_EQUAL(cc.max_age, 7);
    cc = parsed("private=\"Authorization\",s-maxage=9");
    CU_ASSERT_EQUAL(cc.priv, 1);
    CU_ASSERT_EQUAL(cc.s_maxage, 9);
    cc = parsed("max-age=\"\"");
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
}

static void test_cc_unknown_and_bad(void)
{
    mcc_cc cc = parsed("foo, bar=baz, ext=\"a, b, no-store\", max-age=3, stale-while-revalidate=9");
    CU_ASSERT_EQUAL(cc.max_age, 3);
    CU_ASSERT_EQUAL(cc.no_store, 0);
    cc = parsed("no-cachex, xno-store, max-ages=4, public-ish");
    CU_ASSERT_EQUAL(cc.no_cache, 0);
    CU_ASSERT_EQUAL(cc.no_store, 0);
    CU_ASSERT_EQUAL(cc.pub, 0);
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
    cc = parsed("max-age=abc");
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
    cc = parsed("max-age=5x");
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
    cc = parsed("max-age=-5");
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
    cc = parsed("max-age=");
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
    cc = parsed("max-age");
    CU_ASSERT_EQUAL(cc.max_age, MCC_CC_ABSENT);
    /* too large is "very large" (RFC 9111 1.2.2): 2^31 */
    cc = parsed("max-age=99999999999999999999999");
    CU_ASSERT_EQUAL(cc.max_age, 2147483648LL);
    cc = parsed("max-age=2147483647");
    CU_ASSERT_EQUAL(cc.max_age, 2147483647LL);
}

static void test_cc_accumulates(void)
{
    mcc_cc cc;
    mcc_cc_init(&cc);
    mcc_cc_parse("no-store", &cc);
    mcc_cc_parse("max-age=4", &cc);
    CU_ASSERT_EQUAL(cc.no_store, 1);
    CU_ASSERT_EQUAL(cc.max_age, 4);
}

static void test_http_date(void)
{
    /* the three forms of RFC 9110 5.6.7 */
    CU_ASSERT_EQUAL(mcc_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    CU_ASSERT_EQUAL(mcc_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    CU_ASSERT_EQUAL(mcc_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
    CU_ASSERT_EQUAL(mcc_http_date(NULL), -1);
    CU_ASSERT_EQUAL(mcc_http_date(""), -1);
    CU_ASSERT_EQUAL(mcc_http_date("0"), -1);
    CU_ASSERT_EQUAL(mcc_http_date("not a date"), -1);
    char buf[40];
    mcc_http_date_format(784111777, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    mcc_http_date_format(0, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_status_heuristic(void)
{
    static const int yes[] = {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501};
    static const int no[] = {201, 302, 303, 307, 400, 403, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        CU_ASSERT_EQUAL(mcc_fresh_status_heuristic(yes[i]), 1);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        CU_ASSERT_EQUAL(mcc_fresh_status_heuristic(no[i]), 0);
}

#define T0 1700000000LL /* a Date; Tue, 14 Nov 2023 22:13:20 GMT */

static mcc_meta meta_new(const char *cc, const char *expires, const char *last_modified)
{
    mcc_meta m;
    memset(&m, 0, sizeof(m));
    m.status = 200;
    snprintf(m.cache_control, sizeof(m.cache_control), "%s", cc != NULL ? cc : "");
    snprintf(m.expires, sizeof(m.expires), "%s", expires != NULL ? expires : "");
    snprintf(m.last_modified, sizeof(m.last_modified), "%s",
             last_modified != NULL ? last_modified : "");
    m.date = T0;
    m.request_time = T0;
    m.response_time = T0;
    return m;
}

static void date_text(int64_t t, char *buf, unsigned size)
{
    mcc_http_date_format(t, buf, size);
}

static void test_lifetime_precedence(void)
{
    char exp[40];
    date_text(T0 + 500, exp, sizeof(exp));
    int explicit_ = -1;

    mcc_meta m = meta_new("max-age=100, s-maxage=7", exp, NULL);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 7); /* shared cache */
    CU_ASSERT_EQUAL(explicit_, 1);
    m = meta_new("s-maxage=0, max-age=100", NULL, NULL);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 0);
    CU_ASSERT_EQUAL(explicit_, 1);
    m = meta_new("max-age=100", exp, NULL);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 100); /* over Expires */
    m = meta_new("public", exp, NULL);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 500); /* Expires - Date */
    CU_ASSERT_EQUAL(explicit_, 1);
    m = meta_new(NULL, "0", NULL);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 0); /* invalid: expired */
    CU_ASSERT_EQUAL(explicit_, 1);
    date_text(T0 - 10, exp, sizeof(exp));
    m = meta_new(NULL, exp, NULL);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 0); /* Expires before Date */
    /* no Date: the response time stands in for it */
    date_text(T0 + 90, exp, sizeof(exp));
    m = meta_new(NULL, exp, NULL);
    m.date = 0;
    m.response_time = T0 + 30;
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 60);
}

static void test_lifetime_heuristic(void)
{
    char lm[40];
    int explicit_ = -1;
    date_text(T0 - 50000, lm, sizeof(lm));

    mcc_meta m = meta_new(NULL, NULL, lm);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 5000); /* a tenth */
    CU_ASSERT_EQUAL(explicit_, 0);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 3600, &explicit_), 3600); /* capped */
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 0, &explicit_), 0);
    /* Cache-Control without a lifetime leaves the heuristic */
    m = meta_new("public", NULL, lm);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 5000);
    CU_ASSERT_EQUAL(explicit_, 0);
    /* an explicit lifetime wins */
    m = meta_new("max-age=3", NULL, lm);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 3);
    CU_ASSERT_EQUAL(explicit_, 1);
    /* a status that is not heuristically cacheable */
    m = meta_new(NULL, NULL, lm);
    m.status = 302;
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 0);
    m.status = 404;
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 5000);
    /* Last-Modified after Date, or none */
    date_text(T0 + 100, lm, sizeof(lm));
    m = meta_new(NULL, NULL, lm);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 0);
    m = meta_new(NULL, NULL, NULL);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 0);
    CU_ASSERT_EQUAL(explicit_, 0);
    m = meta_new(NULL, NULL, "garbage");
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 0);
    /* 9 s since Last-Modified: a tenth rounds down to 0 */
    date_text(T0 - 9, lm, sizeof(lm));
    m = meta_new(NULL, NULL, lm);
    CU_ASSERT_EQUAL(mcc_fresh_lifetime(&m, 86400, &explicit_), 0);
}

static void test_age(void)
{
    mcc_meta m = meta_new("max-age=60", NULL, NULL);
    /* nothing in transit, no Age: the age is the time stored */
    CU_ASSERT_EQUAL(mcc_fresh_age(&m, T0), 0);
    CU_ASSERT_EQUAL(mcc_fresh_age(&m, T0 + 17), 17);
    /* Age 5, request sent at T0, answer at T0 + 2, Date T0: apparent 2, corrected 5 + 2 = 7 */
    m.request_time = T0;
    m.response_time = T0 + 2;
    m.age_value = 5;
    CU_ASSERT_EQUAL(mcc_fresh_age(&m, T0 + 2), 7);
    CU_ASSERT_EQUAL(mcc_fresh_age(&m, T0 + 10), 15);
    /* a Date long before the response: apparent age (100) beats corrected age (5) */
    m.date = T0 - 100;
    m.request_time = m.response_time = T0;
    CU_ASSERT_EQUAL(mcc_fresh_age(&m, T0 + 1), 101);
    /* a Date in the future (the origin's clock is ahead): apparent age 0 */
    m.date = T0 + 50;
    m.age_value = 0;
    CU_ASSERT_EQUAL(mcc_fresh_age(&m, T0 + 3), 3);
    /* no Date at all */
    m.date = 0;
    m.age_value = 9;
    CU_ASSERT_EQUAL(mcc_fresh_age(&m, T0 + 1), 10);
    /* a clock that went back: never a negative resident time */
    CU_ASSERT_EQUAL(mcc_fresh_age(&m, T0 - 30), 9);
    /* max-age=10 with Age 9: fresh for one second */
    m = meta_new("max-age=10", NULL, NULL);
    m.age_value = 9;
    int explicit_;
    int64_t life = mcc_fresh_lifetime(&m, 86400, &explicit_);
    CU_ASSERT_EQUAL(life - mcc_fresh_age(&m, T0), 1);
    CU_ASSERT_EQUAL(life - mcc_fresh_age(&m, T0 + 1), 0);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"init", test_cc_init},
        {"directives", test_cc_simple},
        {"spacing and case", test_cc_spacing_case},
        {"quoted values", test_cc_quotes},
        {"unknown and malformed directives", test_cc_unknown_and_bad},
        {"several values accumulate", test_cc_accumulates},
        {"HTTP dates", test_http_date},
        {"heuristically cacheable statuses", test_status_heuristic},
        {"lifetime precedence", test_lifetime_precedence},
        {"heuristic lifetime", test_lifetime_heuristic},
        {"age arithmetic", test_age},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("fresh", tests);
}
