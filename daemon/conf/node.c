/* Config nodes and their typed getters: the one way both plugins and the daemon read config, so
 * that every error names the file, the key path and what was expected, and unknown keys show. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

/* A file name for nodes that are not part of an mcc_config (a plugin's config in a test). */
#define NODE_NO_FILE "<config>"

struct mcc_conf {
    const mcc_config *cfg;
    cJSON *item;
    char *path;
    mcc_conf *root; /* owner of every node made from it; itself for a root */
    const mcc_conf *parent;
    mcc_conf *next;         /* in the root's list of nodes it owns */
    unsigned char *touched; /* one flag per member (objects) */
    size_t nmembers;
    int unchecked; /* check_unknown skips it: validated by someone else */
};

static mcc_conf *node_alloc(const mcc_config *cfg, cJSON *item, const char *path)
{
    mcc_conf *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->cfg = cfg;
    n->item = item;
    n->path = strdup(path != NULL ? path : "");
    if (n->path == NULL)
        goto out_node;
    if (cJSON_IsObject(item)) {
        n->nmembers = (size_t)cJSON_GetArraySize(item);
        if (n->nmembers > 0) {
            n->touched = calloc(n->nmembers, 1);
            if (n->touched == NULL)
                goto out_path;
        }
    }
    return n;
out_path:
    free(n->path);
out_node:
    free(n);
    return NULL;
}

static void node_free_one(mcc_conf *n)
{
    free(n->touched);
    free(n->path);
    free(n);
}

mcc_conf *mcc_conf_new(const mcc_config *cfg, cJSON *item, const char *keypath)
{
    mcc_conf *n = node_alloc(cfg, item, keypath);
    if (n != NULL)
        n->root = n;
    return n;
}

void mcc_conf_free(mcc_conf *node)
{
    if (node == NULL)
        return;
    mcc_conf *c = node->next;
    while (c != NULL) {
        mcc_conf *next = c->next;
        node_free_one(c);
        c = next;
    }
    node_free_one(node);
}

cJSON *mcc_conf_item(const mcc_conf *node)
{
    return node != NULL ? node->item : NULL;
}

const char *mcc_conf_path(const mcc_conf *node)
{
    return node != NULL ? node->path : "";
}

void mcc_conf_set_unchecked(const mcc_conf *node)
{
    if (node != NULL)
        ((mcc_conf *)node)->unchecked = 1;
}

/* The member KEY of an object node (and its index), or NULL. */
static cJSON *node_member(const mcc_conf *node, const char *key, size_t *index)
{
    if (node == NULL || !cJSON_IsObject(node->item))
        return NULL;
    size_t i = 0;
    for (cJSON *c = node->item->child; c != NULL; c = c->next, i++) {
        if (c->string != NULL && strcmp(c->string, key) == 0) {
            if (index != NULL)
                *index = i;
            return c;
        }
    }
    return NULL;
}

/* Nodes are read-only to their users; touching is bookkeeping, not a change of the value. */
static void node_touch(const mcc_conf *node, size_t i)
{
    if (i < node->nmembers)
        ((mcc_conf *)node)->touched[i] = 1;
}

/* The item a getter reads: KEY of an object node (touched), or the node itself for KEY NULL. */
static cJSON *node_get(const mcc_conf *node, const char *key)
{
    if (node == NULL)
        return NULL;
    if (key == NULL)
        return node->item;
    size_t i = 0;
    cJSON *c = node_member(node, key, &i);
    if (c != NULL)
        node_touch(node, i);
    return c;
}

static void node_keypath(const mcc_conf *node, const char *key, char *buf, size_t size)
{
    const char *path = node != NULL ? node->path : "";
    if (key == NULL)
        snprintf(buf, size, "%s", path);
    else if (path[0] == '\0')
        snprintf(buf, size, "%s", key);
    else
        snprintf(buf, size, "%s.%s", path, key);
}

/* The fragment that set KEYPATH, else the nearest ancestor's: a key that is absent (a required
 * one) is best fixed where its object was written. */
