/* Unit tests of daemon/http/addr.c: finding the origin of a request in each addressing form,
 * path checks, and the evhttp request and header helpers. */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/http_struct.h>

#include "cunit_main.h"
#include "http/addr.h"

/* the cacheable hosts of these tests: deb.debian.org on any port, repo.test on 8080 only */
static int addr_test_cacheable(void *arg, const char *host, unsigned port)
{
    int *calls = arg;
    if (calls != NULL)
        (*calls)++;
    if (strcmp(host, "deb.debian.org") == 0)
        return 1;
    return strcmp(host, "repo.test") == 0 && port == 8080;
}

typedef struct addr_case {
    const char *target, *host_header;
    int rc;
    mcc_addr_form form;
    const char *host;
    unsigned port;
    const char *path, *query, *query_parent;
} addr_case;

/* a target refused (MCC_ERROR) or naming no origin (MCC_NOTFOUND) */
#define ADDR_FAILS(target, host_header, rc)                                                        \
    {                                                                                              \
        target, host_header, rc, MCC_ADDR_NONE, "", 0, NULL, NULL, NULL                            \
    }

static const addr_case addr_cases[] = {
    /* (a) Delivery Optimization: cacheHostOrigin wins and is stripped for a CDN */
    {"/westus2/inst/0f3c/image.swu?cacheHostOrigin=Inst--Acct.b.nlu.dl.adu.microsoft.com",
     "gateway", MCC_OK, MCC_ADDR_QUERY, "inst--acct.b.nlu.dl.adu.microsoft.com", 0,
     "/westus2/inst/0f3c/image.swu", NULL, "cacheHostOrigin=Inst--Acct.b.nlu.dl.adu.microsoft.com"},
    {"/mscomtest/wuidt.gif?cacheHostOrigin=au.download.windowsupdate.com", NULL, MCC_OK,
     MCC_ADDR_QUERY, "au.download.windowsupdate.com", 0, "/mscomtest/wuidt.gif", NULL,
     "cacheHostOrigin=au.download.windowsupdate.com"},
    {"/f?a=1&cacheHostOrigin=h.example&b=%2B", "gateway", MCC_OK, MCC_ADDR_QUERY, "h.example", 0,
     "/f", "a=1&b=%2B", "a=1&cacheHostOrigin=h.example&b=%2B"},
    {"/f?CACHEHOSTORIGIN=h%2Eexample.", NULL, MCC_OK, MCC_ADDR_QUERY, "h.example", 0, "/f", NULL,
     "CACHEHOSTORIGIN=h%2Eexample."},
    {"/f?cacheHostOrigin=h.example:8080", NULL, MCC_OK, MCC_ADDR_QUERY, "h.example", 8080, "/f",
     NULL, "cacheHostOrigin=h.example:8080"},
    {"/f?cacheHostOrigin=%5B2001:DB8::1%5D", NULL, MCC_OK, MCC_ADDR_QUERY, "2001:db8::1", 0, "/f",
     NULL, "cacheHostOrigin=%5B2001:DB8::1%5D"},
    {"//evil.test/x?cacheHostOrigin=h.example", NULL, MCC_OK, MCC_ADDR_QUERY, "h.example", 0,
     "//evil.test/x", NULL, "cacheHostOrigin=h.example"},
    ADDR_FAILS("/f?cacheHostOrigin=", NULL, MCC_ERROR),
    ADDR_FAILS("/f?cacheHostOrigin", NULL, MCC_ERROR),
    ADDR_FAILS("/f?cacheHostOrigin=h/x", NULL, MCC_ERROR),
    ADDR_FAILS("/f?cacheHostOrigin=h%00x", NULL, MCC_ERROR),
    ADDR_FAILS("/f?cacheHostOrigin=h:0", NULL, MCC_ERROR),
    ADDR_FAILS("/f?cacheHostOrigin=a..b", NULL, MCC_ERROR),
    /* (b) absolute form */
    {"http://Origin.Test:8080/p/q.deb", "gateway", MCC_OK, MCC_ADDR_ABSOLUTE, "origin.test", 8080,
     "/p/q.deb", NULL, "cacheHostOrigin=origin.test:8080"},
    {"HTTP://origin.test/p?x=1", NULL, MCC_OK, MCC_ADDR_ABSOLUTE, "origin.test", 0, "/p", "x=1",
     "x=1&cacheHostOrigin=origin.test"},
    {"http://origin.test:80", NULL, MCC_OK, MCC_ADDR_ABSOLUTE, "origin.test", 80, "/", NULL,
     "cacheHostOrigin=origin.test"},
    {"http://[::1]:81/x", NULL, MCC_OK, MCC_ADDR_ABSOLUTE, "::1", 81, "/x", NULL,
     "cacheHostOrigin=%5B::1%5D:81"},
    {"http://origin.test/a/b?cacheHostOrigin=cdn.example", NULL, MCC_OK, MCC_ADDR_QUERY,
     "cdn.example", 0, "/a/b", NULL, "cacheHostOrigin=cdn.example"},
    {"http://origin.test/x#frag", NULL, MCC_OK, MCC_ADDR_ABSOLUTE, "origin.test", 0, "/x", NULL,
     "cacheHostOrigin=origin.test"},
    ADDR_FAILS("http://user@origin.test/x", NULL, MCC_ERROR),
    ADDR_FAILS("http://user:pw@origin.test/x", NULL, MCC_ERROR),
    ADDR_FAILS("https://origin.test/x", NULL, MCC_ERROR),
    ADDR_FAILS("ftp://origin.test/x", NULL, MCC_ERROR),
    ADDR_FAILS("http://origin.test:0/x", NULL, MCC_ERROR),
    ADDR_FAILS("http://origin.test:65536/x", NULL, MCC_ERROR),
    ADDR_FAILS("http://origin.test:8a/x", NULL, MCC_ERROR),
    {"http://orig_in.test/x", NULL, MCC_OK, MCC_ADDR_ABSOLUTE, "orig_in.test", 0, "/x", NULL,
     "cacheHostOrigin=orig_in.test"},
    ADDR_FAILS("http://orig%41in.test/x", NULL, MCC_ERROR),
    ADDR_FAILS("http://orig!in.test/x", NULL, MCC_ERROR),
    ADDR_FAILS("http:///x", NULL, MCC_ERROR),
    ADDR_FAILS("*", NULL, MCC_ERROR),
    ADDR_FAILS("origin.test:80", NULL, MCC_ERROR),
    ADDR_FAILS("", NULL, MCC_ERROR),
    /* (c) path prefix naming a cacheable host */
    {"/deb.debian.org/debian/dists/bookworm/InRelease", "gateway", MCC_OK, MCC_ADDR_PREFIX,
     "deb.debian.org", 0, "/debian/dists/bookworm/InRelease", NULL,
     "cacheHostOrigin=deb.debian.org"},
    {"/DEB.Debian.org/", NULL, MCC_OK, MCC_ADDR_PREFIX, "deb.debian.org", 0, "/", NULL,
     "cacheHostOrigin=deb.debian.org"},
    {"/deb.debian.org", NULL, MCC_OK, MCC_ADDR_PREFIX, "deb.debian.org", 0, "/", NULL,
     "cacheHostOrigin=deb.debian.org"},
    {"/repo.test:8080/pool/a.deb?v=2", NULL, MCC_OK, MCC_ADDR_PREFIX, "repo.test", 8080,
     "/pool/a.deb", "v=2", "v=2&cacheHostOrigin=repo.test:8080"},
    {"/x/../deb.debian.org/a", NULL, MCC_OK, MCC_ADDR_PREFIX, "deb.debian.org", 0, "/a", NULL,
     "cacheHostOrigin=deb.debian.org"},
    ADDR_FAILS("/repo.test/pool/a.deb", NULL, MCC_NOTFOUND), /* repo.test only on 8080 */
    /* (d) Host header naming a cacheable host */
    {"/debian/pool/a.deb", "deb.debian.org", MCC_OK, MCC_ADDR_HOST, "deb.debian.org", 0,
     "/debian/pool/a.deb", NULL, "cacheHostOrigin=deb.debian.org"},
    {"/debian/pool/a.deb", "Deb.Debian.Org:80", MCC_OK, MCC_ADDR_HOST, "deb.debian.org", 80,
     "/debian/pool/a.deb", NULL, "cacheHostOrigin=deb.debian.org"},
    {"/pool/a.deb", "repo.test:8080", MCC_OK, MCC_ADDR_HOST, "repo.test", 8080, "/pool/a.deb", NULL,
     "cacheHostOrigin=repo.test:8080"},
    ADDR_FAILS("/pool/a.deb", "gateway", MCC_NOTFOUND),
    ADDR_FAILS("/pool/a.deb", "repo.test", MCC_NOTFOUND),
    ADDR_FAILS("/pool/a.deb", NULL, MCC_NOTFOUND),
    ADDR_FAILS("/pool/a.deb", "a b", MCC_ERROR),
    ADDR_FAILS("/pool/a.deb", "host:99999", MCC_ERROR),
    /* paths: dot segments resolved, climbing above the root refused */
    {"/a/./b/../c?cacheHostOrigin=h", NULL, MCC_OK, MCC_ADDR_QUERY, "h", 0, "/a/c", NULL,
     "cacheHostOrigin=h"},
    {"/a/%2e%2E/b?cacheHostOrigin=h", NULL, MCC_OK, MCC_ADDR_QUERY, "h", 0, "/b", NULL,
     "cacheHostOrigin=h"},
    {"/a/b/..?cacheHostOrigin=h", NULL, MCC_OK, MCC_ADDR_QUERY, "h", 0, "/a/", NULL,
     "cacheHostOrigin=h"},
    {"/a/.?cacheHostOrigin=h", NULL, MCC_OK, MCC_ADDR_QUERY, "h", 0, "/a/", NULL,
     "cacheHostOrigin=h"},
    {"/x/..?cacheHostOrigin=h", NULL, MCC_OK, MCC_ADDR_QUERY, "h", 0, "/", NULL,
     "cacheHostOrigin=h"},
    {"/a/..b/.c?cacheHostOrigin=h", NULL, MCC_OK, MCC_ADDR_QUERY, "h", 0, "/a/..b/.c", NULL,
     "cacheHostOrigin=h"},
    {"/a#frag?cacheHostOrigin=h", "deb.debian.org", MCC_OK, MCC_ADDR_HOST, "deb.debian.org", 0,
     "/a", NULL, "cacheHostOrigin=deb.debian.org"},
    ADDR_FAILS("/../x?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a/%2e%2e/%2E%2E/x?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a/..%2F..%2Fx?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a\\..\\..\\x?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("http://origin.test/../x", NULL, MCC_ERROR),
    ADDR_FAILS("/a%00b?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a%0D%0Ab?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a%0ab?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a b?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a\tb?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a%zz?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a%4?cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a?x=%zz&cacheHostOrigin=h", NULL, MCC_ERROR),
    ADDR_FAILS("/a?x=\x01&cacheHostOrigin=h", NULL, MCC_ERROR),
};

static int addr_str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void test_addr_table(void)
{
    for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
        const addr_case *c = &addr_cases[i];
        mcc_addr a;
        mcc_err err = {{0}};
        int rc = mcc_addr_parse(c->target, c->host_header, addr_test_cacheable, NULL, &a, &err);
        int ok = rc == c->rc;

        if (ok && rc == MCC_OK)
            ok = a.form == c->form && strcmp(a.host, c->host) == 0 && a.port == c->port &&
                 addr_str_eq(a.path, c->path) && addr_str_eq(a.query, c->query) &&
                 addr_str_eq(a.query_parent, c->query_parent);
        if (ok && rc != MCC_OK)
            ok = err.msg[0] != '\0' && a.path == NULL && a.query == NULL && a.query_parent == NULL;
        if (!ok)
            fprintf(stderr,
                    "\ncase %zu \"%s\": rc %d form %d host \"%s\" port %u path %s "
                    "query %s parent %s err \"%s\"\n",
                    i, c->target, rc, (int)a.form, a.host, a.port, a.path ? a.path : "NULL",
                    a.query ? a.query : "NULL", a.query_parent ? a.query_parent : "NULL", err.msg);
        CU_ASSERT(ok);
        mcc_addr_fini(&a);
    }
}

