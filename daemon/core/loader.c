/* The plugin loader: the only file that knows libltdl. Opens a shared object, finds its single
 * exported descriptor and refuses anything this mccd cannot drive, naming the file and reason. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ltdl.h>

#include "core/core.h"
#include "core/loader.h"

struct mcc_module {
    lt_dlhandle handle;
    const mcc_plugin *desc;
    char path[1024];
};

/* An op of an ops table, located by offset so that one table of names checks every kind. */
typedef struct loader_op {
    const char *name;
    size_t off;
} loader_op;

#define LOADER_OP(type, member)                                                                    \
    {                                                                                              \
#member, offsetof(type, member)                                                            \
    }

static const loader_op upstream_required[] = {
    LOADER_OP(mcc_upstream_ops, plan),
};
static const loader_op storage_required[] = {
    LOADER_OP(mcc_storage_ops, open),      LOADER_OP(mcc_storage_ops, create),
    LOADER_OP(mcc_storage_ops, close),     LOADER_OP(mcc_storage_ops, info),
    LOADER_OP(mcc_storage_ops, has_slice), LOADER_OP(mcc_storage_ops, write),
    LOADER_OP(mcc_storage_ops, commit),    LOADER_OP(mcc_storage_ops, read),
    LOADER_OP(mcc_storage_ops, remove),    LOADER_OP(mcc_storage_ops, usage),
};
static const loader_op hosts_required[] = {
    LOADER_OP(mcc_hosts_ops, match),
};
static const loader_op eviction_required[] = {
    LOADER_OP(mcc_policy_ops, evict_new),    LOADER_OP(mcc_policy_ops, evict_free),
    LOADER_OP(mcc_policy_ops, evict_insert), LOADER_OP(mcc_policy_ops, evict_access),
    LOADER_OP(mcc_policy_ops, evict_remove), LOADER_OP(mcc_policy_ops, evict_victim),
};
static const loader_op admission_required[] = {
    LOADER_OP(mcc_policy_ops, admit),
};
static const loader_op freshness_required[] = {
    LOADER_OP(mcc_policy_ops, freshness),
};

#define LOADER_N(a) (sizeof(a) / sizeof((a)[0]))

const char *mcc_kind_name(int kind)
{
    switch (kind) {
    case MCC_KIND_UPSTREAM:
        return "upstream";
    case MCC_KIND_STORAGE:
        return "storage";
    case MCC_KIND_HOSTS:
        return "hosts";
    case MCC_KIND_EXPORTER:
        return "exporter";
    case MCC_KIND_POLICY:
        return "policy";
    default:
        return "unknown";
    }
}

/* The size of the kind's ops table at minor 0: every later member is optional by the ABI rules,
 * and so is every member documented as optional at the end of a table (storage's drives). */
static size_t loader_ops_min_size(int kind)
{
    switch (kind) {
    case MCC_KIND_UPSTREAM:
        return sizeof(mcc_upstream_ops);
    case MCC_KIND_STORAGE:
        return offsetof(mcc_storage_ops, drives);
    case MCC_KIND_HOSTS:
        return sizeof(mcc_hosts_ops);
    case MCC_KIND_EXPORTER:
        return sizeof(mcc_exporter_ops);
    case MCC_KIND_POLICY:
        return sizeof(mcc_policy_ops);
    default:
        return 0;
    }
}

static int loader_check_ops(const char *file, const char *what, const void *ops,
                            const loader_op *req, size_t n, mcc_err *err)
{
    for (size_t i = 0; i < n; i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)ops + req[i].off, sizeof(fn));
        if (fn == NULL)
            return mcc_err_set(err, "%s: required %s op '%s' is missing", file, what, req[i].name);
    }
    return MCC_OK;
}

