/* The metrics registry: series by (name, labels), counters, gauges and histograms, visited in
 * sorted order. The host table's metric_* wrap these; the daemon uses them directly. */
#ifndef MCC_METRICS_H
#define MCC_METRICS_H

#include <mcc/host.h>

typedef struct mcc_metrics mcc_metrics;

mcc_metrics *mcc_metrics_new(void);
/* Frees every series; no mcc_metric pointer may be used afterwards. */
void mcc_metrics_free(mcc_metrics *reg);

/* Finds or registers the series NAME{LABELS}. NAME must match [a-zA-Z_:][a-zA-Z0-9_:]*; LABELS
 * is a label body (`a="1",b="2"`) or NULL for none. HELP is copied on first registration.
 * Histograms copy BOUNDS (NBOUNDS, strictly ascending); NULL bounds give the default latency
 * bounds in seconds (0.005 .. 60). Returns NULL when NAME or BOUNDS are invalid, when NAME is
 * already registered with another type, or on out-of-memory. The series lives as long as REG. */
mcc_metric *mcc_metrics_get(mcc_metrics *reg, mcc_metric_type type, const char *name,
                            const char *help, const char *labels, const double *bounds,
                            size_t nbounds);
/* Counter: adds V (a negative or NaN V is ignored: counters only grow). Gauge: adds V.
 * Histogram: observes V. */
void mcc_metric_add(mcc_metric *m, double v);
/* Gauge: sets V. Counter: raises to V (never lowers). Histogram: ignored. */
void mcc_metric_set(mcc_metric *m, double v);
/* A counter's or gauge's value; a histogram's count of observations. */
double mcc_metric_value(const mcc_metric *m);

/* Calls FN for every series, sorted by name, then by labels (strcmp order). */
void mcc_metrics_visit(const mcc_metrics *reg, mcc_metric_visit_fn fn, void *arg);
/* Number of series registered. */
size_t mcc_metrics_count(const mcc_metrics *reg);

/* 1 when NAME is a valid metric name. */
int mcc_metric_name_valid(const char *name);

#endif
