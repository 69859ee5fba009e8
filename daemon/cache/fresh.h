/* HTTP caching arithmetic of RFC 9111: Cache-Control directives, freshness lifetime, age, and
 * whether a response may be stored. Pure functions over the stored metadata. */
#ifndef MCC_CACHE_FRESH_H
#define MCC_CACHE_FRESH_H

#include <stdint.h>

#include "cache/meta.h"

#define MCC_CC_ABSENT (-1)

/* Directives of one or more Cache-Control header values. Unknown directives are ignored. */
typedef struct mcc_cc {
    int present; /* any Cache-Control value was seen */
    int no_store, no_cache, priv, pub, must_revalidate, proxy_revalidate, immutable;
    int only_if_cached;
    int64_t max_age, s_maxage, max_stale, min_fresh; /* seconds, MCC_CC_ABSENT when absent;
                                                       * max-stale without value: INT64_MAX */
} mcc_cc;

void mcc_cc_init(mcc_cc *cc);
/* Adds the directives of VALUE (a Cache-Control field value) to CC. */
void mcc_cc_parse(const char *value, mcc_cc *cc);

/* Seconds since the epoch of an HTTP date (RFC 9110 5.6.7, and the obsolete forms), or -1. */
int64_t mcc_http_date(const char *text);
/* Writes T as an IMF-fixdate into BUF (30 bytes suffice). */
void mcc_http_date_format(int64_t t, char *buf, unsigned size);

/* 1 when STATUS may get heuristic freshness (RFC 9110 15.1 "heuristically cacheable"). */
int mcc_fresh_status_heuristic(int status);

/* The freshness lifetime of a stored response in seconds (RFC 9111 4.2.1): s-maxage, max-age,
 * Expires - Date, or a tenth of (Date - Last-Modified) capped at HEURISTIC_MAX where the status
 * allows it. 0 when nothing gives one. *EXPLICIT is set when a header gave it. */
int64_t mcc_fresh_lifetime(const mcc_meta *m, int64_t heuristic_max, int *explicit_);
/* The current age of a stored response at NOW (RFC 9111 4.2.3). */
int64_t mcc_fresh_age(const mcc_meta *m, int64_t now);

#endif
