/* The daemon lock (core/lock.h), and the one place where a loop's thread lets go of it by
 * itself: while libevent waits for events.
 *
 * libevent 2.1 has no hook around its wait, and the base lock it drops there is also dropped
 * around every callback, so that lock cannot stand for this one. mccd defines epoll_wait
 * instead: libevent's call binds to the executable's definition (the executable comes first in
 * the dynamic linker's search order), which releases the lock when the calling thread holds it,
 * waits in the C library's epoll_wait, and takes the lock back. Threads that do not hold the
 * lock (the sender threads, libcurl's resolver) wait as before. mcc_lock_waits_release checks
 * that the binding took before a second loop is started. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/lock.h"

/* adaptive: a loop that wants the lock back after a short send spins a little before it sleeps */
static pthread_mutex_t lock_mutex = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static _Thread_local int lock_held;
static uint64_t lock_wait_ns; /* time threads spent waiting for the lock (atomic) */

static uint64_t lock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mcc_lock(void)
{
    /* the clock is read only when another thread has the lock */
    if (pthread_mutex_trylock(&lock_mutex) != 0) {
        uint64_t t0 = lock_now_ns();
        pthread_mutex_lock(&lock_mutex);
        __atomic_add_fetch(&lock_wait_ns, lock_now_ns() - t0, __ATOMIC_RELAXED);
    }
    lock_held = 1;
}

void mcc_unlock(void)
{
    lock_held = 0;
    pthread_mutex_unlock(&lock_mutex);
}

int mcc_lock_held(void)
{
    return lock_held;
}

double mcc_lock_wait_seconds(void)
{
    return (double)__atomic_load_n(&lock_wait_ns, __ATOMIC_RELAXED) / 1e9;
}

typedef int (*lock_epoll_wait_fn)(int, struct epoll_event *, int, int);

static lock_epoll_wait_fn lock_next_epoll_wait(void)
{
    static lock_epoll_wait_fn next;
    lock_epoll_wait_fn fn = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
    if (fn == NULL) {
        fn = (lock_epoll_wait_fn)dlsym(RTLD_NEXT, "epoll_wait");
        __atomic_store_n(&next, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    lock_epoll_wait_fn next = lock_next_epoll_wait();
    if (next == NULL) /* no C library below: the system call itself (never expected) */
        return (int)syscall(SYS_epoll_pwait, epfd, events, maxevents, timeout, NULL, 8);
    if (!lock_held)
        return next(epfd, events, maxevents, timeout);
    mcc_unlock();
    int n = next(epfd, events, maxevents, timeout);
    int saved = errno;
    mcc_lock();
    errno = saved;
    return n;
}

int mcc_lock_waits_release(struct event_base *base)
{
    if (base == NULL || strncmp(event_base_get_method(base), "epoll", 5) != 0)
        return 0;
    return dlsym(RTLD_DEFAULT, "epoll_wait") == (void *)epoll_wait;
}
