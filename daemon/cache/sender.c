/* Sender threads: each waits in its own epoll set on the sockets of its jobs and on an eventfd
 * the loop writes to when it hands over a job or cancels one. Finished jobs go back through the
 * pool's done list and one eventfd watched by the loop. */
#define _GNU_SOURCE /* MSG_MORE */
#include "cache/sender.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/core.h"

#define SENDER_EVENTS 64
#define SENDER_MAX_CALL (8u << 20) /* bytes asked of one sendfile */

typedef struct sender_thread {
    mcc_senders *pool;
    pthread_t tid;
    int running;
    int epfd, evfd;
    pthread_mutex_t mu;
    mcc_sendjob *inbox;  /* handed over, not yet taken (mu) */
    int stop;            /* (mu) */
    mcc_sendjob *active; /* the thread's: jobs waiting for their socket, linked by next */
} sender_thread;

/* Where ended jobs go back: an event loop, told through its own eventfd. */
typedef struct sender_channel {
    struct event_base *base;
    int evfd;
    struct event *ev;
    mcc_sendjob *done; /* (the pool's mu) */
    struct mcc_senders *pool;
} sender_channel;

struct mcc_senders {
    unsigned n, rr;
    sender_thread *t;
    uint64_t stall_ms; /* a job whose client takes nothing for this long fails */
    pthread_mutex_t mu;
    sender_channel ch[MCC_SENDERS_MAX_LOOPS];
    unsigned nch;
    mcc_send_done_fn fn;
    void *arg;
};

static void sender_wake(int fd)
{
    uint64_t one = 1;
    ssize_t w;
    do
        w = write(fd, &one, sizeof(one));
    while (w < 0 && errno == EINTR);
}

static void sender_drain(int fd)
{
    uint64_t v;
    ssize_t r;
    do
        r = read(fd, &v, sizeof(v));
    while (r < 0 && errno == EINTR);
}

static int64_t sender_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The job leaves the thread: its descriptors are closed and the loop is told. */
static void sender_finish(sender_thread *t, mcc_sendjob *job)
{
    if (job->armed)
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, job->sock, NULL);
    job->armed = 0;
    close(job->sock);
    close(job->file);
    job->sock = job->file = -1;
    sender_channel *ch = &t->pool->ch[job->loop];
    pthread_mutex_lock(&t->pool->mu);
    job->next = ch->done;
    ch->done = job;
    pthread_mutex_unlock(&t->pool->mu);
    sender_wake(ch->evfd);
}

/* The socket is full: wait for it. Returns 0, or 1 when the job cannot wait (it is over). */
static int sender_park(sender_thread *t, mcc_sendjob *job)
{
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLONESHOT, .data.ptr = job};
    if (epoll_ctl(t->epfd, job->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, job->sock, &ev) != 0) {
        job->error = errno;
        return 1;
    }
    job->armed = 1;
    return 0;
}

/* Writes what the socket takes. Returns 1 when the job is over (sent, failed or cancelled), 0
 * when it waits for the socket. */
static int sender_run(sender_thread *t, mcc_sendjob *job)
{
    while (!atomic_load(&job->cancel) && job->head_sent < job->head_len) {
        ssize_t w = send(job->sock, job->head + job->head_sent, job->head_len - job->head_sent,
                         MSG_NOSIGNAL | (job->len > 0 ? MSG_MORE : 0));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return sender_park(t, job);
        if (w <= 0) {
            job->error = w < 0 ? errno : EPIPE;
            return 1;
        }
        job->head_sent += (size_t)w;
    }
    while (!atomic_load(&job->cancel) && job->sent < job->len) {
        off_t off = (off_t)(job->off + job->sent);
        uint64_t want = job->len - job->sent;
        ssize_t w = sendfile(job->sock, job->file, &off,
                             (size_t)(want < SENDER_MAX_CALL ? want : SENDER_MAX_CALL));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return sender_park(t, job);
        if (w <= 0) {
            job->error = w < 0 ? errno : EIO; /* 0: the file is shorter than its span */
            return 1;
        }
        job->sent += (uint64_t)w;
    }
    return 1;
}

static void sender_unlink(sender_thread *t, mcc_sendjob *job)
{
    for (mcc_sendjob **p = &t->active; *p != NULL; p = &(*p)->next) {
        if (*p == job) {
            *p = job->next;
            break;
        }
    }
    job->next = NULL;
}

