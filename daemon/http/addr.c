/* Addressing of content requests: cacheHostOrigin, absolute-form, path prefix, Host header, in
 * that order; host, port and path are checked here so that later layers can trust them. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http/addr.h"

#define ADDR_ORIGIN_PARAM "cacheHostOrigin"

static int addr_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parses "name", "name:port", "[v6]" or "[v6]:port" in S[0..LEN) into HOST (lower-case, no
 * brackets, no trailing dot) and *PORT (0 when absent or empty). -1 on any syntax error,
 * -2 on a port outside 1..65535. */
static int addr_host_parse(const char *s, size_t len, char host[MCC_ADDR_HOST_MAX], unsigned *port)
{
    const char *end = s + len, *colon = NULL;
    size_t hlen;

    *port = 0;
    if (len == 0)
        return -1;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        char v6[INET6_ADDRSTRLEN + 1];
        struct in6_addr a;
        size_t vlen;

        if (close == NULL)
            return -1;
        vlen = (size_t)(close - s - 1);
        if (vlen == 0 || vlen >= sizeof(v6))
            return -1;
        memcpy(v6, s + 1, vlen);
        v6[vlen] = '\0';
        if (inet_pton(AF_INET6, v6, &a) != 1 ||
            inet_ntop(AF_INET6, &a, host, MCC_ADDR_HOST_MAX) == NULL)
            return -1;
        if (close + 1 < end && close[1] != ':')
            return -1;
        colon = close + 1 < end ? close + 1 : NULL;
    } else {
        size_t label = 0;

        colon = memchr(s, ':', len);
        hlen = colon != NULL ? (size_t)(colon - s) : len;
        if (hlen > 0 && s[hlen - 1] == '.') /* "example.com." is example.com */
            hlen--;
        if (hlen == 0 || hlen >= MCC_ADDR_HOST_MAX || hlen > 253)
            return -1;
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '.') {
                if (label == 0) /* empty label: ".x", "a..b" */
                    return -1;
                label = 0;
                host[i] = '.';
                continue;
            }
            if (!isalnum(c) && c != '-' && c != '_')
                return -1;
            if (++label > 63)
                return -1;
            host[i] = (char)tolower(c);
        }
        if (label == 0) /* "a..": one trailing dot was allowed, not two */
            return -1;
        host[hlen] = '\0';
    }

    if (colon != NULL) {
        unsigned long v = 0;
        size_t n = (size_t)(end - colon - 1);
        for (size_t i = 0; i < n; i++) {
            char c = colon[1 + i];
            if (c < '0' || c > '9')
                return -1;
            if (v <= 65535)
                v = v * 10 + (unsigned long)(c - '0');
        }
        if (n > 0 && (v < 1 || v > 65535))
            return -2;
        *port = (unsigned)v;
    }
    return 0;
}

/* Raw bytes a request target may carry here: no controls, no space, well-formed escapes. */
static int addr_raw_check(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return -1;
        if (c == '%') {
            if (i + 2 >= len || addr_hexval((unsigned char)s[i + 1]) < 0 ||
                addr_hexval((unsigned char)s[i + 2]) < 0)
                return -1;
            i += 2;
        }
    }
    return 0;
}

/* "." or its escaped spellings */
static int addr_is_dot(const char *s, size_t len, size_t *consumed)
{
    if (len >= 1 && s[0] == '.') {
        *consumed = 1;
        return 1;
    }
    if (len >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E')) {
        *consumed = 3;
        return 1;
    }
    return 0;
}

/* 0 for an ordinary segment, 1 for ".", 2 for ".." (escaped dots count as dots) */
static int addr_dots(const char *seg, size_t len)
{
    size_t a, b;
    if (!addr_is_dot(seg, len, &a))
        return 0;
    if (a == len)
        return 1;
    if (!addr_is_dot(seg + a, len - a, &b))
        return 0;
    return a + b == len ? 2 : 0;
}

/* RFC 3986 5.2.4 on PATH[0..LEN) (starting with '/'), segments split at any byte of SEPS.
 * Writes the result to OUT (room for LEN + 1 bytes) when OUT is not NULL. -1 when a ".."
 * would climb above the root: refused rather than clamped, since some origin or a later
 * decoding step might not clamp it the same way. */
