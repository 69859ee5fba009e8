/* The host API table handed to every plugin: thin wrappers that find the core through the
 * calling instance, plus the timers plugins arm on the loop. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <mcc/storage.h>

#include "cache/cache.h"
#include "core/instance.h"
#include "core/metrics.h"
#include "http/admin.h"
#include "report/stats.h"

struct mcc_timer {
    struct event *ev;
    mcc_timer_fn fn;
    void *arg;
    uint64_t ms;
    int repeat;
    mcc_instance *owner;
    struct mcc_timer *next; /* in owner->timers */
};

static void host_log(mcc_instance *self, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mcc_logv(level, self != NULL ? self->prefix : "[plugin] ", fmt, ap);
    va_end(ap);
}

static mcc_metric *host_metric(mcc_instance *self, mcc_metric_type type, const char *name,
                               const char *help, const char *labels, const double *bounds,
                               size_t nbounds)
{
    mcc_metric *m = mcc_metrics_get(self->core->metrics, type, name, help, labels, bounds, nbounds);
    if (m == NULL)
        mcc_log(MCC_LOG_WARN,
                "%smetric %s{%s} refused: invalid name or bounds, or registered with another type",
                self->prefix, name != NULL ? name : "(null)", labels != NULL ? labels : "");
    return m;
}

static void host_metric_visit(mcc_instance *self, mcc_metric_visit_fn fn, void *arg)
{
    mcc_core_sample(self->core);
    mcc_metrics_visit(self->core->metrics, fn, arg);
}

static void host_traffic(mcc_instance *self, mcc_traffic *lifetime, mcc_traffic *period,
                         unsigned *period_s, int64_t *period_end)
{
    mcc_traffic l = {0}, p = {0};
    unsigned s = 0;
    int64_t end = 0;
    if (self->core->stats != NULL)
        mcc_stats_get(self->core->stats, &l, &p, &s, &end);
    if (lifetime != NULL)
        *lifetime = l;
    if (period != NULL)
        *period = p;
    if (period_s != NULL)
        *period_s = s;
    if (period_end != NULL)
        *period_end = end;
}

/* --- Timers ---------------------------------------------------------------------------------- */

static void host_timer_fire(evutil_socket_t fd, short what, void *arg)
{
    mcc_timer *t = arg;
    /* re-armed first: FN may free the timer */
    if (t->repeat) {
        struct timeval tv = {(time_t)(t->ms / 1000), (suseconds_t)((t->ms % 1000) * 1000)};
        evtimer_add(t->ev, &tv);
    }
    t->fn(t->arg);
}

static mcc_timer *host_timer_new(mcc_instance *self, mcc_timer_fn fn, void *arg)
{
    if (self == NULL || fn == NULL || self->core->base == NULL)
        return NULL;
    mcc_timer *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->ev = evtimer_new(self->core->base, host_timer_fire, t);
    if (t->ev == NULL) {
        free(t);
        return NULL;
    }
    t->fn = fn;
    t->arg = arg;
    t->owner = self;
    t->next = self->timers;
    self->timers = t;
    return t;
}

static int host_timer_arm(mcc_timer *t, uint64_t ms, int repeat)
{
    if (t == NULL || (repeat && ms == 0))
        return MCC_ERROR;
    t->ms = ms;
    t->repeat = repeat;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return evtimer_add(t->ev, &tv) == 0 ? MCC_OK : MCC_ERROR;
}

