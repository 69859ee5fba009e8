/* The storage contracts (mcc/storage.h): slices that count only once committed, reads of exactly
 * the bytes written at every slice boundary, several handles of one object interleaved, old
 * bytes kept by the handles of a replaced or removed object, the byte limit kept by eviction,
 * checksum failures handled, and (--persistent) objects that survive a restart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

#define ST_SLICE 4096u                     /* the slice size of the kit's objects */
#define ST_LEN (10u * ST_SLICE + 1000u)    /* 11 slices, the last one short */
#define ST_CHUNK 1000u                     /* writes arrive in pieces, as from a socket */
#define ST_EVICT_MAX (64u * 1024u * 1024u) /* the largest capacity the eviction test fills */
#define ST_EVICT_OBJECTS 24u               /* objects of capacity / 8 each: three times full */

static const mcc_storage_ops *st_ops(kit *k)
{
    return k->ops;
}

static uint64_t st_nslices(uint64_t length, uint32_t slice)
{
    return length / slice + (length % slice != 0);
}

static uint64_t st_slice_end(uint64_t length, uint32_t slice, uint64_t idx)
{
    uint64_t end = (idx + 1) * slice;
    return end < length ? end : length;
}

static const char *st_rc(int rc)
{
    switch (rc) {
    case MCC_OK:
        return "MCC_OK";
    case MCC_ERROR:
        return "MCC_ERROR";
    case MCC_AGAIN:
        return "MCC_AGAIN";
    case MCC_DECLINED:
        return "MCC_DECLINED";
    case MCC_NOTFOUND:
        return "MCC_NOTFOUND";
    case MCC_NOSPACE:
        return "MCC_NOSPACE";
    case MCC_BUSY:
        return "MCC_BUSY";
    default:
        return "an unknown code";
    }
}

/* Writes slice IDX of stream SEED through H in ST_CHUNK pieces. The rc of the first failure. */
static int st_write_slice(kit *k, mcc_object *h, uint64_t seed, uint64_t length, uint32_t slice,
                          uint64_t idx)
{
    uint8_t buf[ST_CHUNK];
    uint64_t off = idx * slice, end = st_slice_end(length, slice, idx);
    while (off < end) {
        size_t n = end - off < ST_CHUNK ? (size_t)(end - off) : ST_CHUNK;
        kit_fill(seed, off, buf, n);
        int rc = st_ops(k)->write(h, off, buf, n);
        if (rc != MCC_OK)
            return rc;
        off += n;
    }
    return MCC_OK;
}

/* Compares [OFF, OFF + LEN) read through H with stream SEED. 1 when equal; else 0 with WHY. */
static int st_check_bytes(kit *k, mcc_object *h, uint64_t seed, uint64_t off, size_t len, char *why,
                          size_t whylen)
{
    uint8_t *got = malloc(len > 0 ? len : 1), *want = malloc(len > 0 ? len : 1);
    int ok = 0;
    if (got == NULL || want == NULL) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    memset(got, 0xA5, len);
    int rc = st_ops(k)->read(h, off, got, len);
    if (rc != MCC_OK) {
        snprintf(why, whylen, "read of %zu bytes at %llu answered %s", len, (unsigned long long)off,
                 st_rc(rc));
        goto done;
    }
    kit_fill(seed, off, want, len);
    for (size_t i = 0; i < len; i++) {
        if (got[i] != want[i]) {
            snprintf(why, whylen,
                     "read of %zu bytes at %llu: byte %llu differs from what was "
                     "written (0x%02x, expected 0x%02x)",
                     len, (unsigned long long)off, (unsigned long long)(off + i), got[i], want[i]);
            goto done;
        }
    }
    ok = 1;
done:
    free(got);
    free(want);
    return ok;
}

/* Creates KEY (LENGTH bytes of stream SEED, slices of SLICE) and writes and commits the slices
 * whose bit is set in MASK (every slice when MASK is NULL). Leaves the handle in *OUT. */
static int st_put(kit_case *c, const uint8_t *key, uint64_t seed, uint64_t length, uint32_t slice,
                  const uint8_t *mask, mcc_object **out)
{
    kit *k = c->k;
    const char meta[] = "kit-meta";
    mcc_object *h = NULL;
    *out = NULL;
    int rc = st_ops(k)->create(k->state, key, length, slice, meta, sizeof(meta), &h);
    if (rc != MCC_OK)
        return kit_fail(c, "create of a %llu-byte object answered %s", (unsigned long long)length,
                        st_rc(rc));
    if (h == NULL)
        return kit_fail(c, "create answered MCC_OK without a handle");
    for (uint64_t i = 0; i < st_nslices(length, slice); i++) {
        if (mask != NULL && !mask[i])
            continue;
        rc = st_write_slice(k, h, seed, length, slice, i);
        if (rc != MCC_OK) {
            st_ops(k)->close(h);
            return kit_fail(c, "write into slice %llu answered %s", (unsigned long long)i,
                            st_rc(rc));
        }
        rc = st_ops(k)->commit(h, i);
        if (rc != MCC_OK) {
            st_ops(k)->close(h);
            return kit_fail(c, "commit of slice %llu (written completely) answered %s",
                            (unsigned long long)i, st_rc(rc));
        }
    }
    *out = h;
    return 1;
}

/* Opens KEY; 1 with *H, else 0 with the failure recorded (WHAT says which object). */
static int st_open(kit_case *c, const uint8_t *key, mcc_object **h, const char *what)
{
    *h = NULL;
    int rc = st_ops(c->k)->open(c->k->state, key, h);
    if (rc != MCC_OK || *h == NULL)
        return kit_fail(c, "open of %s answered %s", what,
                        rc == MCC_OK ? "MCC_OK without a "
                                       "handle"
                                     : st_rc(rc));
    return 1;
}

static void st_close(kit *k, mcc_object **h)
{
    if (*h != NULL)
        st_ops(k)->close(*h);
    *h = NULL;
}

