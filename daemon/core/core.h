/* The core context: the one place that holds the daemon's mutable state, passed explicitly. */
#ifndef MCC_CORE_H
#define MCC_CORE_H

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include <event2/event.h>
#include <mcc/mcc.h>

#include "conf/conf.h"

struct mcc_fetcher;
struct mcc_metrics;
struct mcc_stats;
struct mcc_front;
struct mcc_admin;
struct mcc_loaded;

/* A plugin instance that was created, as the daemon's other layers use it. */
typedef struct mcc_plugin_ref {
    const char *name; /* instance name (key under "plugins") */
    const mcc_plugin *desc;
    const void *ops; /* desc->ops, typed by desc->kind */
    void *state;
    mcc_instance *inst;
} mcc_plugin_ref;

typedef struct mcc_core {
    struct event_base *base;
    mcc_config *config;
    mcc_settings settings;
    const mcc_host *host; /* the host API table handed to plugins */

    struct mcc_loaded *loaded; /* every loaded instance, in config order (core/instance.c) */

    /* resolved from settings: the instances each layer asks, in configured order */
    mcc_plugin_ref storage;
    mcc_plugin_ref hosts[MCC_MAX_ORDER];
    unsigned nhosts;
    mcc_plugin_ref upstreams[MCC_MAX_ORDER];
    unsigned nupstreams;
    mcc_plugin_ref exporters[MCC_MAX_INSTANCES];
    unsigned nexporters;

    struct mcc_metrics *metrics; /* registry behind the host's metric_* (core/metrics.c) */
    struct mcc_stats *stats;     /* traffic totals and report periods (report/stats.c) */
    struct mcc_fetcher *fetcher; /* libcurl multi on the loop (fetch/fetch.c) */
    struct mcc_front *front;     /* content listener and request pipeline (http/front.c) */
    struct mcc_admin *admin;     /* admin listener and routes (http/admin.c) */
    struct mcc_cache *cache;     /* index and in-flight table (cache/) */
    struct mcc_retired *retired; /* instances a reload replaced, freed when idle (reload.c) */

    pthread_t loop_thread; /* the first loop's thread (mcc_core_sample) */
    mcc_metric *m_loop_cpu;
    mcc_metric *m_lock_wait;
} mcc_core;

/* The event loop mccd runs on (epoll with the change list where available). */
struct event_base *mcc_core_base_new(void);
/* Starts a thread running FN(ARG), named NAME (for top -H, ps -L and tests), with every signal
 * blocked: signals are the first event loop's business. 0, or an errno value. */
int mcc_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg, const char *name);
/* CPU time (user and system) THREAD, a running thread of mccd, has used, in seconds; 0 when
 * its clock cannot be read. */
double mcc_thread_cpu_seconds(pthread_t thread);
/* Fills CORE (zeroed by the caller) around CONFIG, which the core owns from then on, and
 * SETTINGS read from it: event base, host table, metrics registry, stats (report period timer,
 * access log) and the admin route table without a listener. MCC_ERROR + err; then call
 * mcc_core_fini. (core/context.c) */
int mcc_core_init(mcc_core *core, mcc_config *config, const mcc_settings *settings, mcc_err *err);
/* Frees what CORE holds in shutdown order: front, admin, instances (stop all, then destroy all,
 * in reverse), fetcher, stats, metrics, event base, config. Safe on a partly filled core. */
void mcc_core_fini(mcc_core *core);
/* Brings the metrics that are read rather than counted up to date: the CPU time of the loop's
 * thread and of the sender threads. Called before the registry is visited. */
void mcc_core_sample(mcc_core *core);

/* Process-wide log sink (stderr). The level is set once at start-up from settings. */
void mcc_log_set_level(int level);
void mcc_log(int level, const char *fmt, ...) MCC_PRINTF(2, 3);
/* The same with a prefix put before the message (an instance's "[name] "), or NULL. */
void mcc_logv(int level, const char *prefix, const char *fmt, va_list ap) MCC_PRINTF(3, 0);
/* The level name ("error", "warn", "info", "debug") as a level, or -1. */
int mcc_log_level_parse(const char *name);

#endif
