/* Unit tests of the "pathrules" freshness policy, loaded as a real plugin through the harness:
 * glob patterns ('*' within a segment, '**' across segments, '?'), first match wins, the default
 * Debian rules, and configuration errors. */
#include <string.h>

#include "cunit_main.h"
#include "harness.h"

/* the rules conf.d/00-defaults.json ships */
static const char *const default_rules =
    "{\"rules\": ["
    "{\"match\": \"by-hash/**\", \"freshness\": \"immutable\"},"
    "{\"match\": \"pool/**\", \"freshness\": \"immutable\"},"
    "{\"match\": \"*.deb\", \"freshness\": \"immutable\"},"
    "{\"match\": \"*.udeb\", \"freshness\": \"immutable\"},"
    "{\"match\": \"InRelease\", \"freshness\": \"revalidate\"},"
    "{\"match\": \"Release\", \"freshness\": \"revalidate\"},"
    "{\"match\": \"Release.gpg\", \"freshness\": \"revalidate\"},"
    "{\"match\": \"Packages*\", \"freshness\": \"revalidate\"},"
    "{\"match\": \"Sources*\", \"freshness\": \"revalidate\"},"
    "{\"match\": \"Contents-*\", \"freshness\": \"revalidate\"},"
    "{\"match\": \"Translation-*\", \"freshness\": \"revalidate\"},"
    "{\"match\": \"Components-*\", \"freshness\": \"revalidate\"},"
    "{\"match\": \"rootkeypackages/**\", \"freshness\": \"revalidate\"}"
    "]}";

typedef struct pr_env {
    mcc_harness *h;
    mcc_plugin_ref ref;
    const mcc_policy_ops *ops;
} pr_env;

static int pr_open(pr_env *e, const char *config)
{
    mcc_err err = {{0}};
    memset(e, 0, sizeof(*e));
    e->h = mcc_harness_new();
    if (e->h == NULL)
        return -1;
    if (mcc_harness_load(e->h, "pathrules", "pathrules", config, &e->ref, &err) != MCC_OK) {
        fprintf(stderr, "load pathrules: %s\n", err.msg);
        mcc_harness_free(e->h);
        e->h = NULL;
        return -1;
    }
    e->ops = e->ref.ops;
    return 0;
}

static void pr_close(pr_env *e)
{
    mcc_harness_free(e->h);
}

static int cls(pr_env *e, const char *path)
{
    return e->ops->freshness(e->ref.state, "ns", "origin.test", path, MCC_FRESH_STANDARD);
}

static void test_descriptor(void)
{
    pr_env e;
    CU_ASSERT_FATAL(pr_open(&e, "{}") == 0);
    CU_ASSERT_EQUAL(e.ref.desc->kind, MCC_KIND_POLICY);
    CU_ASSERT_STRING_EQUAL(e.ref.desc->name, "pathrules");
    CU_ASSERT_EQUAL(e.ops->type, MCC_POLICY_FRESHNESS);
    CU_ASSERT_PTR_NOT_NULL(e.ops->freshness);
    /* no rules: every path keeps its host rule's class */
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/InRelease"), MCC_DECLINED);
    pr_close(&e);
}

