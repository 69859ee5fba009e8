/* The index of objects in use: one entry per key, shared by all serves and transfers of it, and
 * opened from storage on first use. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cache/pipeline.h"

int64_t mcc_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static char *index_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* Decoded metadata of objects opened lately. Every hit opens its object again, and parsing the
 * JSON blob was the largest part of that; a slot is used only when the stored blob is byte for
 * byte the one it was decoded from, so nothing has to tell the memo that an object changed. */
#define INDEX_MEMO_SLOTS 512 /* about 3.6 KiB each, allocated as used */
#define INDEX_MEMO_WAYS                                                                            \
    8                      /* a key may sit in any of the 8 slots of its set: 100 hot objects in   \
                            * 256 direct-mapped slots collided often enough to cost 4% of a hit */
#define INDEX_SPARE_MAX 16 /* freed entries kept for reuse */

struct mcc_meta_memo {
    uint8_t key[MCC_KEY_LEN];
    void *blob;
    size_t len;
    uint64_t used; /* c->memo_clock when last used: the set's least recent one is replaced */
    mcc_meta meta;
};

void mcc_index_free(struct mcc_cache *c)
{
    while (c->spare != NULL) {
        mcc_entry *e = c->spare;
        c->spare = e->hh.next;
        free(e);
    }
    c->nspare = 0;
    if (c->memo == NULL)
        return;
    for (size_t i = 0; i < INDEX_MEMO_SLOTS; i++)
        free(c->memo[i].blob);
    free(c->memo);
    c->memo = NULL;
}

static int index_decode(struct mcc_cache *c, const uint8_t *key, const void *blob, size_t len,
                        mcc_meta *meta)
{
    if (c->memo == NULL)
        c->memo = calloc(INDEX_MEMO_SLOTS, sizeof(*c->memo));
    if (c->memo == NULL || blob == NULL || len == 0)
        return mcc_meta_decode(blob, len, meta);
    /* keys are SHA-256: their first byte spreads them evenly over the sets */
    struct mcc_meta_memo *set =
        &c->memo[(key[0] % (INDEX_MEMO_SLOTS / INDEX_MEMO_WAYS)) * INDEX_MEMO_WAYS];
    struct mcc_meta_memo *m = set;
    for (int i = 0; i < INDEX_MEMO_WAYS; i++) {
        struct mcc_meta_memo *w = &set[i];
        if (w->blob != NULL && memcmp(w->key, key, MCC_KEY_LEN) == 0) {
            m = w; /* this key's slot: used again, or refreshed below */
            if (w->len == len && memcmp(w->blob, blob, len) == 0) {
                w->used = ++c->memo_clock;
                *meta = w->meta;
                return MCC_OK;
            }
            break;
        }
        if (w->used < m->used)
            m = w;
    }
    if (mcc_meta_decode(blob, len, meta) != MCC_OK)
        return MCC_ERROR;
    m->used = ++c->memo_clock;
    void *copy = malloc(len);
    free(m->blob);
    m->blob = copy;
    if (copy != NULL) {
        memcpy(copy, blob, len);
        memcpy(m->key, key, MCC_KEY_LEN);
        m->len = len;
        m->meta = *meta;
    }
    return MCC_OK;
}

/* Takes the stored object's facts into E. MCC_ERROR when they make no sense. */
static int index_load(mcc_entry *e, mcc_object *obj)
{
    const mcc_storage_ops *st = e->cache->st;
    mcc_object_info info;
    if (st->info(obj, &info) != MCC_OK || info.slice_size == 0)
        return MCC_ERROR;
    if (index_decode(e->cache, e->key, info.meta, info.meta_len, &e->meta) != MCC_OK)
        return MCC_ERROR;
    e->obj = obj;
    e->length = info.length;
    e->slice = info.slice_size;
    e->nslices = info.nslices;
    e->state = MCC_ENTRY_READY;
    return MCC_OK;
}

static mcc_entry *index_alloc(struct mcc_cache *c, const uint8_t *key, const char *host,
                              unsigned port, const char *path, const char *via,
                              const mcc_host_rule *rule)
{
    mcc_entry *e = c->spare;
    if (e != NULL) {
        c->spare = e->hh.next;
        c->nspare--;
        memset(e, 0, sizeof(*e));
    } else if ((e = calloc(1, sizeof(*e))) == NULL) {
        return NULL;
    }
    memcpy(e->key, key, MCC_KEY_LEN);
    e->cache = c;
    e->refs = 1;
    e->state = MCC_ENTRY_NEW;
    e->origin_host = index_strdup(host);
    e->origin_port = port;
    e->path = index_strdup(path);
    e->via = index_strdup(via);
    e->rule = *rule;
    if (e->origin_host == NULL || e->path == NULL) {
        free(e->origin_host);
        free(e->path);
        free(e->via);
        free(e);
        return NULL;
    }
    return e;
}