static void test_addr_callback_use(void)
{
    mcc_addr a;
    mcc_err err;
    int calls = 0;

    /* the query form does not need the host rules' opinion */
    CU_ASSERT_EQUAL(
        mcc_addr_parse("/x?cacheHostOrigin=h", "gateway", addr_test_cacheable, &calls, &a, &err),
        MCC_OK);
    CU_ASSERT_EQUAL(calls, 0);
    mcc_addr_fini(&a);
    /* prefix asked first (no), then the Host header (yes) */
    CU_ASSERT_EQUAL(
        mcc_addr_parse("/debian/x", "deb.debian.org", addr_test_cacheable, &calls, &a, &err),
        MCC_OK);
    CU_ASSERT_EQUAL(calls, 2);
    CU_ASSERT_EQUAL(a.form, MCC_ADDR_HOST);
    mcc_addr_fini(&a);
    /* without a callback, only the query and absolute forms can name an origin */
    CU_ASSERT_EQUAL(mcc_addr_parse("/deb.debian.org/x", "deb.debian.org", NULL, NULL, &a, &err),
                    MCC_NOTFOUND);
    CU_ASSERT_EQUAL(mcc_addr_parse("http://deb.debian.org/x", NULL, NULL, NULL, &a, &err), MCC_OK);
    CU_ASSERT_STRING_EQUAL(a.host, "deb.debian.org");
    mcc_addr_fini(&a);
    mcc_addr_fini(&a); /* twice is harmless */
}

