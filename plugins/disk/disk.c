/* The "disk" storage backend: objects by key on one or more drives, placed by rendezvous hashing
 * weighted by drive size, each drive kept under its size by the configured eviction policy. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"

#define DISK_DEFAULT_ROOT "/var/cache/mcc"

void disk_index_add(disk_state *st, disk_obj *o)
{
    HASH_ADD(hh, st->by_key, key, MCC_KEY_LEN, o);
    HASH_ADD(hh_id, st->by_id, id, sizeof(o->id), o);
    o->linked = 1;
    o->drive->used += o->length;
    o->drive->objects++;
}

/* Takes O out of the index (and its files off the drive when REMOVE_FILES). Open handles keep
 * their fds, so they go on reading the old bytes; the object is freed with its last handle. */
void disk_index_unlink(disk_state *st, disk_obj *o, int remove_files)
{
    char path[DISK_PATH_MAX];

    HASH_DELETE(hh, st->by_key, o);
    HASH_DELETE(hh_id, st->by_id, o);
    o->linked = 0;
    o->drive->used -= o->length;
    o->drive->objects--;
    if (st->policy != NULL && o->drive->evict != NULL)
        st->policy->evict_remove(o->drive->evict, o->id);
    if (remove_files) {
        /* .meta first: a crash in between leaves an orphan .data, which the scan removes */
        if (disk_path(path, sizeof(path), o->drive, o->key, ".meta") == MCC_OK)
            unlink(path);
        if (disk_path(path, sizeof(path), o->drive, o->key, ".data") == MCC_OK)
            unlink(path);
    }
    if (o->handles == 0)
        disk_obj_free(o);
}

/* Weighted rendezvous hashing: each drive scores -size / ln(u) with u uniform in (0, 1) from the
 * key and the drive's seed; the highest wins. Adding a drive moves only the keys it now wins. */
static disk_drive *disk_pick(disk_state *st, const uint8_t key[MCC_KEY_LEN])
{
    disk_drive *best = &st->drives[0];
    double best_score = -1.0;
    for (unsigned i = 0; i < st->ndrives; i++) {
        disk_drive *d = &st->drives[i];
        uint64_t h = XXH3_64bits_withSeed(key, MCC_KEY_LEN, d->seed);
        double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0; /* 2^53 */
        double score = -(double)d->size / log(u);
        if (score > best_score) {
            best_score = score;
            best = d;
        }
    }
    return best;
}

static int disk_can_evict(void *arg, uint64_t id)
{
    disk_state *st = arg;
    disk_obj *o;
    HASH_FIND(hh_id, st->by_id, &id, sizeof(id), o);
    return o != NULL && o->handles == 0;
}

/* Evicts from drive D until NEED more bytes fit. MCC_OK or MCC_NOSPACE. */
static int disk_make_room(disk_state *st, disk_drive *d, uint64_t need)
{
    /* each round removes one object (or one stale id from the policy): bounded */
    uint64_t rounds = d->objects + 16;
    while (d->used + need > d->size) {
        uint64_t id;
        disk_obj *v;
        if (st->policy == NULL || d->evict == NULL || rounds-- == 0)
            return MCC_NOSPACE;
        if (st->policy->evict_victim(d->evict, disk_can_evict, st, &id) != MCC_OK)
            return MCC_NOSPACE;
        HASH_FIND(hh_id, st->by_id, &id, sizeof(id), v);
        if (v == NULL || v->drive != d) {
            st->policy->evict_remove(d->evict, id); /* the policy knew an id we do not */
            continue;
        }
        if (v->handles > 0)
            return MCC_NOSPACE; /* the policy ignored can(): do not take bytes being read */
        char hex[DISK_HEX_LEN + 1];
        disk_key_hex(v->key, hex);
        st->host->log(st->self, MCC_LOG_DEBUG, "%s: evicting %s (%llu bytes)", d->path, hex,
                      (unsigned long long)v->length);
        disk_index_unlink(st, v, 1);
    }
    return MCC_OK;
}

