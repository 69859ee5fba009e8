/* Unit tests of the "s3fifo" eviction policy, loaded as a real plugin through the harness. */
#include <string.h>

#include "cunit_main.h"
#include "harness.h"

typedef struct s3_env {
    mcc_harness *h;
    mcc_plugin_ref ref;
    const mcc_policy_ops *ops;
    mcc_evict_set *set;
} s3_env;

static int s3_env_open(s3_env *e, uint64_t capacity)
{
    mcc_err err = {{0}};
    memset(e, 0, sizeof(*e));
    e->h = mcc_harness_new();
    if (e->h == NULL)
        return -1;
    if (mcc_harness_load(e->h, "s3fifo", "s3fifo", "{}", &e->ref, &err) != MCC_OK) {
        fprintf(stderr, "load s3fifo: %s\n", err.msg);
        return -1;
    }
    e->ops = e->ref.ops;
    e->set = e->ops->evict_new(e->ref.state, capacity);
    return e->set != NULL ? 0 : -1;
}

static void s3_env_close(s3_env *e)
{
    if (e->set != NULL)
        e->ops->evict_free(e->set);
    mcc_harness_free(e->h);
}

/* ids listed in the 0-terminated array ARG are in use */
static int pinned_can(void *arg, uint64_t id)
{
    for (const uint64_t *p = arg; *p != 0; p++)
        if (*p == id)
            return 0;
    return 1;
}

/* takes the next victim and removes it, as the disk backend does; 0 when none */
static uint64_t evict_one(s3_env *e, const uint64_t *pinned)
{
    static const uint64_t none[] = {0};
    uint64_t id = 0;
    if (e->ops->evict_victim(e->set, pinned_can, (void *)(pinned ? pinned : none), &id) != MCC_OK)
        return 0;
    e->ops->evict_remove(e->set, id);
    return id;
}

static void test_descriptor(void)
{
    s3_env e;
    CU_ASSERT_FATAL(s3_env_open(&e, 1000) == 0);
    CU_ASSERT_EQUAL(e.ref.desc->kind, MCC_KIND_POLICY);
    CU_ASSERT_STRING_EQUAL(e.ref.desc->name, "s3fifo");
    CU_ASSERT_EQUAL(e.ops->type, MCC_POLICY_EVICTION);
    CU_ASSERT_PTR_NULL(e.ops->admit);
    uint64_t id = 0;
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, pinned_can, (uint64_t[]){0}, &id), MCC_NOTFOUND);
    s3_env_close(&e);
}

/* Objects used again while in the small queue survive a stream of one-hit wonders. */
static void test_one_hit_wonders_leave_first(void)
{
    s3_env e;
    CU_ASSERT_FATAL(s3_env_open(&e, 100 * 10) == 0); /* 100 objects of 10 bytes */
    for (uint64_t id = 1; id <= 20; id++) {
        e.ops->evict_insert(e.set, id, 10);
        e.ops->evict_access(e.set, id); /* popular: used again at once */
    }
    /* a scan of 500 objects never used again, through a cache of 100 */
    int popular_lost = 0;
    for (uint64_t id = 1000; id < 1500; id++) {
        e.ops->evict_insert(e.set, id, 10);
        if (id - 1000 + 20 >= 100) {
            uint64_t v = evict_one(&e, NULL);
            CU_ASSERT_FATAL(v != 0);
            popular_lost += v <= 20;
        }
        if (id % 50 == 0)
            for (uint64_t p = 1; p <= 20; p++)
                e.ops->evict_access(e.set, p);
    }
    CU_ASSERT_EQUAL(popular_lost, 0);
    s3_env_close(&e);
}

/* Evicted from small and inserted again soon: the ghost sends it to main, where it outlives
 * the newcomers of small. */
static void test_ghost_returns_to_main(void)
{
    s3_env e;
    CU_ASSERT_FATAL(s3_env_open(&e, 100) == 0); /* small holds 10 bytes */
    for (uint64_t id = 1; id <= 10; id++)
        e.ops->evict_insert(e.set, id, 10);
    /* small is over its share: the oldest (1) goes and becomes a ghost */
    CU_ASSERT_EQUAL(evict_one(&e, NULL), 1);
    e.ops->evict_insert(e.set, 1, 10); /* back: straight to main */
    /* the rest of small leaves before 1 does */
    int order_ok = 1;
    for (int i = 0; i < 8; i++) {
        uint64_t v = evict_one(&e, NULL);
        order_ok &= v >= 2 && v <= 10;
    }
    CU_ASSERT(order_ok);
    s3_env_close(&e);
}

/* Victims skip ids can() refuses; with all refused there is none; remove forgets. */
static void test_pinned_and_remove(void)
{
    s3_env e;
    CU_ASSERT_FATAL(s3_env_open(&e, 1000) == 0);
    for (uint64_t id = 1; id <= 5; id++)
        e.ops->evict_insert(e.set, id, 300);
    uint64_t pin12[] = {1, 2, 0};
    CU_ASSERT_EQUAL(evict_one(&e, pin12), 3);
    uint64_t all[] = {1, 2, 4, 5, 0};
    uint64_t id = 0;
    CU_ASSERT_EQUAL(e.ops->evict_victim(e.set, pinned_can, all, &id), MCC_NOTFOUND);
    e.ops->evict_remove(e.set, 1);  /* removed, not evicted: no ghost */
    e.ops->evict_remove(e.set, 77); /* unknown: ignored */
    uint64_t seen[8] = {0};
    size_t n = 0;
    while (n < 8 && (seen[n] = evict_one(&e, NULL)) != 0)
        n++;
    CU_ASSERT_EQUAL(n, 3);
    int has1 = 0;
    for (size_t i = 0; i < n; i++)
        has1 |= seen[i] == 1;
    CU_ASSERT(!has1);
    s3_env_close(&e);
}

/* Main reinserts objects with uses left: a used object outlives an unused one in main. */
static void test_main_second_chance(void)
{
    s3_env e;
    CU_ASSERT_FATAL(s3_env_open(&e, 100) == 0);
    /* both reach main through the ghost */
    e.ops->evict_insert(e.set, 1, 10);
    e.ops->evict_insert(e.set, 2, 10);
    for (uint64_t id = 3; id <= 4; id++)
        e.ops->evict_insert(e.set, id, 10);
    CU_ASSERT_EQUAL(evict_one(&e, NULL), 1);
    CU_ASSERT_EQUAL(evict_one(&e, NULL), 2);
    e.ops->evict_insert(e.set, 1, 10);
    e.ops->evict_insert(e.set, 2, 10);
    e.ops->evict_remove(e.set, 3);
    e.ops->evict_remove(e.set, 4);
    e.ops->evict_access(e.set, 1); /* 1 is used in main, 2 is not */
    CU_ASSERT_EQUAL(evict_one(&e, NULL), 2);
    CU_ASSERT_EQUAL(evict_one(&e, NULL), 1);
    CU_ASSERT_EQUAL(evict_one(&e, NULL), 0);
    s3_env_close(&e);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"descriptor", test_descriptor},
        {"one-hit wonders leave first", test_one_hit_wonders_leave_first},
        {"ghost hit goes to main", test_ghost_returns_to_main},
        {"pinned ids skipped, remove forgets", test_pinned_and_remove},
        {"main gives a second chance", test_main_second_chance},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("s3fifo", tests);
}
