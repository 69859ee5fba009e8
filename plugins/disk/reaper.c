/* The reaper: a thread that closes and unlinks what removed objects leave behind. Freeing a
 * large file's blocks and page cache is done by the close or unlink that drops its last
 * reference, and for a 1 GiB object that takes tens to hundreds of milliseconds: on the loop it
 * would stall every client. The loop renames a removed object's .data to a tombstone name (a
 * rename frees nothing) and hands the tombstone and the object's descriptor over here. */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"

typedef struct reap_item {
    struct reap_item *next;
    void (*fn)(void *arg); /* called, or NULL */
    void *arg;
    int fd;      /* closed, or -1 */
    char path[]; /* unlinked, or "" */
} reap_item;

struct disk_reaper {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    reap_item *head, *tail; /* (mu) */
    int stop;               /* (mu) */
};

static void reap_one(reap_item *it)
{
    if (it->fn != NULL)
        it->fn(it->arg);
    if (it->fd >= 0)
        close(it->fd);
    if (it->path[0] != '\0')
        unlink(it->path);
    free(it);
}

static void *reaper_main(void *arg)
{
    disk_reaper *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->head == NULL && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        reap_item *it = r->head;
        if (it == NULL)
            break; /* stopping, and nothing is left */
        r->head = it->next;
        if (r->head == NULL)
            r->tail = NULL;
        pthread_mutex_unlock(&r->mu);
        reap_one(it);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

disk_reaper *disk_reaper_start(void)
{
    disk_reaper *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    /* signals are the daemon's business: the thread starts with all of them blocked */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&r->tid, NULL, reaper_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    pthread_setname_np(r->tid, "mccd-reap");
    return r;
}

void disk_reaper_stop(disk_reaper *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->tid, NULL); /* it finishes the queue first */
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void reap_queue(disk_reaper *r, reap_item *it)
{
    pthread_mutex_lock(&r->mu);
    if (r->tail != NULL)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void disk_reap(disk_reaper *r, int fd, const char *path)
{
    size_t len = path != NULL ? strlen(path) : 0;
    reap_item *it = r != NULL ? calloc(1, sizeof(*it) + len + 1) : NULL;
    if (it == NULL) {
        /* no reaper, or no memory for the hand-over: done here, slow but not lost */
        if (fd >= 0)
            close(fd);
        if (len > 0)
            unlink(path);
        return;
    }
    it->fd = fd;
    memcpy(it->path, len > 0 ? path : "", len + 1);
    reap_queue(r, it);
}

int disk_reaper_run(disk_reaper *r, void (*fn)(void *arg), void *arg)
{
    reap_item *it = r != NULL ? calloc(1, sizeof(*it) + 1) : NULL;
    if (it == NULL)
        return -1;
    it->fn = fn;
    it->arg = arg;
    it->fd = -1;
    reap_queue(r, it);
    return 0;
}

void disk_reap_file(disk_state *st, const char *path)
{
    char tomb[DISK_PATH_MAX];
    int n = snprintf(tomb, sizeof(tomb), "%s.%llu.reap", path, (unsigned long long)++st->reap_seq);
    if (st->reaper == NULL || n < 0 || (size_t)n >= sizeof(tomb) || rename(path, tomb) != 0) {
        unlink(path);
        return;
    }
    disk_reap(st->reaper, -1, tomb);
}