static mcc_object *disk_handle_new(disk_obj *o)
{
    mcc_object *h = malloc(sizeof(*h));
    if (h == NULL)
        return NULL;
    h->o = o;
    o->handles++;
    return h;
}

void disk_handle_close(mcc_object *h)
{
    if (h == NULL)
        return;
    disk_obj *o = h->o;
    free(h);
    if (--o->handles > 0)
        return;
    if (o->linked)
        disk_obj_unload(o);
    else
        disk_obj_free(o);
}

int disk_open(void *state, const uint8_t key[MCC_KEY_LEN], mcc_object **obj)
{
    disk_state *st = state;
    disk_obj *o;
    mcc_err err;

    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o == NULL)
        return MCC_NOTFOUND;
    if (o->handles == 0 && disk_meta_load(o, &err) != MCC_OK) {
        st->host->log(st->self, MCC_LOG_WARN, "%s: dropped", err.msg);
        disk_index_unlink(st, o, 1);
        return MCC_NOTFOUND;
    }
    mcc_object *h = disk_handle_new(o);
    if (h == NULL) {
        if (o->handles == 0)
            disk_obj_unload(o);
        return MCC_ERROR;
    }
    if (st->policy != NULL && o->drive->evict != NULL)
        st->policy->evict_access(o->drive->evict, o->id);
    *obj = h;
    return MCC_OK;
}

static int disk_subdir(const disk_drive *d, const uint8_t key[MCC_KEY_LEN], mcc_err *err)
{
    char dir[DISK_PATH_MAX];
    char hex[DISK_HEX_LEN + 1];
    disk_key_hex(key, hex);
    int n = snprintf(dir, sizeof(dir), "%s/%.2s", d->path, hex);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return mcc_err_set(err, "%s: path too long", d->path);
    if (mkdir(dir, 0750) == 0 || errno == EEXIST)
        return MCC_OK;
    return disk_mkdirs(dir, err); /* the drive itself went away: make it again */
}

int disk_create(void *state, const uint8_t key[MCC_KEY_LEN], uint64_t length, uint32_t slice_size,
                const void *meta, size_t meta_len, mcc_object **obj)
{
    disk_state *st = state;
    char data[DISK_PATH_MAX];
    mcc_err err = {{0}};
    disk_obj *o;
    int rc;

    if (!st->started || slice_size == 0 || meta_len > DISK_META_MAX ||
        (meta == NULL && meta_len > 0))
        return MCC_ERROR;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o != NULL)
        disk_index_unlink(st, o, 1); /* replaced: its open handles keep the old bytes */
    disk_drive *d = disk_pick(st, key);
    if (length > st->max_object || length > d->size)
        return MCC_NOSPACE;
    rc = disk_make_room(st, d, length);
    if (rc != MCC_OK)
        return rc;

    o = disk_obj_new(st, key, d);
    if (o == NULL)
        return MCC_ERROR;
    o->length = length;
    o->slice_size = slice_size;
    o->nslices = length / slice_size + (length % slice_size != 0);
    o->meta = malloc(meta_len > 0 ? meta_len : 1);
    o->meta_len = meta_len;
    rc = MCC_ERROR;
    if (o->meta == NULL || disk_obj_alloc_slices(o) != MCC_OK)
        goto fail;
    if (meta_len > 0)
        memcpy(o->meta, meta, meta_len);
    o->loaded = 1;
    if (disk_subdir(d, key, &err) != MCC_OK)
        goto fail;
    /* the .meta (no slice present) gets its name before any data byte is written */
    rc = disk_meta_write(o, &err);
    if (rc != MCC_OK)
        goto fail;
    rc = MCC_ERROR;
    if (disk_path(data, sizeof(data), d, key, ".data") != MCC_OK)
        goto fail_files;
    o->data_fd = open(data, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (o->data_fd < 0 || ftruncate(o->data_fd, (off_t)length) != 0) {
        rc = errno == ENOSPC ? MCC_NOSPACE : MCC_ERROR;
        mcc_err_set(&err, "%s: %s", data, strerror(errno));
        goto fail_files;
    }
    mcc_object *h = disk_handle_new(o);
    if (h == NULL)
        goto fail_files;
    disk_index_add(st, o);
    if (st->policy != NULL && d->evict != NULL)
        st->policy->evict_insert(d->evict, o->id, length);
    *obj = h;
    return MCC_OK;

fail_files:
    if (disk_path(data, sizeof(data), d, key, ".meta") == MCC_OK)
        unlink(data);
    if (disk_path(data, sizeof(data), d, key, ".data") == MCC_OK)
        unlink(data);
fail:
    if (err.msg[0] != '\0')
        st->host->log(st->self, MCC_LOG_ERROR, "create: %s", err.msg);
    disk_obj_free(o);
    return rc;
}

