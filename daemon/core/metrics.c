/* The metrics registry: a sorted array of series, so that lookup is a binary search and a visit
 * in (name, labels) order is a plain walk. Main thread only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

struct mcc_metric {
    char *name;
    char *labels;
    char *help;
    mcc_metric_type type;
    double value;
    size_t nbounds; /* histogram */
    double *bounds;
    uint64_t *buckets; /* cumulative: observations <= bounds[i] */
    double sum;
    uint64_t count;
};

struct mcc_metrics {
    mcc_metric **series; /* sorted by name, then labels */
    size_t n, cap;
};

static const double metrics_latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                1,     2.5,  5,     10,   30,  60};

mcc_metrics *mcc_metrics_new(void)
{
    return calloc(1, sizeof(mcc_metrics));
}

static void metrics_series_free(mcc_metric *m)
{
    free(m->name);
    free(m->labels);
    free(m->help);
    free(m->bounds);
    free(m->buckets);
    free(m);
}

void mcc_metrics_free(mcc_metrics *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->n; i++)
        metrics_series_free(reg->series[i]);
    free(reg->series);
    free(reg);
}

int mcc_metric_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > 200)
        return 0;
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (p != name && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int metrics_cmp(const char *name, const char *labels, const mcc_metric *m)
{
    int c = strcmp(name, m->name);
    return c != 0 ? c : strcmp(labels, m->labels);
}

/* Index of NAME{LABELS}, or where it would be inserted (*found 0). */
static size_t metrics_find(const mcc_metrics *reg, const char *name, const char *labels, int *found)
{
    size_t lo = 0, hi = reg->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = metrics_cmp(name, labels, reg->series[mid]);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = 0;
    return lo;
}

static char *metrics_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

mcc_metric *mcc_metrics_get(mcc_metrics *reg, mcc_metric_type type, const char *name,
                            const char *help, const char *labels, const double *bounds,
                            size_t nbounds)
{
    if (reg == NULL || !mcc_metric_name_valid(name))
        return NULL;
    if (type != MCC_METRIC_COUNTER && type != MCC_METRIC_GAUGE && type != MCC_METRIC_HISTOGRAM)
        return NULL;
    if (labels == NULL)
        labels = "";
    if (help == NULL)
        help = "";

    int found;
    size_t at = metrics_find(reg, name, labels, &found);
    if (found)
        return reg->series[at]->type == type ? reg->series[at] : NULL;
    /* Series of one name sort next to each other: a neighbour with that name fixes the type. */
    if (at > 0 && strcmp(reg->series[at - 1]->name, name) == 0 && reg->series[at - 1]->type != type)
        return NULL;
    if (at < reg->n && strcmp(reg->series[at]->name, name) == 0 && reg->series[at]->type != type)
        return NULL;

    if (type == MCC_METRIC_HISTOGRAM) {
        if (bounds == NULL || nbounds == 0) {
            bounds = metrics_latency_bounds;
            nbounds = sizeof(metrics_latency_bounds) / sizeof(metrics_latency_bounds[0]);
        }
        for (size_t i = 0; i < nbounds; i++)
            if (isnan(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                return NULL;
    }

    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 32;
        mcc_metric **s = realloc(reg->series, cap * sizeof(*s));
        if (s == NULL)
            return NULL;
        reg->series = s;
        reg->cap = cap;
    }

    mcc_metric *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->type = type;
    m->name = metrics_strdup(name);
    m->labels = metrics_strdup(labels);
    m->help = metrics_strdup(help);
    if (m->name == NULL || m->labels == NULL || m->help == NULL)
        goto free_series;
    if (type == MCC_METRIC_HISTOGRAM) {
        m->nbounds = nbounds;
        m->bounds = malloc(nbounds * sizeof(*m->bounds));
        m->buckets = calloc(nbounds, sizeof(*m->buckets));
        if (m->bounds == NULL || m->buckets == NULL)
            goto free_series;
        memcpy(m->bounds, bounds, nbounds * sizeof(*m->bounds));
    }

    memmove(&reg->series[at + 1], &reg->series[at], (reg->n - at) * sizeof(*reg->series));
    reg->series[at] = m;
    reg->n++;
    return m;

free_series:
    metrics_series_free(m);
    return NULL;
}

void mcc_metric_add(mcc_metric *m, double v)
{
    if (m == NULL || isnan(v))
        return;
    switch (m->type) {
    case MCC_METRIC_COUNTER:
        if (v > 0)
            m->value += v;
        break;
    case MCC_METRIC_GAUGE:
        m->value += v;
        break;
    case MCC_METRIC_HISTOGRAM:
        for (size_t i = m->nbounds; i > 0 && v <= m->bounds[i - 1]; i--)
            m->buckets[i - 1]++;
        m->sum += v;
        m->count++;
        break;
    }
}

void mcc_metric_set(mcc_metric *m, double v)
{
    if (m == NULL || isnan(v))
        return;
    if (m->type == MCC_METRIC_GAUGE || (m->type == MCC_METRIC_COUNTER && v > m->value))
        m->value = v;
}

double mcc_metric_value(const mcc_metric *m)
{
    if (m == NULL)
        return 0;
    return m->type == MCC_METRIC_HISTOGRAM ? (double)m->count : m->value;
}

void mcc_metrics_visit(const mcc_metrics *reg, mcc_metric_visit_fn fn, void *arg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->n; i++) {
        const mcc_metric *m = reg->series[i];
        mcc_metric_sample s = {
            .name = m->name,
            .help = m->help,
            .labels = m->labels,
            .type = m->type,
            .value = m->value,
            .nbuckets = m->nbounds,
            .bounds = m->bounds,
            .buckets = m->buckets,
            .sum = m->sum,
            .count = m->count,
        };
        fn(arg, &s);
    }
}

size_t mcc_metrics_count(const mcc_metrics *reg)
{
    return reg != NULL ? reg->n : 0;
}