/* Checks info of H: LENGTH, SLICE, PRESENT, and that has_slice says PRESENT_MASK exactly. */
static int st_check_info(kit_case *c, mcc_object *h, uint64_t length, uint32_t slice,
                         const uint8_t *mask, const char *what)
{
    mcc_object_info info;
    memset(&info, 0, sizeof(info));
    uint64_t n = st_nslices(length, slice), want_present = 0;
    for (uint64_t i = 0; i < n; i++)
        want_present += mask == NULL || mask[i];
    int rc = st_ops(c->k)->info(h, &info);
    if (rc != MCC_OK)
        return kit_fail(c, "%s: info answered %s", what, st_rc(rc));
    if (info.length != length || info.slice_size != slice || info.nslices != n)
        return kit_fail(c,
                        "%s: info says length %llu, slice %u, %llu slices; expected %llu, %u, "
                        "%llu",
                        what, (unsigned long long)info.length, info.slice_size,
                        (unsigned long long)info.nslices, (unsigned long long)length, slice,
                        (unsigned long long)n);
    if (info.present != want_present)
        return kit_fail(c, "%s: info says %llu slices present, expected %llu", what,
                        (unsigned long long)info.present, (unsigned long long)want_present);
    for (uint64_t i = 0; i < n; i++) {
        int want = mask == NULL || mask[i];
        int got = st_ops(c->k)->has_slice(h, i);
        if (got != want)
            return kit_fail(c, "%s: has_slice(%llu) is %d, expected %d", what,
                            (unsigned long long)i, got, want);
    }
    if (st_ops(c->k)->has_slice(h, n) != 0)
        return kit_fail(c, "%s: has_slice(%llu), past the last slice, is not 0", what,
                        (unsigned long long)n);
    return 1;
}

static int st_check_meta(kit_case *c, mcc_object *h, const void *meta, size_t len, const char *what)
{
    mcc_object_info info;
    memset(&info, 0, sizeof(info));
    if (st_ops(c->k)->info(h, &info) != MCC_OK)
        return kit_fail(c, "%s: info failed", what);
    if (info.meta_len != len || (len > 0 && (info.meta == NULL || memcmp(info.meta, meta, len))))
        return kit_fail(c, "%s: the metadata blob (%zu bytes) is not the one stored (%zu bytes)",
                        what, info.meta_len, len);
    return 1;
}

/* Checks every slice of H against stream SEED: the present ones read back exactly, the absent
 * ones refuse to be read. */
static int st_check_object(kit_case *c, mcc_object *h, uint64_t seed, uint64_t length,
                           uint32_t slice, const uint8_t *mask, const char *what)
{
    char why[400];
    if (!st_check_info(c, h, length, slice, mask, what))
        return 0;
    for (uint64_t i = 0; i < st_nslices(length, slice); i++) {
        uint64_t off = i * slice, len = st_slice_end(length, slice, i) - off;
        if (mask == NULL || mask[i]) {
            if (!st_check_bytes(c->k, h, seed, off, (size_t)len, why, sizeof(why)))
                return kit_fail(c, "%s: slice %llu: %s", what, (unsigned long long)i, why);
        } else {
            uint8_t b;
            int rc = st_ops(c->k)->read(h, off, &b, 1);
            if (rc == MCC_OK)
                return kit_fail(c, "%s: read of absent slice %llu answered MCC_OK", what,
                                (unsigned long long)i);
        }
    }
    return 1;
}

/* --- the contracts --------------------------------------------------------------------------- */

static void st_ops_table(kit_case *c)
{
    const mcc_storage_ops *o = st_ops(c->k);
    KIT_CHECK(c, o->size >= offsetof(mcc_storage_ops, usage) + sizeof(o->usage),
              "ops table of %zu bytes is shorter than ABI 1.0's", o->size);
    KIT_CHECK(c,
              o->open && o->create && o->close && o->info && o->set_meta && o->has_slice &&
                  o->write && o->commit && o->read && o->remove && o->usage,
              "a required op (open, create, close, info, set_meta, has_slice, write, commit, "
              "read, remove, usage) is NULL");
done:
    return;
}

static void st_put_get(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *w = NULL, *r = NULL;
    const char meta[] = "kit-meta";
    kit_key(k, key);
    if (!st_put(c, key, 11, ST_LEN, ST_SLICE, NULL, &w))
        goto done;
    if (!st_check_object(c, w, 11, ST_LEN, ST_SLICE, NULL, "the writing handle"))
        goto done;
    st_close(k, &w);
    if (!st_open(c, key, &r, "a stored object"))
        goto done;
    if (!st_check_object(c, r, 11, ST_LEN, ST_SLICE, NULL, "a handle opened after close") ||
        !st_check_meta(c, r, meta, sizeof(meta), "a handle opened after close"))
        goto done;
    /* the whole object in one read, too */
    char why[400];
    KIT_CHECK(c, st_check_bytes(k, r, 11, 0, ST_LEN, why, sizeof(why)), "one read of it all: %s",
              why);
    uint8_t key2[MCC_KEY_LEN];
    kit_key(k, key2);
    mcc_object *none = NULL;
    int rc = st_ops(k)->open(k->state, key2, &none);
    if (rc == MCC_OK)
        st_close(k, &none);
    KIT_CHECK(c, rc == MCC_NOTFOUND, "open of a key never stored answered %s, not MCC_NOTFOUND",
              st_rc(rc));
done:
    st_close(k, &w);
    st_close(k, &r);
}

static void st_empty_object(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *h = NULL;
    uint8_t b;
    kit_key(k, key);
    if (!st_put(c, key, 12, 0, ST_SLICE, NULL, &h))
        goto done;
    st_close(k, &h);
    if (!st_open(c, key, &h, "a stored empty object") ||
        !st_check_info(c, h, 0, ST_SLICE, NULL, "an empty object"))
        goto done;
    int rc = st_ops(k)->read(h, 0, &b, 0);
    KIT_CHECK(c, rc == MCC_OK, "read of 0 bytes at 0 of an empty object answered %s", st_rc(rc));
    rc = st_ops(k)->read(h, 0, &b, 1);
    KIT_CHECK(c, rc != MCC_OK, "read of 1 byte of an empty object answered MCC_OK");
done:
    st_close(k, &h);
}

