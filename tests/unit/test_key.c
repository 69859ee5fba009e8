/* Unit tests of daemon/cache/key.c: key text normalisation and the SHA-256 digest. */
#include <stdint.h>
#include <string.h>

#include "cache/key.h"
#include "cunit_main.h"
#include "mcc/plugin.h"

/* The key text of (NS, PATH, QUERY), or "" on failure; BUF must be 512 bytes. */
static const char *key_text(const char *ns, const char *path, const char *query, char *buf)
{
    uint8_t k[MCC_CACHE_KEY_LEN];
    if (mcc_cache_key(ns, path, query, k, buf, 512) != MCC_OK)
        buf[0] = '\0';
    return buf;
}

/* 1 when both triples give the same digest */
static int key_same(const char *ns1, const char *p1, const char *q1, const char *ns2,
                    const char *p2, const char *q2)
{
    uint8_t a[MCC_CACHE_KEY_LEN], b[MCC_CACHE_KEY_LEN];
    CU_ASSERT_EQUAL_FATAL(mcc_cache_key(ns1, p1, q1, a, NULL, 0), MCC_OK);
    CU_ASSERT_EQUAL_FATAL(mcc_cache_key(ns2, p2, q2, b, NULL, 0), MCC_OK);
    return memcmp(a, b, sizeof(a)) == 0;
}

static void test_key_vector(void)
{
    uint8_t k[MCC_CACHE_KEY_LEN];
    char text[512], hex[MCC_CACHE_KEY_HEX_LEN];

    /* printf 'adu\n/westus2/inst/0f3c/image.swu' | sha256sum */
    CU_ASSERT_EQUAL(
        mcc_cache_key("adu", "/westus2/inst/0f3c/image.swu", NULL, k, text, sizeof(text)), MCC_OK);
    CU_ASSERT_STRING_EQUAL(text, "adu\n/westus2/inst/0f3c/image.swu");
    mcc_cache_key_hex(k, hex);
    CU_ASSERT_STRING_EQUAL(hex, "ab28b9049654f33d400158d12d9f978af23c0c2b2e062d5a559bb25e0c1dbd41");

    /* the cacheHostOrigin-only query adds nothing: same text, same digest */
    CU_ASSERT_TRUE(key_same("adu", "/westus2/inst/0f3c/image.swu", NULL, "adu",
                            "/westus2/inst/0f3c/image.swu",
                            "cacheHostOrigin=inst--acct.b.nlu.dl.adu.microsoft.com"));
}

static void test_key_hex(void)
{
    uint8_t k[MCC_CACHE_KEY_LEN], back[MCC_CACHE_KEY_LEN];
    char hex[MCC_CACHE_KEY_HEX_LEN];

    for (size_t i = 0; i < sizeof(k); i++)
        k[i] = (uint8_t)(i * 37 + 5);
    mcc_cache_key_hex(k, hex);
    CU_ASSERT_EQUAL(strlen(hex), 64);
    CU_ASSERT_EQUAL(strncmp(hex, "052a4f74", 8), 0);
    CU_ASSERT_EQUAL(mcc_cache_key_from_hex(hex, back), MCC_OK);
    CU_ASSERT_EQUAL(memcmp(k, back, sizeof(k)), 0);
    hex[0] = 'A'; /* upper case reads too */
    CU_ASSERT_EQUAL(mcc_cache_key_from_hex(hex, back), MCC_OK);
    CU_ASSERT_EQUAL(back[0], 0xa5);
    hex[10] = 'g';
    CU_ASSERT_EQUAL(mcc_cache_key_from_hex(hex, back), MCC_ERROR);
    CU_ASSERT_EQUAL(mcc_cache_key_from_hex("abcd", back), MCC_ERROR);
}

