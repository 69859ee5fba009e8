/* The policy contracts (mcc/policy.h): an eviction policy only proposes ids its set holds, that
 * were not removed, that can() lets go, and says MCC_NOTFOUND only when none may go; admission
 * answers MCC_OK or MCC_DECLINED; freshness answers a class or MCC_DECLINED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

#define PO_IDS 400u /* ids per set; id i of set s is s * 100000 + i + 1 */

static const mcc_policy_ops *po_ops(kit *k)
{
    return k->ops;
}

/* What the kit's evict sets hold, and which ids can() lets go. */
typedef struct po_model {
    uint8_t live[PO_IDS + 1];    /* inserted and not removed */
    uint8_t refused[PO_IDS + 1]; /* can() says 0 */
    uint64_t base;               /* ids of this set are base + 1 .. base + PO_IDS */
    unsigned asked_foreign;      /* can() was asked about an id of no set of ours */
    unsigned asked;
} po_model;

static int po_can(void *arg, uint64_t id)
{
    po_model *m = arg;
    m->asked++;
    if (id <= m->base || id > m->base + PO_IDS) {
        m->asked_foreign++;
        return 1; /* answered yes: a policy that then proposes it is caught by the caller */
    }
    uint64_t i = id - m->base;
    return m->live[i] && !m->refused[i];
}

static int po_has(const mcc_policy_ops *o, size_t end)
{
    return o->size >= end;
}

#define PO_HAS(o, m) (po_has((o), offsetof(mcc_policy_ops, m) + sizeof((o)->m)) && (o)->m != NULL)

static void po_type(kit_case *c)
{
    const mcc_policy_ops *o = po_ops(c->k);
    KIT_CHECK(c, o->size >= offsetof(mcc_policy_ops, type) + sizeof(o->type),
              "ops table of %zu bytes has no type", o->size);
    switch (o->type) {
    case MCC_POLICY_EVICTION:
        KIT_CHECK(c,
                  PO_HAS(o, evict_new) && PO_HAS(o, evict_free) && PO_HAS(o, evict_insert) &&
                      PO_HAS(o, evict_access) && PO_HAS(o, evict_remove) && PO_HAS(o, evict_victim),
                  "an eviction policy lacks one of evict_new, evict_free, evict_insert, "
                  "evict_access, evict_remove, evict_victim");
        kit_note(c, "eviction");
        break;
    case MCC_POLICY_ADMISSION:
        KIT_CHECK(c, PO_HAS(o, admit), "an admission policy without admit");
        kit_note(c, "admission");
        break;
    case MCC_POLICY_FRESHNESS:
        KIT_CHECK(c, PO_HAS(o, freshness), "a freshness policy without freshness");
        kit_note(c, "freshness");
        break;
    default:
        kit_fail(c, "type %d is none of eviction (1), admission (2), freshness (3)", o->type);
        break;
    }
done:
    return;
}

/* Takes victims from SET until none is proposed, checking each; the model follows. */
static int po_drain(kit_case *c, mcc_evict_set *set, po_model *m, const char *what)
{
    const mcc_policy_ops *o = po_ops(c->k);
    for (unsigned round = 0; round < 2 * PO_IDS + 8; round++) {
        uint64_t id = 0;
        unsigned foreign = m->asked_foreign;
        int rc = o->evict_victim(set, po_can, m, &id);
        if (rc == MCC_NOTFOUND) {
            for (unsigned i = 1; i <= PO_IDS; i++)
                if (m->live[i] && !m->refused[i])
                    return kit_fail(c,
                                    "%s: evict_victim answered MCC_NOTFOUND while id %llu "
                                    "could go",
                                    what, (unsigned long long)(m->base + i));
            return 1;
        }
        if (rc != MCC_OK)
            return kit_fail(c, "%s: evict_victim answered %d, not MCC_OK or MCC_NOTFOUND", what,
                            rc);
        if (id <= m->base || id > m->base + PO_IDS)
            return kit_fail(c, "%s: evict_victim proposed id %llu, which this set never held%s",
                            what, (unsigned long long)id,
                            m->asked_foreign > foreign ? " (another set's id or a made-up one)"
                                                       : "");
        uint64_t i = id - m->base;
        if (!m->live[i])
            return kit_fail(c, "%s: evict_victim proposed id %llu, which was removed", what,
                            (unsigned long long)id);
        if (m->refused[i])
            return kit_fail(c, "%s: evict_victim proposed id %llu, which can() refused", what,
                            (unsigned long long)id);
        /* proposing does not remove: the backend removes it, then tells the policy */
        o->evict_remove(set, id);
        m->live[i] = 0;
    }
    return kit_fail(c, "%s: evict_victim kept proposing after every id was removed", what);
}

