/* The textual forms that both the JSON settings and MCC's environment accept: GUIDs, listen
 * addresses and host[:port], checked the same way on both surfaces. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "conf/conf.h"

int mcc_parse_guid(const char *text)
{
    static const unsigned groups[] = {8, 4, 4, 4, 12};
    const char *p = text;
    if (p == NULL)
        return MCC_ERROR;
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        if (g > 0 && *p++ != '-')
            return MCC_ERROR;
        for (unsigned i = 0; i < groups[g]; i++, p++) {
            if (!isxdigit((unsigned char)*p))
                return MCC_ERROR;
        }
    }
    return *p == '\0' ? MCC_OK : MCC_ERROR;
}

/* A port 1..65535 written as plain digits. */
static int syntax_port(const char *s, unsigned *port)
{
    unsigned v = 0;
    if (*s == '\0' || strlen(s) > 5)
        return MCC_ERROR;
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s))
            return MCC_ERROR;
        v = v * 10 + (unsigned)(*s - '0');
    }
    if (v < 1 || v > 65535)
        return MCC_ERROR;
    *port = v;
    return MCC_OK;
}

static int syntax_ip(int family, const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char bin[sizeof(struct in6_addr)];
    if (len == 0 || len >= sizeof(buf))
        return MCC_ERROR;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(family, buf, bin) == 1 ? MCC_OK : MCC_ERROR;
}

/* A DNS name: labels of letters, digits and '-' (not at either end), 1..63 each, 253 in all.
 * A name whose last label is all digits would be a mistyped IPv4 address, not a name. */
static int syntax_dns_name(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return MCC_ERROR;
    size_t start = 0;
    int digits_only = 1;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t llen = i - start;
            if (llen == 0 || llen > 63 || s[start] == '-' || s[i - 1] == '-')
                return MCC_ERROR;
            if (i == len && digits_only)
                return MCC_ERROR;
            start = i + 1;
            digits_only = 1;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-')
            return MCC_ERROR;
        if (!isdigit(c))
            digits_only = 0;
    }
    return MCC_OK;
}

static int syntax_copy(const char *s, size_t len, char *out, size_t size)
{
    if (out == NULL)
        return MCC_OK;
    if (len >= size)
        return MCC_ERROR;
    memcpy(out, s, len);
    out[len] = '\0';
    return MCC_OK;
}

int mcc_parse_hostport(const char *text, int port_required, char *host, size_t hostlen,
                       unsigned *port)
{
    unsigned p = 0;
    const char *h;
    size_t hlen;
    if (text == NULL)
        return MCC_ERROR;
    const char *colon = strrchr(text, ':');
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL)
            return MCC_ERROR;
        h = text + 1;
        hlen = (size_t)(close - h);
        if (syntax_ip(AF_INET6, h, hlen) != MCC_OK)
            return MCC_ERROR;
        if (close[1] == ':') {
            if (syntax_port(close + 2, &p) != MCC_OK)
                return MCC_ERROR;
        } else if (close[1] != '\0' || port_required) {
            return MCC_ERROR;
        }
    } else if (colon != NULL && strchr(text, ':') != colon) {
        /* several colons without brackets: a bare IPv6 address, which cannot carry a port */
        h = text;
        hlen = strlen(text);
        if (port_required || syntax_ip(AF_INET6, h, hlen) != MCC_OK)
            return MCC_ERROR;
    } else {
        h = text;
        hlen = colon != NULL ? (size_t)(colon - text) : strlen(text);
        if (colon != NULL && syntax_port(colon + 1, &p) != MCC_OK)
            return MCC_ERROR;
        if (colon == NULL && port_required)
            return MCC_ERROR;
        if (syntax_ip(AF_INET, h, hlen) != MCC_OK && syntax_dns_name(h, hlen) != MCC_OK)
            return MCC_ERROR;
    }
    if (syntax_copy(h, hlen, host, hostlen) != MCC_OK)
        return MCC_ERROR;
    if (port != NULL)
        *port = p;
    return MCC_OK;
}

int mcc_parse_listen(const char *text)
{
    char host[INET6_ADDRSTRLEN + 1];
    unsigned port;
    if (mcc_parse_hostport(text, 1, host, sizeof(host), &port) != MCC_OK)
        return MCC_ERROR;
    if (text[0] == '[')
        return MCC_OK; /* checked as an IPv6 literal already */
    return syntax_ip(AF_INET, host, strlen(host));
}
