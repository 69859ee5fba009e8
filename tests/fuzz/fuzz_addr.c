/* Fuzz target: request addressing (http/addr.c) and cache-key normalisation (cache/key.c).
 * Input: the request-target, then optionally "\n" and a Host header value. Whatever addressing
 * accepts is keyed as the daemon keys it; the raw target is also keyed as a path and query. */
#include <strings.h>

#include <mcc/plugin.h>

#include "cache/key.h"
#include "fuzz.h"
#include "http/addr.h"

enum { KEY_TEXT_MAX = 16384 };

/* Like a host rule list with "*.test" and one IPv6 origin in it. */
static int addr_cacheable(void *arg, const char *host, unsigned port)
{
    (void)arg;
    (void)port;
    size_t len = strlen(host);
    return (len > 5 && strcmp(host + len - 5, ".test") == 0) || strcmp(host, "::1") == 0;
}

/* 1 when QUERY has a parameter named NAME (any case, as addr.c and key.c match it). */
static int addr_has_param(const char *query, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = query; p != NULL; p = strchr(p, '&')) {
        if (*p == '&')
            p++;
        if (strncasecmp(p, name, len) == 0 && (p[len] == '=' || p[len] == '&' || p[len] == '\0'))
            return 1;
    }
    return 0;
}

/* No byte a URI may not carry raw survives normalisation, and normalising again changes
 * nothing: the same object never gets two keys. */
static void addr_check_key(const char *ns, const char *path, const char *query)
{
    static char text[KEY_TEXT_MAX], again[KEY_TEXT_MAX];
    uint8_t key[MCC_CACHE_KEY_LEN], key2[MCC_CACHE_KEY_LEN];

    if (mcc_cache_key(ns, path, query, key, text, sizeof(text)) != MCC_OK)
        return; /* too long for TEXT: the digest alone is what the daemon uses */
    size_t nslen = strlen(ns);
    FUZZ_CHECK(strncmp(text, ns, nslen) == 0 && text[nslen] == '\n');
    for (const char *p = text + nslen + 1; *p != '\0'; p++)
        FUZZ_CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f && *p != '#');

    /* the key text's path and query, normalised again */
    char *body = text + nslen + 1;
    char *q = strchr(body, '?');
    if (q != NULL)
        *q++ = '\0';
    FUZZ_CHECK(mcc_cache_key(ns, body, q, key2, again, sizeof(again)) == MCC_OK);
    if (q != NULL)
        q[-1] = '?';
    FUZZ_CHECK(strcmp(text, again) == 0);
    FUZZ_CHECK(memcmp(key, key2, sizeof(key)) == 0);

    uint8_t key3[MCC_CACHE_KEY_LEN];
    FUZZ_CHECK(mcc_cache_key(ns, path, query, key3, NULL, 0) == MCC_OK);
    FUZZ_CHECK(memcmp(key, key3, sizeof(key)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *target;
    char *host = fuzz_split(data, size, '\n', &target);
    mcc_addr addr;
    mcc_err err = {{0}};

    memset(&addr, 0, sizeof(addr));
    int rc = mcc_addr_parse(target, host, addr_cacheable, NULL, &addr, &err);
    FUZZ_CHECK(rc == MCC_OK || rc == MCC_NOTFOUND || rc == MCC_ERROR);
    if (rc == MCC_ERROR)
        FUZZ_CHECK(err.msg[0] != '\0'); /* a 400 says why */
    if (rc == MCC_OK) {
        FUZZ_CHECK(addr.form >= MCC_ADDR_QUERY && addr.form <= MCC_ADDR_HOST);
        FUZZ_CHECK(addr.host[0] != '\0' && strlen(addr.host) < sizeof(addr.host));
        for (const char *p = addr.host; *p != '\0'; p++)
            FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z') && *p != '[' && *p != ']' && *p != '/' &&
                       (unsigned char)*p > 0x20);
        FUZZ_CHECK(addr.port <= 65535);
        FUZZ_CHECK(addr.path != NULL && addr.path[0] == '/');
        FUZZ_CHECK(strpbrk(addr.path, "\r\n") == NULL);
        /* dot segments are resolved: nothing climbs out of the origin's root */
        FUZZ_CHECK(strstr(addr.path, "/../") == NULL);
        size_t plen = strlen(addr.path);
        FUZZ_CHECK(!(plen >= 3 && strcmp(addr.path + plen - 3, "/..") == 0));
        FUZZ_CHECK(addr.query_parent != NULL &&
                   addr_has_param(addr.query_parent, "cacheHostOrigin"));
        FUZZ_CHECK(addr.query == NULL || !addr_has_param(addr.query, "cacheHostOrigin"));
        addr_check_key(addr.host, addr.path, addr.query);
        mcc_addr_fini(&addr);
        FUZZ_CHECK(addr.path == NULL && addr.query == NULL && addr.query_parent == NULL);
    }

    /* the key on its own: any path and query bytes (an upstream redirect, a future form) */
    char *query = strchr(target, '?');
    if (query != NULL)
        *query++ = '\0';
    addr_check_key("ns", target, query);
    free(target);
    free(host);
    return 0;
}