static void test_addr_long_host(void)
{
    char target[600], label[64];
    mcc_addr a;
    mcc_err err;

    memset(label, 'a', 63);
    label[63] = '\0';
    /* 4 labels of 63 and 3 dots: 255 > 253 */
    snprintf(target, sizeof(target), "/x?cacheHostOrigin=%s.%s.%s.%s", label, label, label, label);
    CU_ASSERT_EQUAL(mcc_addr_parse(target, NULL, NULL, NULL, &a, &err), MCC_ERROR);
    /* 3 labels of 63 and one of 61: 253, the longest name */
    snprintf(target, sizeof(target), "/x?cacheHostOrigin=%s.%s.%s.%.61s", label, label, label,
             label);
    CU_ASSERT_EQUAL(mcc_addr_parse(target, NULL, NULL, NULL, &a, &err), MCC_OK);
    CU_ASSERT_EQUAL(strlen(a.host), 253);
    mcc_addr_fini(&a);
    /* a label of 64 */
    snprintf(target, sizeof(target), "/x?cacheHostOrigin=%sa.b", label);
    CU_ASSERT_EQUAL(mcc_addr_parse(target, NULL, NULL, NULL, &a, &err), MCC_ERROR);
}

static struct evhttp_request *addr_request(const char *uri)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    if (req != NULL)
        req->uri = strdup(uri); /* set as evhttp's parser would; freed by evhttp_request_free */
    return req;
}

