/* The core context's construction and teardown, shared by mccd's modes and the test harness, so
 * that every one of them tears the layers down in the same order. */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "cache/cache.h"
#include "core/core.h"
#include "core/instance.h"
#include "core/lock.h"
#include "core/reload.h"
#include "core/metrics.h"
#include "fetch/fetch.h"
#include "http/admin.h"
#include "http/front.h"
#include "report/stats.h"

/* The event loop. With epoll, changes of interest made within one turn of the loop are applied
 * together (libevent's change list): evhttp drops read interest and adds write interest while
 * it answers a request, then the reverse when the answer is written, four epoll_ctl calls per
 * request that become two. The change list must not see two descriptors of one open file (dup);
 * mccd registers none (sendfile segments borrow descriptors but are never polled). */
struct event_base *mcc_core_base_new(void)
{
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

int mcc_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg, const char *name)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_setname_np(*thread, name);
    return rc;
}

double mcc_thread_cpu_seconds(pthread_t thread)
{
    clockid_t clock;
    struct timespec ts;
    if (pthread_getcpuclockid(thread, &clock) != 0 || clock_gettime(clock, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int mcc_core_init(mcc_core *core, mcc_config *config, const mcc_settings *settings, mcc_err *err)
{
    core->config = config;
    core->settings = *settings;
    core->host = mcc_host_table();

    core->base = mcc_core_base_new();
    if (core->base == NULL)
        return mcc_err_set(err, "cannot create the event loop");
    core->metrics = mcc_metrics_new();
    if (core->metrics == NULL)
        return mcc_err_set(err, "out of memory");
    /* the thread that starts the core is the one that runs its loop */
    core->loop_thread = pthread_self();
    core->m_loop_cpu = mcc_metrics_get(
        core->metrics, MCC_METRIC_COUNTER, "mcc_loop_cpu_seconds_total",
        "CPU time (user and system) of the event loops' threads, together", NULL, NULL, 0);
    core->m_lock_wait = mcc_metrics_get(
        core->metrics, MCC_METRIC_COUNTER, "mcc_lock_wait_seconds_total",
        "Time the event loops spent waiting for the daemon lock while another loop held it", NULL,
        NULL, 0);
    core->stats = mcc_stats_new(core, settings->summary_period_ms);
    if (core->stats == NULL)
        return mcc_err_set(err, "cannot start the stats (access log \"%s\")", settings->access_log);
    core->admin = mcc_admin_new(core);
    if (core->admin == NULL)
        return mcc_err_set(err, "out of memory");
    return MCC_OK;
}

void mcc_core_sample(mcc_core *core)
{
    if (core->m_loop_cpu != NULL)
        mcc_metric_set(core->m_loop_cpu, mcc_thread_cpu_seconds(core->loop_thread) +
                                             mcc_front_loops_cpu_seconds(core->front));
    if (core->m_lock_wait != NULL)
        mcc_metric_set(core->m_lock_wait, mcc_lock_wait_seconds());
    if (core->cache != NULL)
        mcc_cache_sample(core->cache);
}

void mcc_core_fini(mcc_core *core)
{
    if (core->front != NULL) {
        mcc_front_free(core->front);
        core->front = NULL;
    }
    if (core->admin != NULL) {
        mcc_admin_free(core->admin);
        core->admin = NULL;
    }
    mcc_core_retired_free(core);
    mcc_core_instances_free(core);
    if (core->fetcher != NULL) {
        mcc_fetcher_free(core->fetcher);
        core->fetcher = NULL;
    }
    mcc_stats_free(core->stats);
    core->stats = NULL;
    mcc_metrics_free(core->metrics);
    core->metrics = NULL;
    if (core->base != NULL) {
        event_base_free(core->base);
        core->base = NULL;
    }
    mcc_config_free(core->config);
    core->config = NULL;
}
