/* Cache key text and digest: normalises the URL parts that name an object so that equivalent
 * spellings (escaped unreserved characters, hex case, '+' and %2B) share one stored copy. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mcc/plugin.h>
#include <openssl/evp.h>

#include "cache/key.h"

#define KEY_ORIGIN_PARAM "cacheHostOrigin"

static const char key_hexdigits[] = "0123456789ABCDEF";

static int key_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int key_unreserved(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* A raw byte kept as it is: unreserved, or reserved (RFC 3986 gen-delims and sub-delims are
 * meaningful, so kept raw or escaped as received), except '#' anywhere and '?' in a path. */
static int key_keep_raw(int c, int in_path)
{
    if (key_unreserved(c))
        return 1;
    if (c == '\0' || c == '#' || (c == '?' && in_path))
        return 0;
    return strchr(":/?[]@!$&'()*+,;=", c) != NULL;
}

/* Appends S[0..LEN) normalised at *W (room is reserved by the caller: 3 bytes per input byte).
 * IN_PATH escapes a raw '?' too, so that no path spells the same text as a path and query. */
static char *key_normalise(char *w, const char *s, size_t len, int in_path)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? key_hexval((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? key_hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) { /* a bare '%': what a lenient client would have escaped */
                memcpy(w, "%25", 3);
                w += 3;
                continue;
            }
            int d = hi * 16 + lo;
            i += 2;
            if (key_unreserved(d) || d == '+') {
                *w++ = (char)d;
            } else {
                *w++ = '%';
                *w++ = key_hexdigits[hi];
                *w++ = key_hexdigits[lo];
            }
        } else if (key_keep_raw(c, in_path)) {
            *w++ = (char)c;
        } else {
            *w++ = '%';
            *w++ = key_hexdigits[c >> 4];
            *w++ = key_hexdigits[c & 15];
        }
    }
    return w;
}

/* True when the query parameter PARAM[0..LEN) is a cacheHostOrigin parameter. Its name is
 * compared once percent-decoded, as the key text is: "cacheHostOrigi%6E" is one too. */
static int key_is_origin_param(const char *param, size_t len)
{
    size_t n = strlen(KEY_ORIGIN_PARAM), i = 0, got = 0;
    char name[32];
    while (i < len && param[i] != '=' && got < sizeof(name)) {
        int hi, lo;
        if (param[i] == '%' && i + 2 < len && (hi = key_hexval((unsigned char)param[i + 1])) >= 0 &&
            (lo = key_hexval((unsigned char)param[i + 2])) >= 0) {
            name[got++] = (char)(hi * 16 + lo);
            i += 3;
        } else {
            name[got++] = param[i++];
        }
    }
    return (i == len || param[i] == '=') && got == n && strncasecmp(name, KEY_ORIGIN_PARAM, n) == 0;
}

/* SHA-256, looked up once: with EVP_sha256() alone OpenSSL 3 fetches the implementation again on
 * every digest, a cost as large as the digest of a short key. */
static const EVP_MD *key_sha256(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    static EVP_MD *md;
    if (md == NULL)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (md != NULL)
        return md;
#endif
    return EVP_sha256();
}

int mcc_cache_key(const char *ns, const char *path, const char *query,
                  uint8_t out[MCC_CACHE_KEY_LEN], char *text_out, size_t text_size)
{
    size_t nslen = strlen(ns), plen = strlen(path), qlen = query != NULL ? strlen(query) : 0;
    char *text, *w, *qstart;
    unsigned int mdlen = 0;
    int rc = MCC_ERROR;

    text = malloc(nslen + 1 + 3 * plen + 1 + 3 * qlen + 1);
    if (text == NULL)
        return MCC_ERROR;
    memcpy(text, ns, nslen);
    w = text + nslen;
    *w++ = '\n';
    w = key_normalise(w, path, plen, 1);

    qstart = w;
    *w++ = '?';
    for (size_t i = 0; i < qlen;) {
        const char *amp = memchr(query + i, '&', qlen - i);
        size_t plen_i = (amp != NULL ? (size_t)(amp - query) : qlen) - i;
        /* empty parameters ("a&&b", a trailing '&') carry nothing: dropped */
        if (plen_i > 0 && !key_is_origin_param(query + i, plen_i)) {
            if (w > qstart + 1)
                *w++ = '&';
            w = key_normalise(w, query + i, plen_i, 0);
        }
        i += plen_i + 1;
    }
    /* "?" alone, or parameters that were all cacheHostOrigin: no query */
    if (w == qstart + 1)
        w = qstart;
    *w = '\0';

    if (EVP_Digest(text, (size_t)(w - text), out, &mdlen, key_sha256(), NULL) != 1 ||
        mdlen != MCC_CACHE_KEY_LEN)
        goto free_text;
    if (text_out != NULL) {
        size_t tlen = (size_t)(w - text);
        if (tlen >= text_size)
            goto free_text;
        memcpy(text_out, text, tlen + 1);
    }
    rc = MCC_OK;
free_text:
    free(text);
    return rc;
}

void mcc_cache_key_hex(const uint8_t key[MCC_CACHE_KEY_LEN], char hex[MCC_CACHE_KEY_HEX_LEN])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < MCC_CACHE_KEY_LEN; i++) {
        hex[2 * i] = digits[key[i] >> 4];
        hex[2 * i + 1] = digits[key[i] & 15];
    }
    hex[2 * MCC_CACHE_KEY_LEN] = '\0';
}

int mcc_cache_key_from_hex(const char *hex, uint8_t key[MCC_CACHE_KEY_LEN])
{
    for (size_t i = 0; i < MCC_CACHE_KEY_LEN; i++) {
        int hi = key_hexval((unsigned char)hex[2 * i]);
        int lo = hi >= 0 ? key_hexval((unsigned char)hex[2 * i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return MCC_ERROR;
        key[i] = (uint8_t)(hi * 16 + lo);
    }
    return hex[2 * MCC_CACHE_KEY_LEN] == '\0' ? MCC_OK : MCC_ERROR;
}
