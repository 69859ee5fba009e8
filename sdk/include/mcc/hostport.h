/* Helpers for plugins that read "host[:port]" from their configuration. Header-only: nothing
 * here is part of the ABI, and a plugin built with a newer copy runs on an older daemon. */
#ifndef MCC_HOSTPORT_H
#define MCC_HOSTPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcc/host.h>
#include <mcc/plugin.h>

/* Splits "host:port", "host", "[v6]:port" or "[v6]" into HOST (brackets kept, NUL-terminated, at
 * most HOSTSZ bytes with the NUL) and PORT. Without ":port", PORT is DEFPORT, or MCC_ERROR when
 * DEFPORT is 0. MCC_ERROR too for a bare IPv6 address (its port would be ambiguous), a port
 * outside 1..65535, an empty or too long host, and a host holding a character that has no place
 * in a host name and would change a URL or a metric label it is put into (controls, spaces,
 * '/', '?', '#', '@', '"', '\\', '%'). Pure: no allocation, any thread. */
static inline int mcc_hostport_split(const char *s, unsigned defport, char *host, size_t hostsz,
                                     unsigned *port)
{
    const char *colon;
    size_t hlen;
    if (s == NULL)
        return MCC_ERROR;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1 || (close[1] != ':' && close[1] != '\0'))
            return MCC_ERROR;
        hlen = (size_t)(close - s) + 1;
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(s, ':');
        if (colon != NULL && memchr(s, ':', (size_t)(colon - s)) != NULL)
            return MCC_ERROR;
        hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
    }
    if (hlen == 0 || hlen >= hostsz)
        return MCC_ERROR;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '@' || c == '"' ||
            c == '\\' || c == '%')
            return MCC_ERROR;
    }
    if (colon == NULL) {
        if (defport == 0)
            return MCC_ERROR;
        *port = defport;
    } else {
        char *end = NULL;
        if (colon[1] < '0' || colon[1] > '9')
            return MCC_ERROR;
        unsigned long v = strtoul(colon + 1, &end, 10);
        if (*end != '\0' || v == 0 || v > 65535)
            return MCC_ERROR;
        *port = (unsigned)v;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    return MCC_OK;
}

/* Reads the optional outbound proxy KEY of CONF (during create) as "host:port": absent leaves
 * *HAS at 0 (the daemon's fetch.proxy applies); "" sets *HAS and leaves URL empty (no proxy
 * for this plugin); "host:port" sets *HAS and writes "http://host:port" into URL (SIZE bytes).
 * MCC_OK, or MCC_ERROR with ERR naming the file and key. */
static inline int mcc_conf_proxy(const mcc_host *h, const mcc_conf *conf, const char *key,
                                 int *has, char *url, size_t size, mcc_err *err)
{
    const char *proxy = NULL;
    if (h->conf_str(conf, key, NULL, &proxy, err) != MCC_OK)
        return MCC_ERROR;
    if (proxy == NULL)
        return MCC_OK;
    *has = 1;
    url[0] = '\0';
    if (proxy[0] == '\0')
        return MCC_OK;
    char phost[200];
    unsigned pport;
    if (mcc_hostport_split(proxy, 0, phost, sizeof(phost), &pport) != MCC_OK)
        return h->conf_error(conf, key, err, "expected \"\" or host:port, got \"%s\"", proxy);
    int n = snprintf(url, size, "http://%s:%u", phost, pport);
    if (n < 0 || (size_t)n >= size)
        return h->conf_error(conf, key, err, "\"%s\" is too long", proxy);
    return MCC_OK;
}

#endif