/* A job that ran: finished, or parked on the active list with a fresh deadline. */
static void sender_step(sender_thread *t, mcc_sendjob *job, int64_t now)
{
    uint64_t before = job->sent + job->head_sent;
    if (sender_run(t, job)) {
        sender_finish(t, job);
        return;
    }
    if (job->sent + job->head_sent != before || job->deadline_ms == 0)
        job->deadline_ms = now + (int64_t)t->pool->stall_ms;
    job->next = t->active;
    t->active = job;
}

static void *sender_main(void *arg)
{
    sender_thread *t = arg;
    struct epoll_event evs[SENDER_EVENTS];
    for (;;) {
        /* with jobs parked, wake once a second to fail the stalled ones */
        int n = epoll_wait(t->epfd, evs, SENDER_EVENTS, t->active != NULL ? 1000 : -1);
        if (n < 0 && errno != EINTR)
            break;
        int64_t now = sender_now_ms();
        int woken = 0;
        for (int i = 0; i < n; i++) {
            mcc_sendjob *job = evs[i].data.ptr;
            if (job == NULL) {
                woken = 1;
                continue;
            }
            sender_unlink(t, job);
            sender_step(t, job, now);
        }
        mcc_sendjob *in = NULL;
        int stop = 0;
        if (woken) {
            sender_drain(t->evfd);
            pthread_mutex_lock(&t->mu);
            in = t->inbox;
            t->inbox = NULL;
            stop = t->stop;
            pthread_mutex_unlock(&t->mu);
        }
        /* parked jobs: cancelled, stalled, or everything when stopping */
        for (mcc_sendjob **p = &t->active; *p != NULL;) {
            mcc_sendjob *job = *p;
            int stalled = job->deadline_ms != 0 && now > job->deadline_ms;
            if (stop || stalled || atomic_load(&job->cancel)) {
                *p = job->next;
                if (stalled && !atomic_load(&job->cancel))
                    job->error = ETIMEDOUT;
                sender_finish(t, job);
            } else {
                p = &job->next;
            }
        }
        /* new jobs, in the order they came */
        mcc_sendjob *rev = NULL;
        while (in != NULL) {
            mcc_sendjob *next = in->next;
            in->next = rev;
            rev = in;
            in = next;
        }
        while (rev != NULL) {
            mcc_sendjob *job = rev;
            rev = rev->next;
            job->next = NULL;
            if (stop)
                sender_finish(t, job);
            else
                sender_step(t, job, now);
        }
        if (stop)
            break;
    }
    return NULL;
}

/* On a loop: the jobs that ended go back to their owners. */
static void senders_collect(sender_channel *ch)
{
    mcc_senders *p = ch->pool;
    pthread_mutex_lock(&p->mu);
    mcc_sendjob *job = ch->done;
    ch->done = NULL;
    pthread_mutex_unlock(&p->mu);
    while (job != NULL) {
        mcc_sendjob *next = job->next;
        job->next = NULL;
        p->fn(job, p->arg);
        job = next;
    }
}

static void senders_done_cb(evutil_socket_t fd, short what, void *arg)
{
    sender_drain(fd);
    senders_collect(arg);
}

int mcc_senders_add_loop(mcc_senders *p, struct event_base *base)
{
    if (p->nch == MCC_SENDERS_MAX_LOOPS)
        return MCC_ERROR;
    sender_channel *ch = &p->ch[p->nch];
    ch->pool = p;
    ch->base = base;
    ch->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ch->evfd < 0)
        return MCC_ERROR;
    ch->ev = event_new(base, ch->evfd, EV_READ | EV_PERSIST, senders_done_cb, ch);
    if (ch->ev == NULL || event_add(ch->ev, NULL) != 0) {
        if (ch->ev != NULL)
            event_free(ch->ev);
        ch->ev = NULL;
        close(ch->evfd);
        return MCC_ERROR;
    }
    p->nch++;
    return MCC_OK;
}

unsigned mcc_senders_loop_of(const mcc_senders *p, const struct event_base *base)
{
    for (unsigned i = 1; i < p->nch; i++)
        if (p->ch[i].base == base)
            return i;
    return 0;
}

