/* The plugin descriptor, return codes and error buffer: the first header every plugin includes.
 * ABI rules: see sdk/README.md ("Versioning"). */
#ifndef MCC_PLUGIN_H
#define MCC_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A loader accepts a plugin whose major equals its own and whose minor is not higher.
 * Minor bumps only append members to the end of tables; a member added later reads as
 * NULL (or is beyond the table's size) on an older peer: test with MCC_HAS(). */
#define MCC_ABI_MAJOR 1
#define MCC_ABI_MINOR 0

/* The single symbol a plugin exports. */
#define MCC_PLUGIN_SYMBOL "mcc_plugin_v1"

#if defined(__GNUC__)
#define MCC_EXPORT __attribute__((visibility("default")))
#define MCC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MCC_EXPORT
#define MCC_PRINTF(f, a)
#endif

/* True when the size-prefixed table T (a pointer) is large enough to hold member M and M is
 * set. Use it before calling any member added after minor 0. */
#define MCC_HAS(t, m)                                                                              \
    ((t) != NULL && (t)->size >= offsetof(__typeof__(*(t)), m) + sizeof((t)->m) && (t)->m != NULL)

/* The closed set of return codes. MCC_DECLINED means "not mine, ask the next one" and is never
 * an error. MCC_AGAIN means the work continues and a callback reports the end exactly once. */
typedef enum mcc_rc {
    MCC_OK = 0,
    MCC_ERROR = -1,    /* failed; an mcc_err, where one was passed, says why */
    MCC_AGAIN = -2,    /* in progress; completion arrives through the callback given */
    MCC_DECLINED = -3, /* not handled by this instance; the caller asks the next one */
    MCC_NOTFOUND = -4, /* no such object, key or route */
    MCC_NOSPACE = -5,  /* out of room (storage) */
    MCC_BUSY = -6      /* in use right now; try later */
} mcc_rc;

typedef enum mcc_kind {
    MCC_KIND_UPSTREAM = 1, /* decides how a missing range is fetched: mcc/upstream.h */
    MCC_KIND_STORAGE = 2,  /* holds objects by key: mcc/storage.h */
    MCC_KIND_HOSTS = 3,    /* which origins are cacheable, under which namespace: mcc/hosts.h */
    MCC_KIND_EXPORTER = 4, /* reports: admin routes, request records: mcc/exporter.h */
    MCC_KIND_POLICY = 5    /* eviction, admission and freshness decisions: mcc/policy.h */
} mcc_kind;

/* An error message buffer, filled by whoever fails. Always NUL-terminated. */
typedef struct mcc_err {
    char msg[512];
} mcc_err;

static inline MCC_PRINTF(2, 3) int mcc_err_set(mcc_err *err, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return MCC_ERROR;
}

struct mcc_host;
struct mcc_instance;
struct mcc_conf;

/* The descriptor. A plugin's mcc_plugin_v1() returns a pointer to a static const one.
 *
 * Lifecycle, for every kind, all on the daemon's main thread:
 *   create -> start -> ... ops ... -> stop -> destroy
 * create   required. Reads the config node through the host's typed getters (the node and every
 *          string read from it live only during create: copy what you keep). Unknown keys are
 *          refused by the loader after create returns, so read every key you accept. Returns
 *          MCC_OK and sets *state, or MCC_ERROR with err filled. Must not block on the network.
 * start    optional. The event loop exists (an opaque `struct event_base *` for plugins that link
 *          libevent themselves); timers and routes may be registered. MCC_OK or MCC_ERROR+err.
 * stop     optional. Stop timers and pending work; no op of the ops table is called afterwards.
 * destroy  required. Frees state. Called also when start failed or was never called.
 */
typedef struct mcc_plugin {
    size_t size; /* sizeof(mcc_plugin) as the plugin was built */
    uint16_t abi_major;
    uint16_t abi_minor;
    mcc_kind kind;
    const char *name;        /* short name, [a-z0-9_-], e.g. "disk" */
    const char *version;     /* the plugin's own version string */
    const char *description; /* one line for --check-plugin and logs */

    int (*create)(const struct mcc_host *host, struct mcc_instance *self,
                  const struct mcc_conf *conf, void **state, mcc_err *err);
    int (*start)(void *state, void *event_base, mcc_err *err);
    void (*stop)(void *state);
    void (*destroy)(void *state);

    /* The kind's ops table: const mcc_upstream_ops *, const mcc_storage_ops *, ... */
    const void *ops;
} mcc_plugin;

typedef const mcc_plugin *(*mcc_plugin_entry_fn)(void);

/* Defines the exported entry point returning DESC (a static const mcc_plugin). */
#define MCC_PLUGIN_DEFINE(desc)                                                                    \
    MCC_EXPORT const mcc_plugin *mcc_plugin_v1(void);                                              \
    MCC_EXPORT const mcc_plugin *mcc_plugin_v1(void) { return &(desc); }

/* Fills the fixed head of a descriptor. */
#define MCC_PLUGIN_HEAD(kind_, name_, version_)                                                    \
    .size = sizeof(mcc_plugin), .abi_major = MCC_ABI_MAJOR, .abi_minor = MCC_ABI_MINOR,            \
    .kind = (kind_), .name = (name_), .version = (version_)

#ifdef __cplusplus
}
#endif
#endif
