/* Unit tests of the hosts plugin (plugins/hosts), loaded as a real shared object by the real
 * loader: built-in hosts, custom hosts with and without port, wildcards, namespaces, freshness,
 * connect_to, and refused configurations. */
#include <stdio.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"

typedef struct hosts_fixture {
    mcc_harness *h;
    mcc_plugin_ref ref;
    const mcc_hosts_ops *ops;
} hosts_fixture;

/* Loads hosts.so as instance NAME with CONFIG; 0 on success. */
static int hosts_load(hosts_fixture *f, const char *name, const char *config)
{
    mcc_err err = {{0}};

    memset(f, 0, sizeof(*f));
    f->h = mcc_harness_new();
    if (f->h == NULL)
        return -1;
    if (mcc_harness_load(f->h, "hosts", name, config, &f->ref, &err) != MCC_OK) {
        fprintf(stderr, "\nhosts load: %s\n", err.msg);
        return -1;
    }
    f->ops = f->ref.ops;
    return 0;
}

/* The loader's message for a refused CONFIG, in MSG (empty when it was accepted). */
static void hosts_refused(const char *config, char *msg, size_t size)
{
    mcc_harness *h = mcc_harness_new();
    mcc_plugin_ref ref;
    mcc_err err = {{0}};

    msg[0] = '\0';
    if (h == NULL) {
        snprintf(msg, size, "no harness");
        return;
    }
    if (mcc_harness_load(h, "hosts", "bad", config, &ref, &err) != MCC_OK)
        snprintf(msg, size, "%s", err.msg);
    mcc_harness_free(h);
}

static int hosts_match(hosts_fixture *f, const char *host, unsigned port, const char *path,
                       mcc_host_rule *rule)
{
    memset(rule, 0, sizeof(*rule));
    return f->ops->match(f->ref.state, host, port, path, rule);
}

