/* Range header parsing and Content-Range formatting (RFC 9110 sections 14.1 to 14.4). Invalid
 * syntax is ignored rather than refused, as the RFC allows: the client then gets the whole. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/range.h"

/* One decimal number of a range-spec. Values beyond 64 bits saturate; the digits are kept so
 * that two saturated numbers still compare exactly. */
typedef struct range_num {
    uint64_t v;
    int overflow;
    const char *digits; /* first significant digit (leading zeros skipped) */
    size_t ndigits;
} range_num;

static const char *range_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads 1*DIGIT at P. Returns the position after it, or NULL when there is no digit. */
static const char *range_digits(const char *p, range_num *n)
{
    if (*p < '0' || *p > '9')
        return NULL;
    n->v = 0;
    n->overflow = 0;
    while (*p == '0' && p[1] >= '0' && p[1] <= '9')
        p++;
    n->digits = p;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (!n->overflow && n->v > (UINT64_MAX - d) / 10)
            n->overflow = 1;
        if (!n->overflow)
            n->v = n->v * 10 + d;
    }
    n->ndigits = (size_t)(p - n->digits);
    if (n->overflow)
        n->v = UINT64_MAX;
    return p;
}

/* a < b for two parsed numbers, exact even when both overflowed */
static int range_num_less(const range_num *a, const range_num *b)
{
    if (!a->overflow && !b->overflow)
        return a->v < b->v;
    if (a->ndigits != b->ndigits)
        return a->ndigits < b->ndigits;
    return memcmp(a->digits, b->digits, a->ndigits) < 0;
}

static mcc_range_kind range_set(mcc_range *out, mcc_range_kind kind)
{
    if (kind == MCC_RANGE_FULL || kind == MCC_RANGE_UNSATISFIABLE) {
        out->first = 0;
        out->last = 0;
        out->count = 0;
    }
    out->kind = kind;
    return kind;
}

mcc_range_kind mcc_range_parse(const char *value, uint64_t total, mcc_range *out)
{
    unsigned specs = 0;
    int empty_suffix_only = 0; /* a suffix-range met a zero-length representation */
    const char *p;

    memset(out, 0, sizeof(*out));
    if (value == NULL)
        return range_set(out, MCC_RANGE_FULL);
    p = range_ows(value);
    if (strncasecmp(p, "bytes", 5) != 0)
        return range_set(out, MCC_RANGE_FULL);
    p = range_ows(p + 5);
    if (*p != '=')
        return range_set(out, MCC_RANGE_FULL);
    p++;

    for (;;) {
        range_num a = {0}, b = {0};
        uint64_t first, last;
        int suffix = 0, has_last = 0;

        p = range_ows(p);
        if (*p == '\0')
            break;
        if (*p == ',') { /* empty list element: RFC 9110 5.6.1 asks recipients to accept it */
            p++;
            continue;
        }
        if (*p == '-') {
            suffix = 1;
            p = range_digits(range_ows(p + 1), &a);
            if (p == NULL)
                return range_set(out, MCC_RANGE_FULL);
        } else {
            p = range_digits(p, &a);
            if (p == NULL)
                return range_set(out, MCC_RANGE_FULL);
            p = range_ows(p);
            if (*p != '-')
                return range_set(out, MCC_RANGE_FULL);
            p = range_ows(p + 1);
            if (*p >= '0' && *p <= '9') {
                p = range_digits(p, &b);
                has_last = 1;
                if (range_num_less(&b, &a))
                    return range_set(out, MCC_RANGE_FULL);
            }
        }
        p = range_ows(p);
        if (*p != ',' && *p != '\0')
            return range_set(out, MCC_RANGE_FULL);
        specs++;

        /* satisfiable part of this spec, if any */
        if (suffix) {
            if (a.v == 0)
                continue;
            if (total == 0) {
                empty_suffix_only = 1;
                continue;
            }
            first = a.v >= total ? 0 : total - a.v;
            last = total - 1;
        } else {
            if (a.v >= total)
                continue;
            first = a.v;
            last = (!has_last || b.v >= total) ? total - 1 : b.v;
        }
        if (out->count == 0 || first < out->first)
            out->first = first;
        if (out->count == 0 || last > out->last)
            out->last = last;
        if (out->count < UINT_MAX)
            out->count++;
    }

    if (specs == 0)
        return range_set(out, MCC_RANGE_FULL);
    if (out->count == 0)
        return range_set(out, empty_suffix_only ? MCC_RANGE_FULL : MCC_RANGE_UNSATISFIABLE);
    return range_set(out, out->count == 1 ? MCC_RANGE_SINGLE : MCC_RANGE_MULTI);
}

int mcc_range_content_range(char *buf, size_t size, uint64_t first, uint64_t last, uint64_t total)
{
    int n;

    if (first > last || last >= total)
        return -1;
    n = snprintf(buf, size, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, total);
    return (n < 0 || (size_t)n >= size) ? -1 : n;
}

int mcc_range_content_range_unsatisfied(char *buf, size_t size, uint64_t total)
{
    int n = snprintf(buf, size, "bytes */%" PRIu64, total);
    return (n < 0 || (size_t)n >= size) ? -1 : n;
}
