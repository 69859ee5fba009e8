/* Unit tests of the plugin loader, instance creation and the admin routes: every broken test
 * plugin is refused with its exact reason, the good one is driven and its route served. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/instance.h"
#include "core/loader.h"
#include "cunit_main.h"
#include "harness.h"
#include "http/admin.h"
#include "report/stats.h"

#define PLUGIN(file) MCC_TEST_PLUGIN_DIR "/" file

/* Loads PLUGIN expecting a refusal with exactly WANT; nothing may stay loaded. */
static void loader_expect_refusal(const char *plugin, const char *name, const char *config,
                                  const char *want)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_err err = {{0}};
    mcc_plugin_ref ref;
    CU_ASSERT_EQUAL(mcc_harness_load(h, plugin, name, config, &ref, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, want);
    if (strcmp(err.msg, want) != 0)
        fprintf(stderr, "\n  got:  %s\n  want: %s\n", err.msg, want);
    CU_ASSERT_EQUAL(mcc_core_instance_count(mcc_harness_core(h)), 0);
    mcc_harness_free(h);
}

static void test_not_shared_object(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_err err = {{0}};
    CU_ASSERT_EQUAL(mcc_harness_load(h, PLUGIN("notaplugin.so"), "x", NULL, NULL, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(
        err.msg, PLUGIN("notaplugin.so") ": not a loadable shared object (no ELF header)");
    mcc_harness_free(h);
}

static void test_missing_file(void)
{
    loader_expect_refusal(PLUGIN("no_such_plugin.so"), "x", NULL,
                          PLUGIN("no_such_plugin.so") ": cannot open: No such file or directory");
    /* by name: DIR/NAME.so */
    loader_expect_refusal("no_such_plugin", "x", NULL,
                          PLUGIN("no_such_plugin.so") ": cannot open: No such file or directory");
}

static void test_no_symbol(void)
{
    loader_expect_refusal(PLUGIN("test_bad_nosymbol.so"), "x", NULL,
                          PLUGIN("test_bad_nosymbol.so") ": no mcc_plugin_v1 symbol (not an mcc "
                                                         "plugin)");
}

static void test_abi_major(void)
{
    loader_expect_refusal(PLUGIN("test_bad_abi_major.so"), "x", NULL,
                          PLUGIN("test_bad_abi_major.so") ": ABI major 2, this mccd speaks 1");
}

static void test_abi_minor(void)
{
    char want[512];
    snprintf(want, sizeof(want), "%s: ABI %d.%d is newer than this mccd's %d.%d",
             PLUGIN("test_bad_abi_minor.so"), MCC_ABI_MAJOR, MCC_ABI_MINOR + 1, MCC_ABI_MAJOR,
             MCC_ABI_MINOR);
    loader_expect_refusal(PLUGIN("test_bad_abi_minor.so"), "x", NULL, want);
}

static void test_unknown_kind(void)
{
    loader_expect_refusal("test_bad_kind", "x", NULL,
                          PLUGIN("test_bad_kind.so") ": unknown plugin kind 99");
}

static void test_missing_op(void)
{
    loader_expect_refusal("test_bad_storage_nowrite", "x", NULL,
                          PLUGIN("test_bad_storage_nowrite.so") ": required storage op 'write' "
                                                                "is missing");
}

static void test_create_fails(void)
{
    loader_expect_refusal("test_bad_create", "frob", NULL,
                          "frob (" PLUGIN("test_bad_create.so") "): cannot reach the "
                                                                "frobnicator");
}

static void test_unknown_key(void)
{
    loader_expect_refusal("test_bad_readsnothing", "quiet", "{\"colour\": \"red\"}",
                          "quiet (" PLUGIN("test_bad_readsnothing.so") "): <test:quiet>: "
                                                                       "plugins.quiet.config."
                                                                       "colour: unknown key");
    /* the good exporter reads "greeting" but not "greting" */
    loader_expect_refusal("test_exporter_good", "g", "{\"greting\": \"hi\"}",
                          "g (" PLUGIN("test_exporter_good.so") "): <test:g>: "
                                                                "plugins.g.config.greting: "
                                                                "unknown key");
}

static int loader_noop_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                              void **state, mcc_err *err)
{
    return MCC_OK;
}

static void loader_noop_destroy(void *state) {}

static int loader_admit(void *state, const uint8_t *key, uint64_t length, unsigned requests)
{
    return MCC_OK;
}

/* Descriptor defects that need no shared object of their own. */
static void test_descriptor_checks(void)
{
    mcc_err err;
    static const mcc_exporter_ops eops = {.size = sizeof(mcc_exporter_ops)};
    mcc_plugin d = {
        MCC_PLUGIN_HEAD(MCC_KIND_EXPORTER, "t", "1"),
        .create = loader_noop_create,
        .destroy = loader_noop_destroy,
        .ops = &eops,
    };
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &d, &err), MCC_OK);

    CU_ASSERT_EQUAL(mcc_loader_check("f.so", NULL, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.so: mcc_plugin_v1() returned no descriptor");

    mcc_plugin bad = d;
    bad.size = offsetof(mcc_plugin, kind);
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_ERROR);
    char want[256];
    snprintf(want, sizeof(want), "f.so: descriptor size %zu too small, need %zu",
             offsetof(mcc_plugin, kind), sizeof(mcc_plugin));
    CU_ASSERT_STRING_EQUAL(err.msg, want);

    bad = d;
    bad.name = NULL;
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.so: descriptor has no name");
    bad = d;
    bad.create = NULL;
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.so: descriptor has no create");
    bad = d;
    bad.destroy = NULL;
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.so: descriptor has no destroy");
    bad = d;
    bad.ops = NULL;
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.so: descriptor has no ops table");

    static const mcc_exporter_ops small = {.size = sizeof(size_t)};
    bad = d;
    bad.ops = &small;
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_ERROR);
    snprintf(want, sizeof(want), "f.so: exporter ops table size %zu too small, need %zu",
             sizeof(size_t), sizeof(mcc_exporter_ops));
    CU_ASSERT_STRING_EQUAL(err.msg, want);

    /* a policy is checked by the decision it makes */
    static const mcc_policy_ops admission = {
        .size = sizeof(mcc_policy_ops), .type = MCC_POLICY_ADMISSION, .admit = loader_admit};
    static const mcc_policy_ops eviction = {.size = sizeof(mcc_policy_ops),
                                            .type = MCC_POLICY_EVICTION};
    static const mcc_policy_ops typeless = {.size = sizeof(mcc_policy_ops), .type = 7};
    bad = d;
    bad.kind = MCC_KIND_POLICY;
    bad.ops = &admission;
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_OK);
    bad.ops = &eviction;
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.so: required eviction policy op 'evict_new' is missing");
    bad.ops = &typeless;
    CU_ASSERT_EQUAL(mcc_loader_check("f.so", &bad, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.so: unknown policy type 7");
}

/* --- The good exporter, and the admin routes it is served through ---------------------------- */

/* Answers PATH?QUERY for PEER (with AUTH as the Authorization header) into BODY. */
static int admin_get(mcc_harness *h, const char *path, const char *query, const char *peer,
                     const char *auth, char *body, size_t len)
{
    mcc_reply *r = mcc_reply_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    mcc_admin_request req = {.method = "GET", .path = path, .query = query, .peer = peer};
    mcc_admin_handle(mcc_harness_core(h)->admin, &req, auth, r);
    snprintf(body, len, "%s", mcc_reply_body(r, NULL));
    CU_ASSERT_PTR_NOT_NULL(mcc_reply_content_type(r));
    int code = mcc_reply_code(r);
    mcc_reply_free(r);
    return code;
}

static void test_good_exporter(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_core *core = mcc_harness_core(h);
    mcc_err err = {{0}};
    mcc_plugin_ref ref;
    CU_ASSERT_EQUAL_FATAL(
        mcc_harness_load(h, "test_exporter_good", "good", "{\"greeting\": \"hi\"}", &ref, &err),
        MCC_OK);
    CU_ASSERT_STRING_EQUAL(ref.name, "good");
    CU_ASSERT_STRING_EQUAL(ref.desc->name, "test-good");
    CU_ASSERT_EQUAL(ref.desc->kind, MCC_KIND_EXPORTER);
    CU_ASSERT_EQUAL(core->nexporters, 1);

    char body[256];
    CU_ASSERT_EQUAL(admin_get(h, "/test/count", NULL, "127.0.0.1", NULL, body, sizeof(body)), 200);
    CU_ASSERT_STRING_EQUAL(body, "hi requests=0 periods=0 hit=0 miss=0\n");

    mcc_request_record rec = {.time_us = 0,
                              .client = "127.0.0.1",
                              .method = "GET",
                              .origin_host = "o.test",
                              .path = "/f",
                              .status = 200,
                              .bytes_sent = 30,
                              .hit_bytes = 10,
                              .miss_bytes = 20,
                              .cache_status = "miss"};
    mcc_request_done(core, &rec);
    mcc_request_done(core, &rec);
    CU_ASSERT_EQUAL(admin_get(h, "/test/count", NULL, "::1", NULL, body, sizeof(body)), 200);
    CU_ASSERT_STRING_EQUAL(body, "hi requests=2 periods=0 hit=20 miss=40\n");

    /* a second instance cannot take the same route: its start fails, naming it */
    CU_ASSERT_EQUAL(mcc_harness_load(h, "test_exporter_good", "again", NULL, NULL, &err),
                    MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg,
                           "again (" PLUGIN("test_exporter_good.so") "): cannot "
                                                                     "register /test/count");
    /* a route of its own is fine */
    CU_ASSERT_EQUAL(mcc_harness_load(h, PLUGIN("test_exporter_good.so"), "other",
                                     "{\"route\": \"/other\"}", NULL, &err),
                    MCC_OK);
    CU_ASSERT_EQUAL(admin_get(h, "/other", NULL, "127.0.0.1", NULL, body, sizeof(body)), 200);
    CU_ASSERT_STRING_EQUAL(body, "hello requests=0 periods=0 hit=0 miss=0\n");

    /* stopping an instance takes its routes away */
    mcc_instance_stop(core->exporters[0].inst);
    CU_ASSERT_EQUAL(admin_get(h, "/test/count", NULL, "127.0.0.1", NULL, body, sizeof(body)), 404);
    CU_ASSERT_STRING_EQUAL(body, "not found\n");
    mcc_harness_free(h);
}

static void test_admin_builtin(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    char body[256];
    CU_ASSERT_EQUAL(admin_get(h, "/healthz", NULL, "127.0.0.1", NULL, body, sizeof(body)), 200);
    CU_ASSERT_STRING_EQUAL(body, "ok\n");
    /* no content listener in the harness */
    CU_ASSERT_EQUAL(admin_get(h, "/readyz", NULL, "127.0.0.1", NULL, body, sizeof(body)), 503);
    CU_ASSERT_STRING_EQUAL(body, "not ready: content listener not up\n");
    CU_ASSERT_EQUAL(admin_get(h, "/nope", NULL, "127.0.0.1", NULL, body, sizeof(body)), 404);
    mcc_harness_free(h);
}

static void test_admin_access(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_settings *s = &mcc_harness_core(h)->settings;
    char body[256];

    CU_ASSERT_EQUAL(admin_get(h, "/healthz", NULL, "10.0.0.7", NULL, body, sizeof(body)), 403);
    CU_ASSERT_STRING_EQUAL(body, "forbidden\n");
    CU_ASSERT_EQUAL(admin_get(h, "/healthz", NULL, "::ffff:127.0.0.9", NULL, body, sizeof(body)),
                    200);
    /* unknown paths are refused before being looked up */
    CU_ASSERT_EQUAL(admin_get(h, "/nope", NULL, "10.0.0.7", NULL, body, sizeof(body)), 403);

    s->summary_public = 1;
    snprintf(s->customer_key, sizeof(s->customer_key), "cust-key");
    CU_ASSERT_EQUAL(admin_get(h, "/healthz", NULL, "10.0.0.7", NULL, body, sizeof(body)), 401);
    CU_ASSERT_STRING_EQUAL(body, "unauthorized\n");
    CU_ASSERT_EQUAL(
        admin_get(h, "/healthz", NULL, "10.0.0.7", "Bearer cust-key", body, sizeof(body)), 200);
    CU_ASSERT_EQUAL(
        admin_get(h, "/healthz", "x=1&apiKey=cust-key", "10.0.0.7", NULL, body, sizeof(body)), 200);
    CU_ASSERT_EQUAL(
        admin_get(h, "/healthz", NULL, "10.0.0.7", "Bearer cust-ke", body, sizeof(body)), 401);
    CU_ASSERT_STRING_EQUAL(body, "unauthorized\n");
    /* summary.api_key, when set, replaces the customer key */
    snprintf(s->summary_api_key, sizeof(s->summary_api_key), "sum-key");
    CU_ASSERT_EQUAL(
        admin_get(h, "/healthz", "apiKey=cust-key", "10.0.0.7", NULL, body, sizeof(body)), 401);
    CU_ASSERT_EQUAL(
        admin_get(h, "/healthz", "apiKey=sum-key", "10.0.0.7", NULL, body, sizeof(body)), 200);
    /* an empty key matches nothing */
    s->summary_api_key[0] = '\0';
    s->customer_key[0] = '\0';
    CU_ASSERT_EQUAL(admin_get(h, "/healthz", "apiKey=", "10.0.0.7", "Bearer ", body, sizeof(body)),
                    401);

    s->summary_unrestricted = 1;
    CU_ASSERT_EQUAL(admin_get(h, "/healthz", NULL, "10.0.0.7", NULL, body, sizeof(body)), 200);
    CU_ASSERT_EQUAL(admin_get(h, "/nope", NULL, "10.0.0.7", NULL, body, sizeof(body)), 404);
    mcc_harness_free(h);
}

static const CU_TestInfo loader_tests[] = {
    {"not a shared object", test_not_shared_object},
    {"missing file", test_missing_file},
    {"no mcc_plugin_v1", test_no_symbol},
    {"ABI major 2", test_abi_major},
    {"newer ABI minor", test_abi_minor},
    {"unknown kind", test_unknown_kind},
    {"required op missing", test_missing_op},
    {"create fails", test_create_fails},
    {"unknown config key", test_unknown_key},
    {"descriptor checks", test_descriptor_checks},
    CU_TEST_INFO_NULL,
};

static const CU_TestInfo admin_tests[] = {
    {"good exporter and its route", test_good_exporter},
    {"built-in routes", test_admin_builtin},
    {"access control", test_admin_access},
    CU_TEST_INFO_NULL,
};

int mcc_test_register(void)
{
    return mcc_test_suite("loader", loader_tests) || mcc_test_suite("admin", admin_tests);
}
