/* The "s3fifo" eviction policy (S3-FIFO, Yang et al., SOSP 2023): new objects enter a small FIFO
 * (~10% of the bytes); those used again while there move to the main FIFO, the others leave and
 * are remembered in a ghost FIFO, from which a returning object goes straight to main. Main
 * reinserts objects with frequency left (2 bits), so one-hit wonders leave early and cheaply. */
#include <stdlib.h>

#include <mcc/mcc.h>
#include <uthash.h>

#define S3_FREQ_MAX 3

enum { S3_SMALL = 0, S3_MAIN = 1, S3_GHOST = 2 };

typedef struct s3_node {
    uint64_t id;
    uint64_t bytes;
    struct s3_node *prev; /* towards the newest end of its queue */
    struct s3_node *next; /* towards the oldest end */
    uint8_t queue;        /* S3_* */
    uint8_t freq;
    UT_hash_handle hh;
} s3_node;

typedef struct s3_queue {
    s3_node *head; /* newest */
    s3_node *tail; /* oldest */
    uint64_t bytes;
    size_t count;
} s3_queue;

struct mcc_evict_set {
    s3_node *by_id; /* live objects and ghosts */
    s3_queue q[3];
    uint64_t capacity;
    uint64_t small_target; /* bytes the small queue may hold before it is evicted from */
    uint64_t ghost_target; /* bytes of ghosts remembered */
    uint64_t proposed;     /* the last victim proposed, 0 none: its removal is an eviction */
};

typedef struct s3_state {
    const mcc_host *host;
    mcc_instance *self;
    unsigned small_percent; /* share of a set's capacity for the small queue */
} s3_state;

static void s3_unlink(mcc_evict_set *set, s3_node *n)
{
    s3_queue *q = &set->q[n->queue];
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->prev = n->next = NULL;
    q->bytes -= n->bytes;
    q->count--;
}

static void s3_push(mcc_evict_set *set, s3_node *n, int queue)
{
    s3_queue *q = &set->q[queue];
    n->queue = (uint8_t)queue;
    n->prev = NULL;
    n->next = q->head;
    if (q->head != NULL)
        q->head->prev = n;
    q->head = n;
    if (q->tail == NULL)
        q->tail = n;
    q->bytes += n->bytes;
    q->count++;
}

static void s3_forget(mcc_evict_set *set, s3_node *n)
{
    s3_unlink(set, n);
    HASH_DEL(set->by_id, n);
    free(n);
}

/* Ghosts are ids only: the oldest go once they stand for more bytes than main may hold. */
static void s3_ghost_trim(mcc_evict_set *set)
{
    while (set->q[S3_GHOST].bytes > set->ghost_target && set->q[S3_GHOST].tail != NULL)
        s3_forget(set, set->q[S3_GHOST].tail);
}

static mcc_evict_set *s3_evict_new(void *state, uint64_t capacity)
{
    s3_state *st = state;
    mcc_evict_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return NULL;
    set->capacity = capacity;
    set->small_target = capacity / 100 * st->small_percent;
    set->ghost_target = capacity - set->small_target;
    return set;
}

static void s3_evict_free(mcc_evict_set *set)
{
    if (set == NULL)
        return;
    s3_node *n, *tmp;
    HASH_ITER(hh, set->by_id, n, tmp)
    {
        HASH_DEL(set->by_id, n);
        free(n);
    }
    free(set);
}

static void s3_evict_insert(mcc_evict_set *set, uint64_t id, uint64_t bytes)
{
    s3_node *n;
    HASH_FIND(hh, set->by_id, &id, sizeof(id), n);
    if (n != NULL && n->queue != S3_GHOST) {
        /* stored again (replaced): same place, new size */
        set->q[n->queue].bytes += bytes - n->bytes;
        n->bytes = bytes;
        return;
    }
    int queue = S3_SMALL;
    if (n != NULL) {
        /* evicted from small not long ago and back already: it earned main */
        s3_unlink(set, n);
        queue = S3_MAIN;
    } else {
        n = calloc(1, sizeof(*n));
        if (n == NULL)
            return; /* untracked: never proposed, which only makes eviction less eager */
        n->id = id;
        HASH_ADD(hh, set->by_id, id, sizeof(n->id), n);
    }
    n->bytes = bytes;
    n->freq = 0;
    s3_push(set, n, queue);
}

