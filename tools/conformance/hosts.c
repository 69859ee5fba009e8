/* The hosts contracts (mcc/hosts.h): match answers MCC_OK with a filled rule (a namespace, a
 * port, a freshness class, fields that fit) or MCC_DECLINED, the same answer every time for the
 * same question, and the hosts named with --accept-host / --decline-host as told. */
#include <stdio.h>
#include <string.h>

#include "kit.h"

static const mcc_hosts_ops *ho_ops(kit *k)
{
    return k->ops;
}

/* Built-in content hosts, ordinary names, wildcard-looking and odd ones: the kit cannot know
 * which a plugin accepts, only that its answers are well-formed and stable. */
static const char *const ho_samples[] = {
    "dl.delivery.mp.microsoft.com",
    "x1.dl.delivery.mp.microsoft.com",
    "download.windowsupdate.com",
    "contoso.nlu.dl.adu.microsoft.com",
    "origin.test",
    "deb.debian.org",
    "example.com",
    "a.b.c.d.e.example.com",
    "localhost",
    "127.0.0.1",
    "::1",
    "xn--bcher-kva.example",
    "not-a-cacheable-host.invalid",
    "a",
};
#define HO_NSAMPLES (sizeof(ho_samples) / sizeof(ho_samples[0]))

static int ho_terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

/* Asks HOST:PORT PATH. 1 with *RC and RULE, or 0 with the failure recorded. */
static int ho_ask(kit_case *c, const char *host, unsigned port, const char *path, int *rc,
                  mcc_host_rule *rule)
{
    memset(rule, 0, sizeof(*rule)); /* RULE arrives zeroed */
    *rc = ho_ops(c->k)->match(c->k->state, host, port, path, rule);
    if (*rc != MCC_OK && *rc != MCC_DECLINED)
        return kit_fail(c, "match(%s, %u, %s) answered %d, not MCC_OK or MCC_DECLINED", host, port,
                        path, *rc);
    if (*rc == MCC_DECLINED)
        return 1;
    if (!ho_terminated(rule->ns, sizeof(rule->ns)) ||
        !ho_terminated(rule->connect_to, sizeof(rule->connect_to)))
        return kit_fail(c, "match(%s): ns or connect_to is not NUL-terminated", host);
    if (rule->ns[0] == '\0')
        return kit_fail(c, "match(%s, %u, %s) answered MCC_OK with an empty ns", host, port, path);
    if (rule->port == 0 || rule->port > 65535)
        return kit_fail(c, "match(%s, %u, %s) answered MCC_OK with port %u", host, port, path,
                        rule->port);
    if (rule->freshness < MCC_FRESH_STANDARD || rule->freshness > MCC_FRESH_REVALIDATE)
        return kit_fail(c, "match(%s, %u, %s) answered MCC_OK with freshness %d", host, port, path,
                        rule->freshness);
    if (rule->connect_to[0] != '\0' && strchr(rule->connect_to, ':') == NULL)
        return kit_fail(c, "match(%s): connect_to \"%s\" is not addr:port", host, rule->connect_to);
    return 1;
}

static void ho_consistent(kit_case *c)
{
    static const unsigned ports[] = {0, 80, 8080};
    static const char *const paths[] = {"/", "/a/b/file.bin", "/pool/main/x.deb"};
    unsigned ok = 0, declined = 0;
    for (size_t h = 0; h < HO_NSAMPLES; h++) {
        for (size_t p = 0; p < sizeof(ports) / sizeof(ports[0]); p++) {
            for (size_t q = 0; q < sizeof(paths) / sizeof(paths[0]); q++) {
                int rc1, rc2;
                mcc_host_rule r1, r2;
                if (!ho_ask(c, ho_samples[h], ports[p], paths[q], &rc1, &r1) ||
                    !ho_ask(c, ho_samples[h], ports[p], paths[q], &rc2, &r2))
                    goto done;
                KIT_CHECK(c, rc1 == rc2, "match(%s, %u, %s) answered %d, then %d", ho_samples[h],
                          ports[p], paths[q], rc1, rc2);
                KIT_CHECK(c, rc1 != MCC_OK || memcmp(&r1, &r2, sizeof(r1)) == 0,
                          "match(%s, %u, %s) filled the rule differently the second time",
                          ho_samples[h], ports[p], paths[q]);
                ok += rc1 == MCC_OK;
                declined += rc1 == MCC_DECLINED;
            }
        }
    }
    kit_note(c, "%u matched, %u declined", ok, declined);
done:
    return;
}

/* A host the rule accepts with one path is accepted with another: the namespace and port do not
 * depend on the path (freshness may). */
static void ho_fills_ns(kit_case *c)
{
    for (size_t h = 0; h < HO_NSAMPLES; h++) {
        int rc1, rc2;
        mcc_host_rule r1, r2;
        if (!ho_ask(c, ho_samples[h], 0, "/", &rc1, &r1) ||
            !ho_ask(c, ho_samples[h], 0, "/deep/path/file.bin", &rc2, &r2))
            goto done;
        KIT_CHECK(c, rc1 == rc2, "match(%s) answered %d for / and %d for another path",
                  ho_samples[h], rc1, rc2);
        KIT_CHECK(c, rc1 != MCC_OK || (strcmp(r1.ns, r2.ns) == 0 && r1.port == r2.port),
                  "match(%s): namespace or port changed with the path (%s:%u, %s:%u)",
                  ho_samples[h], r1.ns, r1.port, r2.ns, r2.port);
    }
done:
    return;
}

static void ho_expected(kit_case *c)
{
    kit *k = c->k;
    if (k->naccept == 0 && k->ndecline == 0) {
        kit_skip(c, "no --accept-host or --decline-host given");
        return;
    }
    for (unsigned i = 0; i < k->naccept; i++) {
        int rc;
        mcc_host_rule r;
        if (!ho_ask(c, k->accept_hosts[i], 0, "/file.bin", &rc, &r))
            goto done;
        KIT_CHECK(c, rc == MCC_OK, "match(%s) declined a host that must be cacheable",
                  k->accept_hosts[i]);
    }
    for (unsigned i = 0; i < k->ndecline; i++) {
        int rc;
        mcc_host_rule r;
        if (!ho_ask(c, k->decline_hosts[i], 0, "/file.bin", &rc, &r))
            goto done;
        KIT_CHECK(c, rc == MCC_DECLINED,
                  "match(%s) accepted a host that must be declined (ns "
                  "%s)",
                  k->decline_hosts[i], r.ns);
    }
    kit_note(c, "%u accepted, %u declined as told", k->naccept, k->ndecline);
done:
    return;
}

void kit_hosts_run(kit *k)
{
    const mcc_hosts_ops *o = ho_ops(k);
    if (o->size < offsetof(mcc_hosts_ops, match) + sizeof(o->match) || o->match == NULL) {
        printf("FAIL hosts.match_consistent: the ops table has no match\n");
        k->failed++;
        return;
    }
    kit_run_case(k, "hosts.match_consistent", ho_consistent);
    kit_run_case(k, "hosts.fills_ns", ho_fills_ns);
    kit_run_case(k, "hosts.expected_hosts", ho_expected);
}