static void st_partial_object(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN], mask[16] = {0};
    uint64_t n = st_nslices(ST_LEN, ST_SLICE);
    mcc_object *h = NULL;
    char why[400];
    mask[0] = mask[2] = mask[n - 1] = 1;
    kit_key(k, key);
    if (!st_put(c, key, 13, ST_LEN, ST_SLICE, mask, &h))
        goto done;
    st_close(k, &h);
    if (!st_open(c, key, &h, "a partly stored object") ||
        !st_check_object(c, h, 13, ST_LEN, ST_SLICE, mask, "a partial object"))
        goto done;
    uint8_t buf[3 * ST_SLICE];
    int rc = st_ops(k)->read(h, ST_SLICE / 2, buf, 2 * ST_SLICE);
    KIT_CHECK(c, rc != MCC_OK,
              "a read spanning committed slice 0 and absent slice 1 answered "
              "MCC_OK");
    /* the holes are filled later through a handle from open, as the daemon does */
    for (uint64_t i = 0; i < n; i++) {
        if (mask[i])
            continue;
        rc = st_write_slice(k, h, 13, ST_LEN, ST_SLICE, i);
        KIT_CHECK(c, rc == MCC_OK,
                  "filling absent slice %llu through an opened handle: write "
                  "answered %s",
                  (unsigned long long)i, st_rc(rc));
        rc = st_ops(k)->commit(h, i);
        KIT_CHECK(c, rc == MCC_OK, "filling absent slice %llu: commit answered %s",
                  (unsigned long long)i, st_rc(rc));
    }
    if (!st_check_object(c, h, 13, ST_LEN, ST_SLICE, NULL, "the partial object after filling"))
        goto done;
    KIT_CHECK(c, st_check_bytes(k, h, 13, 0, ST_LEN, why, sizeof(why)),
              "the filled object in one read: %s", why);
done:
    st_close(k, &h);
}

static void st_present_after_commit(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN], none[16] = {0};
    mcc_object *w = NULL, *r = NULL;
    mcc_object_info info;
    kit_key(k, key);
    if (!st_put(c, key, 14, ST_LEN, ST_SLICE, none, &w))
        goto done;
    if (!st_open(c, key, &r, "an object being written"))
        goto done;
    int rc = st_write_slice(k, w, 14, ST_LEN, ST_SLICE, 0);
    KIT_CHECK(c, rc == MCC_OK, "write of slice 0 answered %s", st_rc(rc));
    KIT_CHECK(c, st_ops(k)->has_slice(w, 0) == 0,
              "has_slice(0) is 1 through the writing handle before slice 0 was committed");
    KIT_CHECK(c, st_ops(k)->has_slice(r, 0) == 0,
              "has_slice(0) is 1 through another handle before slice 0 was committed");
    KIT_CHECK(c, st_ops(k)->info(r, &info) == MCC_OK && info.present == 0,
              "info counts %llu slices present before any commit",
              (unsigned long long)info.present);
    /* a slice written only in part cannot be committed */
    uint8_t buf[ST_CHUNK];
    kit_fill(14, ST_SLICE, buf, sizeof(buf));
    rc = st_ops(k)->write(w, ST_SLICE, buf, sizeof(buf));
    KIT_CHECK(c, rc == MCC_OK, "write of the start of slice 1 answered %s", st_rc(rc));
    rc = st_ops(k)->commit(w, 1);
    KIT_CHECK(c, rc != MCC_OK, "commit of slice 1, written %u of %u bytes, answered MCC_OK",
              ST_CHUNK, ST_SLICE);
    KIT_CHECK(c, st_ops(k)->has_slice(r, 1) == 0,
              "has_slice(1) is 1 after a refused commit of a half-written slice");
    rc = st_ops(k)->commit(w, 0);
    KIT_CHECK(c, rc == MCC_OK, "commit of slice 0 answered %s", st_rc(rc));
    KIT_CHECK(c, st_ops(k)->has_slice(w, 0) == 1 && st_ops(k)->has_slice(r, 0) == 1,
              "has_slice(0) is not 1 through both handles after its commit");
    KIT_CHECK(c, st_ops(k)->info(r, &info) == MCC_OK && info.present == 1,
              "info counts %llu slices present after one commit", (unsigned long long)info.present);
    KIT_CHECK(c, st_ops(k)->commit(w, st_nslices(ST_LEN, ST_SLICE)) != MCC_OK,
              "commit of a slice past the end answered MCC_OK");
done:
    st_close(k, &r);
    st_close(k, &w);
}

static void st_range_reads(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *h = NULL;
    char why[400];
    uint8_t b[2];
    kit_key(k, key);
    if (!st_put(c, key, 15, ST_LEN, ST_SLICE, NULL, &h))
        goto done;
    st_close(k, &h);
    if (!st_open(c, key, &h, "a stored object"))
        goto done;
    uint64_t n = st_nslices(ST_LEN, ST_SLICE);
    for (uint64_t i = 0; i <= n; i++) {
        uint64_t at = i * ST_SLICE < ST_LEN ? i * ST_SLICE : ST_LEN;
        /* around the boundary, at it, up to it and from it */
        if (at > 0)
            KIT_CHECK(c, st_check_bytes(k, h, 15, at - 1, at < ST_LEN ? 2 : 1, why, sizeof(why)),
                      "across the boundary at %llu: %s", (unsigned long long)at, why);
        if (at < ST_LEN) {
            KIT_CHECK(c, st_check_bytes(k, h, 15, at, 1, why, sizeof(why)),
                      "at the boundary %llu: %s", (unsigned long long)at, why);
            KIT_CHECK(c, st_check_bytes(k, h, 15, at, (size_t)(ST_LEN - at), why, sizeof(why)),
                      "from %llu to the end: %s", (unsigned long long)at, why);
        }
        KIT_CHECK(c, st_check_bytes(k, h, 15, 0, (size_t)at, why, sizeof(why)),
                  "from 0 up to %llu: %s", (unsigned long long)at, why);
    }
    /* a slice's inside, odd offsets */
    KIT_CHECK(c, st_check_bytes(k, h, 15, 3 * ST_SLICE + 17, 333, why, sizeof(why)), "%s", why);
    KIT_CHECK(c, st_ops(k)->read(h, ST_LEN, b, 0) == MCC_OK,
              "read of 0 bytes at the end answered an error");
    KIT_CHECK(c, st_ops(k)->read(h, ST_LEN - 1, b, 2) != MCC_OK,
              "read of 2 bytes at the last byte (past the end) answered MCC_OK");
    KIT_CHECK(c, st_ops(k)->read(h, ST_LEN + 10, b, 1) != MCC_OK,
              "read past the end answered MCC_OK");
done:
    st_close(k, &h);
}

