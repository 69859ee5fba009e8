/* HTTP Range requests (RFC 9110 section 14): parsing a Range header value against a known
 * representation length, and formatting Content-Range values. Pure functions, no I/O. */
#ifndef MCC_HTTP_RANGE_H
#define MCC_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum mcc_range_kind {
    MCC_RANGE_FULL = 0,          /* no header, another unit, or invalid syntax: send it all (200) */
    MCC_RANGE_SINGLE = 1,        /* one satisfiable range [first, last]: 206 */
    MCC_RANGE_UNSATISFIABLE = 2, /* nothing of the set overlaps the representation: 416 */
    MCC_RANGE_MULTI = 3          /* two or more satisfiable ranges */
} mcc_range_kind;

typedef struct mcc_range {
    mcc_range_kind kind;
    /* SINGLE: the range, inclusive, last clipped to total - 1. MULTI: the smallest range
     * covering every satisfiable range (a caller may send that, or the whole object).
     * FULL and UNSATISFIABLE: 0 and 0. */
    uint64_t first;
    uint64_t last;
    unsigned count; /* number of satisfiable ranges in the set (0 unless SINGLE or MULTI) */
} mcc_range;

/* Parses VALUE, the value of a Range header (NULL when there is none), for a representation of
 * TOTAL bytes. Tolerates optional whitespace around '=', '-' and ',', empty list elements and
 * any case of the unit "bytes". Numbers too large for 64 bits are valid and compare as larger
 * than any length. A syntactically invalid value is ignored as RFC 9110 allows (FULL). With
 * TOTAL 0 an int-range is UNSATISFIABLE and a suffix-range FULL (an empty 200: no byte can be
 * named). Fills OUT and returns out->kind. */
mcc_range_kind mcc_range_parse(const char *value, uint64_t total, mcc_range *out);

/* Room for any Content-Range value this file writes, NUL included. */
#define MCC_RANGE_CONTENT_RANGE_MAX 72

/* Writes "bytes FIRST-LAST/TOTAL" (206) into BUF of SIZE bytes. Returns its length, or -1 when
 * it does not fit or FIRST > LAST or LAST >= TOTAL. */
int mcc_range_content_range(char *buf, size_t size, uint64_t first, uint64_t last, uint64_t total);
/* Writes the 416 form, "bytes *" then "/TOTAL", into BUF. Returns its length or -1. */
int mcc_range_content_range_unsatisfied(char *buf, size_t size, uint64_t total);

#endif
