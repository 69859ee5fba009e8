/* conf.d fragments merged into one JSON document, remembering which fragment set each key so that
 * every later error can name the file to fix. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uthash.h>

#include "conf/conf.h"
#include "conf/embedded.h"

/* A fragment is a hand-written file: anything this large is a mistake, not a config. */
#define CONFIG_MAX_FILE (16u * 1024 * 1024)

typedef struct config_prov {
    char *path;         /* key path, "a.b.c" */
    const char *source; /* one of cfg->names */
    UT_hash_handle hh;
} config_prov;

struct mcc_config {
    cJSON *root;
    config_prov *prov; /* uthash by path */
    char **names;      /* every fragment name seen; provenance points into these */
    size_t nnames;
};

mcc_config *mcc_config_new(void)
{
    mcc_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    cfg->root = cJSON_CreateObject();
    if (cfg->root == NULL) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

void mcc_config_free(mcc_config *cfg)
{
    if (cfg == NULL)
        return;
    config_prov *p, *tmp;
    HASH_ITER(hh, cfg->prov, p, tmp)
    {
        HASH_DEL(cfg->prov, p);
        free(p->path);
        free(p);
    }
    for (size_t i = 0; i < cfg->nnames; i++)
        free(cfg->names[i]);
    free(cfg->names);
    cJSON_Delete(cfg->root);
    free(cfg);
}

cJSON *mcc_config_root(const mcc_config *cfg)
{
    return cfg->root;
}

char *mcc_config_print(const mcc_config *cfg)
{
    return cJSON_Print(cfg->root);
}

/* Arrays are one value: an element ("a.b[2]", "a.b[2].c") comes from where the array ("a.b")
 * came from. */
const char *mcc_config_source(const mcc_config *cfg, const char *keypath)
{
    if (cfg == NULL || keypath == NULL)
        return NULL;
    config_prov *p = NULL;
    HASH_FIND(hh, cfg->prov, keypath, strcspn(keypath, "["), p);
    return p != NULL ? p->source : NULL;
}

static int config_prov_set(mcc_config *cfg, const char *path, const char *source)
{
    config_prov *p = NULL;
    HASH_FIND_STR(cfg->prov, path, p);
    if (p != NULL) {
        p->source = source;
        return MCC_OK;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return MCC_ERROR;
    p->path = strdup(path);
    if (p->path == NULL) {
        free(p);
        return MCC_ERROR;
    }
    p->source = source;
    HASH_ADD_KEYPTR(hh, cfg->prov, p->path, strlen(p->path), p);
    return MCC_OK;
}

/* Forgets every key below PATH: a replaced subtree keeps no trace of keys it no longer has. */
static void config_prov_drop_below(mcc_config *cfg, const char *path)
{
    size_t len = strlen(path);
    config_prov *p, *tmp;
    HASH_ITER(hh, cfg->prov, p, tmp)
    {
        if (strncmp(p->path, path, len) == 0 && (p->path[len] == '.' || p->path[len] == '[')) {
            HASH_DEL(cfg->prov, p);
            free(p->path);
            free(p);
        }
    }
}

static char *config_path_join(const char *parent, const char *key)
{
    size_t pl = strlen(parent), kl = strlen(key);
    char *s = malloc(pl + kl + 2);
    if (s == NULL)
        return NULL;
    if (pl == 0) {
        memcpy(s, key, kl + 1);
    } else {
        memcpy(s, parent, pl);
        s[pl] = '.';
        memcpy(s + pl + 1, key, kl + 1);
    }
    return s;
}

/* Records SOURCE for PATH and, for an object, every key below it (arrays count as one value). */
static int config_prov_mark(mcc_config *cfg, const char *path, const cJSON *item,
                            const char *source)
{
    if (config_prov_set(cfg, path, source) != MCC_OK)
        return MCC_ERROR;
    if (!cJSON_IsObject(item))
        return MCC_OK;
    for (const cJSON *c = item->child; c != NULL; c = c->next) {
        char *sub = config_path_join(path, c->string);
        if (sub == NULL)
            return MCC_ERROR;
        int rc = config_prov_mark(cfg, sub, c, source);
        free(sub);
        if (rc != MCC_OK)
            return MCC_ERROR;
    }
    return MCC_OK;
}

/* Moves the members of SRC into DST: objects merge key by key, anything else replaces. SRC is
 * emptied as it goes; the caller deletes it. */
static int config_merge(mcc_config *cfg, cJSON *dst, cJSON *src, const char *path,
                        const char *source)
{
    cJSON *c = src->child;
    while (c != NULL) {
        cJSON *next = c->next;
        char *sub = config_path_join(path, c->string);
        if (sub == NULL)
            return MCC_ERROR;
        cJSON *old = cJSON_GetObjectItemCaseSensitive(dst, c->string);
        int rc = MCC_OK;
        if (old != NULL && cJSON_IsObject(old) && cJSON_IsObject(c)) {
            rc = config_prov_set(cfg, sub, source);
            if (rc == MCC_OK)
                rc = config_merge(cfg, old, c, sub, source);
        } else {
            config_prov_drop_below(cfg, sub);
            cJSON_DetachItemViaPointer(src, c);
            if (old != NULL) {
                cJSON_ReplaceItemViaPointer(dst, old, c);
            } else if (!cJSON_AddItemToObject(dst, c->string, c)) {
                cJSON_Delete(c);
                rc = MCC_ERROR;
            }
            if (rc == MCC_OK)
                rc = config_prov_mark(cfg, sub, c, source);
        }
        free(sub);
        if (rc != MCC_OK)
            return MCC_ERROR;
        c = next;
    }
    return MCC_OK;
}

static const char *config_name_keep(mcc_config *cfg, const char *name)
{
    char **names = realloc(cfg->names, (cfg->nnames + 1) * sizeof(*names));
    if (names == NULL)
        return NULL;
    cfg->names = names;
    char *copy = strdup(name);
    if (copy == NULL)
        return NULL;
    cfg->names[cfg->nnames++] = copy;
    return copy;
}

int mcc_config_add_text(mcc_config *cfg, const char *name, const char *text, mcc_err *err)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithOpts(text, &end, 1);
    if (doc == NULL) {
        unsigned line = 1, col = 1;
        if (end == NULL)
            end = text;
        for (const char *p = text; p < end && *p != '\0'; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return mcc_err_set(err, "%s:%u:%u: invalid JSON", name, line, col);
    }
    int rc = MCC_ERROR;
    if (!cJSON_IsObject(doc)) {
        mcc_err_set(err, "%s: the top level must be an object", name);
        goto out_doc;
    }
    const char *source = config_name_keep(cfg, name);
    if (source == NULL) {
        mcc_err_set(err, "%s: out of memory", name);
        goto out_doc;
    }
    if (config_merge(cfg, cfg->root, doc, "", source) != MCC_OK) {
        mcc_err_set(err, "%s: out of memory while merging", name);
        goto out_doc;
    }
    rc = MCC_OK;
out_doc:
    cJSON_Delete(doc);
    return rc;
}

int mcc_config_add_file(mcc_config *cfg, const char *path, mcc_err *err)
{
    int rc = MCC_ERROR;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mcc_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        mcc_err_set(err, "%s: cannot stat: %s", path, strerror(errno));
        goto out_fd;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_MAX_FILE) {
        mcc_err_set(err, "%s: not a regular file of at most %u bytes", path, CONFIG_MAX_FILE);
        goto out_fd;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = malloc(size + 1);
    if (buf == NULL) {
        mcc_err_set(err, "%s: out of memory", path);
        goto out_fd;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            mcc_err_set(err, "%s: cannot read: %s", path, strerror(errno));
            goto out_buf;
        }
        if (n == 0)
            break; /* shrank while reading: parse what is there */
        got += (size_t)n;
    }
    buf[got] = '\0';
    if (memchr(buf, '\0', got) != NULL) {
        mcc_err_set(err, "%s: contains a NUL byte", path);
        goto out_buf;
    }
    rc = mcc_config_add_text(cfg, path, buf, err);
out_buf:
    free(buf);
out_fd:
    close(fd);
    return rc;
}

static int config_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int config_is_fragment(const char *name)
{
    size_t len = strlen(name);
    /* hidden files are skipped like a shell's *.json would: editors and atomic writers leave
     * temporary files there */
    return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".json") == 0;
}

