/* Fuzz target: the Range header parser (http/range.c). Input: an optional first line with a
 * representation length in decimal, then the header value; the value is also tried against a
 * few fixed lengths (0, 1, one slice and a bit, the largest). */
#include <inttypes.h>

#include "fuzz.h"
#include "http/range.h"

static void range_check(const char *value, uint64_t total)
{
    mcc_range r;
    char buf[MCC_RANGE_CONTENT_RANGE_MAX];
    mcc_range_kind kind = mcc_range_parse(value, total, &r);

    FUZZ_CHECK(kind == r.kind);
    switch (kind) {
    case MCC_RANGE_FULL:
    case MCC_RANGE_UNSATISFIABLE:
        FUZZ_CHECK(r.first == 0 && r.last == 0 && r.count == 0);
        break;
    case MCC_RANGE_SINGLE:
    case MCC_RANGE_MULTI:
        FUZZ_CHECK(total > 0);
        FUZZ_CHECK(r.first <= r.last && r.last < total);
        FUZZ_CHECK(kind == MCC_RANGE_SINGLE ? r.count == 1 : r.count >= 2);
        /* what front.c sends for it must format */
        FUZZ_CHECK(mcc_range_content_range(buf, sizeof(buf), r.first, r.last, total) > 0);
        break;
    default:
        FUZZ_CHECK(!"unknown range kind");
    }
    FUZZ_CHECK(mcc_range_content_range_unsatisfied(buf, sizeof(buf), total) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t totals[] = {0, 1, 1000, (1u << 20) + 1, UINT64_MAX};
    char *head;
    char *rest = fuzz_split(data, size, '\n', &head);

    if (rest != NULL) {
        char *end;
        uint64_t total = strtoull(head, &end, 10);
        if (end != head)
            range_check(rest, total);
    }
    const char *value = rest != NULL ? rest : head;
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
        range_check(value, totals[i]);
    free(head);
    free(rest);
    return 0;
}