int mcc_loader_check(const char *file, const mcc_plugin *d, mcc_err *err)
{
    if (d == NULL)
        return mcc_err_set(err, "%s: %s() returned no descriptor", file, MCC_PLUGIN_SYMBOL);
    /* The head (size, major, minor) is the part every ABI version shares. */
    if (d->size < offsetof(mcc_plugin, abi_minor) + sizeof(d->abi_minor))
        return mcc_err_set(err, "%s: descriptor size %zu too small, need %zu", file, d->size,
                           sizeof(mcc_plugin));
    if (d->abi_major != MCC_ABI_MAJOR)
        return mcc_err_set(err, "%s: ABI major %u, this mccd speaks %u", file,
                           (unsigned)d->abi_major, (unsigned)MCC_ABI_MAJOR);
    if (d->abi_minor > MCC_ABI_MINOR)
        return mcc_err_set(err, "%s: ABI %u.%u is newer than this mccd's %u.%u", file,
                           (unsigned)d->abi_major, (unsigned)d->abi_minor, (unsigned)MCC_ABI_MAJOR,
                           (unsigned)MCC_ABI_MINOR);
    if (d->size < sizeof(mcc_plugin))
        return mcc_err_set(err, "%s: descriptor size %zu too small, need %zu", file, d->size,
                           sizeof(mcc_plugin));
    size_t min = loader_ops_min_size((int)d->kind);
    if (min == 0)
        return mcc_err_set(err, "%s: unknown plugin kind %d", file, (int)d->kind);
    if (d->name == NULL || d->name[0] == '\0')
        return mcc_err_set(err, "%s: descriptor has no name", file);
    for (const char *p = d->name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return mcc_err_set(err, "%s: plugin name \"%.64s\" is not [a-z0-9_-]", file, d->name);
    if (d->create == NULL)
        return mcc_err_set(err, "%s: descriptor has no create", file);
    if (d->destroy == NULL)
        return mcc_err_set(err, "%s: descriptor has no destroy", file);
    if (d->ops == NULL)
        return mcc_err_set(err, "%s: descriptor has no ops table", file);

    const char *kind = mcc_kind_name((int)d->kind);
    size_t ops_size = *(const size_t *)d->ops; /* every ops table starts with its size */
    if (ops_size < min)
        return mcc_err_set(err, "%s: %s ops table size %zu too small, need %zu", file, kind,
                           ops_size, min);

    switch (d->kind) {
    case MCC_KIND_UPSTREAM:
        return loader_check_ops(file, kind, d->ops, upstream_required, LOADER_N(upstream_required),
                                err);
    case MCC_KIND_STORAGE:
        return loader_check_ops(file, kind, d->ops, storage_required, LOADER_N(storage_required),
                                err);
    case MCC_KIND_HOSTS:
        return loader_check_ops(file, kind, d->ops, hosts_required, LOADER_N(hosts_required), err);
    case MCC_KIND_EXPORTER:
        return MCC_OK; /* every exporter op is optional */
    case MCC_KIND_POLICY: {
        const mcc_policy_ops *p = d->ops;
        switch (p->type) {
        case MCC_POLICY_EVICTION:
            return loader_check_ops(file, "eviction policy", d->ops, eviction_required,
                                    LOADER_N(eviction_required), err);
        case MCC_POLICY_ADMISSION:
            return loader_check_ops(file, "admission policy", d->ops, admission_required,
                                    LOADER_N(admission_required), err);
        case MCC_POLICY_FRESHNESS:
            return loader_check_ops(file, "freshness policy", d->ops, freshness_required,
                                    LOADER_N(freshness_required), err);
        default:
            return mcc_err_set(err, "%s: unknown policy type %d", file, p->type);
        }
    }
    }
    return mcc_err_set(err, "%s: unknown plugin kind %d", file, (int)d->kind);
}

/* lt_dlinit is reference-counted by ltdl itself; one successful call for the process is enough
 * and plugins stay loadable until exit. */
static int loader_init(mcc_err *err)
{
    static int done;
    if (done)
        return MCC_OK;
    if (lt_dlinit() != 0) {
        const char *e = lt_dlerror();
        return mcc_err_set(err, "cannot initialise the plugin loader: %s", e ? e : "?");
    }
    done = 1;
    return MCC_OK;
}

static int loader_is_elf(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return n == sizeof(magic) && memcmp(magic, "\177ELF", 4) == 0;
}

mcc_module *mcc_loader_open(const char *path, mcc_err *err)
{
    mcc_module *mod = NULL;
    lt_dladvise advise = NULL;

    if (loader_init(err) != MCC_OK)
        return NULL;
    if (strlen(path) >= sizeof(mod->path)) {
        mcc_err_set(err, "%.200s...: path too long", path);
        return NULL;
    }
    /* ltdl reports a missing file as a generic "file not found"; say it ourselves first. */
    struct stat st;
    if (stat(path, &st) != 0) {
        mcc_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        mcc_err_set(err, "%s: not a regular file", path);
        return NULL;
    }

    mod = calloc(1, sizeof(*mod));
    if (mod == NULL) {
        mcc_err_set(err, "%s: out of memory", path);
        return NULL;
    }
    memcpy(mod->path, path, strlen(path) + 1);

    /* Local symbols: one plugin's internals never satisfy another's references. */
    if (lt_dladvise_init(&advise) != 0 || lt_dladvise_local(&advise) != 0) {
        const char *e = lt_dlerror();
        mcc_err_set(err, "%s: cannot prepare loading: %s", path, e ? e : "?");
        goto fail;
    }
    mod->handle = lt_dlopenadvise(path, advise);
    if (mod->handle == NULL) {
        /* ltdl ends its search with "file not found" even for a file that exists but is no
         * object: say what is wrong when the header shows it. */
        const char *e = lt_dlerror();
        if (!loader_is_elf(path))
            e = "no ELF header";
        mcc_err_set(err, "%s: not a loadable shared object (%s)", path, e ? e : "unknown error");
        goto fail;
    }

    void *sym = lt_dlsym(mod->handle, MCC_PLUGIN_SYMBOL);
    if (sym == NULL) {
        mcc_err_set(err, "%s: no %s symbol (not an mcc plugin)", path, MCC_PLUGIN_SYMBOL);
        goto fail;
    }
    mcc_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof(entry));
    mod->desc = entry();
    if (mcc_loader_check(path, mod->desc, err) != MCC_OK)
        goto fail;

    lt_dladvise_destroy(&advise);
    return mod;

fail:
    if (advise != NULL)
        lt_dladvise_destroy(&advise);
    mcc_loader_close(mod);
    return NULL;
}

mcc_module *mcc_loader_open_named(const char *dir, const char *name, mcc_err *err)
{
    if (strchr(name, '/') != NULL)
        return mcc_loader_open(name, err);
    char path[1024];
    int n = snprintf(path, sizeof(path), "%s/%s.so", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        mcc_err_set(err, "%.200s/%.64s.so: path too long", dir, name);
        return NULL;
    }
    return mcc_loader_open(path, err);
}

void mcc_loader_close(mcc_module *mod)
{
    if (mod == NULL)
        return;
    if (mod->handle != NULL)
        lt_dlclose(mod->handle);
    free(mod);
}

const mcc_plugin *mcc_module_desc(const mcc_module *mod)
{
    return mod->desc;
}

const char *mcc_module_path(const mcc_module *mod)
{
    return mod->path;
}