static const char *node_file(const mcc_conf *node, const char *keypath)
{
    char path[256];
    if (node == NULL || node->cfg == NULL)
        return NODE_NO_FILE;
    snprintf(path, sizeof(path), "%s", keypath);
    for (;;) {
        const char *f = mcc_config_source(node->cfg, path);
        if (f != NULL)
            return f;
        char *cut = strrchr(path, '.');
        if (cut == NULL)
            return NODE_NO_FILE;
        *cut = '\0';
    }
}

static int node_verror(const mcc_conf *node, const char *key, mcc_err *err, const char *fmt,
                       va_list ap)
{
    char path[256], msg[384];
    node_keypath(node, key, path, sizeof(path));
    vsnprintf(msg, sizeof(msg), fmt, ap);
    return mcc_err_set(err, "%s: %s: %s", node_file(node, path), path, msg);
}

int mcc_conf_error(const mcc_conf *node, const char *key, mcc_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    node_verror(node, key, err, fmt, ap);
    va_end(ap);
    return MCC_ERROR;
}

/* How an error shows the value found: strings quoted, numbers as numbers, else the type. */
static void node_describe(const cJSON *item, char *buf, size_t size)
{
    if (item == NULL) {
        snprintf(buf, size, "nothing");
    } else if (cJSON_IsString(item)) {
        const char *s = item->valuestring;
        size_t len = strlen(s);
        if (len > 64)
            snprintf(buf, size, "\"%.61s...\"", s);
        else
            snprintf(buf, size, "\"%s\"", s);
    } else if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;
        if (isfinite(d) && d == floor(d) && fabs(d) < 1e15)
            snprintf(buf, size, "%.0f", d);
        else
            snprintf(buf, size, "%g", d);
    } else if (cJSON_IsTrue(item)) {
        snprintf(buf, size, "true");
    } else if (cJSON_IsFalse(item)) {
        snprintf(buf, size, "false");
    } else if (cJSON_IsNull(item)) {
        snprintf(buf, size, "null");
    } else if (cJSON_IsArray(item)) {
        snprintf(buf, size, "an array");
    } else {
        snprintf(buf, size, "an object");
    }
}

static int node_expected_item(const mcc_conf *node, const char *key, const cJSON *item,
                              const char *what, mcc_err *err)
{
    char got[80];
    node_describe(item, got, sizeof(got));
    return mcc_conf_error(node, key, err, "expected %s, got %s", what, got);
}

int mcc_conf_expect(const mcc_conf *node, const char *key, const char *what, mcc_err *err)
{
    const cJSON *item = node == NULL  ? NULL
                        : key == NULL ? node->item
                                      : node_member(node, key, NULL);
    return node_expected_item(node, key, item, what, err);
}

int mcc_conf_str(const mcc_conf *node, const char *key, const char *def, const char **out,
                 mcc_err *err)
{
    cJSON *item = node_get(node, key);
    if (item == NULL) {
        *out = def;
        return MCC_OK;
    }
    if (!cJSON_IsString(item))
        return node_expected_item(node, key, item, "a string", err);
    *out = item->valuestring;
    return MCC_OK;
}

static void node_int_what(int64_t min, int64_t max, char *buf, size_t size)
{
    if (min == INT64_MIN && max == INT64_MAX)
        snprintf(buf, size, "an integer");
    else if (max == INT64_MAX)
        snprintf(buf, size, "an integer >= %" PRId64, min);
    else if (min == INT64_MIN)
        snprintf(buf, size, "an integer <= %" PRId64, max);
    else
        snprintf(buf, size, "an integer from %" PRId64 " to %" PRId64, min, max);
}

int mcc_conf_int(const mcc_conf *node, const char *key, int64_t def, int64_t min, int64_t max,
                 int64_t *out, mcc_err *err)
{
    cJSON *item = node_get(node, key);
    if (item == NULL) {
        *out = def;
        return MCC_OK;
    }
    char what[96];
    node_int_what(min, max, what, sizeof(what));
    if (!cJSON_IsNumber(item))
        return node_expected_item(node, key, item, what, err);
    double d = item->valuedouble;
    /* 2^63 is exact as a double; anything at or beyond it cannot be an int64_t */
    if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return node_expected_item(node, key, item, what, err);
    int64_t v = (int64_t)d;
    if (v < min || v > max)
        return node_expected_item(node, key, item, what, err);
    *out = v;
    return MCC_OK;
}

