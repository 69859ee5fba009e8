/* Small text builders for per-request work, where snprintf's format parsing showed in profiles
 * (header values, metric labels). */
#ifndef MCC_CORE_TEXT_H
#define MCC_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Appends SRC, cut to fit, to the NUL-terminated text at OUT (CAP bytes, *N used). */
static inline void mcc_text_cat(char *out, size_t cap, size_t *n, const char *src)
{
    size_t len = strlen(src);
    if (*n + len >= cap)
        len = cap - 1 - *n;
    memcpy(out + *n, src, len);
    *n += len;
    out[*n] = '\0';
}

/* Copies SRC, cut to fit, to OUT (CAP bytes). */
static inline void mcc_text_copy(char *out, size_t cap, const char *src)
{
    size_t n = 0;
    out[0] = '\0';
    mcc_text_cat(out, cap, &n, src);
}

/* The decimal text of V into OUT, which holds at least 21 bytes. */
static inline void mcc_text_u64(char *out, uint64_t v)
{
    char digits[20];
    size_t n = 0, i = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        out[i++] = digits[--n];
    out[i] = '\0';
}

#endif