static void test_hosts_builtin(void)
{
    hosts_fixture f;
    mcc_host_rule r;

    CU_ASSERT_EQUAL_FATAL(hosts_load(&f, "h_builtin", NULL), 0);
    CU_ASSERT_EQUAL(f.ref.desc->kind, MCC_KIND_HOSTS);
    CU_ASSERT_STRING_EQUAL(f.ref.desc->name, "hosts");

    /* Device Update content: one namespace for every regional name, immutable */
    CU_ASSERT_EQUAL(hosts_match(&f, "inst--acct.b.nlu.dl.adu.microsoft.com", 0,
                                "/westus2/inst/0f3c/image.swu", &r),
                    MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "adu");
    CU_ASSERT_EQUAL(r.port, 80);
    CU_ASSERT_STRING_EQUAL(r.connect_to, "");
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(hosts_match(&f, "other--x.b.tlu.dl.adu.microsoft.com", 80, "/a", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "adu");
    CU_ASSERT_EQUAL(hosts_match(&f, "x.dcsfe.prod.adu.microsoft.com", 0, "/a", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "adu");
    /* root key packages change in place */
    CU_ASSERT_EQUAL(hosts_match(&f, "inst--acct.b.nlu.dl.adu.microsoft.com", 0,
                                "/westus2/rootkeypackages/rootkeys_1.json", &r),
                    MCC_OK);
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_REVALIDATE);
    /* a wildcard needs a label in front of the suffix */
    CU_ASSERT_EQUAL(hosts_match(&f, "nlu.dl.adu.microsoft.com", 0, "/a", &r), MCC_DECLINED);
    CU_ASSERT_EQUAL(hosts_match(&f, "xnlu.dl.adu.microsoft.com", 0, "/a", &r), MCC_DECLINED);

    /* Windows Update / Delivery Optimization: namespace is the host itself */
    CU_ASSERT_EQUAL(hosts_match(&f, "au.download.windowsupdate.com", 0, "/mscomtest/wuidt.gif", &r),
                    MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "au.download.windowsupdate.com");
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(hosts_match(&f, "7.tlu.dl.delivery.mp.microsoft.com", 0,
                                "/filestreamingservice/files/abc", &r),
                    MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "7.tlu.dl.delivery.mp.microsoft.com");
    CU_ASSERT_EQUAL(hosts_match(&f, "dl.delivery.mp.microsoft.com", 80, "/f", &r), MCC_OK);
    CU_ASSERT_EQUAL(hosts_match(&f, "download.windowsupdate.com", 0, "/f", &r), MCC_OK);
    CU_ASSERT_EQUAL(hosts_match(&f, "x.au.download.windowsupdate.com", 0, "/f", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "x.au.download.windowsupdate.com");
    /* matching ignores case */
    CU_ASSERT_EQUAL(hosts_match(&f, "AU.Download.WindowsUpdate.COM", 0, "/f", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "au.download.windowsupdate.com");

    /* not an open proxy; built-ins are port 80 only */
    CU_ASSERT_EQUAL(hosts_match(&f, "example.com", 0, "/", &r), MCC_DECLINED);
    CU_ASSERT_EQUAL(hosts_match(&f, "windowsupdate.com", 0, "/", &r), MCC_DECLINED);
    CU_ASSERT_EQUAL(hosts_match(&f, "evil-download.windowsupdate.com.attacker.test", 0, "/", &r),
                    MCC_DECLINED);
    CU_ASSERT_EQUAL(hosts_match(&f, "au.download.windowsupdate.com", 8080, "/", &r), MCC_DECLINED);
    CU_ASSERT_EQUAL(hosts_match(&f, "", 0, "/", &r), MCC_DECLINED);
    mcc_harness_free(f.h);
}

static void test_hosts_builtin_off(void)
{
    hosts_fixture f;
    mcc_host_rule r;

    CU_ASSERT_EQUAL_FATAL(
        hosts_load(&f, "h_off", "{\"builtin\": false, \"custom\": [{\"host\": \"a.test\"}]}"), 0);
    CU_ASSERT_EQUAL(hosts_match(&f, "au.download.windowsupdate.com", 0, "/", &r), MCC_DECLINED);
    CU_ASSERT_EQUAL(hosts_match(&f, "a.test", 0, "/", &r), MCC_OK);
    mcc_harness_free(f.h);
}

static void test_hosts_custom(void)
{
    hosts_fixture f;
    mcc_host_rule r;
    static const char config[] =
        "{\"custom\": ["
        "{\"host\": \"Deb.Debian.org\"},"
        "{\"host\": \"ftp.de.debian.org\", \"canonical\": \"debian\", \"freshness\": "
        "\"revalidate\"},"
        "{\"host\": \"ftp.us.debian.org\", \"canonical\": \"debian\"},"
        "{\"host\": \"repo.test:8080\", \"connect_to\": \"127.0.0.1:18080\", "
        "\"freshness\": \"immutable\"},"
        "{\"host\": \"repo.test:8443\", \"canonical\": \"repo-b\"},"
        "{\"host\": \"*.cdn.test\"},"
        "{\"host\": \"*.mirror.test\", \"canonical\": \"mirror\"},"
        "{\"host\": \"au.download.windowsupdate.com\", \"canonical\": \"wu-au\", "
        "\"freshness\": \"standard\"},"
        "{\"host\": \"[2001:DB8:0::1]:81\"}"
        "]}";

    CU_ASSERT_EQUAL_FATAL(hosts_load(&f, "h_custom", config), 0);

    /* without port: matches port 0 and 80, contacts 80; namespace the host name */
    CU_ASSERT_EQUAL(hosts_match(&f, "deb.debian.org", 0, "/debian/pool/a.deb", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "deb.debian.org");
    CU_ASSERT_EQUAL(r.port, 80);
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_STANDARD);
    CU_ASSERT_EQUAL(hosts_match(&f, "deb.debian.org", 80, "/", &r), MCC_OK);
    CU_ASSERT_EQUAL(hosts_match(&f, "deb.debian.org", 8080, "/", &r), MCC_DECLINED);

    /* canonical shared by two hosts; freshness per host */
    CU_ASSERT_EQUAL(hosts_match(&f, "ftp.de.debian.org", 0, "/debian/dists/x/InRelease", &r),
                    MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "debian");
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(hosts_match(&f, "ftp.us.debian.org", 0, "/debian/pool/b.deb", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "debian");
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_STANDARD);
    /* custom rules know nothing of root key packages */
    CU_ASSERT_EQUAL(hosts_match(&f, "ftp.us.debian.org", 0, "/x/rootkeypackages/k", &r), MCC_OK);
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_STANDARD);

    /* with port: that port only; canonical defaults to the name without port; connect_to */
    CU_ASSERT_EQUAL(hosts_match(&f, "repo.test", 8080, "/pool/a.deb", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "repo.test");
    CU_ASSERT_EQUAL(r.port, 8080);
    CU_ASSERT_STRING_EQUAL(r.connect_to, "127.0.0.1:18080");
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(hosts_match(&f, "repo.test", 8443, "/", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "repo-b");
    CU_ASSERT_EQUAL(r.port, 8443);
    CU_ASSERT_STRING_EQUAL(r.connect_to, "");
    CU_ASSERT_EQUAL(hosts_match(&f, "repo.test", 80, "/", &r), MCC_DECLINED);
    /* a request naming no port (cacheHostOrigin) finds the first rule of that name */
    CU_ASSERT_EQUAL(hosts_match(&f, "repo.test", 0, "/", &r), MCC_OK);
    CU_ASSERT_EQUAL(r.port, 8080);

    /* wildcards: subdomains only; without canonical each host keeps its own namespace */
    CU_ASSERT_EQUAL(hosts_match(&f, "eu.cdn.test", 0, "/a", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "eu.cdn.test");
    CU_ASSERT_EQUAL(hosts_match(&f, "a.b.cdn.test", 80, "/a", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "a.b.cdn.test");
    CU_ASSERT_EQUAL(hosts_match(&f, "cdn.test", 0, "/a", &r), MCC_DECLINED);
    CU_ASSERT_EQUAL(hosts_match(&f, "eu.cdn.test", 81, "/a", &r), MCC_DECLINED);
    CU_ASSERT_EQUAL(hosts_match(&f, "x.mirror.test", 0, "/a", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "mirror");

    /* a custom rule overrides the built-in one for the same host */
    CU_ASSERT_EQUAL(hosts_match(&f, "au.download.windowsupdate.com", 0, "/f", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "wu-au");
    CU_ASSERT_EQUAL(r.freshness, MCC_FRESH_STANDARD);
    /* ... and the other built-ins stay */
    CU_ASSERT_EQUAL(hosts_match(&f, "x.b.nlu.dl.adu.microsoft.com", 0, "/a", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "adu");

    /* IPv6 literal, configured in another spelling of the same address */
    CU_ASSERT_EQUAL(hosts_match(&f, "2001:db8::1", 81, "/a", &r), MCC_OK);
    CU_ASSERT_STRING_EQUAL(r.ns, "2001:db8::1");
    CU_ASSERT_EQUAL(r.port, 81);
    CU_ASSERT_EQUAL(hosts_match(&f, "2001:db8::1", 0, "/a", &r), MCC_OK);
    CU_ASSERT_EQUAL(r.port, 81);
    mcc_harness_free(f.h);
}

static void test_hosts_refused(void)
{
    static const struct {
        const char *config;
        const char *expect; /* a piece of the message */
    } bad[] = {
        {"{\"builtin\": \"yes\"}", "builtin"},
        {"{\"custom\": {\"host\": \"a.test\"}}", "custom"},
        {"{\"custom\": [\"a.test\"]}", "custom[0]"},
        {"{\"custom\": [{}]}", "host"},
        {"{\"custom\": [{\"host\": \"\"}]}", "host"},
        {"{\"custom\": [{\"host\": \"a b.test\"}]}", "a b.test"},
        {"{\"custom\": [{\"host\": \"a..test\"}]}", "host"},
        {"{\"custom\": [{\"host\": \"a.test:0\"}]}", "65535"},
        {"{\"custom\": [{\"host\": \"a.test:65536\"}]}", "host"},
        {"{\"custom\": [{\"host\": \"a.test:\"}]}", "host"},
        {"{\"custom\": [{\"host\": \"http://a.test\"}]}", "host"},
        {"{\"custom\": [{\"host\": \"a.*.test\"}]}", "host"},
        {"{\"custom\": [{\"host\": 5}]}", "host"},
        {"{\"custom\": [{\"host\": \"a.test\", \"canonical\": \"\"}]}", "canonical"},
        {"{\"custom\": [{\"host\": \"a.test\", \"canonical\": \"a\\nb\"}]}", "canonical"},
        {"{\"custom\": [{\"host\": \"a.test\", \"connect_to\": \"10.0.0.1\"}]}", "connect_to"},
        {"{\"custom\": [{\"host\": \"a.test\", \"connect_to\": \"10.0.0.1:99999\"}]}",
         "connect_to"},
        {"{\"custom\": [{\"host\": \"a.test\", \"connect_to\": \"x y:80\"}]}", "connect_to"},
        {"{\"custom\": [{\"host\": \"a.test\", \"freshness\": \"forever\"}]}", "freshness"},
        {"{\"custom\": [{\"host\": \"a.test\"}, {\"host\": \"A.test:80\"}]}", "twice"},
        {"{\"custom\": [{\"host\": \"a.test\", \"cannonical\": \"x\"}]}", "cannonical"},
        {"{\"hosts\": []}", "hosts"},
    };
    char msg[600];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hosts_refused(bad[i].config, msg, sizeof(msg));
        int ok = msg[0] != '\0' && strstr(msg, bad[i].expect) != NULL;
        if (!ok)
            fprintf(stderr, "\nconfig %s: \"%s\" (wanted \"%s\")\n", bad[i].config, msg,
                    bad[i].expect);
        CU_ASSERT(ok);
    }
    /* and good ones next to them are accepted */
    hosts_refused("{\"custom\": [{\"host\": \"a.test\", \"connect_to\": \"[::1]:8080\"},"
                  "{\"host\": \"a.test:8080\"}, {\"host\": \"b.test.\"}]}",
                  msg, sizeof(msg));
    CU_ASSERT_STRING_EQUAL(msg, "");
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"built-in hosts", test_hosts_builtin},
        {"built-ins off", test_hosts_builtin_off},
        {"custom hosts", test_hosts_custom},
        {"bad config refused", test_hosts_refused},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("hosts", tests);
}