int mcc_conf_bool(const mcc_conf *node, const char *key, int def, int *out, mcc_err *err)
{
    cJSON *item = node_get(node, key);
    if (item == NULL) {
        *out = def;
        return MCC_OK;
    }
    if (!cJSON_IsBool(item))
        return node_expected_item(node, key, item, "true or false", err);
    *out = cJSON_IsTrue(item) ? 1 : 0;
    return MCC_OK;
}

/* Multiplies V by M unless the product leaves uint64_t. */
static int node_mul(uint64_t v, uint64_t m, uint64_t *out)
{
    if (m != 0 && v > UINT64_MAX / m)
        return MCC_ERROR;
    *out = v * m;
    return MCC_OK;
}

/* Leading decimal digits of S into *V (overflow is an error); *END after them. */
static int node_digits(const char *s, uint64_t *v, const char **end)
{
    uint64_t acc = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return MCC_ERROR;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return MCC_ERROR;
        acc = acc * 10 + d;
    }
    *v = acc;
    *end = p;
    return MCC_OK;
}

struct node_unit {
    const char *name;
    uint64_t mult;
};

static const struct node_unit node_size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1024ull},
    {"kib", 1024ull},
    {"kb", 1000ull},
    {"m", 1024ull * 1024},
    {"mib", 1024ull * 1024},
    {"mb", 1000ull * 1000},
    {"g", 1024ull * 1024 * 1024},
    {"gib", 1024ull * 1024 * 1024},
    {"gb", 1000ull * 1000 * 1000},
    {"t", 1024ull * 1024 * 1024 * 1024},
    {"tib", 1024ull * 1024 * 1024 * 1024},
    {"tb", 1000ull * 1000 * 1000 * 1000},
    {NULL, 0},
};

static const struct node_unit node_duration_units[] = {
    {"", 1000},
    {"ms", 1},
    {"s", 1000},
    {"m", 60ull * 1000},
    {"h", 3600ull * 1000},
    {"d", 86400ull * 1000},
    {NULL, 0},
};

static int node_parse_units(const char *text, const struct node_unit *units, uint64_t *out)
{
    uint64_t v;
    const char *p;
    if (text == NULL || node_digits(text, &v, &p) != MCC_OK)
        return MCC_ERROR;
    for (const struct node_unit *u = units; u->name != NULL; u++) {
        if (strcasecmp(p, u->name) == 0)
            return node_mul(v, u->mult, out);
    }
    return MCC_ERROR;
}

int mcc_parse_size(const char *text, uint64_t *out)
{
    return node_parse_units(text, node_size_units, out);
}

int mcc_parse_duration(const char *text, uint64_t *out)
{
    return node_parse_units(text, node_duration_units, out);
}

#define NODE_SIZE_WHAT "a size like 512, 64KiB, 1MiB or 10GB"
#define NODE_DURATION_WHAT "a duration like 250ms, 30s, 5m or 1h"

int mcc_conf_size(const mcc_conf *node, const char *key, uint64_t def, uint64_t *out, mcc_err *err)
{
    cJSON *item = node_get(node, key);
    if (item == NULL) {
        *out = def;
        return MCC_OK;
    }
    if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;
        /* 2^64 is exact as a double */
        if (!isfinite(d) || d != floor(d) || d < 0 || d >= 18446744073709551616.0)
            return node_expected_item(node, key, item, NODE_SIZE_WHAT, err);
        *out = (uint64_t)d;
        return MCC_OK;
    }
    uint64_t v;
    if (!cJSON_IsString(item) || mcc_parse_size(item->valuestring, &v) != MCC_OK)
        return node_expected_item(node, key, item, NODE_SIZE_WHAT, err);
    *out = v;
    return MCC_OK;
}