/* read_fd: MCC_DECLINED (no file), or an fd whose bytes at fd_off are the object's. */
static void st_read_fd(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *h = NULL;
    uint8_t got[ST_SLICE], want[ST_SLICE];
    if (st_ops(k)->read_fd == NULL) {
        kit_note(c, "no read_fd op: the daemon copies with read");
        return;
    }
    kit_key(k, key);
    if (!st_put(c, key, 16, ST_LEN, ST_SLICE, NULL, &h))
        goto done;
    unsigned declined = 0, given = 0;
    for (uint64_t i = 0; i < st_nslices(ST_LEN, ST_SLICE); i++) {
        uint64_t at = i * ST_SLICE + (i % 3 == 1 ? 7 : 0);
        uint64_t end = st_slice_end(ST_LEN, ST_SLICE, i);
        int fd = -1;
        uint64_t fd_off = 0;
        int rc = st_ops(k)->read_fd(h, at, &fd, &fd_off);
        if (rc == MCC_DECLINED) {
            declined++;
            continue;
        }
        KIT_CHECK(c, rc == MCC_OK, "read_fd at %llu answered %s", (unsigned long long)at,
                  st_rc(rc));
        KIT_CHECK(c, fd >= 0, "read_fd at %llu answered MCC_OK with fd %d", (unsigned long long)at,
                  fd);
        size_t len = (size_t)(end - at);
        ssize_t r = pread(fd, got, len, (off_t)fd_off);
        KIT_CHECK(c, r == (ssize_t)len, "pread of %zu bytes at %llu of the fd read_fd gave: %s",
                  len, (unsigned long long)fd_off, r < 0 ? strerror(errno) : "short");
        kit_fill(16, at, want, len);
        KIT_CHECK(c, memcmp(got, want, len) == 0,
                  "the fd read_fd gave for offset %llu holds other bytes at %llu",
                  (unsigned long long)at, (unsigned long long)fd_off);
        given++;
    }
    KIT_CHECK(c, declined == 0 || given == 0,
              "read_fd declined %u slices and gave %u: a "
              "backend either has files or not",
              declined, given);
    if (declined > 0)
        kit_note(c, "MCC_DECLINED: no file behind the bytes");
done:
    st_close(k, &h);
}

static void st_read_while_writing(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN], none[16] = {0};
    mcc_object *w = NULL;
    char why[400];
    uint8_t buf[ST_CHUNK];
    kit_key(k, key);
    if (!st_put(c, key, 17, ST_LEN, ST_SLICE, none, &w))
        goto done;
    /* slice 2 arrives in pieces; what landed is readable through the writing handle at once */
    uint64_t base = 2 * ST_SLICE;
    for (uint64_t off = base; off < base + ST_SLICE; off += ST_CHUNK) {
        size_t n = base + ST_SLICE - off < ST_CHUNK ? (size_t)(base + ST_SLICE - off) : ST_CHUNK;
        kit_fill(17, off, buf, n);
        int rc = st_ops(k)->write(w, off, buf, n);
        KIT_CHECK(c, rc == MCC_OK, "write at %llu answered %s", (unsigned long long)off, st_rc(rc));
        KIT_CHECK(c, st_check_bytes(k, w, 17, base, (size_t)(off + n - base), why, sizeof(why)),
                  "reading back what was written of slice 2 before its commit: %s", why);
        if (off + n < base + ST_SLICE) {
            int r = st_ops(k)->read(w, off, buf, n + 1);
            KIT_CHECK(c, r != MCC_OK,
                      "a read one byte past what was written (at %llu) answered "
                      "MCC_OK",
                      (unsigned long long)(off + n));
        }
    }
    int rc = st_ops(k)->commit(w, 2);
    KIT_CHECK(c, rc == MCC_OK, "commit of slice 2 answered %s", st_rc(rc));
    KIT_CHECK(c, st_check_bytes(k, w, 17, base, ST_SLICE, why, sizeof(why)),
              "slice 2 after its commit: %s", why);
done:
    st_close(k, &w);
}

/* A retried transfer writes a slice again from its start: the second bytes are the ones kept. */
static void st_slice_restart(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN], none[16] = {0};
    mcc_object *w = NULL;
    uint8_t buf[ST_SLICE];
    char why[400];
    kit_key(k, key);
    if (!st_put(c, key, 18, ST_LEN, ST_SLICE, none, &w))
        goto done;
    kit_fill(99, ST_SLICE, buf, ST_SLICE / 2); /* other bytes, half a slice */
    int rc = st_ops(k)->write(w, ST_SLICE, buf, ST_SLICE / 2);
    KIT_CHECK(c, rc == MCC_OK, "first write into slice 1 answered %s", st_rc(rc));
    rc = st_write_slice(k, w, 18, ST_LEN, ST_SLICE, 1);
    KIT_CHECK(c, rc == MCC_OK, "writing slice 1 again from its start answered %s", st_rc(rc));
    rc = st_ops(k)->commit(w, 1);
    KIT_CHECK(c, rc == MCC_OK, "commit of the rewritten slice 1 answered %s", st_rc(rc));
    KIT_CHECK(c, st_check_bytes(k, w, 18, ST_SLICE, ST_SLICE, why, sizeof(why)),
              "slice 1 after a restart from its start: %s", why);
    /* committed bytes are never rewritten in place: readers may be sending them */
    kit_fill(99, ST_SLICE, buf, ST_SLICE);
    rc = st_ops(k)->write(w, ST_SLICE, buf, ST_SLICE);
    KIT_CHECK(c, rc != MCC_OK, "a write into committed slice 1 answered MCC_OK");
    KIT_CHECK(c, st_check_bytes(k, w, 18, ST_SLICE, ST_SLICE, why, sizeof(why)),
              "committed slice 1 after a refused write: %s", why);
    rc = st_ops(k)->write(w, ST_LEN - 10, buf, 20);
    KIT_CHECK(c, rc != MCC_OK, "a write past the end answered MCC_OK");
done:
    st_close(k, &w);
}

#define ST_READERS 4