mcc_entry *mcc_entry_get(struct mcc_cache *c, const mcc_target *t)
{
    mcc_entry *e = NULL;
    HASH_FIND(hh, c->index, t->key, MCC_KEY_LEN, e);
    if (e != NULL) {
        e->refs++;
        return e;
    }
    e = index_alloc(c, t->key, t->origin_host, t->origin_port, t->path, t->via, &t->rule);
    if (e == NULL)
        return NULL;

    mcc_object *obj = NULL;
    int rc = c->st->open(c->st_state, e->key, &obj);
    if (rc == MCC_OK && index_load(e, obj) != MCC_OK) {
        mcc_log(MCC_LOG_WARN, "stored object with unreadable metadata dropped");
        c->st->close(obj);
        c->st->remove(c->st_state, e->key);
        memset(&e->meta, 0, sizeof(e->meta));
        e->obj = NULL;
    }
    if (e->obj == NULL && mcc_nostore_has(c, e->key))
        e->nostore = 1;
    HASH_ADD(hh, c->index, key, MCC_KEY_LEN, e);
    e->in_index = 1;
    c->counts.entries++;
    return e;
}

void mcc_entry_ref(mcc_entry *e)
{
    e->refs++;
}

static void index_remove(mcc_entry *e)
{
    if (e->in_index) {
        HASH_DELETE(hh, e->cache->index, e);
        e->in_index = 0;
    }
}

void mcc_entry_unref(mcc_entry *e)
{
    if (--e->refs > 0)
        return;
    index_remove(e);
    e->cache->counts.entries--;
    if (e->obj != NULL)
        e->cache->st->close(e->obj);
    for (unsigned i = 0; i < e->nneg; i++) {
        free(e->neg_names[i]);
        free(e->neg_values[i]);
    }
    free(e->origin_host);
    free(e->path);
    free(e->via);
    /* kept for the next entry: an entry is large (its metadata), and allocating one on every
     * hit made malloc consolidate its free lists each time */
    struct mcc_cache *c = e->cache;
    if (c->nspare < INDEX_SPARE_MAX) {
        e->hh.next = c->spare;
        c->spare = e;
        c->nspare++;
        return;
    }
    free(e);
}

void mcc_entry_doom(mcc_entry *e)
{
    if (e->state == MCC_ENTRY_DOOMED)
        return;
    /* remove before anyone can create a new version under the same key */
    if (e->in_index)
        e->cache->st->remove(e->cache->st_state, e->key);
    index_remove(e);
    e->state = MCC_ENTRY_DOOMED;
    mcc_entry_ref(e);
    while (e->transfers != NULL)
        mcc_transfer_cancel(e->transfers);
    mcc_serve_entry_changed(e);
    mcc_entry_unref(e);
}

/* Headers a client chooses a representation with (RFC 9110 12.5); the rest stays with us. */
static const char *const index_negotiation[] = {
    "Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "User-Agent", NULL,
};

void mcc_entry_take_negotiation(mcc_entry *e, struct evhttp_request *req)
{
    if (e->nneg > 0 || req == NULL)
        return;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    for (size_t i = 0; index_negotiation[i] != NULL && e->nneg < MCC_NEG_MAX; i++) {
        const char *v = evhttp_find_header(in, index_negotiation[i]);
        if (v == NULL)
            continue;
        char *name = strdup(index_negotiation[i]), *value = strdup(v);
        if (name == NULL || value == NULL) {
            free(name);
            free(value);
            return;
        }
        e->neg_names[e->nneg] = name;
        e->neg_values[e->nneg++] = value;
    }
}

void mcc_vary_values(const char *vary, mcc_vary_lookup_fn lookup, void *arg, char *out,
                     size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    const char *p = vary;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *name = p;
        while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t nlen = (size_t)(p - name);
        if (nlen == 0 || nlen > 64)
            continue;
        char hname[65];
        memcpy(hname, name, nlen);
        hname[nlen] = '\0';
        const char *v = lookup(arg, hname);
        int w = snprintf(out + n, cap - n, "%s: %s\n", hname, v != NULL ? v : "");
        if (w < 0 || (size_t)w >= cap - n)
            return;
        n += (size_t)w;
    }
}

static const char *index_neg_lookup(void *arg, const char *name)
{
    const mcc_entry *e = arg;
    for (unsigned i = 0; i < e->nneg; i++)
        if (strcasecmp(e->neg_names[i], name) == 0)
            return e->neg_values[i];
    return NULL;
}