static int addr_remove_dots(const char *path, size_t len, const char *seps, char *out)
{
    size_t o = 0, depth = 0;
    const char *p = path, *end = path + len;

    while (p < end) {
        const char *seg = p + 1, *q = seg;
        int kind;

        while (q < end && strchr(seps, *q) == NULL)
            q++;
        kind = addr_dots(seg, (size_t)(q - seg));
        if (kind == 2) {
            if (depth == 0)
                return -1;
            depth--;
            if (out != NULL)
                while (o > 0 && out[--o] != '/')
                    ;
        } else if (kind == 0) {
            depth++;
            if (out != NULL) {
                out[o++] = '/';
                memcpy(out + o, seg, (size_t)(q - seg));
                o += (size_t)(q - seg);
            }
        }
        if (kind != 0 && q == end && out != NULL) /* "/a/." and "/a/b/.." end with '/' */
            out[o++] = '/';
        p = q;
    }
    if (out != NULL) {
        if (o == 0)
            out[o++] = '/';
        out[o] = '\0';
    }
    return 0;
}

/* Checks PATH[0..LEN) and returns it with dot segments resolved (malloc'd), or NULL with ERR
 * set. */
static char *addr_path_clean(const char *path, size_t len, mcc_err *err)
{
    char *raw, *decoded, *out = NULL;
    size_t dlen = 0;

    if (len == 0 || path[0] != '/') {
        mcc_err_set(err, "bad target: the path must start with '/'");
        return NULL;
    }
    if (addr_raw_check(path, len) != 0) {
        mcc_err_set(err, "bad target: control byte, space or bad escape in the path");
        return NULL;
    }
    raw = strndup(path, len);
    if (raw == NULL) {
        mcc_err_set(err, "out of memory");
        return NULL;
    }
    decoded = evhttp_uridecode(raw, 0, &dlen);
    if (decoded == NULL) {
        mcc_err_set(err, "out of memory");
        goto free_raw;
    }
    if (memchr(decoded, '\0', dlen) != NULL || memchr(decoded, '\r', dlen) != NULL ||
        memchr(decoded, '\n', dlen) != NULL) {
        mcc_err_set(err, "bad target: NUL, CR or LF in the decoded path");
        goto free_decoded;
    }
    /* a backslash separates segments for some servers: count it as one when checking */
    if (addr_remove_dots(decoded, dlen, "/\\", NULL) != 0) {
        mcc_err_set(err, "bad target: \"..\" climbs above the root");
        goto free_decoded;
    }
    out = malloc(len + 2);
    if (out == NULL) {
        mcc_err_set(err, "out of memory");
        goto free_decoded;
    }
    if (addr_remove_dots(raw, len, "/", out) != 0) {
        mcc_err_set(err, "bad target: \"..\" climbs above the root");
        free(out);
        out = NULL;
    }
free_decoded:
    free(decoded);
free_raw:
    free(raw);
    return out;
}

/* True when query parameter P[0..LEN) is a cacheHostOrigin parameter (any case, as nginx's
 * $arg_ matching is). */
static int addr_is_origin_param(const char *p, size_t len)
{
    size_t n = strlen(ADDR_ORIGIN_PARAM);
    return len >= n && strncasecmp(p, ADDR_ORIGIN_PARAM, n) == 0 && (len == n || p[n] == '=');
}

/* Finds the first cacheHostOrigin parameter of QUERY: 1 with its value in [*v, *v + *vlen), or
 * 0 when there is none. */