/* Several handles of one object, opened at different points of its writing, interleaved. */
static void st_concurrent_readers(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN], none[16] = {0};
    mcc_object *w = NULL, *r[ST_READERS] = {NULL};
    char why[400];
    uint64_t n = st_nslices(ST_LEN, ST_SLICE);
    kit_key(k, key);
    if (!st_put(c, key, 19, ST_LEN, ST_SLICE, none, &w))
        goto done;
    for (uint64_t i = 0; i < n; i++) {
        /* a reader comes, a reader goes: reader j is open from slice 2j to 2j + 5 */
        for (unsigned j = 0; j < ST_READERS; j++) {
            if (i == 2 * j && r[j] == NULL && !st_open(c, key, &r[j], "an object being written"))
                goto done;
            if (i == 2 * j + 5)
                st_close(k, &r[j]);
        }
        int rc = st_write_slice(k, w, 19, ST_LEN, ST_SLICE, i);
        KIT_CHECK(c, rc == MCC_OK, "write of slice %llu answered %s", (unsigned long long)i,
                  st_rc(rc));
        for (unsigned j = 0; j < ST_READERS; j++)
            KIT_CHECK(c, r[j] == NULL || st_ops(k)->has_slice(r[j], i) == 0,
                      "reader %u: has_slice(%llu) is 1 before its commit", j,
                      (unsigned long long)i);
        rc = st_ops(k)->commit(w, i);
        KIT_CHECK(c, rc == MCC_OK, "commit of slice %llu answered %s", (unsigned long long)i,
                  st_rc(rc));
        for (unsigned j = 0; j < ST_READERS; j++) {
            if (r[j] == NULL)
                continue;
            for (uint64_t s = 0; s <= i; s++)
                KIT_CHECK(c, st_ops(k)->has_slice(r[j], s) == 1,
                          "reader %u: has_slice(%llu) is not 1 after its commit", j,
                          (unsigned long long)s);
            uint64_t off = i * ST_SLICE, len = st_slice_end(ST_LEN, ST_SLICE, i) - off;
            KIT_CHECK(c, st_check_bytes(k, r[j], 19, off, (size_t)len, why, sizeof(why)),
                      "reader %u, slice %llu just committed: %s", j, (unsigned long long)i, why);
            KIT_CHECK(c, st_check_bytes(k, r[j], 19, 0, (size_t)(off + len), why, sizeof(why)),
                      "reader %u, everything up to slice %llu: %s", j, (unsigned long long)i, why);
        }
    }
    /* the writer goes first; the readers still open keep reading */
    st_close(k, &w);
    for (unsigned j = 0; j < ST_READERS; j++)
        if (r[j] != NULL && !st_check_object(c, r[j], 19, ST_LEN, ST_SLICE, NULL,
                                             "a reader after the writer closed"))
            goto done;
done:
    for (unsigned j = 0; j < ST_READERS; j++)
        st_close(k, &r[j]);
    st_close(k, &w);
}

static void st_set_meta(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *w = NULL, *r = NULL;
    char big[3000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    kit_key(k, key);
    if (!st_put(c, key, 20, ST_LEN, ST_SLICE, NULL, &w) || !st_open(c, key, &r, "a stored object"))
        goto done;
    int rc = st_ops(k)->set_meta(w, big, sizeof(big));
    KIT_CHECK(c, rc == MCC_OK, "set_meta of a %zu-byte blob answered %s", sizeof(big), st_rc(rc));
    if (!st_check_meta(c, w, big, sizeof(big), "the handle that set it") ||
        !st_check_meta(c, r, big, sizeof(big), "another handle"))
        goto done;
    rc = st_ops(k)->set_meta(r, "s", 1);
    KIT_CHECK(c, rc == MCC_OK, "set_meta of a 1-byte blob answered %s", st_rc(rc));
    st_close(k, &w);
    st_close(k, &r);
    if (!st_open(c, key, &r, "an object after set_meta") ||
        !st_check_meta(c, r, "s", 1, "a handle opened after set_meta"))
        goto done;
    rc = st_ops(k)->set_meta(r, NULL, 0);
    KIT_CHECK(c, rc == MCC_OK, "set_meta of an empty blob answered %s", st_rc(rc));
    if (!st_check_meta(c, r, NULL, 0, "after an empty set_meta") ||
        !st_check_object(c, r, 20, ST_LEN, ST_SLICE, NULL, "the object after set_meta"))
        goto done;
done:
    st_close(k, &w);
    st_close(k, &r);
}

static void st_replace_keeps_old(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN], none[16] = {0};
    mcc_object *old = NULL, *neu = NULL, *r = NULL, *again = NULL;
    uint64_t len2 = 7u * ST_SLICE + 5u;
    uint64_t n2 = st_nslices(len2, ST_SLICE);
    kit_key(k, key);
    if (!st_put(c, key, 21, ST_LEN, ST_SLICE, NULL, &old))
        goto done;
    st_close(k, &old);
    if (!st_open(c, key, &old, "the first object"))
        goto done;
    /* replaced by another object of another length: nothing of the first shows through */
    if (!st_put(c, key, 22, len2, ST_SLICE, none, &neu))
        goto done;
    if (!st_check_info(
            c, neu, len2, ST_SLICE, none,
            "the replacing object right after create (nothing of the replaced one may show)"))
        goto done;
    if (!st_open(c, key, &r, "the replacing object"))
        goto done;
    if (!st_check_info(c, r, len2, ST_SLICE, none, "a new handle of the replacing object"))
        goto done;
    for (uint64_t i = 0; i < n2; i++) {
        int rc = st_write_slice(k, neu, 22, len2, ST_SLICE, i);
        KIT_CHECK(c, rc == MCC_OK, "write of slice %llu of the replacing object answered %s",
                  (unsigned long long)i, st_rc(rc));
        rc = st_ops(k)->commit(neu, i);
        KIT_CHECK(c, rc == MCC_OK, "commit of slice %llu of the replacing object answered %s",
                  (unsigned long long)i, st_rc(rc));
    }
    if (!st_check_object(c, old, 21, ST_LEN, ST_SLICE, NULL,
                         "a handle of the replaced object (old bytes expected)"))
        goto done;
    if (!st_check_object(c, r, 22, len2, ST_SLICE, NULL, "a handle of the replacing object"))
        goto done;
    st_close(k, &neu);
    st_close(k, &r);
    if (!st_open(c, key, &again, "the replacing object after its handles closed") ||
        !st_check_object(c, again, 22, len2, ST_SLICE, NULL, "the replacing object, reopened"))
        goto done;
    st_close(k, &again);
    /* removed while a handle is open: the handle keeps the bytes, the key is gone */
    if (!st_open(c, key, &r, "the replacing object"))
        goto done;
    int rc = st_ops(k)->remove(k->state, key);
    KIT_CHECK(c, rc == MCC_OK, "remove answered %s", st_rc(rc));
    if (!st_check_object(c, r, 22, len2, ST_SLICE, NULL,
                         "a handle of a removed object (its bytes expected)") ||
        !st_check_object(c, old, 21, ST_LEN, ST_SLICE, NULL,
                         "a handle of the first object after the remove"))
        goto done;
    rc = st_ops(k)->open(k->state, key, &again);
    KIT_CHECK(c, rc == MCC_NOTFOUND, "open of a removed key answered %s",
              rc == MCC_OK ? "MCC_OK" : st_rc(rc));
    /* and stored anew while the old handles are still open */
    if (!st_put(c, key, 23, ST_LEN, ST_SLICE, NULL, &neu))
        goto done;
    if (!st_check_object(c, old, 21, ST_LEN, ST_SLICE, NULL, "the first handle, third object") ||
        !st_check_object(c, r, 22, len2, ST_SLICE, NULL, "the second handle, third object") ||
        !st_check_object(c, neu, 23, ST_LEN, ST_SLICE, NULL, "the third object"))
        goto done;
done:
    st_close(k, &again);
    st_close(k, &old);
    st_close(k, &neu);
    st_close(k, &r);
}

