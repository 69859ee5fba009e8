/* The daemon's metadata of a stored object (validators, type, status, times), kept by the
 * storage backend as an opaque blob. */
#ifndef MCC_CACHE_META_H
#define MCC_CACHE_META_H

#include <stddef.h>
#include <stdint.h>

typedef struct mcc_meta {
    int status;             /* the origin's status for the whole object (200) */
    char etag[256];         /* as the origin sent it, quotes included; "" when none */
    char last_modified[64]; /* HTTP date text; "" when none */
    char content_type[256]; /* "" when none */
    int64_t stored_at;      /* unix seconds when the response headers arrived */
    char url[1024];         /* the upstream URL first used, for operators reading files */

    /* HTTP caching (RFC 9111): what the origin said and when */
    char cache_control[512];    /* the response's Cache-Control, all values joined */
    char expires[64];           /* Expires as sent ("" when none) */
    char content_encoding[64];  /* sent on to clients: the stored bytes are encoded so */
    char vary[256];             /* the response's Vary ("" when none) */
    char vary_values[1024];     /* the request header values Vary names, "name: value\n"... */
    int64_t date;               /* Date, 0 when none */
    int64_t age_value;          /* Age, 0 when none */
    int64_t request_time;       /* when the request that got this response was sent */
    int64_t response_time;      /* when its headers arrived (refreshed by a 304) */
} mcc_meta;

/* Serialises META into a malloc'ed JSON text (*out, *len without NUL); MCC_OK or MCC_ERROR. */
int mcc_meta_encode(const mcc_meta *meta, char **out, size_t *len);
/* Parses a blob; a missing or malformed field leaves its zero value; MCC_ERROR when the blob is
 * not a metadata object at all. */
int mcc_meta_decode(const void *blob, size_t len, mcc_meta *meta);

#endif