int disk_remove(void *state, const uint8_t key[MCC_KEY_LEN])
{
    disk_state *st = state;
    disk_obj *o;
    HASH_FIND(hh, st->by_key, key, MCC_KEY_LEN, o);
    if (o == NULL)
        return MCC_NOTFOUND;
    disk_index_unlink(st, o, 1);
    return MCC_OK;
}

void disk_usage(void *state, uint64_t *used, uint64_t *capacity, uint64_t *objects)
{
    disk_state *st = state;
    uint64_t u = 0, c = 0, n = 0;
    for (unsigned i = 0; i < st->ndrives; i++) {
        u += st->drives[i].used;
        c += st->drives[i].size;
        n += st->drives[i].objects;
    }
    if (used != NULL)
        *used = u;
    if (capacity != NULL)
        *capacity = c;
    if (objects != NULL)
        *objects = n;
}

/* --- config and lifecycle ------------------------------------------------------------------ */

static int disk_conf_drive(disk_state *st, const mcc_conf *node, const char *root, mcc_err *err)
{
    const mcc_host *host = st->host;
    const char *path = NULL;
    uint64_t size = 0;
    char buf[DISK_PATH_MAX];

    if (host->conf_str(node, "path", NULL, &path, err) != MCC_OK)
        return MCC_ERROR;
    if (path == NULL || path[0] == '\0')
        return host->conf_error(node, "path", err, "a directory path is required");
    if (host->conf_size(node, "size", 0, &size, err) != MCC_OK)
        return MCC_ERROR;
    if (size < DISK_MIN_DRIVE_SIZE)
        return host->conf_error(node, "size", err, "a size of at least 1MiB is required");
    int n = path[0] == '/' ? snprintf(buf, sizeof(buf), "%s", path)
                           : snprintf(buf, sizeof(buf), "%s/%s", root, path);
    if (n < 0 || (size_t)n >= sizeof(buf) - DISK_HEX_LEN - 16)
        return host->conf_error(node, "path", err, "path too long");
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    for (unsigned i = 0; i < st->ndrives; i++)
        if (strcmp(st->drives[i].path, buf) == 0)
            return host->conf_error(node, "path", err, "drive %s is listed twice", buf);
    disk_drive *d = &st->drives[st->ndrives];
    d->path = strdup(buf);
    if (d->path == NULL)
        return mcc_err_set(err, "out of memory");
    d->size = size;
    d->seed = XXH3_64bits(buf, (size_t)n);
    st->ndrives++;
    return MCC_OK;
}