static void st_remove(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *h = NULL;
    uint64_t objects0 = 0, objects1 = 0, objects2 = 0;
    kit_key(k, key);
    st_ops(k)->usage(k->state, NULL, NULL, &objects0);
    if (!st_put(c, key, 24, ST_LEN, ST_SLICE, NULL, &h))
        goto done;
    st_close(k, &h);
    st_ops(k)->usage(k->state, NULL, NULL, &objects1);
    KIT_CHECK(c, objects1 == objects0 + 1,
              "usage counted %llu objects before a create and %llu "
              "after",
              (unsigned long long)objects0, (unsigned long long)objects1);
    int rc = st_ops(k)->remove(k->state, key);
    KIT_CHECK(c, rc == MCC_OK, "remove of a stored object answered %s", st_rc(rc));
    st_ops(k)->usage(k->state, NULL, NULL, &objects2);
    KIT_CHECK(c, objects2 == objects0,
              "usage counted %llu objects after the remove, expected "
              "%llu",
              (unsigned long long)objects2, (unsigned long long)objects0);
    rc = st_ops(k)->open(k->state, key, &h);
    KIT_CHECK(c, rc == MCC_NOTFOUND, "open after remove answered %s",
              rc == MCC_OK ? "MCC_OK" : st_rc(rc));
    rc = st_ops(k)->remove(k->state, key);
    KIT_CHECK(c, rc == MCC_NOTFOUND, "a second remove answered %s, not MCC_NOTFOUND", st_rc(rc));
done:
    st_close(k, &h);
}

static void st_usage(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *h = NULL;
    uint64_t used0 = 0, cap = 0, obj0 = 0, used1 = 0, obj1 = 0;
    st_ops(k)->usage(k->state, &used0, &cap, &obj0);
    KIT_CHECK(c, cap == 0 || used0 <= cap, "usage says %llu bytes used of a %llu capacity",
              (unsigned long long)used0, (unsigned long long)cap);
    kit_key(k, key);
    if (!st_put(c, key, 25, ST_LEN, ST_SLICE, NULL, &h))
        goto done;
    st_close(k, &h);
    st_ops(k)->usage(k->state, &used1, &cap, &obj1);
    KIT_CHECK(c, cap == 0 || used1 <= cap, "usage says %llu bytes used of a %llu capacity",
              (unsigned long long)used1, (unsigned long long)cap);
    /* when nothing was evicted to make room, the new object's bytes are counted */
    KIT_CHECK(c, obj1 != obj0 + 1 || used1 >= used0 + ST_LEN,
              "storing a %u-byte object grew usage by %lld bytes", ST_LEN,
              (long long)(used1 - used0));
    if (st_ops(k)->size >= offsetof(mcc_storage_ops, drives) + sizeof(st_ops(k)->drives) &&
        st_ops(k)->drives != NULL) {
        uint64_t dused = 0, dcap = 0, dobj = 0;
        unsigned i;
        for (i = 0; i < 256; i++) {
            mcc_drive_info d;
            memset(&d, 0, sizeof(d));
            int rc = st_ops(k)->drives(k->state, i, &d);
            if (rc == MCC_NOTFOUND)
                break;
            KIT_CHECK(c, rc == MCC_OK, "drives(%u) answered %s", i, st_rc(rc));
            KIT_CHECK(c, memchr(d.name, '\0', sizeof(d.name)) != NULL && d.name[0] != '\0',
                      "drives(%u) gave no name", i);
            dused += d.used;
            dcap += d.capacity;
            dobj += d.objects;
        }
        KIT_CHECK(c, i > 0 && i < 256, "drives answered %s", i == 0 ? "no drive" : "too many");
        KIT_CHECK(c, dused == used1 && dobj == obj1,
                  "the drives add up to %llu bytes and %llu objects, usage says %llu and %llu",
                  (unsigned long long)dused, (unsigned long long)dobj, (unsigned long long)used1,
                  (unsigned long long)obj1);
        kit_note(c, "%u drive%s, %llu bytes of %llu", i, i == 1 ? "" : "s",
                 (unsigned long long)used1, (unsigned long long)dcap);
    }
done:
    st_close(k, &h);
}

/* Fills the backend to three times its capacity with objects of an eighth of it, the first one
 * held open all along: the limit holds, the open one stays, the evicted ones are gone for good
 * (never found again with other bytes), the others read back exactly. */