static void s3_evict_access(mcc_evict_set *set, uint64_t id)
{
    s3_node *n;
    HASH_FIND(hh, set->by_id, &id, sizeof(id), n);
    if (n != NULL && n->queue != S3_GHOST && n->freq < S3_FREQ_MAX)
        n->freq++;
}

static void s3_evict_remove(mcc_evict_set *set, uint64_t id)
{
    s3_node *n;
    HASH_FIND(hh, set->by_id, &id, sizeof(id), n);
    if (n == NULL || n->queue == S3_GHOST)
        return;
    if (id == set->proposed && n->queue == S3_SMALL) {
        /* evicted from small: remembered as a ghost, so a quick return goes to main */
        set->proposed = 0;
        s3_unlink(set, n);
        n->freq = 0;
        s3_push(set, n, S3_GHOST);
        s3_ghost_trim(set);
        return;
    }
    if (id == set->proposed)
        set->proposed = 0;
    s3_forget(set, n);
}

/* Main's clock: from the oldest on, an object with frequency left goes round again with one use
 * less; the first with none that may go is the victim. Objects in use stay where they are. */
static s3_node *s3_main_candidate(mcc_evict_set *set, mcc_evict_can_fn can, void *arg)
{
    s3_queue *m = &set->q[S3_MAIN];
    /* every node is looked at no more than S3_FREQ_MAX + 1 times: bounded */
    size_t steps = 0, limit = m->count * (S3_FREQ_MAX + 1) + 1;
    s3_node *n = m->tail;
    while (n != NULL && steps++ < limit) {
        s3_node *next = n->prev;
        if (n->freq > 0) {
            n->freq--;
            s3_unlink(set, n);
            s3_push(set, n, S3_MAIN);
            if (next == NULL)
                next = n; /* it was the newest: it is looked at again */
        } else if (can == NULL || can(arg, n->id)) {
            return n;
        }
        n = next;
    }
    return NULL;
}

static int s3_evict_victim(mcc_evict_set *set, mcc_evict_can_fn can, void *arg, uint64_t *id)
{
    s3_queue *s = &set->q[S3_SMALL];

    /* small first while it is over its share (or main has nothing to give) */
    if (s->bytes > set->small_target || set->q[S3_MAIN].count == 0) {
        s3_node *n = s->tail;
        while (n != NULL) {
            s3_node *next = n->prev;
            if (n->freq > 0) {
                /* used again while in small: it moves to main, its uses spent */
                s3_unlink(set, n);
                n->freq = 0;
                s3_push(set, n, S3_MAIN);
            } else if (can == NULL || can(arg, n->id)) {
                *id = set->proposed = n->id;
                return MCC_OK;
            }
            n = next;
        }
    }
    s3_node *n = s3_main_candidate(set, can, arg);
    if (n == NULL) {
        /* main has none that may go: whatever small has that may, oldest first */
        for (n = s->tail; n != NULL; n = n->prev)
            if (can == NULL || can(arg, n->id))
                break;
    }
    if (n == NULL)
        return MCC_NOTFOUND;
    *id = set->proposed = n->id;
    return MCC_OK;
}

static int s3_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf, void **state,
                     mcc_err *err)
{
    int64_t small = 10;
    if (host->conf_int(conf, "small_percent", 10, 1, 50, &small, err) != MCC_OK)
        return MCC_ERROR;
    s3_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    st->host = host;
    st->self = self;
    st->small_percent = (unsigned)small;
    *state = st;
    return MCC_OK;
}

static void s3_destroy(void *state)
{
    free(state);
}

static const mcc_policy_ops s3_ops = {
    .size = sizeof(mcc_policy_ops),
    .type = MCC_POLICY_EVICTION,
    .evict_new = s3_evict_new,
    .evict_free = s3_evict_free,
    .evict_insert = s3_evict_insert,
    .evict_access = s3_evict_access,
    .evict_remove = s3_evict_remove,
    .evict_victim = s3_evict_victim,
};

static const mcc_plugin s3_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_POLICY, "s3fifo", "0.1.0"),
    .description = "eviction: S3-FIFO (small, main and ghost FIFOs), objects in use are skipped",
    .create = s3_create,
    .destroy = s3_destroy,
    .ops = &s3_ops,
};

MCC_PLUGIN_DEFINE(s3_plugin)