static int disk_conf(disk_state *st, const mcc_conf *conf, mcc_err *err)
{
    const mcc_host *host = st->host;
    const char *root = NULL, *eviction = NULL;
    char root_buf[DISK_PATH_MAX];

    /* relative drive paths sit under the daemon's cache root unless "root" says otherwise */
    const char *def_root = DISK_DEFAULT_ROOT;
    if (MCC_HAS(host, cache_root) && host->cache_root(st->self) != NULL &&
        host->cache_root(st->self)[0] == '/')
        def_root = host->cache_root(st->self);
    if (host->conf_str(conf, "root", def_root, &root, err) != MCC_OK)
        return MCC_ERROR;
    if (root == NULL || root[0] != '/')
        return host->conf_error(conf, "root", err, "an absolute directory path is required");
    /* strings from the node live only during create: keep our copy */
    int rn = snprintf(root_buf, sizeof(root_buf), "%s", root);
    if (rn < 0 || (size_t)rn >= sizeof(root_buf))
        return host->conf_error(conf, "root", err, "path too long");
    if (host->conf_str(conf, "eviction", "lru", &eviction, err) != MCC_OK)
        return MCC_ERROR;
    if (eviction == NULL || eviction[0] == '\0')
        return host->conf_error(conf, "eviction", err, "the name of a policy instance");
    st->eviction = strdup(eviction);
    if (st->eviction == NULL)
        return mcc_err_set(err, "out of memory");
    if (host->conf_bool(conf, "fsync", 0, &st->fsync, err) != MCC_OK)
        return MCC_ERROR;
    if (host->conf_size(conf, "max_object", UINT64_MAX, &st->max_object, err) != MCC_OK)
        return MCC_ERROR;
    if (st->max_object == 0)
        return host->conf_error(conf, "max_object", err, "a size above 0");

    mcc_err child_err = {{0}}; /* tells "absent" from "not an array" */
    const mcc_conf *drives = host->conf_child(conf, "drives", 'a', &child_err);
    if (drives == NULL && child_err.msg[0] != '\0')
        return mcc_err_set(err, "%s", child_err.msg);
    size_t n = drives != NULL ? host->conf_count(drives) : 0;
    if (n == 0 || n > DISK_MAX_DRIVES)
        return host->conf_error(conf, "drives", err, "an array of 1 to %d drives {path, size}",
                                DISK_MAX_DRIVES);
    for (size_t i = 0; i < n; i++) {
        const mcc_conf *node = host->conf_index(drives, i, NULL);
        if (node == NULL)
            return host->conf_error(conf, "drives", err, "element %zu unreadable", i);
        if (disk_conf_drive(st, node, root_buf, err) != MCC_OK)
            return MCC_ERROR;
    }
    return MCC_OK;
}

static void disk_destroy(void *state);

static int disk_plugin_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                              void **state, mcc_err *err)
{
    disk_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return mcc_err_set(err, "out of memory");
    st->host = host;
    st->self = self;
    if (disk_conf(st, conf, err) != MCC_OK)
        goto fail;
    st->scratch = malloc(DISK_SCRATCH_LEN);
    if (st->scratch == NULL) {
        mcc_err_set(err, "out of memory");
        goto fail;
    }
    st->checksum_failures = host->metric(
        self, MCC_METRIC_COUNTER, "mcc_storage_checksum_failures_total",
        "Stored slices whose bytes did not match their checksum (dropped, fetched again)", NULL,
        NULL, 0);
    *state = st;
    return MCC_OK;
fail:
    disk_destroy(st);
    return MCC_ERROR;
}

