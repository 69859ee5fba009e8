/* Unit tests of the admin listener's handler (http/admin): the access modes (loopback, public
 * with the API key by header or query, unrestricted), and /readyz over a stand-in storage that
 * reports drives writable or not. */
#include <stdio.h>
#include <string.h>

#include <mcc/storage.h>

#include "cunit_main.h"
#include "harness.h"
#include "http/admin.h"

static char admin_body[4096];

static int admin_ask(mcc_core *core, const char *path, const char *query, const char *peer,
                     const char *auth)
{
    mcc_admin_request req = {.method = "GET", .path = path, .query = query, .peer = peer};
    mcc_reply *r = mcc_reply_new();
    mcc_admin_handle(core->admin, &req, auth, r);
    int code = mcc_reply_code(r);
    snprintf(admin_body, sizeof(admin_body), "%s", mcc_reply_body(r, NULL));
    mcc_reply_free(r);
    return code;
}

static void test_admin_access(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_core *core = mcc_harness_core(h);
    mcc_settings *s = &core->settings;
    const char *key = "0b3e8f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    snprintf(s->customer_key, sizeof(s->customer_key), "%s", key);

    /* default: loopback only, whatever the key */
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "127.0.0.1", NULL), 200);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "127.9.8.7", NULL), 200);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "::1", NULL), 200);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "::ffff:127.0.0.1", NULL), 200);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "10.0.0.2", NULL), 403);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "10.0.0.2", "Bearer x"), 403);

    /* public: the customer key, by header or query; wrong and missing look the same */
    s->summary_public = 1;
    char bearer[128];
    snprintf(bearer, sizeof(bearer), "Bearer %s", key);
    char query[128];
    snprintf(query, sizeof(query), "a=1&apiKey=%s", key);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "10.0.0.2", bearer), 200);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", query, "10.0.0.2", NULL), 200);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "10.0.0.2", "Bearer 0b3e8f7a"), 401);
    char wrong[sizeof(admin_body)];
    memcpy(wrong, admin_body, sizeof(wrong));
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "10.0.0.2", NULL), 401);
    CU_ASSERT_STRING_EQUAL(wrong, admin_body);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", "apiKey=", "10.0.0.2", NULL), 401);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "10.0.0.2", "Basic abc"), 401);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "127.0.0.1", NULL), 200);

    /* SUMMARY_API_KEY wins over the customer key */
    snprintf(s->summary_api_key, sizeof(s->summary_api_key), "k2");
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "10.0.0.2", "Bearer k2"), 200);
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "10.0.0.2", bearer), 401);

    /* no key at all keeps a public summary closed */
    s->summary_api_key[0] = '\0';
    s->customer_key[0] = '\0';
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", "apiKey=", "10.0.0.2", "Bearer "), 401);

    /* unrestricted: anyone */
    s->summary_unrestricted = 1;
    CU_ASSERT_EQUAL(admin_ask(core, "/healthz", NULL, "198.51.100.1", NULL), 200);
    CU_ASSERT_EQUAL(admin_ask(core, "/nope", NULL, "198.51.100.1", NULL), 404);
    mcc_harness_free(h);
}

/* A stand-in storage backend: two drives, writable as the test says. */
static int fake_writable[2];
static int fake_drives(void *state, unsigned i, mcc_drive_info *out)
{
    if (i >= 2)
        return MCC_NOTFOUND;
    snprintf(out->name, sizeof(out->name), "/d%u", i);
    out->capacity = 1000;
    out->writable = fake_writable[i];
    return MCC_OK;
}
static void fake_usage(void *state, uint64_t *used, uint64_t *capacity, uint64_t *objects)
{
    *used = *objects = 0;
    *capacity = 2000;
}

static void test_admin_readyz(void)
{
    mcc_harness *h = mcc_harness_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    mcc_core *core = mcc_harness_core(h);
    mcc_storage_ops ops = {.size = sizeof(ops), .usage = fake_usage, .drives = fake_drives};

    CU_ASSERT_EQUAL(admin_ask(core, "/readyz", NULL, "127.0.0.1", NULL), 503);
    CU_ASSERT_PTR_NOT_NULL(strstr(admin_body, "not ready: "));

    /* the listener and storage are the daemon's: stand-ins, taken back before the free */
    core->front = (struct mcc_front *)&ops;
    core->storage.ops = &ops;
    fake_writable[0] = fake_writable[1] = 0;
    CU_ASSERT_EQUAL(admin_ask(core, "/readyz", NULL, "127.0.0.1", NULL), 503);
    CU_ASSERT_STRING_EQUAL(admin_body, "not ready: no drive is writable\n");
    fake_writable[1] = 1;
    CU_ASSERT_EQUAL(admin_ask(core, "/readyz", NULL, "127.0.0.1", NULL), 200);
    CU_ASSERT_STRING_EQUAL(admin_body, "ready\n");

    /* a backend without the drives op: its capacity decides */
    ops.drives = NULL;
    CU_ASSERT_EQUAL(admin_ask(core, "/readyz", NULL, "127.0.0.1", NULL), 200);
    core->front = NULL;
    CU_ASSERT_EQUAL(admin_ask(core, "/readyz", NULL, "127.0.0.1", NULL), 503);
    CU_ASSERT_STRING_EQUAL(admin_body, "not ready: content listener not up\n");
    core->storage.ops = NULL;
    mcc_harness_free(h);
}

static const CU_TestInfo admin_tests[] = {
    {"access modes", test_admin_access},
    {"readyz", test_admin_readyz},
    CU_TEST_INFO_NULL,
};

int mcc_test_register(void)
{
    return mcc_test_suite("admin", admin_tests);
}