static void test_addr_from_request(void)
{
    struct evhttp_request *req = addr_request("/debian/pool/a.deb");
    struct evkeyvalq *h;
    mcc_addr a;
    mcc_err err = {{0}};

    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    h = evhttp_request_get_input_headers(req);
    evhttp_add_header(h, "host", "deb.debian.org");
    CU_ASSERT_EQUAL(mcc_addr_from_request(req, addr_test_cacheable, NULL, &a, &err), MCC_OK);
    CU_ASSERT_EQUAL(a.form, MCC_ADDR_HOST);
    CU_ASSERT_STRING_EQUAL(a.host, "deb.debian.org");
    CU_ASSERT_STRING_EQUAL(a.path, "/debian/pool/a.deb");
    mcc_addr_fini(&a);
    /* two Host headers: malformed */
    evhttp_add_header(h, "Host", "evil.test");
    CU_ASSERT_EQUAL(mcc_addr_from_request(req, addr_test_cacheable, NULL, &a, &err), MCC_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "Host"));
    evhttp_request_free(req);

    req = addr_request("http://origin.test:8080/p/q.deb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    CU_ASSERT_EQUAL(mcc_addr_from_request(req, addr_test_cacheable, NULL, &a, &err), MCC_OK);
    CU_ASSERT_EQUAL(a.form, MCC_ADDR_ABSOLUTE);
    CU_ASSERT_EQUAL(a.port, 8080);
    mcc_addr_fini(&a);
    evhttp_request_free(req);
}

static void test_addr_header_last(void)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    struct evkeyvalq *h;

    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    h = evhttp_request_get_input_headers(req);
    CU_ASSERT_PTR_NULL(mcc_addr_header_last(h, "Range"));
    evhttp_add_header(h, "Range", "bytes=0-99");
    evhttp_add_header(h, "User-Agent", "Microsoft-Delivery-Optimization-Lite/10.0.0.1");
    CU_ASSERT_STRING_EQUAL(mcc_addr_header_last(h, "Range"), "bytes=0-99");
    evhttp_add_header(h, "range", "bytes=100-199");
    CU_ASSERT_STRING_EQUAL(mcc_addr_header_last(h, "Range"), "bytes=100-199");
    CU_ASSERT_STRING_EQUAL(mcc_addr_header_last(h, "RANGE"), "bytes=100-199");
    /* evhttp_find_header would give the first one */
    CU_ASSERT_STRING_EQUAL(evhttp_find_header(h, "Range"), "bytes=0-99");
    evhttp_request_free(req);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"forms and checks", test_addr_table},      {"cacheable callback", test_addr_callback_use},
        {"host name lengths", test_addr_long_host}, {"evhttp request", test_addr_from_request},
        {"last header", test_addr_header_last},     CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("addr", tests);
}
