/* Unit tests of daemon/http/range.c: Range header parsing and Content-Range formatting. */
#include <stdint.h>
#include <string.h>

#include "cunit_main.h"
#include "http/range.h"

typedef struct range_case {
    const char *value;
    uint64_t total;
    mcc_range_kind kind;
    uint64_t first, last;
    unsigned count;
} range_case;

static const range_case range_cases[] = {
    /* no header, other units, invalid syntax: ignored, the whole is sent */
    {NULL, 100, MCC_RANGE_FULL, 0, 0, 0},
    {"", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"items=0-5", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes= , ,", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=-", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=a-b", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=5", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=5-3", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=0-1x", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=--5", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=+1-2", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytes=0-1,5-3", 100, MCC_RANGE_FULL, 0, 0, 0}, /* one bad spec spoils the set */
    {"bytes=0-1;2-3", 100, MCC_RANGE_FULL, 0, 0, 0},
    {"bytesx=0-1", 100, MCC_RANGE_FULL, 0, 0, 0},
    /* single ranges */
    {"bytes=0-0", 100, MCC_RANGE_SINGLE, 0, 0, 1},
    {"bytes=0-99", 100, MCC_RANGE_SINGLE, 0, 99, 1},
    {"bytes=10-19", 100, MCC_RANGE_SINGLE, 10, 19, 1},
    {"bytes=10-", 100, MCC_RANGE_SINGLE, 10, 99, 1},
    {"bytes=99-", 100, MCC_RANGE_SINGLE, 99, 99, 1},
    {"bytes=50-1000", 100, MCC_RANGE_SINGLE, 50, 99, 1}, /* last clipped */
    {"bytes=-10", 100, MCC_RANGE_SINGLE, 90, 99, 1},
    {"bytes=-100", 100, MCC_RANGE_SINGLE, 0, 99, 1},
    {"bytes=-1000", 100, MCC_RANGE_SINGLE, 0, 99, 1}, /* suffix bigger than the whole */
    {"bytes=007-008", 100, MCC_RANGE_SINGLE, 7, 8, 1},
    /* whitespace and case */
    {"  bytes = 10 - 19  ", 100, MCC_RANGE_SINGLE, 10, 19, 1},
    {"Bytes=10-19", 100, MCC_RANGE_SINGLE, 10, 19, 1},
    {"BYTES=\t- 5", 100, MCC_RANGE_SINGLE, 95, 99, 1},
    {"bytes=,10-19,", 100, MCC_RANGE_SINGLE, 10, 19, 1}, /* empty list elements */
    /* unsatisfiable */
    {"bytes=100-", 100, MCC_RANGE_UNSATISFIABLE, 0, 0, 0},
    {"bytes=100-200", 100, MCC_RANGE_UNSATISFIABLE, 0, 0, 0},
    {"bytes=-0", 100, MCC_RANGE_UNSATISFIABLE, 0, 0, 0},
    {"bytes=0-", 0, MCC_RANGE_UNSATISFIABLE, 0, 0, 0},
    {"bytes=-0,200-300", 100, MCC_RANGE_UNSATISFIABLE, 0, 0, 0},
    {"bytes=-5", 0, MCC_RANGE_FULL, 0, 0, 0}, /* empty representation: a 200 without body */
    /* numbers beyond 64 bits: valid, larger than any length */
    {"bytes=0-99999999999999999999999999", 100, MCC_RANGE_SINGLE, 0, 99, 1},
    {"bytes=99999999999999999999999999-", 100, MCC_RANGE_UNSATISFIABLE, 0, 0, 0},
    {"bytes=-99999999999999999999999999", 100, MCC_RANGE_SINGLE, 0, 99, 1},
    {"bytes=18446744073709551615-18446744073709551615", UINT64_MAX, MCC_RANGE_UNSATISFIABLE, 0, 0,
     0},
    {"bytes=18446744073709551614-", UINT64_MAX, MCC_RANGE_SINGLE, UINT64_MAX - 1, UINT64_MAX - 1,
     1},
    {"bytes=99999999999999999999999998-99999999999999999999999999", 100, MCC_RANGE_UNSATISFIABLE, 0,
     0, 0},
    {"bytes=99999999999999999999999999-99999999999999999999999998", 100, MCC_RANGE_FULL, 0, 0,
     0}, /* both saturate, yet last < first is still seen */
    {"bytes=99999999999999999999999999-5", 100, MCC_RANGE_FULL, 0, 0, 0},
    /* several ranges */
    {"bytes=0-1,5-6", 100, MCC_RANGE_MULTI, 0, 6, 2},
    {"bytes=0-10,5-20,-5", 100, MCC_RANGE_MULTI, 0, 99, 3},
    {"bytes=0-5,1000-2000", 100, MCC_RANGE_SINGLE, 0, 5, 1}, /* one satisfiable part */
    {"bytes=50-60, 10-20", 100, MCC_RANGE_MULTI, 10, 60, 2},
};

static void test_range_table(void)
{
    for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
        const range_case *c = &range_cases[i];
        mcc_range r;
        mcc_range_kind k = mcc_range_parse(c->value, c->total, &r);
        int ok = k == c->kind && r.kind == c->kind && r.first == c->first && r.last == c->last &&
                 r.count == c->count;
        if (!ok)
            fprintf(stderr, "\ncase %zu \"%s\" total %llu: kind %d first %llu last %llu count %u\n",
                    i, c->value ? c->value : "(null)", (unsigned long long)c->total, (int)k,
                    (unsigned long long)r.first, (unsigned long long)r.last, r.count);
        CU_ASSERT(ok);
    }
}

