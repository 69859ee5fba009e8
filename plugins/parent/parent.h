/* The parent upstream's state, shared by its planning half (parent.c) and its reachability probes
 * (probe.c). Internal to the plugin. */
#ifndef MCC_PARENT_H
#define MCC_PARENT_H

#include <stdint.h>

#include <mcc/mcc.h>

#define PARENT_MAX 64
#define PARENT_NOUTCOMES 5
#define PARENT_UNSET UINT64_MAX

struct event;
struct event_base;

struct parent;

/* One parent cache of the tier. */
typedef struct parent_node {
    struct parent *owner;
    char host[256]; /* as in a URL: an IPv6 literal keeps its brackets */
    unsigned port;
    char name[280]; /* "host:port", the metric label and log name */
    char label[64]; /* plan label, unique per parent ("parent:host:port") */
    uint64_t seed;  /* rendezvous hashing seed, from name */
    int down;       /* not to be planned until down_until (or a probe connects) */
    uint64_t down_until_ms;
    mcc_metric *up; /* mcc_parent_up{parent="host:port"} */
    mcc_metric *outcomes[PARENT_NOUTCOMES];
    /* a probe in flight: a non-blocking connect waited for by probe_ev */
    struct event *probe_ev;
    int probe_fd;
} parent_node;

typedef struct parent {
    const mcc_host *host;
    mcc_instance *self;
    parent_node nodes[PARENT_MAX];
    size_t n;
    uint64_t down_time_ms;
    uint64_t probe_interval_ms;  /* 0: no probes, down marks only expire */
    uint64_t connect_timeout_ms; /* PARENT_UNSET: the daemon's */
    int has_proxy;
    char proxy[256];
    struct event_base *base;
    mcc_timer *tick;
} parent;

/* Monotonic milliseconds. */
uint64_t parent_now_ms(void);
/* Marks NODE usable again (WHY is for the log). */
void parent_mark_up(parent *p, parent_node *node, const char *why);

/* Starts a TCP connect to NODE unless one is in flight or NODE is not an IP literal (names are
 * not resolved here: that would block the loop; their down marks simply expire). */
void parent_probe_start(parent *p, parent_node *node);
/* Drops NODE's probe in flight, if any. */
void parent_probe_cancel(parent_node *node);

#endif
