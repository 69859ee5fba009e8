/* Unit tests of the "second-hit" admission policy, loaded as a real plugin through the harness. */
#include <string.h>
#include <unistd.h>

#include "cunit_main.h"
#include "harness.h"

static int load(mcc_harness **h, const char *conf, const mcc_policy_ops **ops, void **state)
{
    mcc_err err = {{0}};
    mcc_plugin_ref ref;
    *h = mcc_harness_new();
    if (*h == NULL || mcc_harness_load(*h, "second-hit", "admit", conf, &ref, &err) != MCC_OK) {
        fprintf(stderr, "load second-hit: %s\n", err.msg);
        return -1;
    }
    *ops = ref.ops;
    *state = ref.state;
    return 0;
}

static void key_of(uint8_t key[MCC_KEY_LEN], uint64_t n)
{
    memset(key, 0, MCC_KEY_LEN);
    uint64_t v = n * 0x9e3779b97f4a7c15ull;
    memcpy(key, &v, sizeof(v));
    key[31] = (uint8_t)n;
}

static void test_second_hit(void)
{
    mcc_harness *h;
    const mcc_policy_ops *ops = NULL;
    void *st = NULL;
    uint8_t k1[MCC_KEY_LEN], k2[MCC_KEY_LEN];
    CU_ASSERT_FATAL(load(&h, "{\"window\": \"200ms\"}", &ops, &st) == 0);
    CU_ASSERT_EQUAL(ops->type, MCC_POLICY_ADMISSION);
    CU_ASSERT_PTR_NULL(ops->evict_new);
    key_of(k1, 1);
    key_of(k2, 2);
    CU_ASSERT_EQUAL(ops->admit(st, k1, 1000, 1), MCC_DECLINED);
    CU_ASSERT_EQUAL(ops->admit(st, k2, 1000, 1), MCC_DECLINED);
    CU_ASSERT_EQUAL(ops->admit(st, k1, 1000, 1), MCC_OK);
    /* admitted once: it counts from one again (it was stored, then perhaps evicted) */
    CU_ASSERT_EQUAL(ops->admit(st, k1, 1000, 1), MCC_DECLINED);
    /* a caller that counted requests itself */
    CU_ASSERT_EQUAL(ops->admit(st, k1, 1000, 2), MCC_OK);
    usleep(300 * 1000);
    CU_ASSERT_EQUAL(ops->admit(st, k2, 1000, 1), MCC_DECLINED); /* outside the window */
    CU_ASSERT_EQUAL(ops->admit(st, k2, 1000, 1), MCC_OK);
    mcc_harness_free(h);
}

static void test_max_size_and_table(void)
{
    mcc_harness *h;
    const mcc_policy_ops *ops = NULL;
    void *st = NULL;
    uint8_t k[MCC_KEY_LEN];
    CU_ASSERT_FATAL(load(&h, "{\"max_size\": \"1MiB\", \"tracked\": 4}", &ops, &st) == 0);
    key_of(k, 7);
    CU_ASSERT_EQUAL(ops->admit(st, k, 2u << 20, 5), MCC_DECLINED);
    CU_ASSERT_EQUAL(ops->admit(st, k, 1u << 20, 1), MCC_DECLINED);
    CU_ASSERT_EQUAL(ops->admit(st, k, 1u << 20, 1), MCC_OK);
    /* a tiny table forgets: many other keys push key 7 out, and it starts from one again */
    CU_ASSERT_EQUAL(ops->admit(st, k, 100, 1), MCC_DECLINED);
    for (uint64_t n = 100; n < 200; n++) {
        uint8_t other[MCC_KEY_LEN];
        key_of(other, n);
        ops->admit(st, other, 100, 1);
    }
    CU_ASSERT_EQUAL(ops->admit(st, k, 100, 1), MCC_DECLINED);
    mcc_harness_free(h);

    /* bad config is refused naming the key */
    mcc_err err = {{0}};
    mcc_plugin_ref ref;
    h = mcc_harness_new();
    CU_ASSERT_EQUAL(mcc_harness_load(h, "second-hit", "admit", "{\"window\": 0}", &ref, &err),
                    MCC_ERROR);
    CU_ASSERT(strstr(err.msg, "window") != NULL);
    mcc_harness_free(h);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"second request within the window", test_second_hit},
        {"max_size and a bounded table", test_max_size_and_table},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("admission", tests);
}