static void test_range_many(void)
{
    char value[8192];
    size_t o = 0;
    mcc_range r;

    o += (size_t)snprintf(value, sizeof(value), "bytes=");
    for (int i = 0; i < 500 && o + 16 < sizeof(value); i++)
        o += (size_t)snprintf(value + o, sizeof(value) - o, "%d-%d,", i * 2, i * 2);
    CU_ASSERT_EQUAL(mcc_range_parse(value, 10000, &r), MCC_RANGE_MULTI);
    CU_ASSERT_EQUAL(r.count, 500);
    CU_ASSERT_EQUAL(r.first, 0);
    CU_ASSERT_EQUAL(r.last, 998);
}

static void test_range_content_range(void)
{
    char buf[MCC_RANGE_CONTENT_RANGE_MAX];

    CU_ASSERT_EQUAL(mcc_range_content_range(buf, sizeof(buf), 0, 99, 100), 14);
    CU_ASSERT_STRING_EQUAL(buf, "bytes 0-99/100");
    CU_ASSERT_EQUAL(
        mcc_range_content_range(buf, sizeof(buf), UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX),
        (int)strlen("bytes 18446744073709551614-18446744073709551614/"
                    "18446744073709551615"));
    CU_ASSERT_STRING_EQUAL(buf, "bytes 18446744073709551614-18446744073709551614/"
                                "18446744073709551615");
    CU_ASSERT_EQUAL(mcc_range_content_range(buf, sizeof(buf), 5, 4, 100), -1);
    CU_ASSERT_EQUAL(mcc_range_content_range(buf, sizeof(buf), 0, 100, 100), -1);
    CU_ASSERT_EQUAL(mcc_range_content_range(buf, 10, 0, 99, 100), -1); /* does not fit */

    CU_ASSERT_EQUAL(mcc_range_content_range_unsatisfied(buf, sizeof(buf), 12345), 13);
    CU_ASSERT_STRING_EQUAL(buf, "bytes */12345");
    CU_ASSERT_EQUAL(mcc_range_content_range_unsatisfied(buf, 5, 12345), -1);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"parse table", test_range_table},
        {"many ranges", test_range_many},
        {"content-range", test_range_content_range},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("range", tests);
}