static void host_timer_free(mcc_timer *t)
{
    if (t == NULL)
        return;
    for (mcc_timer **p = &t->owner->timers; *p != NULL; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    event_free(t->ev);
    free(t);
}

void mcc_host_timers_reap(mcc_instance *inst)
{
    if (inst->timers != NULL)
        mcc_log(MCC_LOG_WARN, "%sdestroyed with timers still armed; freeing them", inst->prefix);
    while (inst->timers != NULL)
        host_timer_free(inst->timers);
}

/* --- Routes, other instances, identity ------------------------------------------------------- */

static int host_route_add(mcc_instance *self, const char *path, mcc_route_fn fn, void *arg)
{
    if (self->core->admin == NULL)
        return MCC_ERROR;
    if (mcc_admin_route_add(self->core->admin, self, path, fn, arg) != MCC_OK) {
        mcc_log(MCC_LOG_WARN, "%sadmin route %s refused: taken or not an absolute path",
                self->prefix, path != NULL ? path : "(null)");
        return MCC_ERROR;
    }
    return MCC_OK;
}

static const struct mcc_policy_ops *host_policy(mcc_instance *self, const char *name, void **state)
{
    mcc_instance *p = mcc_core_instance_find(self->core, name);
    if (p == NULL || p->desc->kind != MCC_KIND_POLICY)
        return NULL;
    if (state != NULL)
        *state = p->state;
    return p->desc->ops;
}

static const char *host_node_name(mcc_instance *self)
{
    return self->core->settings.node_name;
}

static const char *host_cache_root(mcc_instance *self)
{
    return self->core->settings.cache_root;
}

static const char *host_instance_name(mcc_instance *self)
{
    return self->name;
}

/* --- Reports: pipeline and storage state, pulled at scrape time ------------------------------ */

static void host_cache_stats(mcc_instance *self, mcc_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (self->core->cache == NULL)
        return;
    mcc_cache_counts c;
    mcc_cache_get_counts(self->core->cache, &c);
    out->objects_in_use = c.entries;
    out->transfers = c.transfers;
    out->serves = c.serves;
    out->coalesced = c.coalesced;
}

static int host_storage_usage(mcc_instance *self, uint64_t *used, uint64_t *capacity,
                              uint64_t *objects)
{
    uint64_t u = 0, c = 0, n = 0;
    const mcc_plugin_ref *st = &self->core->storage;
    const mcc_storage_ops *ops = st->ops;
    int rc = MCC_NOTFOUND;
    if (ops != NULL && MCC_HAS(ops, usage)) {
        ops->usage(st->state, &u, &c, &n);
        rc = MCC_OK;
    }
    if (used != NULL)
        *used = u;
    if (capacity != NULL)
        *capacity = c;
    if (objects != NULL)
        *objects = n;
    return rc;
}

static int host_storage_drive(mcc_instance *self, unsigned i, struct mcc_drive_info *out)
{
    const mcc_plugin_ref *st = &self->core->storage;
    const mcc_storage_ops *ops = st->ops;
    if (out == NULL || ops == NULL)
        return MCC_NOTFOUND;
    if (!MCC_HAS(ops, drives))
        return MCC_DECLINED;
    memset(out, 0, sizeof(*out));
    int rc = ops->drives(st->state, i, out);
    out->name[sizeof(out->name) - 1] = '\0'; /* a backend's slip must not reach an exporter */
    return rc == MCC_OK ? MCC_OK : MCC_NOTFOUND;
}

static const char *host_daemon_version(mcc_instance *self)
{
    return MCC_VERSION;
}

static const mcc_host host_table = {
    .size = sizeof(mcc_host),
    .abi_major = MCC_ABI_MAJOR,
    .abi_minor = MCC_ABI_MINOR,
    .log = host_log,
    .conf_str = mcc_conf_str,
    .conf_int = mcc_conf_int,
    .conf_bool = mcc_conf_bool,
    .conf_size = mcc_conf_size,
    .conf_duration = mcc_conf_duration,
    .conf_child = mcc_conf_child,
    .conf_count = mcc_conf_count,
    .conf_index = mcc_conf_index,
    .conf_error = mcc_conf_error,
    .metric = host_metric,
    .metric_add = mcc_metric_add,
    .metric_set = mcc_metric_set,
    .metric_visit = host_metric_visit,
    .traffic = host_traffic,
    .timer_new = host_timer_new,
    .timer_arm = host_timer_arm,
    .timer_free = host_timer_free,
    .route_add = host_route_add,
    .reply_status = mcc_reply_status,
    .reply_header = mcc_reply_header,
    .reply_append = mcc_reply_append,
    .reply_printf = mcc_reply_printf,
    .policy = host_policy,
    .node_name = host_node_name,
    .instance_name = host_instance_name,
    .cache_root = host_cache_root,
    .cache_stats = host_cache_stats,
    .storage_usage = host_storage_usage,
    .storage_drive = host_storage_drive,
    .daemon_version = host_daemon_version,
};

const mcc_host *mcc_host_table(void)
{
    return &host_table;
}
