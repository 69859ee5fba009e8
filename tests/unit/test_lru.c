/* Unit tests of the "lru" eviction policy, loaded as a real plugin through the harness. */
#include <string.h>

#include "cunit_main.h"
#include "harness.h"

typedef struct lru_env {
    mcc_harness *h;
    mcc_plugin_ref ref;
    const mcc_policy_ops *ops;
    mcc_evict_set *set;
} lru_env;

static int lru_env_open(lru_env *e)
{
    mcc_err err = {{0}};
    memset(e, 0, sizeof(*e));
    e->h = mcc_harness_new();
    if (e->h == NULL)
        return -1;
    if (mcc_harness_load(e->h, "lru", "lru", "{}", &e->ref, &err) != MCC_OK) {
        fprintf(stderr, "load lru: %s\n", err.msg);
        return -1;
    }
    e->ops = e->ref.ops;
    e->set = e->ops->evict_new(e->ref.state, 1000);
    return e->set != NULL ? 0 : -1;
}

static void lru_env_close(lru_env *e)
{
    if (e->set != NULL)
        e->ops->evict_free(e->set);
    mcc_harness_free(e->h);
}

/* can(): ids listed in the 0-terminated array ARG are pinned */
static int pinned_can(void *arg, uint64_t id)
{
    for (const uint64_t *p = arg; *p != 0; p++)
        if (*p == id)
            return 0;
    return 1;
}

static int can_all(void *arg, uint64_t id)
{
    return 1;
}

/* takes victims one by one (removing each) into OUT; returns how many */
static size_t drain(lru_env *e, uint64_t *out, size_t max)
{
    size_t n = 0;
    uint64_t id;
    while (n < max && e->ops->evict_victim(e->set, can_all, NULL, &id) == MCC_OK) {
        out[n++] = id;
        e->ops->evict_remove(e->set, id);
    }
    return n;
}

static void test_descriptor(void)
{
    lru_env e;
    CU_ASSERT_FATAL(lru_env_open(&e) == 0);
    CU_ASSERT_EQUAL(e.ref.desc->kind, MCC_KIND_POLICY);
    CU_ASSERT_STRING_EQUAL(e.ref.desc->name, "lru");
    CU_ASSERT_EQUAL(e.ops->type, MCC_POLICY_EVICTION);
    CU_ASSERT_PTR_NULL(e.ops->admit);
    CU_ASSERT_PTR_NULL(e.ops->freshness);
    lru_env_close(&e);
}

static void test_order_after_access(void)
{
    lru_env e;
    uint64_t got[8];
    CU_ASSERT_FATAL(lru_env_open(&e) == 0);
    for (uint64_t id = 1; id <= 5; id++)
        e.ops->evict_insert(e.set, id, 100);
    e.ops->evict_access(e.set, 2);
    e.ops->evict_access(e.set, 1);
    e.ops->evict_access(e.set, 99); /* unknown: ignored */
    /* recency, most recent first: 1 2 5 4 3 */
    size_t n = drain(&e, got, 8);
    CU_ASSERT_EQUAL_FATAL(n, 5);
    CU_ASSERT_EQUAL(got[0], 3);
    CU_ASSERT_EQUAL(got[1], 4);
    CU_ASSERT_EQUAL(got[2], 5);
    CU_ASSERT_EQUAL(got[3], 2);
    CU_ASSERT_EQUAL(got[4], 1);
    uint64_t id = 0;
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, can_all, NULL, &id), MCC_NOTFOUND);
    lru_env_close(&e);
}

static void test_victim_does_not_remove(void)
{
    lru_env e;
    uint64_t a = 0, b = 0;
    CU_ASSERT_FATAL(lru_env_open(&e) == 0);
    e.ops->evict_insert(e.set, 7, 1);
    e.ops->evict_insert(e.set, 8, 1);
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, can_all, NULL, &a), MCC_OK);
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, can_all, NULL, &b), MCC_OK);
    CU_ASSERT_EQUAL(a, 7);
    CU_ASSERT_EQUAL(b, 7);
    /* inserting a known id again counts as a use */
    e.ops->evict_insert(e.set, 7, 5);
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, can_all, NULL, &a), MCC_OK);
    CU_ASSERT_EQUAL(a, 8);
    lru_env_close(&e);
}

static void test_pinned_skipped(void)
{
    lru_env e;
    uint64_t id = 0;
    CU_ASSERT_FATAL(lru_env_open(&e) == 0);
    for (uint64_t i = 1; i <= 4; i++)
        e.ops->evict_insert(e.set, i, 10);
    uint64_t pin12[] = {1, 2, 0};
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, pinned_can, pin12, &id), MCC_OK);
    CU_ASSERT_EQUAL(id, 3);
    uint64_t pin_all[] = {1, 2, 3, 4, 0};
    id = 42;
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, pinned_can, pin_all, &id), MCC_NOTFOUND);
    CU_ASSERT_EQUAL(id, 42);
    uint64_t pin123[] = {1, 2, 3, 0};
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, pinned_can, pin123, &id), MCC_OK);
    CU_ASSERT_EQUAL(id, 4);
    lru_env_close(&e);
}

static void test_remove(void)
{
    lru_env e;
    uint64_t got[8];
    CU_ASSERT_FATAL(lru_env_open(&e) == 0);
    for (uint64_t i = 1; i <= 4; i++)
        e.ops->evict_insert(e.set, i, 10);
    e.ops->evict_remove(e.set, 1); /* the tail */
    e.ops->evict_remove(e.set, 3); /* the middle */
    e.ops->evict_remove(e.set, 4); /* the head */
    e.ops->evict_remove(e.set, 4); /* twice: ignored */
    e.ops->evict_insert(e.set, 5, 10);
    size_t n = drain(&e, got, 8);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(got[0], 2);
    CU_ASSERT_EQUAL(got[1], 5);
    lru_env_close(&e);
}

static void test_many(void)
{
    lru_env e;
    CU_ASSERT_FATAL(lru_env_open(&e) == 0);
    for (uint64_t i = 1; i <= 10000; i++)
        e.ops->evict_insert(e.set, i, 1);
    /* touch the even ids: the odd ones go first, in insertion order */
    for (uint64_t i = 2; i <= 10000; i += 2)
        e.ops->evict_access(e.set, i);
    int ok = 1;
    for (uint64_t want = 1; want <= 9999 && ok; want += 2) {
        uint64_t id = 0;
        ok = e.ops->evict_victim(e.set, can_all, NULL, &id) == MCC_OK && id == want;
        e.ops->evict_remove(e.set, id);
    }
    CU_ASSERT(ok);
    uint64_t id = 0;
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, can_all, NULL, &id), MCC_OK);
    CU_ASSERT_EQUAL(id, 2);
    lru_env_close(&e);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"descriptor", test_descriptor},
        {"order after accesses", test_order_after_access},
        {"victim does not remove", test_victim_does_not_remove},
        {"pinned ids are skipped", test_pinned_skipped},
        {"remove", test_remove},
        {"10000 ids", test_many},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("lru", tests);
}