static void test_key_normalise(void)
{
    char b[512];

    /* escaped unreserved characters are decoded */
    CU_ASSERT_STRING_EQUAL(key_text("n", "/%41%7a%2D%2e%5F%7E%30", NULL, b), "n\n/Az-._~0");
    CU_ASSERT_TRUE(key_same("n", "/%41bc", NULL, "n", "/Abc", NULL));
    /* other escapes: upper-case hex */
    CU_ASSERT_STRING_EQUAL(key_text("n", "/a%2fb%c3%a9", NULL, b), "n\n/a%2Fb%C3%A9");
    CU_ASSERT_TRUE(key_same("n", "/a%2fb", NULL, "n", "/a%2Fb", NULL));
    CU_ASSERT_FALSE(key_same("n", "/a%2Fb", NULL, "n", "/a/b", NULL)); /* %2F is not '/' */
    /* '+' and %2B name one object, in the path and in the query */
    CU_ASSERT_STRING_EQUAL(key_text("n", "/c%2b%2B+", "q=a%2bb", b), "n\n/c+++?q=a+b");
    CU_ASSERT_TRUE(key_same("n", "/g++-12.deb", NULL, "n", "/g%2B%2B-12.deb", NULL));
    CU_ASSERT_TRUE(key_same("n", "/x", "v=1+2", "n", "/x", "v=1%2B2"));
    /* bytes not allowed raw get escaped like their escaped spelling */
    CU_ASSERT_STRING_EQUAL(key_text("n", "/a b|c\xc3\xa9", NULL, b), "n\n/a%20b%7Cc%C3%A9");
    CU_ASSERT_TRUE(key_same("n", "/a|b", NULL, "n", "/a%7cb", NULL));
    /* a bare '%' is taken as "%25" */
    CU_ASSERT_STRING_EQUAL(key_text("n", "/100%", "p=5%z", b), "n\n/100%25?p=5%25z");
    /* reserved characters stay as they are */
    CU_ASSERT_STRING_EQUAL(key_text("n", "/a:b@c!$&'()*,;=", NULL, b), "n\n/a:b@c!$&'()*,;=");
}

static void test_key_query(void)
{
    char b[512];

    /* cacheHostOrigin is left out wherever it stands, in any case; order kept */
    CU_ASSERT_STRING_EQUAL(key_text("n", "/f", "b=2&cacheHostOrigin=h.example&a=1", b),
                           "n\n/f?b=2&a=1");
    CU_ASSERT_STRING_EQUAL(key_text("n", "/f", "cachehostorigin=h&a=1", b), "n\n/f?a=1");
    CU_ASSERT_STRING_EQUAL(key_text("n", "/f", "a=1&cacheHostOrigin", b), "n\n/f?a=1");
    CU_ASSERT_STRING_EQUAL(key_text("n", "/f", "cacheHostOriginX=1", b),
                           "n\n/f?cacheHostOriginX=1");
    CU_ASSERT_FALSE(key_same("n", "/f", "a=1&b=2", "n", "/f", "b=2&a=1"));
    /* empty parameters and an empty query carry nothing */
    CU_ASSERT_STRING_EQUAL(key_text("n", "/f", "&a=1&&b=2&", b), "n\n/f?a=1&b=2");
    CU_ASSERT_STRING_EQUAL(key_text("n", "/f", "", b), "n\n/f");
    CU_ASSERT_TRUE(key_same("n", "/f", "", "n", "/f", NULL));
    CU_ASSERT_FALSE(key_same("n", "/f", "a", "n", "/f", NULL));
    /* a '?' inside the path is not the start of a query */
    CU_ASSERT_TRUE(key_same("n", "/f?a", NULL, "n", "/f%3fa", NULL));
    CU_ASSERT_FALSE(key_same("n", "/f?a", NULL, "n", "/f", "a"));
    CU_ASSERT_STRING_EQUAL(key_text("n", "/f", "a?b#c", b), "n\n/f?a?b%23c");
}

static void test_key_namespace(void)
{
    uint8_t k[MCC_CACHE_KEY_LEN];
    char small[8];

    CU_ASSERT_FALSE(key_same("adu", "/a", NULL, "deb.debian.org", "/a", NULL));
    CU_ASSERT_FALSE(key_same("a", "/b", NULL, "a/b", "", NULL));
    CU_ASSERT_TRUE(key_same("ns", "/a", "x=1", "ns", "/a", "x=1"));
    /* a text buffer that is too small is an error, not a silent cut */
    CU_ASSERT_EQUAL(mcc_cache_key("ns", "/abcdef", NULL, k, small, sizeof(small)), MCC_ERROR);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"known SHA-256 vector", test_key_vector},  {"hex form", test_key_hex},
        {"path normalisation", test_key_normalise}, {"query", test_key_query},
        {"namespaces", test_key_namespace},         CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("key", tests);
}