int mcc_config_add_dir(mcc_config *cfg, const char *dir, int optional, mcc_err *err)
{
    int rc = MCC_ERROR;
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (optional && errno == ENOENT)
            return MCC_OK;
        return mcc_err_set(err, "%s: cannot open directory: %s", dir, strerror(errno));
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!config_is_fragment(de->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (nn == NULL)
                goto out_oom;
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL)
            goto out_oom;
        n++;
    }
    if (n > 0)
        qsort(names, n, sizeof(*names), config_name_cmp);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (path == NULL)
            goto out_oom;
        snprintf(path, len, "%s/%s", dir, names[i]);
        struct stat st;
        /* stat, not lstat: a symlinked fragment (a mounted ConfigMap) is a fragment too */
        int skip = stat(path, &st) != 0 || !S_ISREG(st.st_mode);
        int frc = skip ? MCC_OK : mcc_config_add_file(cfg, path, err);
        free(path);
        if (frc != MCC_OK)
            goto out;
    }
    rc = MCC_OK;
    goto out;
out_oom:
    mcc_err_set(err, "%s: out of memory", dir);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int mcc_config_add_embedded(mcc_config *cfg, mcc_err *err)
{
    for (const struct mcc_embedded_fragment *f = mcc_embedded_conf; f->name != NULL; f++) {
        char name[256];
        snprintf(name, sizeof(name), "<embedded>/%s", f->name);
        if (mcc_config_add_text(cfg, name, f->text, err) != MCC_OK)
            return MCC_ERROR;
    }
    return MCC_OK;
}