static void st_eviction_limit(kit_case *c)
{
    kit *k = c->k;
    uint64_t used = 0, cap = 0, objects = 0;
    uint8_t keys[ST_EVICT_OBJECTS][MCC_KEY_LEN];
    mcc_object *pin = NULL, *h = NULL;
    st_ops(k)->usage(k->state, &used, &cap, &objects);
    if (cap == 0) {
        kit_skip(c, "usage reports no capacity: no byte limit to keep");
        return;
    }
    if (cap > ST_EVICT_MAX) {
        kit_skip(c, "capacity %llu is above the %u bytes the kit fills: configure a smaller one",
                 (unsigned long long)cap, ST_EVICT_MAX);
        return;
    }
    uint64_t len = cap / 8 / ST_SLICE * ST_SLICE;
    if (len < ST_SLICE)
        len = ST_SLICE;
    for (unsigned i = 0; i < ST_EVICT_OBJECTS; i++) {
        kit_key(k, keys[i]);
        if (!st_put(c, keys[i], 100 + i, len, ST_SLICE, NULL, &h))
            goto done;
        if (i == 0)
            pin = h; /* held open through all the others: it must not be evicted */
        else
            st_close(k, &h);
        h = NULL;
        st_ops(k)->usage(k->state, &used, &cap, &objects);
        KIT_CHECK(c, used <= cap,
                  "after storing object %u of %llu bytes, usage says %llu bytes "
                  "used of a %llu capacity",
                  i, (unsigned long long)len, (unsigned long long)used, (unsigned long long)cap);
    }
    unsigned evicted = 0;
    for (unsigned i = 0; i < ST_EVICT_OBJECTS; i++) {
        int rc = st_ops(k)->open(k->state, keys[i], &h);
        if (rc == MCC_NOTFOUND) {
            KIT_CHECK(c, i != 0, "the object held open all along was evicted");
            KIT_CHECK(c, i != ST_EVICT_OBJECTS - 1, "the object stored last is gone");
            evicted++;
            continue;
        }
        KIT_CHECK(c, rc == MCC_OK, "open of object %u after filling answered %s", i, st_rc(rc));
        char what[64];
        snprintf(what, sizeof(what), "object %u after filling", i);
        if (!st_check_object(c, h, 100 + i, len, ST_SLICE, NULL, what))
            goto done;
        st_close(k, &h);
    }
    KIT_CHECK(c, evicted > 0,
              "%u objects of %llu bytes fit a capacity of %llu: nothing was "
              "evicted",
              ST_EVICT_OBJECTS, (unsigned long long)len, (unsigned long long)cap);
    if (!st_check_object(c, pin, 100, len, ST_SLICE, NULL, "the handle held open all along"))
        goto done;
    /* an object larger than the whole capacity is refused, not stored over the limit */
    uint8_t big[MCC_KEY_LEN];
    kit_key(k, big);
    int rc = st_ops(k)->create(k->state, big, cap + 1, ST_SLICE, NULL, 0, &h);
    KIT_CHECK(c, rc == MCC_NOSPACE,
              "create of %llu bytes (capacity %llu) answered %s, not "
              "MCC_NOSPACE",
              (unsigned long long)(cap + 1), (unsigned long long)cap,
              rc == MCC_OK ? "MCC_OK" : st_rc(rc));
    kit_note(c, "%u of %u objects of %llu bytes evicted, capacity %llu", evicted, ST_EVICT_OBJECTS,
             (unsigned long long)len, (unsigned long long)cap);
done:
    if (h != NULL)
        st_close(k, &h);
    st_close(k, &pin);
}

/* Corrupts a byte of slice IDX through the fd read_fd gives, where the fd is writable. 1 when
 * done, 0 when the backend has no (writable) file. */
static int st_corrupt(kit *k, mcc_object *h, uint64_t off)
{
    int fd = -1;
    uint64_t fd_off = 0;
    uint8_t b;
    if (st_ops(k)->read_fd == NULL || st_ops(k)->read_fd(h, off, &fd, &fd_off) != MCC_OK ||
        fd < 0 || pread(fd, &b, 1, (off_t)fd_off) != 1)
        return 0;
    b ^= 0x5A;
    return pwrite(fd, &b, 1, (off_t)fd_off) == 1;
}

static void st_checksum_failure(kit_case *c)
{
    kit *k = c->k;
    uint8_t key[MCC_KEY_LEN];
    mcc_object *h = NULL, *w = NULL;
    char why[400];
    uint8_t none[16] = {0};
    if (st_ops(k)->verify == NULL) {
        kit_note(c, "no verify op");
        return;
    }
    kit_key(k, key);
    if (!st_put(c, key, 26, ST_LEN, ST_SLICE, none, &w))
        goto done;
    for (uint64_t i = 0; i < 4; i++) {
        int rc = st_write_slice(k, w, 26, ST_LEN, ST_SLICE, i);
        KIT_CHECK(c, rc == MCC_OK && st_ops(k)->commit(w, i) == MCC_OK, "storing slice %llu failed",
                  (unsigned long long)i);
    }
    st_close(k, &w);
    if (!st_open(c, key, &h, "a stored object"))
        goto done;
    for (uint64_t i = 0; i < 4; i++) {
        int rc = st_ops(k)->verify(h, i);
        KIT_CHECK(c, rc == MCC_OK, "verify of sound slice %llu answered %s", (unsigned long long)i,
                  st_rc(rc));
    }
    KIT_CHECK(c, st_ops(k)->verify(h, 5) != MCC_OK, "verify of absent slice 5 answered MCC_OK");
    KIT_CHECK(c, st_ops(k)->verify(h, 1000) != MCC_OK,
              "verify of slice 1000, past the end, answered MCC_OK");
    if (!st_corrupt(k, h, 2 * ST_SLICE + 100)) {
        kit_note(c, "no writable file to corrupt: verify checked on sound and absent slices");
        goto done;
    }
    int rc = st_ops(k)->verify(h, 2);
    KIT_CHECK(c, rc == MCC_ERROR, "verify of slice 2 with a corrupted byte answered %s", st_rc(rc));
    KIT_CHECK(c, st_ops(k)->has_slice(h, 2) == 0,
              "has_slice(2) is still 1 after verify found it corrupted");
    uint8_t b[ST_SLICE];
    KIT_CHECK(c, st_ops(k)->read(h, 2 * ST_SLICE, b, sizeof(b)) != MCC_OK,
              "the corrupted slice 2 can still be read");
    KIT_CHECK(c, st_check_bytes(k, h, 26, 0, 2 * ST_SLICE, why, sizeof(why)),
              "the sound slices 0 and 1 after slice 2 was dropped: %s", why);
    /* fetched again: written and committed anew, it reads back sound */
    rc = st_write_slice(k, h, 26, ST_LEN, ST_SLICE, 2);
    KIT_CHECK(c, rc == MCC_OK, "rewriting the dropped slice 2 answered %s", st_rc(rc));
    rc = st_ops(k)->commit(h, 2);
    KIT_CHECK(c, rc == MCC_OK, "commit of the rewritten slice 2 answered %s", st_rc(rc));
    KIT_CHECK(c, st_ops(k)->verify(h, 2) == MCC_OK, "verify of the rewritten slice 2 failed");
    KIT_CHECK(c, st_check_bytes(k, h, 26, 2 * ST_SLICE, ST_SLICE, why, sizeof(why)),
              "the rewritten slice 2: %s", why);
    kit_note(c, "a corrupted byte was caught by verify");
done:
    st_close(k, &w);
    st_close(k, &h);
}

