/* Fuzz target: the cache metadata blob (cache/meta.c) as read back from storage, and the
 * freshness arithmetic run over it (cache/fresh.c). Decoding then encoding then decoding
 * again must give the same fields. */
#include <mcc/plugin.h>

#include "cache/fresh.h"
#include "cache/meta.h"
#include "fuzz.h"

#define META_STR(m, f) FUZZ_CHECK(memchr((m)->f, '\0', sizeof((m)->f)) != NULL)
#define META_SAME_STR(a, b, f) FUZZ_CHECK(strcmp((a)->f, (b)->f) == 0)
#define META_SAME(a, b, f) FUZZ_CHECK((a)->f == (b)->f)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mcc_meta m, again;
    char *blob = NULL;
    size_t len = 0;
    int explicit_ = 0;

    if (mcc_meta_decode(data, size, &m) != MCC_OK)
        return 0;
    META_STR(&m, etag);
    META_STR(&m, last_modified);
    META_STR(&m, content_type);
    META_STR(&m, url);
    META_STR(&m, cache_control);
    META_STR(&m, expires);
    META_STR(&m, content_encoding);
    META_STR(&m, vary);
    META_STR(&m, vary_values);

    /* what the serving path computes for every hit */
    int64_t life = mcc_fresh_lifetime(&m, 86400, &explicit_);
    FUZZ_CHECK(life >= 0);
    (void)mcc_fresh_age(&m, 1700000000);

    FUZZ_CHECK(mcc_meta_encode(&m, &blob, &len) == MCC_OK);
    FUZZ_CHECK(mcc_meta_decode(blob, len, &again) == MCC_OK);
    META_SAME(&m, &again, status);
    META_SAME_STR(&m, &again, etag);
    META_SAME_STR(&m, &again, last_modified);
    META_SAME_STR(&m, &again, content_type);
    META_SAME_STR(&m, &again, url);
    META_SAME_STR(&m, &again, cache_control);
    META_SAME_STR(&m, &again, expires);
    META_SAME_STR(&m, &again, content_encoding);
    META_SAME_STR(&m, &again, vary);
    META_SAME_STR(&m, &again, vary_values);
    META_SAME(&m, &again, stored_at);
    META_SAME(&m, &again, date);
    free(blob);
    return 0;
}
