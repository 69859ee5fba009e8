/* Fuzz target: Cache-Control parsing and HTTP dates (cache/fresh.c). Every input line is one
 * Cache-Control field value added to the same set (as repeated fields are) and also an HTTP
 * date; a date that parses formats as an IMF-fixdate that parses back to the same second. */
#include <mcc/plugin.h>

#include "cache/fresh.h"
#include "fuzz.h"

static void cc_check(const mcc_cc *cc)
{
    const int64_t secs[] = {cc->max_age, cc->s_maxage, cc->max_stale, cc->min_fresh};
    for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
        FUZZ_CHECK(secs[i] == MCC_CC_ABSENT || secs[i] >= 0);
    const int flags[] = {cc->present,          cc->no_store,  cc->no_cache,
                         cc->priv,             cc->pub,       cc->must_revalidate,
                         cc->proxy_revalidate, cc->immutable, cc->only_if_cached};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        FUZZ_CHECK(flags[i] == 0 || flags[i] == 1);
}

static void cc_date_check(const char *text)
{
    char buf[64];
    int64_t t = mcc_http_date(text);
    FUZZ_CHECK(t >= -1);
    /* years past 9999 have no IMF-fixdate */
    if (t < 0 || t > 253402300799)
        return;
    mcc_http_date_format(t, buf, sizeof(buf));
    FUZZ_CHECK(mcc_http_date(buf) == t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_str(data, size);
    mcc_cc cc;

    mcc_cc_init(&cc);
    cc_check(&cc);
    FUZZ_CHECK(!cc.present);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        mcc_cc one;
        mcc_cc_init(&one);
        mcc_cc_parse(line, &one);
        cc_check(&one);
        mcc_cc_parse(line, &cc);
        cc_check(&cc);
        cc_date_check(line);
    }
    free(text);
    return 0;
}
