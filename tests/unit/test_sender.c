/* Unit tests of daemon/cache/sender.c: sender threads write a head and a file span to a socket
 * and report back on the event loop; cancelled, stalled and stopped jobs report too. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cache/sender.h"
#include "cunit_main.h"

#define FILE_SIZE (3u << 20)

typedef struct done_log {
    int calls;
    uint64_t sent;
    size_t head_sent;
    int error, cancelled;
    struct event_base *base;
} done_log;

static void on_done(mcc_sendjob *job, void *arg)
{
    done_log *d = arg;
    d->calls++;
    d->sent = job->sent;
    d->head_sent = job->head_sent;
    d->error = job->error;
    d->cancelled = atomic_load(&job->cancel);
    mcc_sendjob_free(job);
    if (d->base != NULL)
        event_base_loopbreak(d->base);
}

/* A temp file of FILE_SIZE bytes whose byte i is (i * 7 + i / 4096) & 0xff. */
static int make_file(void)
{
    char path[] = "/tmp/mcc-test-sender.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    unsigned char *buf = malloc(FILE_SIZE);
    for (uint64_t i = 0; i < FILE_SIZE; i++)
        buf[i] = (unsigned char)((i * 7 + i / 4096) & 0xff);
    ssize_t w = write(fd, buf, FILE_SIZE);
    free(buf);
    if (w != (ssize_t)FILE_SIZE) {
        close(fd);
        return -1;
    }
    return fd;
}

