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
} mcc_meta;

/* Serialises META into a malloc'ed JSON text (*out, *len without NUL); MCC_OK or MCC_ERROR. */
int mcc_meta_encode(const mcc_meta *meta, char **out, size_t *len);
/* Parses a blob; a missing or malformed field leaves its zero value; MCC_ERROR when the blob is
 * not a metadata object at all. */
int mcc_meta_decode(const void *blob, size_t len, mcc_meta *meta);

#endif