int mcc_conf_duration(const mcc_conf *node, const char *key, uint64_t def, uint64_t *out,
                      mcc_err *err)
{
    cJSON *item = node_get(node, key);
    if (item == NULL) {
        *out = def;
        return MCC_OK;
    }
    if (cJSON_IsNumber(item)) {
        /* seconds, possibly fractional ("0.25" is 250 ms) */
        double ms = item->valuedouble * 1000.0;
        if (!isfinite(ms) || ms < 0 || ms >= 18446744073709551616.0)
            return node_expected_item(node, key, item, NODE_DURATION_WHAT, err);
        *out = (uint64_t)(ms + 0.5);
        return MCC_OK;
    }
    uint64_t v;
    if (!cJSON_IsString(item) || mcc_parse_duration(item->valuestring, &v) != MCC_OK)
        return node_expected_item(node, key, item, NODE_DURATION_WHAT, err);
    *out = v;
    return MCC_OK;
}

/* The node for ITEM below PARENT: the same node each time it is asked for, so that what was
 * touched through it is remembered for check_unknown. */
static const mcc_conf *node_child_of(const mcc_conf *parent, cJSON *item, const char *path)
{
    mcc_conf *root = parent->root;
    for (mcc_conf *c = root->next; c != NULL; c = c->next) {
        if (c->parent == parent && c->item == item)
            return c;
    }
    mcc_conf *n = node_alloc(parent->cfg, item, path);
    if (n == NULL)
        return NULL;
    n->root = root;
    n->parent = parent;
    n->next = root->next;
    root->next = n;
    return n;
}

const mcc_conf *mcc_conf_child(const mcc_conf *node, const char *key, int want, mcc_err *err)
{
    cJSON *item = node_get(node, key);
    if (item == NULL)
        return NULL;
    int ok = want == 'o'   ? cJSON_IsObject(item)
             : want == 'a' ? cJSON_IsArray(item)
                           : cJSON_IsObject(item) || cJSON_IsArray(item);
    if (!ok) {
        const char *what = want == 'o'   ? "an object"
                           : want == 'a' ? "an array"
                                         : "an object or an array";
        node_expected_item(node, key, item, what, err);
        return NULL;
    }
    if (key == NULL)
        return node;
    char path[256];
    node_keypath(node, key, path, sizeof(path));
    const mcc_conf *c = node_child_of(node, item, path);
    if (c == NULL)
        mcc_conf_error(node, key, err, "out of memory");
    return c;
}

size_t mcc_conf_count(const mcc_conf *node)
{
    if (node == NULL || !(cJSON_IsArray(node->item) || cJSON_IsObject(node->item)))
        return 0;
    return (size_t)cJSON_GetArraySize(node->item);
}

const mcc_conf *mcc_conf_index(const mcc_conf *node, size_t i, const char **name)
{
    if (name != NULL)
        *name = NULL;
    if (node == NULL || !(cJSON_IsArray(node->item) || cJSON_IsObject(node->item)))
        return NULL;
    cJSON *item = node->item->child;
    for (size_t k = 0; item != NULL && k < i; k++)
        item = item->next;
    if (item == NULL)
        return NULL;
    char path[256];
    if (cJSON_IsObject(node->item)) {
        node_touch(node, i);
        node_keypath(node, item->string, path, sizeof(path));
        if (name != NULL)
            *name = item->string;
    } else {
        snprintf(path, sizeof(path), "%s[%zu]", node->path, i);
    }
    return node_child_of(node, item, path);
}

/* The node handed out for ITEM below NODE, or NULL when nobody asked for it. */
static const mcc_conf *node_handed_out(const mcc_conf *node, const cJSON *item)
{
    for (const mcc_conf *c = node->root->next; c != NULL; c = c->next) {
        if (c->parent == node && c->item == item)
            return c;
    }
    return NULL;
}

int mcc_conf_check_unknown(const mcc_conf *node, mcc_err *err)
{
    if (node == NULL || node->unchecked)
        return MCC_OK;
    if (!cJSON_IsObject(node->item) && !cJSON_IsArray(node->item))
        return MCC_OK;
    size_t i = 0;
    for (cJSON *c = node->item->child; c != NULL; c = c->next, i++) {
        if (cJSON_IsObject(node->item) && (i >= node->nmembers || !node->touched[i]))
            return mcc_conf_error(node, c->string, err, "unknown key");
        const mcc_conf *child = node_handed_out(node, c);
        if (child != NULL && mcc_conf_check_unknown(child, err) != MCC_OK)
            return MCC_ERROR;
    }
    return MCC_OK;
}