static void po_eviction(kit_case *c)
{
    kit *k = c->k;
    const mcc_policy_ops *o = po_ops(k);
    mcc_evict_set *a = NULL, *b = NULL;
    po_model *ma = calloc(1, sizeof(*ma)), *mb = calloc(1, sizeof(*mb));
    KIT_CHECK(c, ma != NULL && mb != NULL, "out of memory");
    ma->base = 100000;
    mb->base = 200000;
    a = o->evict_new(k->state, 64u * 1024u * 1024u);
    b = o->evict_new(k->state, 1024u * 1024u);
    KIT_CHECK(c, a != NULL && b != NULL, "evict_new made no set");

    /* an empty set proposes nothing */
    uint64_t id = 0;
    int rc = o->evict_victim(a, po_can, ma, &id);
    KIT_CHECK(c, rc == MCC_NOTFOUND, "evict_victim of an empty set answered %d (id %llu)", rc,
              (unsigned long long)id);
    /* unknown ids are harmless */
    o->evict_access(a, 42);
    o->evict_remove(a, 43);

    for (unsigned i = 1; i <= PO_IDS; i++) {
        o->evict_insert(a, ma->base + i, 1000u + i * 37u);
        ma->live[i] = 1;
        if (i <= PO_IDS / 2) {
            o->evict_insert(b, mb->base + i, 4096u);
            mb->live[i] = 1;
        }
    }
    /* some are used again, some inserted again (replaced), some removed, a third is in use */
    for (unsigned i = 1; i <= PO_IDS; i += 3)
        o->evict_access(a, ma->base + i);
    for (unsigned i = 2; i <= PO_IDS; i += 7)
        o->evict_insert(a, ma->base + i, 5000);
    for (unsigned i = 5; i <= PO_IDS; i += 5) {
        o->evict_remove(a, ma->base + i);
        ma->live[i] = 0;
    }
    for (unsigned i = 1; i <= PO_IDS; i += 3)
        ma->refused[i] = 1;

    /* a refusing can() everywhere: nothing may be proposed */
    for (unsigned i = 1; i <= PO_IDS / 2; i++)
        mb->refused[i] = 1;
    rc = o->evict_victim(b, po_can, mb, &id);
    KIT_CHECK(c, rc == MCC_NOTFOUND, "evict_victim with every id in use answered %d (id %llu)", rc,
              (unsigned long long)id);
    memset(mb->refused, 0, sizeof(mb->refused));

    if (!po_drain(c, a, ma, "set A"))
        goto done;
    /* what was refused may go once no longer in use; a removed id came back as a new object */
    memset(ma->refused, 0, sizeof(ma->refused));
    o->evict_insert(a, ma->base + 5, 777);
    ma->live[5] = 1;
    o->evict_insert(a, ma->base + 10, 777);
    ma->live[10] = 1;
    if (!po_drain(c, a, ma, "set A, once nothing was in use"))
        goto done;
    /* set B never proposes set A's ids, and the other way round */
    if (!po_drain(c, b, mb, "set B"))
        goto done;
done:
    if (a != NULL)
        o->evict_free(a);
    if (b != NULL)
        o->evict_free(b);
    free(ma);
    free(mb);
}

static void po_admission(kit_case *c)
{
    kit *k = c->k;
    const mcc_policy_ops *o = po_ops(k);
    static const uint64_t lengths[] = {0, 1, 4096, 1u << 20, 100u << 20, 1ull << 40};
    unsigned ok = 0, declined = 0;
    for (unsigned n = 0; n < 64; n++) {
        uint8_t key[MCC_KEY_LEN];
        kit_key(k, key);
        for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
            for (unsigned req = 1; req <= 3; req++) {
                int rc = o->admit(k->state, key, lengths[l], req);
                KIT_CHECK(c, rc == MCC_OK || rc == MCC_DECLINED,
                          "admit(length %llu, requests %u) answered %d, not MCC_OK or "
                          "MCC_DECLINED",
                          (unsigned long long)lengths[l], req, rc);
                ok += rc == MCC_OK;
                declined += rc == MCC_DECLINED;
            }
        }
    }
    kit_note(c, "%u admitted, %u declined", ok, declined);
done:
    return;
}

static void po_freshness(kit_case *c)
{
    kit *k = c->k;
    const mcc_policy_ops *o = po_ops(k);
    static const char *const paths[] = {
        "/",
        "/dists/stable/InRelease",
        "/pool/main/a/apt/apt_2.6_amd64.deb",
        "/a/b/c.bin",
        "/x?y=1",
        "/very/deep/path/with/many/parts/file.json",
        "",
    };
    static const char *const hosts[] = {"origin.test", "deb.debian.org", "example.com"};
    unsigned declined = 0, classes = 0;
    for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
        for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
            for (int rule = MCC_FRESH_STANDARD; rule <= MCC_FRESH_REVALIDATE; rule++) {
                int rc = o->freshness(k->state, hosts[h], hosts[h], paths[p], rule);
                KIT_CHECK(c,
                          rc == MCC_DECLINED ||
                              (rc >= MCC_FRESH_STANDARD && rc <= MCC_FRESH_REVALIDATE),
                          "freshness(%s, \"%s\", rule %d) answered %d: neither a class (0..2) "
                          "nor MCC_DECLINED",
                          hosts[h], paths[p], rule, rc);
                int again = o->freshness(k->state, hosts[h], hosts[h], paths[p], rule);
                KIT_CHECK(c, again == rc, "freshness(%s, \"%s\") answered %d, then %d", hosts[h],
                          paths[p], rc, again);
                declined += rc == MCC_DECLINED;
                classes += rc != MCC_DECLINED;
            }
        }
    }
    kit_note(c, "%u classes, %u declined", classes, declined);
done:
    return;
}

void kit_policy_run(kit *k)
{
    kit_run_case(k, "policy.type", po_type);
    const mcc_policy_ops *o = po_ops(k);
    if (o->size < offsetof(mcc_policy_ops, type) + sizeof(o->type))
        return;
    switch (o->type) {
    case MCC_POLICY_EVICTION:
        if (PO_HAS(o, evict_new) && PO_HAS(o, evict_free) && PO_HAS(o, evict_insert) &&
            PO_HAS(o, evict_access) && PO_HAS(o, evict_remove) && PO_HAS(o, evict_victim))
            kit_run_case(k, "policy.eviction_victims", po_eviction);
        break;
    case MCC_POLICY_ADMISSION:
        if (PO_HAS(o, admit))
            kit_run_case(k, "policy.admission_answers", po_admission);
        break;
    case MCC_POLICY_FRESHNESS:
        if (PO_HAS(o, freshness))
            kit_run_case(k, "policy.freshness_answers", po_freshness);
        break;
    default:
        break;
    }
}
