/* The "lru" eviction policy: per evict set, a doubly linked recency list plus a hash by id, so
 * insert, access and remove are O(1); the victim is the least recently used id that may go. */
#include <stdlib.h>

#include <mcc/mcc.h>
#include <uthash.h>

typedef struct lru_node {
    uint64_t id;
    uint64_t bytes;
    struct lru_node *prev; /* towards the most recently used end */
    struct lru_node *next; /* towards the least recently used end */
    UT_hash_handle hh;
} lru_node;

struct mcc_evict_set {
    lru_node *by_id;
    lru_node *head; /* most recently used */
    lru_node *tail; /* least recently used */
    uint64_t capacity;
    size_t count;
};

typedef struct lru_state {
    const mcc_host *host;
    mcc_instance *self;
} lru_state;

static void lru_unlink(mcc_evict_set *set, lru_node *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        set->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        set->tail = n->prev;
    n->prev = n->next = NULL;
}

static void lru_push_head(mcc_evict_set *set, lru_node *n)
{
    n->prev = NULL;
    n->next = set->head;
    if (set->head != NULL)
        set->head->prev = n;
    set->head = n;
    if (set->tail == NULL)
        set->tail = n;
}

static mcc_evict_set *lru_evict_new(void *state, uint64_t capacity)
{
    mcc_evict_set *set = calloc(1, sizeof(*set));
    if (set != NULL)
        set->capacity = capacity;
    return set;
}

static void lru_evict_free(mcc_evict_set *set)
{
    if (set == NULL)
        return;
    lru_node *n, *tmp;
    HASH_ITER(hh, set->by_id, n, tmp)
    {
        HASH_DEL(set->by_id, n);
        free(n);
    }
    free(set);
}

static void lru_evict_insert(mcc_evict_set *set, uint64_t id, uint64_t bytes)
{
    lru_node *n;
    HASH_FIND(hh, set->by_id, &id, sizeof(id), n);
    if (n != NULL) {
        /* inserted again (replaced): counts as fresh use */
        n->bytes = bytes;
        lru_unlink(set, n);
        lru_push_head(set, n);
        return;
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return; /* untracked: never proposed, which only makes eviction less eager */
    n->id = id;
    n->bytes = bytes;
    HASH_ADD(hh, set->by_id, id, sizeof(n->id), n);
    lru_push_head(set, n);
    set->count++;
}

static void lru_evict_access(mcc_evict_set *set, uint64_t id)
{
    lru_node *n;
    HASH_FIND(hh, set->by_id, &id, sizeof(id), n);
    if (n == NULL || n == set->head)
        return;
    lru_unlink(set, n);
    lru_push_head(set, n);
}

static void lru_evict_remove(mcc_evict_set *set, uint64_t id)
{
    lru_node *n;
    HASH_FIND(hh, set->by_id, &id, sizeof(id), n);
    if (n == NULL)
        return;
    lru_unlink(set, n);
    HASH_DEL(set->by_id, n);
    free(n);
    set->count--;
}

static int lru_evict_victim(mcc_evict_set *set, mcc_evict_can_fn can, void *arg, uint64_t *id)
{
    /* bounded by the set size: each node is asked at most once */
    size_t asked = 0;
    for (lru_node *n = set->tail; n != NULL && asked < set->count; n = n->prev, asked++) {
        if (can == NULL || can(arg, n->id)) {
            *id = n->id;
            return MCC_OK;
        }
    }
    return MCC_NOTFOUND;
}

static int lru_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                      mcc_err *err)
{
    lru_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    st->host = host;
    st->self = self;
    *state = st;
    return MCC_OK;
}

static void lru_destroy(void *state)
{
    free(state);
}

static const mcc_policy_ops lru_ops = {
    .size = sizeof(mcc_policy_ops),
    .type = MCC_POLICY_EVICTION,
    .evict_new = lru_evict_new,
    .evict_free = lru_evict_free,
    .evict_insert = lru_evict_insert,
    .evict_access = lru_evict_access,
    .evict_remove = lru_evict_remove,
    .evict_victim = lru_evict_victim,
};

static const mcc_plugin lru_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_POLICY, "lru", "0.1.0"),
    .description = "eviction: least recently used first, objects in use are skipped",
    .create = lru_create,
    .destroy = lru_destroy,
    .ops = &lru_ops,
};

MCC_PLUGIN_DEFINE(lru_plugin)