mcc_senders *mcc_senders_new(struct event_base *base, unsigned threads, uint64_t stall_ms,
                             mcc_send_done_fn done, void *arg)
{
    mcc_senders *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->fn = done;
    p->arg = arg;
    p->stall_ms = stall_ms > 0 ? stall_ms : 60000;
    pthread_mutex_init(&p->mu, NULL);
    p->t = calloc(threads, sizeof(*p->t));
    if (p->t == NULL || mcc_senders_add_loop(p, base) != MCC_OK)
        goto fail;
    for (unsigned i = 0; i < threads; i++) {
        sender_thread *t = &p->t[i];
        t->pool = p;
        t->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        t->epfd = epoll_create1(EPOLL_CLOEXEC);
        pthread_mutex_init(&t->mu, NULL);
        p->n = i + 1; /* freed from here on */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (t->evfd < 0 || t->epfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &ev) != 0)
            goto fail;
        int rc = mcc_thread_start(&t->tid, sender_main, t, "mccd-send");
        if (rc != 0) {
            errno = rc;
            goto fail;
        }
        t->running = 1;
    }
    return p;
fail:
    mcc_log(MCC_LOG_ERROR, "cannot start %u sender threads: %s", threads, strerror(errno));
    mcc_senders_free(p);
    return NULL;
}

unsigned mcc_senders_count(const mcc_senders *p)
{
    return p != NULL ? p->n : 0;
}

double mcc_senders_cpu_seconds(const mcc_senders *p)
{
    double sum = 0;
    for (unsigned i = 0; p != NULL && i < p->n; i++)
        if (p->t[i].running)
            sum += mcc_thread_cpu_seconds(p->t[i].tid);
    return sum;
}

mcc_sendjob *mcc_sendjob_new(int sock, int file, uint64_t off, uint64_t len, const void *head,
                             size_t head_len)
{
    mcc_sendjob *job = calloc(1, sizeof(*job) + head_len);
    if (job == NULL)
        return NULL;
    job->sock = fcntl(sock, F_DUPFD_CLOEXEC, 0);
    job->file = job->sock >= 0 ? fcntl(file, F_DUPFD_CLOEXEC, 0) : -1;
    if (job->file < 0) {
        if (job->sock >= 0)
            close(job->sock);
        free(job);
        return NULL;
    }
    job->off = off;
    job->len = len;
    if (head_len > 0) {
        job->head = (char *)(job + 1);
        memcpy(job->head, head, head_len);
        job->head_len = head_len;
    }
    atomic_init(&job->cancel, 0);
    return job;
}

void mcc_sendjob_free(mcc_sendjob *job)
{
    if (job == NULL)
        return;
    if (job->sock >= 0)
        close(job->sock);
    if (job->file >= 0)
        close(job->file);
    free(job);
}

void mcc_senders_submit(mcc_senders *p, mcc_sendjob *job)
{
    /* round robin: every job is about the same work (one span of at most a few MiB) */
    sender_thread *t = &p->t[p->rr++ % p->n];
    job->thread = (unsigned)(t - p->t);
    pthread_mutex_lock(&t->mu);
    job->next = t->inbox;
    t->inbox = job;
    pthread_mutex_unlock(&t->mu);
    sender_wake(t->evfd);
}

void mcc_senders_cancel(mcc_senders *p, mcc_sendjob *job)
{
    atomic_store(&job->cancel, 1);
    sender_wake(p->t[job->thread].evfd);
}

void mcc_senders_free(mcc_senders *p)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; i < p->n; i++) {
        sender_thread *t = &p->t[i];
        if (t->running) {
            pthread_mutex_lock(&t->mu);
            t->stop = 1;
            pthread_mutex_unlock(&t->mu);
            sender_wake(t->evfd);
            pthread_join(t->tid, NULL);
        }
        if (t->epfd >= 0)
            close(t->epfd);
        if (t->evfd >= 0)
            close(t->evfd);
        pthread_mutex_destroy(&t->mu);
    }
    /* every thread has stopped: what they held is in the done lists */
    for (unsigned i = 0; i < p->nch; i++) {
        if (p->fn != NULL)
            senders_collect(&p->ch[i]);
        event_free(p->ch[i].ev);
        close(p->ch[i].evfd);
    }
    pthread_mutex_destroy(&p->mu);
    free(p->t);
    free(p);
}
