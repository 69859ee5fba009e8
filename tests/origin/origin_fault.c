/* mcc-test-origin: the table of faults by name, and the parsers of the three ways to ask for
 * them (--fault, the fault= query parameter, the leading labels of the Host header). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "origin.h"

static const struct {
    const char *name;
    origin_fault_kind kind;
    int needs_arg;
    const char *help;
} origin_fault_table[] = {
    {"reset-after", ORIGIN_FAULT_RESET_AFTER, 1, "send N body bytes, then reset (RST)"},
    {"close-after", ORIGIN_FAULT_CLOSE_AFTER, 1,
     "send N body bytes, then close (FIN): short of Content-Length"},
    {"ignore-range", ORIGIN_FAULT_IGNORE_RANGE, 0, "answer ranged GETs with 200 and all"},
    {"stall-headers", ORIGIN_FAULT_STALL_HEADERS, 1, "wait N ms before status and headers"},
    {"stall-after", ORIGIN_FAULT_STALL_AFTER, 1,
     "send N body bytes, then nothing until the peer closes"},
    {"drip", ORIGIN_FAULT_DRIP, 1, "send the body at N bytes per second"},
    {"long-body", ORIGIN_FAULT_LONG_BODY, 1, "send N '!' bytes more than Content-Length says"},
    {"wrong-start", ORIGIN_FAULT_WRONG_START, 1,
     "answer a range with the one N bytes later (206, consistent)"},
    {"wrong-total", ORIGIN_FAULT_WRONG_TOTAL, 1, "answer a range with Content-Range .../N"},
    {"change-after", ORIGIN_FAULT_CHANGE_AFTER, 1,
     "after N GETs of a path with this fault, serve FILE.v2 (own validators)"},
    {"keep-validators", ORIGIN_FAULT_KEEP_VALIDATORS, 0,
     "FILE.v2 is served with the ETag and Last-Modified of FILE"},
    {"status", ORIGIN_FAULT_STATUS, 1, "answer status N with an empty body"},
    {"retry-after", ORIGIN_FAULT_RETRY_AFTER, 1, "add the header Retry-After: N"},
    {"redirect-loop", ORIGIN_FAULT_REDIRECT_LOOP, 0, "answer 302 with Location: the same target"},
    {"big-headers", ORIGIN_FAULT_BIG_HEADERS, 1, "add N bytes of X-Pad-* header lines"},
    {"garbage", ORIGIN_FAULT_GARBAGE, 1, "send N pseudo-random bytes instead of HTTP, close"},
    {"bad-status", ORIGIN_FAULT_BAD_STATUS, 0, "send \"HTTP/1.1 abc\" as the status line, close"},
};

#define FAULT_TABLE_LEN (sizeof(origin_fault_table) / sizeof(origin_fault_table[0]))

int origin_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    if (*end == 'K' || *end == 'k')
        mul = 1024;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        mul = 1024 * 1024 * 1024;
    if (mul != 1)
        end++;
    if (*end != '\0' || v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

/* The table entry named by the N bytes at S, or -1. */
static int fault_find(const char *s, size_t n)
{
    for (size_t i = 0; i < FAULT_TABLE_LEN; i++) {
        if (strlen(origin_fault_table[i].name) == n &&
            strncasecmp(origin_fault_table[i].name, s, n) == 0)
            return (int)i;
    }
    return -1;
}

/* Copies the N bytes at S into a NUL-terminated BUF; -1 when they do not fit. */
static int fault_copy(char *buf, size_t size, const char *s, size_t n)
{
    if (n >= size)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static int fault_parse_one(const char *s, size_t n, origin_faults *out)
{
    const char *eq = memchr(s, '=', n);
    size_t nlen = eq != NULL ? (size_t)(eq - s) : n;
    char num[32];
    int i = fault_find(s, nlen);
    uint64_t arg = 0;

    if (i < 0 || origin_fault_table[i].needs_arg != (eq != NULL))
        return -1;
    if (eq != NULL && (fault_copy(num, sizeof(num), eq + 1, n - nlen - 1) != 0 ||
                       origin_parse_u64(num, &arg) != 0))
        return -1;
    out->on |= 1u << origin_fault_table[i].kind;
    out->arg[origin_fault_table[i].kind] = arg;
    return 0;
}

int origin_faults_parse(const char *spec, char sep, origin_faults *out)
{
    const char *p = spec;

    for (;;) {
        const char *end = strchr(p, sep);
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (fault_parse_one(p, n, out) != 0)
            return -1;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}

int origin_faults_parse_host(const char *host, origin_faults *out)
{
    const char *p = host;
    int added = 0;

    for (;;) {
        size_t n = strcspn(p, ".:");
        int i = fault_find(p, n);
        uint64_t arg = 0;
        if (i < 0)
            return added;
        p += n;
        if (origin_fault_table[i].needs_arg) {
            char num[32];
            if (*p != '.')
                return -1;
            p++;
            n = strcspn(p, ".:");
            if (fault_copy(num, sizeof(num), p, n) != 0 || origin_parse_u64(num, &arg) != 0)
                return -1;
            p += n;
        }
        out->on |= 1u << origin_fault_table[i].kind;
        out->arg[origin_fault_table[i].kind] = arg;
        added++;
        if (*p != '.')
            return added;
        p++;
    }
}

void origin_faults_usage(FILE *out, int indent)
{
    for (size_t i = 0; i < FAULT_TABLE_LEN; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s%s", origin_fault_table[i].name,
                 origin_fault_table[i].needs_arg ? "=N" : "");
        fprintf(out, "%*s%-17s %s\n", indent, "", name, origin_fault_table[i].help);
    }
}
