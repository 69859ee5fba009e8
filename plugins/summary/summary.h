/* The summary exporter's state and the functions its files share: the report periods kept for
 * the history, the top hosts table, and the status page. */
#ifndef MCC_SUMMARY_H
#define MCC_SUMMARY_H

#include <stdint.h>

#include <cJSON.h>
#include <mcc/mcc.h>
#include <uthash.h>

#define SUMMARY_HOST_MAX 128u /* longest origin host name kept */

/* One completed report period, as totals (the JSON divides by seconds). */
typedef struct summary_period {
    int64_t end; /* unix seconds */
    unsigned seconds;
    uint64_t hit, miss, requests;
} summary_period;

/* Bytes sent for one origin host since start. */
typedef struct summary_host {
    char name[SUMMARY_HOST_MAX];
    uint64_t hit, miss, requests;
    UT_hash_handle hh;
} summary_host;

typedef struct summary {
    const mcc_host *host;
    mcc_instance *self;
    char route[128];
    int page;             /* serve the status page at "/" */
    int64_t started;      /* unix seconds, for the lifetime */
    summary_period *ring; /* the last history_len periods, oldest at (head - count) */
    unsigned history_len, head, count;
    summary_host *hosts; /* by name */
    unsigned nhosts, max_hosts;
    summary_host other; /* hosts past max_hosts, added up */
} summary;

/* hosts.c: the top hosts by bytes sent */
void summary_hosts_add(summary *s, const char *host, uint64_t hit, uint64_t miss);
/* Appends the N hosts with the most bytes sent to ARR (objects: host, hitBytes, missBytes,
 * egressBytes, requests), most first. */
void summary_hosts_top(const summary *s, cJSON *arr, unsigned n);
void summary_hosts_free(summary *s);

/* page.c: GET / on the admin listener */
int summary_page_route(void *arg, const mcc_admin_request *req, mcc_reply *reply);

#endif