static int addr_find_origin(const char *query, const char **v, size_t *vlen)
{
    size_t n = strlen(ADDR_ORIGIN_PARAM);
    for (const char *p = query; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        if (addr_is_origin_param(p, len)) {
            *v = len > n ? p + n + 1 : p + len;
            *vlen = len > n ? len - n - 1 : 0;
            return 1;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    return 0;
}

/* QUERY without its cacheHostOrigin parameters (and empty ones), or NULL when nothing is left.
 * Sets *oom on allocation failure. */
static char *addr_query_strip(const char *query, int *oom)
{
    size_t qlen = strlen(query), o = 0;
    char *out = malloc(qlen + 1);

    if (out == NULL) {
        *oom = 1;
        return NULL;
    }
    for (const char *p = query; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        if (len > 0 && !addr_is_origin_param(p, len)) {
            if (o > 0)
                out[o++] = '&';
            memcpy(out + o, p, len);
            o += len;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    if (o == 0) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    return out;
}

/* Fills the query members of OUT from the raw query RAW (NULL when none). */
static int addr_queries(mcc_addr *out, const char *raw, mcc_err *err)
{
    int oom = 0;

    if (out->form == MCC_ADDR_QUERY) {
        out->query = addr_query_strip(raw, &oom);
        out->query_parent = strdup(raw);
    } else {
        char hostpart[MCC_ADDR_HOST_MAX + 32];
        size_t need;
        int v6 = strchr(out->host, ':') != NULL;

        if (out->port != 0 && out->port != 80)
            snprintf(hostpart, sizeof(hostpart), "%s%s%s:%u", v6 ? "%5B" : "", out->host,
                     v6 ? "%5D" : "", out->port);
        else
            snprintf(hostpart, sizeof(hostpart), "%s%s%s", v6 ? "%5B" : "", out->host,
                     v6 ? "%5D" : "");
        if (raw != NULL && *raw != '\0') {
            out->query = strdup(raw);
            oom = out->query == NULL;
        }
        need = (raw != NULL ? strlen(raw) + 1 : 0) + strlen(ADDR_ORIGIN_PARAM) + 1 +
               strlen(hostpart) + 1;
        out->query_parent = malloc(need);
        if (out->query_parent != NULL)
            snprintf(out->query_parent, need, "%s%s%s=%s", raw != NULL ? raw : "",
                     raw != NULL && *raw != '\0' ? "&" : "", ADDR_ORIGIN_PARAM, hostpart);
    }
    if (oom || out->query_parent == NULL)
        return mcc_err_set(err, "out of memory");
    return MCC_OK;
}

int mcc_addr_parse(const char *target, const char *host_header, mcc_addr_cacheable_fn is_cacheable,
                   void *arg, mcc_addr *out, mcc_err *err)
{
    struct evhttp_uri *uri = NULL;
    const char *path, *qmark, *ov;
    char *query = NULL;
    size_t plen, ovlen;
    int rc = MCC_ERROR, hrc;

    memset(out, 0, sizeof(*out));
    if (target == NULL || *target == '\0') {
        mcc_err_set(err, "bad target: empty");
        goto fail;
    }

    if (target[0] == '/') {
        /* origin-form, split by hand: evhttp's parser would read "//x/y" as authority x */
        size_t tlen = strcspn(target, "#");
        path = target;
        qmark = memchr(target, '?', tlen);
        plen = qmark != NULL ? (size_t)(qmark - target) : tlen;
        if (qmark != NULL) {
            query = strndup(qmark + 1, tlen - plen - 1);
            if (query == NULL) {
                mcc_err_set(err, "out of memory");
                goto fail;
            }
        }
    } else if (strncasecmp(target, "http://", 7) == 0) {
        const char *h;
        int port;

        uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
        if (uri == NULL) {
            mcc_err_set(err, "bad target: malformed absolute URI or port");
            goto fail;
        }
        if (evhttp_uri_get_userinfo(uri) != NULL) {
            mcc_err_set(err, "bad target: userinfo in the URI");
            goto fail;
        }
        h = evhttp_uri_get_host(uri);
        hrc = h != NULL ? addr_host_parse(h, strlen(h), out->host, &out->port) : -1;
        port = evhttp_uri_get_port(uri);
        if (hrc != 0 || out->port != 0) { /* the port arrives apart; one inside h is wrong */
            mcc_err_set(err, "bad target: bad host in the URI");
            goto fail;
        }
        if (port == 0 || port > 65535) {
            mcc_err_set(err, "bad target: port out of range");
            goto fail;
        }
        out->port = port > 0 ? (unsigned)port : 0;
        out->form = MCC_ADDR_ABSOLUTE;
        path = evhttp_uri_get_path(uri);
        if (path == NULL || *path == '\0')
            path = "/";
        plen = strlen(path);
        if (evhttp_uri_get_query(uri) != NULL) {
            query = strdup(evhttp_uri_get_query(uri));
            if (query == NULL) {
                mcc_err_set(err, "out of memory");
                goto fail;
            }
        }
    } else {
        mcc_err_set(err, strstr(target, "://") != NULL ? "bad target: only http:// is served"
                                                       : "bad target: not a path or http URI");
        goto fail;
    }

    out->path = addr_path_clean(path, plen, err);
    if (out->path == NULL)
        goto fail;
    if (query != NULL && addr_raw_check(query, strlen(query)) != 0) {
        mcc_err_set(err, "bad target: control byte, space or bad escape in the query");
        goto fail;
    }

    if (query != NULL && addr_find_origin(query, &ov, &ovlen)) {
        /* (a) Delivery Optimization's form wins over everything, even an absolute target */
        char *raw = strndup(ov, ovlen), *v;
        size_t vlen = 0;

        if (raw == NULL) {
            mcc_err_set(err, "out of memory");
            goto fail;
        }
        v = evhttp_uridecode(raw, 0, &vlen);
        free(raw);
        if (v == NULL) {
            mcc_err_set(err, "out of memory");
            goto fail;
        }
        hrc = strlen(v) == vlen ? addr_host_parse(v, vlen, out->host, &out->port) : -1;
        free(v);
        if (hrc != 0) {
            mcc_err_set(err, "bad target: bad host in %s", ADDR_ORIGIN_PARAM);
            goto fail;
        }
        out->form = MCC_ADDR_QUERY;
    } else if (out->form == MCC_ADDR_ABSOLUTE) {
        /* (b) host and port taken above */
    } else {
        /* (c) /host[:port]/rest, checked on the resolved path */
        const char *seg = out->path + 1;
        size_t slen = strcspn(seg, "/");
        unsigned port = 0;

        if (is_cacheable != NULL && addr_host_parse(seg, slen, out->host, &port) == 0 &&
            is_cacheable(arg, out->host, port)) {
            memmove(out->path, seg + slen, strlen(seg + slen) + 1);
            if (out->path[0] == '\0') {
                out->path[0] = '/';
                out->path[1] = '\0';
            }
            out->port = port;
            out->form = MCC_ADDR_PREFIX;
        } else if (host_header == NULL) {
            rc = MCC_NOTFOUND;
            mcc_err_set(err, "no origin: no cacheHostOrigin, path prefix or Host header");
            goto fail;
        } else {
            /* (d) Host header */
            hrc = addr_host_parse(host_header, strlen(host_header), out->host, &port);
            if (hrc != 0) {
                mcc_err_set(err, "bad request: bad Host header");
                goto fail;
            }
            if (is_cacheable == NULL || !is_cacheable(arg, out->host, port)) {
                rc = MCC_NOTFOUND;
                mcc_err_set(err, "no origin: host %s is not cacheable", out->host);
                goto fail;
            }
            out->port = port;
            out->form = MCC_ADDR_HOST;
        }
    }

    if (addr_queries(out, query, err) != MCC_OK)
        goto fail;
    free(query);
    if (uri != NULL) /* evhttp_uri_free does not take NULL */
        evhttp_uri_free(uri);
    return MCC_OK;

fail:
    free(query);
    if (uri != NULL)
        evhttp_uri_free(uri);
    mcc_addr_fini(out);
    return rc;
}

int mcc_addr_from_request(struct evhttp_request *req, mcc_addr_cacheable_fn is_cacheable, void *arg,
                          mcc_addr *out, mcc_err *err)
{
    const struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
    const struct evkeyval *kv;
    const char *host = NULL;

    memset(out, 0, sizeof(*out));
    for (kv = TAILQ_FIRST(headers); kv != NULL; kv = TAILQ_NEXT(kv, next)) {
        if (strcasecmp(kv->key, "Host") != 0)
            continue;
        if (host != NULL)
            return mcc_err_set(err, "bad request: more than one Host header");
        host = kv->value;
    }
    return mcc_addr_parse(evhttp_request_get_uri(req), host, is_cacheable, arg, out, err);
}

void mcc_addr_fini(mcc_addr *addr)
{
    free(addr->path);
    free(addr->query);
    free(addr->query_parent);
    memset(addr, 0, sizeof(*addr));
}

const char *mcc_addr_header_last(const struct evkeyvalq *headers, const char *name)
{
    const struct evkeyval *kv;
    const char *last = NULL;

    for (kv = TAILQ_FIRST(headers); kv != NULL; kv = TAILQ_NEXT(kv, next))
        if (strcasecmp(kv->key, name) == 0)
            last = kv->value;
    return last;
}
