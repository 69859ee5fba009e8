/* RFC 9111 arithmetic: directive parsing, freshness lifetime and age of stored responses. */
#include "cache/fresh.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

void mcc_cc_init(mcc_cc *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = cc->s_maxage = cc->max_stale = cc->min_fresh = MCC_CC_ABSENT;
}

/* delta-seconds (RFC 9111 1.2.2): a too large value means "very large", never an error */
static int64_t fresh_delta(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n == 0)
        return MCC_CC_ABSENT;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i]))
            return MCC_CC_ABSENT;
        if (x < 2147483648LL)
            x = x * 10 + (v[i] - '0');
    }
    return x > 2147483648LL ? 2147483648LL : x;
}

void mcc_cc_parse(const char *value, mcc_cc *cc)
{
    if (value == NULL)
        return;
    cc->present = 1;
    const char *p = value;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *name = p;
        while (*p != '\0' && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t nlen = (size_t)(p - name);
        while (*p == ' ' || *p == '\t')
            p++;
        const char *val = NULL;
        size_t vlen = 0;
        if (*p == '=') {
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            val = p;
            if (*p == '"') {
                p++;
                while (*p != '\0' && *p != '"')
                    p++;
                if (*p == '"')
                    p++;
            } else {
                while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
                    p++;
            }
            vlen = (size_t)(p - val);
        }
        while (*p != '\0' && *p != ',')
            p++;
#define CC_IS(lit) (nlen == sizeof(lit) - 1 && strncasecmp(name, lit, nlen) == 0)
        if (CC_IS("no-store"))
            cc->no_store = 1;
        else if (CC_IS("no-cache"))
            cc->no_cache = 1; /* with field names it still forbids reuse of those: be strict */
        else if (CC_IS("private"))
            cc->priv = 1;
        else if (CC_IS("public"))
            cc->pub = 1;
        else if (CC_IS("must-revalidate"))
            cc->must_revalidate = 1;
        else if (CC_IS("proxy-revalidate"))
            cc->proxy_revalidate = 1;
        else if (CC_IS("immutable"))
            cc->immutable = 1;
        else if (CC_IS("only-if-cached"))
            cc->only_if_cached = 1;
        else if (CC_IS("max-age") && val != NULL)
            cc->max_age = fresh_delta(val, vlen);
        else if (CC_IS("s-maxage") && val != NULL)
            cc->s_maxage = fresh_delta(val, vlen);
        else if (CC_IS("min-fresh") && val != NULL)
            cc->min_fresh = fresh_delta(val, vlen);
        else if (CC_IS("max-stale"))
            cc->max_stale = val != NULL ? fresh_delta(val, vlen) : INT64_MAX;
#undef CC_IS
    }
}

int64_t mcc_http_date(const char *text)
{
    if (text == NULL || *text == '\0')
        return -1;
    time_t t = curl_getdate(text, NULL);
    return t < 0 ? -1 : (int64_t)t;
}

void mcc_http_date_format(int64_t t, char *buf, unsigned size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int mcc_fresh_status_heuristic(int status)
{
    switch (status) {
    case 200: case 203: case 204: case 206: case 300: case 301: case 308:
    case 404: case 405: case 410: case 414: case 501:
        return 1;
    default:
        return 0;
    }
}

int64_t mcc_fresh_lifetime(const mcc_meta *m, int64_t heuristic_max, int *explicit_)
{
    mcc_cc cc;
    mcc_cc_init(&cc);
    if (m->cache_control[0] != '\0')
        mcc_cc_parse(m->cache_control, &cc);
    *explicit_ = 1;
    /* a shared cache: s-maxage first (RFC 9111 4.2.1) */
    if (cc.s_maxage != MCC_CC_ABSENT)
        return cc.s_maxage;
    if (cc.max_age != MCC_CC_ABSENT)
        return cc.max_age;
    if (m->expires[0] != '\0') {
        int64_t exp = mcc_http_date(m->expires);
        if (exp < 0)
            return 0; /* an invalid Expires, "0" among them, means already expired */
        int64_t date = m->date > 0 ? m->date : m->response_time;
        return exp > date ? exp - date : 0;
    }
    *explicit_ = 0;
    int64_t lm = mcc_http_date(m->last_modified);
    if (lm > 0 && mcc_fresh_status_heuristic(m->status > 0 ? m->status : 200)) {
        int64_t date = m->date > 0 ? m->date : m->response_time;
        if (date > lm) {
            int64_t h = (date - lm) / 10;
            return h > heuristic_max ? heuristic_max : h;
        }
    }
    return 0;
}

int64_t mcc_fresh_age(const mcc_meta *m, int64_t now)
{
    int64_t apparent = m->date > 0 && m->response_time > m->date ? m->response_time - m->date : 0;
    int64_t delay = m->response_time > m->request_time ? m->response_time - m->request_time : 0;
    int64_t corrected_age = m->age_value + delay;
    int64_t initial = apparent > corrected_age ? apparent : corrected_age;
    int64_t resident = now > m->response_time ? now - m->response_time : 0;
    return initial + resident;
}