static void nonblocking(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Runs BASE until DONE has been called, reading what arrives on PEER into OUT (at most CAP). */
static size_t run_reading(struct event_base *base, done_log *d, int peer, unsigned char *out,
                          size_t cap)
{
    size_t got = 0;
    for (int i = 0; i < 20000 && d->calls == 0; i++) {
        ssize_t r = recv(peer, out + got, cap - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (r <= 0)
            usleep(500);
    }
    for (;;) { /* what was in flight when the job ended */
        ssize_t r = recv(peer, out + got, cap - got, MSG_DONTWAIT);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static void test_sends_head_and_span(void)
{
    struct event_base *base = event_base_new();
    done_log d = {0};
    mcc_senders *p = mcc_senders_new(base, 2, 5000, on_done, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mcc_senders_count(p), 2);
    int file = make_file();
    int sv[2];
    CU_ASSERT_FATAL(file >= 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    nonblocking(sv[0]);
    /* a small socket buffer: the sender has to wait for the reader many times */
    int small = 16384;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));

    const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n";
    uint64_t off = 123457, len = 2000000;
    mcc_sendjob *job = mcc_sendjob_new(sv[0], file, off, len, head, strlen(head));
    CU_ASSERT_PTR_NOT_NULL_FATAL(job);
    CU_ASSERT_NOT_EQUAL(job->sock, sv[0]); /* its own descriptors */
    CU_ASSERT_NOT_EQUAL(job->file, file);
    mcc_senders_submit(p, job);
    /* the loop's descriptors may go at once: the job does not use them */
    close(sv[0]);
    close(file);

    size_t cap = strlen(head) + len + 16;
    unsigned char *got = malloc(cap);
    size_t n = run_reading(base, &d, sv[1], got, cap);
    CU_ASSERT_EQUAL(d.calls, 1);
    CU_ASSERT_EQUAL(d.error, 0);
    CU_ASSERT_EQUAL(d.sent, len);
    CU_ASSERT_EQUAL(d.head_sent, strlen(head));
    CU_ASSERT_EQUAL_FATAL(n, strlen(head) + len);
    CU_ASSERT_EQUAL(memcmp(got, head, strlen(head)), 0);
    int same = 1;
    for (uint64_t i = 0; i < len && same; i++) {
        uint64_t at = off + i;
        same = got[strlen(head) + i] == (unsigned char)((at * 7 + at / 4096) & 0xff);
    }
    CU_ASSERT(same);
    free(got);
    close(sv[1]);
    mcc_senders_free(p);
    CU_ASSERT_EQUAL(d.calls, 1); /* nothing was left to report */
    event_base_free(base);
}

static void test_reader_gone(void)
{
    struct event_base *base = event_base_new();
    done_log d = {.base = base};
    mcc_senders *p = mcc_senders_new(base, 1, 5000, on_done, &d);
    int file = make_file();
    int sv[2];
    CU_ASSERT_FATAL(p != NULL && file >= 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    nonblocking(sv[0]);
    close(sv[1]); /* the client left: the write fails with EPIPE, and no SIGPIPE kills us */
    mcc_senders_submit(p, mcc_sendjob_new(sv[0], file, 0, FILE_SIZE, NULL, 0));
    struct timeval tv = {5, 0};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    CU_ASSERT_EQUAL(d.calls, 1);
    CU_ASSERT_EQUAL(d.error, EPIPE);
    CU_ASSERT(d.sent < FILE_SIZE);
    close(sv[0]);
    close(file);
    mcc_senders_free(p);
    event_base_free(base);
}

static void test_cancel_and_stall(void)
{
    struct event_base *base = event_base_new();
    done_log d = {.base = base};
    /* a stall of 1.5 s: a job whose client reads nothing fails with ETIMEDOUT */
    mcc_senders *p = mcc_senders_new(base, 1, 1500, on_done, &d);
    int file = make_file();
    int sv[2], sw[2];
    CU_ASSERT_FATAL(p != NULL && file >= 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 &&
                    socketpair(AF_UNIX, SOCK_STREAM, 0, sw) == 0);
    nonblocking(sv[0]);
    nonblocking(sw[0]);

    /* nobody reads sv[1]: the job parks; a cancel ends it with what it wrote so far */
    mcc_sendjob *job = mcc_sendjob_new(sv[0], file, 0, FILE_SIZE, NULL, 0);
    mcc_senders_submit(p, job);
    usleep(200000);
    CU_ASSERT_EQUAL(d.calls, 0);
    mcc_senders_cancel(p, job);
    struct timeval tv = {5, 0};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    CU_ASSERT_EQUAL(d.calls, 1);
    CU_ASSERT(d.cancelled);
    CU_ASSERT_EQUAL(d.error, 0);
    CU_ASSERT(d.sent > 0 && d.sent < FILE_SIZE);

    /* nobody reads sw[1] and nobody cancels: the stall timeout ends it */
    memset(&d, 0, sizeof(d));
    d.base = base;
    mcc_senders_submit(p, mcc_sendjob_new(sw[0], file, 0, FILE_SIZE, NULL, 0));
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    gettimeofday(&t1, NULL);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
    CU_ASSERT_EQUAL(d.calls, 1);
    CU_ASSERT_EQUAL(d.error, ETIMEDOUT);
    CU_ASSERT(waited >= 1.4 && waited < 4.5);

    for (int i = 0; i < 2; i++) {
        close(sv[i]);
        close(sw[i]);
    }
    close(file);
    mcc_senders_free(p);
    event_base_free(base);
}

static void test_stop_reports_every_job(void)
{
    struct event_base *base = event_base_new();
    done_log d = {0};
    mcc_senders *p = mcc_senders_new(base, 2, 60000, on_done, &d);
    int file = make_file();
    CU_ASSERT_FATAL(p != NULL && file >= 0);
    int pairs[6][2];
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]) == 0);
        nonblocking(pairs[i][0]);
        mcc_senders_submit(p, mcc_sendjob_new(pairs[i][0], file, 0, FILE_SIZE, NULL, 0));
    }
    usleep(100000);
    /* six jobs parked on unread sockets: stopping ends them all and reports each once */
    mcc_senders_free(p);
    CU_ASSERT_EQUAL(d.calls, 6);
    for (int i = 0; i < 6; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
    close(file);
    event_base_free(base);
}

int mcc_test_register(void)
{
    static const CU_TestInfo tests[] = {
        {"head and a file span, through a small socket buffer", test_sends_head_and_span},
        {"a client that left: EPIPE, no signal", test_reader_gone},
        {"cancel, and the stall timeout", test_cancel_and_stall},
        {"stopping reports every job", test_stop_reports_every_job},
        CU_TEST_INFO_NULL,
    };
    return mcc_test_suite("sender", tests);
}
