/* Unit tests of daemon/core/lock.c: a loop's thread holds the daemon lock except while libevent
 * waits for events, and the check that says so before a second loop is started. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/core.h"
#include "core/lock.h"
#include "cunit_main.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct waiter {
    struct event_base *base;
    atomic_int waiting;   /* set once the thread holds the lock and is about to wait */
    int held_in_callback; /* mcc_lock_held() in the timer's callback */
    int held_after;       /* ... and once the loop returned */
    int64_t fired_ms;
} waiter;

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    waiter *w = arg;
    w->held_in_callback = mcc_lock_held();
    w->fired_ms = now_ms();
}

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    struct event *ev = evtimer_new(w->base, on_timer, w);
    struct timeval tv = {0, 400000};
    evtimer_add(ev, &tv);
    mcc_lock();
    atomic_store(&w->waiting, 1);
    event_base_loop(w->base, EVLOOP_ONCE); /* 400 ms in epoll_wait, then the callback */
    w->held_after = mcc_lock_held();
    mcc_unlock();
    event_free(ev);
    return NULL;
}

/* While one thread waits in its loop, another takes the lock at once; the waiting thread has
 * it back for its callback and after its loop. */
static void test_wait_releases(void)
{
    waiter w = {0};
    w.base = mcc_core_base_new();
    CU_ASSERT_FATAL(w.base != NULL);
    CU_ASSERT_EQUAL(mcc_lock_waits_release(w.base), 1);
    pthread_t t;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, waiter_main, &w) == 0);
    while (!atomic_load(&w.waiting))
        usleep(1000);
    usleep(50000);
    int64_t t0 = now_ms();
    mcc_lock(); /* would wait the whole 400 ms if the wait kept the lock */
    int64_t got = now_ms() - t0;
    CU_ASSERT_EQUAL(mcc_lock_held(), 1);
    usleep(500000); /* the timer is due meanwhile: its callback waits for the lock */
    int64_t released = now_ms();
    mcc_unlock();
    CU_ASSERT_EQUAL(mcc_lock_held(), 0);
    pthread_join(t, NULL);
    CU_ASSERT(got < 200);
    CU_ASSERT(w.fired_ms >= released); /* the callback ran only once the lock was free */
    CU_ASSERT_EQUAL(w.held_in_callback, 1);
    CU_ASSERT_EQUAL(w.held_after, 1);
    event_base_free(w.base);
}

/* A base that does not wait in epoll_wait (poll here) keeps the lock while it waits: the check
 * says no, and the daemon runs one loop. */
static void test_other_backend_refused(void)
{
    struct event_config *cfg = event_config_new();
    CU_ASSERT_FATAL(cfg != NULL);
    event_config_avoid_method(cfg, "epoll");
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    CU_ASSERT_FATAL(base != NULL);
    CU_ASSERT_EQUAL(mcc_lock_waits_release(base), 0);
    CU_ASSERT_EQUAL(mcc_lock_waits_release(NULL), 0);
    event_base_free(base);
}

/* A thread that does not hold the lock waits in epoll_wait as before, and does not take it. */
static void test_unheld_wait_untouched(void)
{
    struct event_base *base = mcc_core_base_new();
    CU_ASSERT_FATAL(base != NULL);
    struct timeval tv = {0, 20000};
    event_base_loopexit(base, &tv);
    int64_t t0 = now_ms();
    event_base_loop(base, 0);
    CU_ASSERT(now_ms() - t0 >= 15);
    CU_ASSERT_EQUAL(mcc_lock_held(), 0);
    event_base_free(base);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"a loop waiting in epoll_wait lets go of the lock", test_wait_releases},
        {"a base that does not use epoll is refused", test_other_backend_refused},
        {"a thread without the lock waits as before", test_unheld_wait_untouched},
        CU_TEST_INFO_NULL,
    };
    if (evthread_use_pthreads() != 0)
        return -1;
    return mcc_test_suite("lock", tests);
}