static int disk_obj_older(const void *a, const void *b)
{
    const disk_obj *x = *(disk_obj *const *)a, *y = *(disk_obj *const *)b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* Tells the policy of every object found at start-up, least recently written first, so that the
 * policy starts from a recency close to the one before the restart. */
static int disk_policy_fill(disk_state *st)
{
    size_t n = HASH_CNT(hh, st->by_key), i = 0;
    disk_obj **all = calloc(n > 0 ? n : 1, sizeof(*all));
    if (all == NULL)
        return MCC_ERROR;
    for (disk_obj *o = st->by_key; o != NULL; o = o->hh.next)
        all[i++] = o;
    qsort(all, n, sizeof(*all), disk_obj_older);
    for (i = 0; i < n; i++)
        st->policy->evict_insert(all[i]->drive->evict, all[i]->id, all[i]->length);
    free(all);
    return MCC_OK;
}

static void disk_policy_release(disk_state *st)
{
    for (unsigned i = 0; i < st->ndrives; i++) {
        if (st->drives[i].evict != NULL && st->policy != NULL)
            st->policy->evict_free(st->drives[i].evict);
        st->drives[i].evict = NULL;
    }
    st->policy = NULL;
    st->policy_state = NULL;
}

static int disk_start(void *state, void *event_base, mcc_err *err)
{
    disk_state *st = state;
    const mcc_policy_ops *p = st->host->policy(st->self, st->eviction, &st->policy_state);

    if (p == NULL)
        return mcc_err_set(err, "eviction: no policy instance named \"%s\"", st->eviction);
    if (p->type != MCC_POLICY_EVICTION || !MCC_HAS(p, evict_new) || !MCC_HAS(p, evict_free) ||
        !MCC_HAS(p, evict_insert) || !MCC_HAS(p, evict_access) || !MCC_HAS(p, evict_remove) ||
        !MCC_HAS(p, evict_victim))
        return mcc_err_set(err, "eviction: policy \"%s\" is not an eviction policy", st->eviction);
    st->policy = p;
    for (unsigned i = 0; i < st->ndrives; i++) {
        st->drives[i].evict = p->evict_new(st->policy_state, st->drives[i].size);
        if (st->drives[i].evict == NULL) {
            mcc_err_set(err, "eviction: policy \"%s\" made no set", st->eviction);
            goto fail;
        }
    }
    if (disk_index_scan(st, err) != MCC_OK)
        goto fail;
    if (disk_policy_fill(st) != MCC_OK) {
        mcc_err_set(err, "out of memory");
        goto fail;
    }
    st->started = 1;
    /* a drive configured smaller than before sheds objects now */
    for (unsigned i = 0; i < st->ndrives; i++) {
        disk_drive *d = &st->drives[i];
        if (d->used > d->size && disk_make_room(st, d, 0) != MCC_OK)
            st->host->log(st->self, MCC_LOG_WARN, "%s: %llu bytes stored over a %llu size", d->path,
                          (unsigned long long)d->used, (unsigned long long)d->size);
    }
    return MCC_OK;
fail:
    disk_policy_release(st);
    return MCC_ERROR;
}

static void disk_stop(void *state)
{
    disk_state *st = state;
    st->started = 0;
    disk_policy_release(st);
}

static void disk_destroy(void *state)
{
    disk_state *st = state;
    if (st == NULL)
        return;
    disk_obj *o, *tmp;
    HASH_ITER(hh, st->by_key, o, tmp)
    {
        if (o->handles > 0)
            st->host->log(st->self, MCC_LOG_WARN, "destroyed with %u handles open", o->handles);
        HASH_DELETE(hh, st->by_key, o);
        HASH_DELETE(hh_id, st->by_id, o);
        disk_obj_free(o);
    }
    for (unsigned i = 0; i < st->ndrives; i++)
        free(st->drives[i].path);
    free(st->eviction);
    free(st->scratch);
    free(st);
}

static const mcc_storage_ops disk_storage_ops = {
    .size = sizeof(mcc_storage_ops),
    .open = disk_open,
    .create = disk_create,
    .close = disk_handle_close,
    .info = disk_obj_info,
    .set_meta = disk_obj_set_meta,
    .has_slice = disk_obj_has_slice,
    .write = disk_obj_write,
    .commit = disk_obj_commit,
    .read = disk_obj_read,
    .read_fd = disk_obj_read_fd,
    .verify = disk_obj_verify,
    .remove = disk_remove,
    .usage = disk_usage,
};

static const mcc_plugin disk_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_STORAGE, "disk", "0.1.0"),
    .description = "objects on local drives, sliced and checksummed, evicted by a policy",
    .create = disk_plugin_create,
    .start = disk_start,
    .stop = disk_stop,
    .destroy = disk_destroy,
    .ops = &disk_storage_ops,
};

MCC_PLUGIN_DEFINE(disk_plugin)