void mcc_entry_vary_values(const mcc_entry *e, const char *vary, char *out, size_t cap)
{
    mcc_vary_values(vary, index_neg_lookup, (void *)e, out, cap);
}

mcc_entry *mcc_entry_supersede(mcc_entry *e, mcc_transfer *t)
{
    struct mcc_cache *c = e->cache;
    mcc_entry *n = index_alloc(c, e->key, e->origin_host, e->origin_port, e->path, e->via,
                               &e->rule);
    if (n == NULL)
        return NULL;
    mcc_entry_ref(e);
    /* the transfer changes hands before the old entry's transfers are cancelled */
    for (mcc_transfer **p = &e->transfers; *p != NULL; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    if (e->validating == t)
        e->validating = NULL;
    t->next = NULL;
    t->entry = n;
    n->transfers = t;
    n->state = MCC_ENTRY_PROBING;
    for (unsigned i = 0; i < e->nneg; i++) { /* the transfer was made with these */
        n->neg_names[i] = strdup(e->neg_names[i]);
        n->neg_values[i] = strdup(e->neg_values[i]);
        if (n->neg_names[i] == NULL || n->neg_values[i] == NULL) {
            free(n->neg_names[i]);
            free(n->neg_values[i]);
            break;
        }
        n->nneg++;
    }
    mcc_entry_ref(n); /* the transfer's reference */
    mcc_entry_unref(e);

    if (e->in_index) {
        c->st->remove(c->st_state, e->key);
        HASH_DELETE(hh, c->index, e);
        e->in_index = 0;
    }
    HASH_ADD(hh, c->index, key, MCC_KEY_LEN, n);
    n->in_index = 1;
    c->counts.entries++;

    /* serves that sent nothing yet follow the new version */
    mcc_serve *keep = NULL, *next;
    for (mcc_serve *s = e->serves; s != NULL; s = next) {
        next = s->next;
        if (s->started) {
            s->next = keep;
            keep = s;
            continue;
        }
        s->waiting_on = NULL;
        s->validated = 1; /* the new version is what the origin just sent: current */
        s->entry = n;
        s->next = n->serves;
        n->serves = s;
        mcc_entry_ref(n);
        mcc_entry_unref(e); /* never the last: held above */
    }
    e->serves = keep;
    e->state = MCC_ENTRY_DOOMED;
    while (e->transfers != NULL)
        mcc_transfer_cancel(e->transfers);
    mcc_serve_entry_changed(e);
    mcc_entry_unref(e);
    mcc_entry_unref(n); /* the creation reference: serves and the transfer hold it now */
    return n;
}

void mcc_entry_save_meta(mcc_entry *e)
{
    char *blob = NULL;
    size_t blen = 0;
    if (e->obj == NULL || mcc_meta_encode(&e->meta, &blob, &blen) != MCC_OK)
        return;
    if (e->cache->st->set_meta(e->obj, blob, blen) != MCC_OK)
        mcc_log(MCC_LOG_WARN, "cannot save refreshed headers of %s%s", e->origin_host, e->path);
    free(blob);
}

int mcc_entry_ready(mcc_entry *e, uint64_t length, const mcc_meta *meta)
{
    struct mcc_cache *c = e->cache;
    char *blob = NULL;
    size_t blen = 0;
    if (mcc_meta_encode(meta, &blob, &blen) != MCC_OK)
        return MCC_ERROR;
    mcc_object *obj = NULL;
    int rc = c->st->create(c->st_state, e->key, length, c->slice_size, blob, blen, &obj);
    free(blob);
    if (rc != MCC_OK) {
        mcc_log(MCC_LOG_WARN, "storage refused an object of %llu bytes (%d)",
                (unsigned long long)length, rc);
        return rc == MCC_NOSPACE ? MCC_NOSPACE : MCC_ERROR;
    }
    if (e->obj != NULL)
        c->st->close(e->obj);
    e->obj = obj;
    e->meta = *meta;
    e->length = length;
    e->slice = c->slice_size;
    e->nslices = length == 0 ? 0 : (length + e->slice - 1) / e->slice;
    e->state = MCC_ENTRY_READY;
    return MCC_OK;
}

mcc_transfer *mcc_entry_transfer_at(mcc_entry *e, uint64_t off)
{
    for (mcc_transfer *t = e->transfers; t != NULL; t = t->next)
        if (t->state != MCC_XFER_ENDED && off >= t->start && off < t->end)
            return t;
    return NULL;
}

int mcc_entry_has_slice(mcc_entry *e, uint64_t idx)
{
    return e->obj != NULL && idx < e->nslices && e->cache->st->has_slice(e->obj, idx) == 1;
}