static void test_default_rules(void)
{
    pr_env e;
    CU_ASSERT_FATAL(pr_open(&e, default_rules) == 0);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/InRelease"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "InRelease"), MCC_FRESH_REVALIDATE); /* "**" + "/" matching nothing */
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/Release"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/Release.gpg"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/main/binary-amd64/Packages"),
                    MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/main/binary-amd64/Packages.xz"),
                    MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/main/source/Sources.gz"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/main/Contents-amd64.gz"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/main/i18n/Translation-en"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb"),
                    MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/pool/main/h/hello/hello_2.10-3.dsc"), MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(cls(&e, "/x/installer.udeb"), MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(cls(&e, "/pool/a.deb"), MCC_FRESH_IMMUTABLE);
    /* by-hash comes first: an index by its hash never changes */
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/main/binary-amd64/by-hash/SHA256/0a1b"),
                    MCC_FRESH_IMMUTABLE);
    /* the query is not part of the path matched */
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/InRelease?cacheHostOrigin=x"),
                    MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/debian/pool/a.deb?x=InRelease"), MCC_FRESH_IMMUTABLE);
    /* anything else keeps its host rule's class */
    CU_ASSERT_EQUAL(cls(&e, "/filestreamingservice/files/abc"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/InRelease.bak"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/Release.gpg.old"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/a.debx"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, ""), MCC_DECLINED);
    pr_close(&e);
}

/* An unanchored pattern starts at a segment boundary, never inside a name. */
static void test_segment_boundaries(void)
{
    pr_env e;
    CU_ASSERT_FATAL(pr_open(&e, default_rules) == 0);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/NotInRelease"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/debian/dists/stable/MyRelease"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/mypool/data/file.bin"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/images/notby-hash/x.bin"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/fw/OldPackages"), MCC_DECLINED);
    pr_close(&e);
}

static void test_globs(void)
{
    pr_env e;
    CU_ASSERT_FATAL(pr_open(&e, "{\"rules\": ["
                                "{\"match\": \"/img/*.bin\", \"freshness\": \"immutable\"},"
                                "{\"match\": \"/v?/x\", \"freshness\": \"revalidate\"},"
                                "{\"match\": \"/a/**/b\", \"freshness\": \"standard\"},"
                                "{\"match\": \"/deep/**\", \"freshness\": \"revalidate\"},"
                                "{\"match\": \"meta/*.json\", \"freshness\": \"revalidate\"}"
                                "]}") == 0);
    /* '*' stays within one segment, and an anchored pattern starts at the path's start */
    CU_ASSERT_EQUAL(cls(&e, "/img/a.bin"), MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(cls(&e, "/img/.bin"), MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(cls(&e, "/img/sub/a.bin"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/x/img/a.bin"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/img/a.bin2"), MCC_DECLINED);
    /* '?' is one character, never '/' */
    CU_ASSERT_EQUAL(cls(&e, "/v1/x"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/v/x"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/v12/x"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "//x"), MCC_DECLINED);
    /* '**' spans zero or more whole segments */
    CU_ASSERT_EQUAL(cls(&e, "/a/b"), MCC_FRESH_STANDARD);
    CU_ASSERT_EQUAL(cls(&e, "/a/x/b"), MCC_FRESH_STANDARD);
    CU_ASSERT_EQUAL(cls(&e, "/a/x/y/z/b"), MCC_FRESH_STANDARD);
    CU_ASSERT_EQUAL(cls(&e, "/a/xb"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/a/b/c"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/deep/"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/deep/1/2/3"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/deeper/1"), MCC_DECLINED);
    /* unanchored: at any segment */
    CU_ASSERT_EQUAL(cls(&e, "/meta/a.json"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/x/y/meta/b.json"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "/x/meta/sub/b.json"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/x/metadata/b.json"), MCC_DECLINED);
    /* at the very start too: the '/' after "**" matches nothing there */
    CU_ASSERT_EQUAL(cls(&e, "meta/a.json"), MCC_FRESH_REVALIDATE);
    CU_ASSERT_EQUAL(cls(&e, "meta/a.jso"), MCC_DECLINED);
    CU_ASSERT_EQUAL(cls(&e, "/a/x/b/"), MCC_DECLINED);
    pr_close(&e);
}

static void test_first_match_wins(void)
{
    pr_env e;
    CU_ASSERT_FATAL(pr_open(&e, "{\"rules\": ["
                                "{\"match\": \"*.bin\", \"freshness\": \"immutable\"},"
                                "{\"match\": \"/img/**\", \"freshness\": \"revalidate\"}"
                                "]}") == 0);
    CU_ASSERT_EQUAL(cls(&e, "/img/a.bin"), MCC_FRESH_IMMUTABLE);
    CU_ASSERT_EQUAL(cls(&e, "/img/a.txt"), MCC_FRESH_REVALIDATE);
    pr_close(&e);
}

static void test_long_paths(void)
{
    pr_env e;
    CU_ASSERT_FATAL(pr_open(&e, default_rules) == 0);
    /* many segments that almost match: bounded work, the right answer */
    char path[2040];
    size_t n = 0;
    while (n + 6 < sizeof(path) - 20) {
        memcpy(path + n, "/poolx", 6);
        n += 6;
    }
    memcpy(path + n, "/InRelease", 11);
    CU_ASSERT_EQUAL(cls(&e, path), MCC_FRESH_REVALIDATE);
    memcpy(path + n, "/pool/a", 8);
    CU_ASSERT_EQUAL(cls(&e, path), MCC_FRESH_IMMUTABLE);
    /* longer than the policy looks at: the host rule's class stays */
    char huge[4096];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[0] = '/';
    memcpy(huge + sizeof(huge) - 11, "/InRelease", 11);
    CU_ASSERT_EQUAL(cls(&e, huge), MCC_DECLINED);
    pr_close(&e);
}

static void test_config_errors(void)
{
    static const struct {
        const char *config;
        const char *says;
    } bad[] = {
        {"{\"rules\": [{\"freshness\": \"immutable\"}]}", "match"},
        {"{\"rules\": [{\"match\": \"\", \"freshness\": \"immutable\"}]}", "match"},
        {"{\"rules\": [{\"match\": \"*.deb\"}]}", "freshness"},
        {"{\"rules\": [{\"match\": \"*.deb\", \"freshness\": \"sometimes\"}]}",
         "immutable, standard or revalidate"},
        {"{\"rules\": [{\"match\": 5, \"freshness\": \"immutable\"}]}", "match"},
        {"{\"rules\": {\"match\": \"*.deb\"}}", "rules"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mcc_harness *h = mcc_harness_new();
        CU_ASSERT_FATAL(h != NULL);
        mcc_plugin_ref ref;
        mcc_err err = {{0}};
        int rc = mcc_harness_load(h, "pathrules", "pathrules", bad[i].config, &ref, &err);
        CU_ASSERT_EQUAL(rc, MCC_ERROR);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad[i].says));
        mcc_harness_free(h);
    }
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"descriptor, no rules", test_descriptor},
        {"the default Debian rules", test_default_rules},
        {"patterns start at segment boundaries", test_segment_boundaries},
        {"globs", test_globs},
        {"first match wins", test_first_match_wins},
        {"long paths", test_long_paths},
        {"configuration errors", test_config_errors},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("pathrules", tests);
}