/* --persistent: objects written before the instance is destroyed are there, exactly as they
 * were, when it is created again on the same config. */
static void st_persistent_reopen(kit_case *c)
{
    kit *k = c->k;
    enum { P_FULL, P_PARTIAL, P_META, P_REPLACED, P_REMOVED, P_HALF, P_N };
    uint8_t keys[P_N][MCC_KEY_LEN], mask[16] = {0}, half[16] = {0};
    mcc_object *h = NULL;
    mcc_err err = {{0}};
    uint64_t n = st_nslices(ST_LEN, ST_SLICE);
    mask[1] = mask[4] = mask[n - 1] = 1;
    half[0] = 1;
    for (int i = 0; i < P_N; i++)
        kit_key(k, keys[i]);
    if (!st_put(c, keys[P_FULL], 30, ST_LEN, ST_SLICE, NULL, &h))
        goto done;
    st_close(k, &h);
    if (!st_put(c, keys[P_PARTIAL], 31, ST_LEN, ST_SLICE, mask, &h))
        goto done;
    st_close(k, &h);
    if (!st_put(c, keys[P_META], 32, ST_LEN, ST_SLICE, NULL, &h))
        goto done;
    KIT_CHECK(c, st_ops(k)->set_meta(h, "refreshed", 9) == MCC_OK, "set_meta failed");
    st_close(k, &h);
    if (!st_put(c, keys[P_REPLACED], 33, ST_LEN, ST_SLICE, NULL, &h))
        goto done;
    st_close(k, &h);
    if (!st_put(c, keys[P_REPLACED], 34, 3 * ST_SLICE, ST_SLICE, NULL, &h))
        goto done;
    st_close(k, &h);
    if (!st_put(c, keys[P_REMOVED], 35, ST_LEN, ST_SLICE, NULL, &h))
        goto done;
    st_close(k, &h);
    KIT_CHECK(c, st_ops(k)->remove(k->state, keys[P_REMOVED]) == MCC_OK, "remove failed");
    /* slice 0 committed, slice 1 written but never committed: it must not come back */
    if (!st_put(c, keys[P_HALF], 36, ST_LEN, ST_SLICE, half, &h))
        goto done;
    KIT_CHECK(c, st_write_slice(k, h, 36, ST_LEN, ST_SLICE, 1) == MCC_OK, "write failed");
    st_close(k, &h);

    kit_instance_down(k);
    if (kit_instance_up(k, &err) != MCC_OK) {
        kit_fail(c, "creating the instance again on the same config failed: %s", err.msg);
        goto done;
    }
    kit_loop(k, 50);
    if (!st_open(c, keys[P_FULL], &h, "a whole object after a restart") ||
        !st_check_object(c, h, 30, ST_LEN, ST_SLICE, NULL, "a whole object after a restart") ||
        !st_check_meta(c, h, "kit-meta", 9, "a whole object after a restart"))
        goto done;
    st_close(k, &h);
    if (!st_open(c, keys[P_PARTIAL], &h, "a partial object after a restart") ||
        !st_check_object(c, h, 31, ST_LEN, ST_SLICE, mask, "a partial object after a restart"))
        goto done;
    st_close(k, &h);
    if (!st_open(c, keys[P_META], &h, "an object after set_meta and a restart") ||
        !st_check_meta(c, h, "refreshed", 9, "an object after set_meta and a restart"))
        goto done;
    st_close(k, &h);
    if (!st_open(c, keys[P_REPLACED], &h, "a replaced object after a restart") ||
        !st_check_object(c, h, 34, 3 * ST_SLICE, ST_SLICE, NULL,
                         "a replaced object after a restart"))
        goto done;
    st_close(k, &h);
    int rc = st_ops(k)->open(k->state, keys[P_REMOVED], &h);
    KIT_CHECK(c, rc == MCC_NOTFOUND, "a removed object after a restart: open answered %s",
              rc == MCC_OK ? "MCC_OK" : st_rc(rc));
    h = NULL;
    if (!st_open(c, keys[P_HALF], &h, "an object with an uncommitted slice after a restart") ||
        !st_check_object(c, h, 36, ST_LEN, ST_SLICE, half,
                         "an object with an uncommitted slice after a restart"))
        goto done;
done:
    if (k->inst != NULL)
        st_close(k, &h);
}

void kit_storage_run(kit *k)
{
    kit_run_case(k, "storage.ops_table", st_ops_table);
    const mcc_storage_ops *o = st_ops(k);
    if (!(o->open && o->create && o->close && o->info && o->set_meta && o->has_slice && o->write &&
          o->commit && o->read && o->remove && o->usage))
        return; /* nothing else can run */
    kit_run_case(k, "storage.put_get", st_put_get);
    kit_run_case(k, "storage.empty_object", st_empty_object);
    kit_run_case(k, "storage.partial_object", st_partial_object);
    kit_run_case(k, "storage.present_after_commit", st_present_after_commit);
    kit_run_case(k, "storage.range_reads", st_range_reads);
    kit_run_case(k, "storage.read_fd", st_read_fd);
    kit_run_case(k, "storage.read_while_writing", st_read_while_writing);
    kit_run_case(k, "storage.slice_restart", st_slice_restart);
    kit_run_case(k, "storage.concurrent_readers", st_concurrent_readers);
    kit_run_case(k, "storage.set_meta", st_set_meta);
    kit_run_case(k, "storage.replace_keeps_old", st_replace_keeps_old);
    kit_run_case(k, "storage.remove", st_remove);
    kit_run_case(k, "storage.usage", st_usage);
    kit_run_case(k, "storage.checksum_failure", st_checksum_failure);
    kit_run_case(k, "storage.eviction_limit", st_eviction_limit);
    if (k->persistent)
        kit_run_case(k, "storage.persistent_reopen", st_persistent_reopen);
}
