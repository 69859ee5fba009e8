/* Addressing: which origin a content request is for, found from its target and Host header in
 * the order of DESIGN.md step 2, with the path checked and its dot segments resolved. */
#ifndef MCC_HTTP_ADDR_H
#define MCC_HTTP_ADDR_H

#include <mcc/plugin.h>

struct evhttp_request;
struct evkeyvalq;

/* Which form of request named the origin. */
typedef enum mcc_addr_form {
    MCC_ADDR_NONE = 0,
    MCC_ADDR_QUERY = 1,    /* ?cacheHostOrigin=<host> (Delivery Optimization) */
    MCC_ADDR_ABSOLUTE = 2, /* GET http://host[:port]/path (apt's Acquire::http::Proxy) */
    MCC_ADDR_PREFIX = 3,   /* GET /host[:port]/path (apt-cacher-ng style sources.list) */
    MCC_ADDR_HOST = 4      /* Host: header naming a cacheable host (DNS redirect setups) */
} mcc_addr_form;

#define MCC_ADDR_HOST_MAX 256 /* a DNS name is at most 253 characters */

/* The origin of one request. Strings are owned by the struct: mcc_addr_fini frees them. */
typedef struct mcc_addr {
    mcc_addr_form form;
    char host[MCC_ADDR_HOST_MAX]; /* lower-case, no brackets, no trailing dot; IPv6 literals in
                                   * inet_ntop form */
    unsigned port; /* the port the request named, 0 when none (always 0 for a cacheHostOrigin
                    * without port: the host rule gives the port) */
    char *path;    /* starts with '/', percent-encoding as received, dot segments resolved */
    char *query;   /* raw query without '?' and without cacheHostOrigin (for a CDN), or NULL */
    /* raw query for a parent cache: always carries cacheHostOrigin=<host> (as received for the
     * QUERY form, appended otherwise, with ":port" when the request named a port other than
     * 80; our own parser accepts that port). Never NULL after MCC_OK. */
    char *query_parent;
} mcc_addr;

/* Asked for the PREFIX and HOST forms: non-zero when HOST (lower-case, no brackets) with PORT
 * (0 when none was named) is a host some host rule makes cacheable. */
typedef int (*mcc_addr_cacheable_fn)(void *arg, const char *host, unsigned port);

/* Finds the origin of a request whose request-target is TARGET (as on the request line) and
 * whose Host header is HOST_HEADER (NULL when absent). IS_CACHEABLE may be NULL (then the
 * PREFIX and HOST forms never match). OUT is overwritten.
 * Returns MCC_OK with OUT filled; MCC_NOTFOUND when no form names an origin (answer 403);
 * MCC_ERROR with ERR saying why when the target is malformed or unsafe (answer 400): a bad host
 * or port, userinfo, a scheme other than http, a path not starting with '/', control bytes or a
 * bad escape, NUL/CR/LF once decoded, or ".." climbing above the root once decoded.
 * OUT needs mcc_addr_fini after MCC_OK; after an error it holds nothing to free. */
int mcc_addr_parse(const char *target, const char *host_header, mcc_addr_cacheable_fn is_cacheable,
                   void *arg, mcc_addr *out, mcc_err *err);

/* mcc_addr_parse on an evhttp request: its target (evhttp_request_get_uri) and Host header.
 * More than one Host header is a malformed request (MCC_ERROR). */
int mcc_addr_from_request(struct evhttp_request *req, mcc_addr_cacheable_fn is_cacheable, void *arg,
                          mcc_addr *out, mcc_err *err);

/* Frees the strings of ADDR and zeroes it. Safe on a zeroed struct. */
void mcc_addr_fini(mcc_addr *addr);

/* The value of the LAST header named NAME (case-insensitive) in HEADERS, or NULL. Delivery
 * Optimization may send Range twice when resuming: the last one counts. */
const char *mcc_addr_header_last(const struct evkeyvalq *headers, const char *name);

#endif
