/* Traffic accounting: hit and miss bytes where they are sent, report periods, and the end of
 * every content request (access log line, exporters, request metrics). */
#ifndef MCC_STATS_H
#define MCC_STATS_H

#include <mcc/exporter.h>

#include "core/core.h"

typedef struct mcc_stats mcc_stats;

/* Arms a repeating timer on core->base that closes a report period every PERIOD_MS and calls
 * the exporters' on_period. */
mcc_stats *mcc_stats_new(mcc_core *core, uint64_t period_ms);
void mcc_stats_free(mcc_stats *st);

/* Body bytes that left the cache, from storage (HIT) and from an upstream stream (MISS). */
void mcc_stats_sent(mcc_stats *st, uint64_t hit, uint64_t miss);
void mcc_stats_get(const mcc_stats *st, mcc_traffic *lifetime, mcc_traffic *period,
                   unsigned *period_s, int64_t *period_end);
/* Closes the running period now, as its timer does (tests drive periods with it). */
void mcc_stats_period_end(mcc_stats *st);

/* One content request finished: counts it, writes the access log line, tells the exporters. */
void mcc_request_done(mcc_core *core, const mcc_request_record *rec);

#endif
