/* mcc-plugin-conformance: loads one plugin through mccd's real loader and host API, runs the
 * contract tests of its kind and prints one PASS/FAIL/SKIP line per contract. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <xxhash.h>

#include "core/instance.h"
#include "kit.h"

#ifndef MCC_KIT_BUILD_BINARY
#error "MCC_KIT_BUILD_BINARY must name the kit's path in the build tree"
#endif

/* The contract running now, for the crash handler: a signal handler has no other way to know.
 * Written only by kit_run_case on the main thread. */
static volatile const char *kit_crash_name = "load";

static void kit_crash(int sig)
{
    const char *name = (const char *)kit_crash_name;
    char line[256];
    int n = snprintf(line, sizeof(line), "FAIL %s: the plugin crashed the kit (signal %d)\n", name,
                     sig);
    if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) < 0)
        _exit(1);
    _exit(1);
}

/* --- reporting ------------------------------------------------------------------------------ */

int kit_fail(kit_case *c, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    c->failed = 1;
    return 0;
}

void kit_skip(kit_case *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    c->skipped = 1;
}

void kit_note(kit_case *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->note, sizeof(c->note), fmt, ap);
    va_end(ap);
}

void kit_run_case(kit *k, const char *name, kit_case_fn fn)
{
    kit_case c = {.k = k, .name = name};
    kit_crash_name = name;
    fn(&c);
    fflush(stderr);
    if (c.failed) {
        printf("FAIL %s: %s\n", name, c.why);
        k->failed++;
    } else if (c.skipped) {
        printf("SKIP %s: %s\n", name, c.why);
        k->skipped++;
    } else if (c.note[0] != '\0') {
        printf("PASS %s (%s)\n", name, c.note);
        k->passed++;
    } else {
        printf("PASS %s\n", name);
        k->passed++;
    }
    fflush(stdout);
    kit_crash_name = "between contracts";
}

/* --- test data ------------------------------------------------------------------------------ */

void kit_key(kit *k, uint8_t key[MCC_KEY_LEN])
{
    uint64_t in[2] = {k->run_seed, ++k->key_seq};
    XXH128_hash_t a = XXH3_128bits_withSeed(in, sizeof(in), 1);
    XXH128_hash_t b = XXH3_128bits_withSeed(in, sizeof(in), 2);
    memcpy(key, &a, 16);
    memcpy(key + 16, &b, 16);
}

void kit_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
    /* splitmix64 of (seed, offset / 8): any byte is known from its offset alone */
    for (size_t i = 0; i < len; i++) {
        uint64_t pos = off + i;
        uint64_t x = seed ^ ((pos >> 3) * 0x9E3779B97F4A7C15ull);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        x ^= x >> 31;
        buf[i] = (uint8_t)(x >> ((pos & 7) * 8));
    }
}

/* --- the core and the instance under test ------------------------------------------------- */

/* The host's route_add, recording the paths the instance under test registers, so that the
 * exporter contracts can ask each of them. */
static int kit_route_add(mcc_instance *self, const char *path, mcc_route_fn fn, void *arg)
{
    kit *k = (kit *)(void *)self->core; /* the core is the kit's first member */
    int rc = k->real->route_add(self, path, fn, arg);
    if (rc == MCC_OK && strcmp(self->name, k->name) == 0 && k->nroutes < KIT_MAX_ROUTES)
        snprintf(k->routes[k->nroutes++], sizeof(k->routes[0]), "%s", path);
    return rc;
}

static void kit_timeout(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

void kit_loop(kit *k, unsigned ms)
{
    int expired = 0;
    struct event *t = evtimer_new(k->core.base, kit_timeout, &expired);
    if (t == NULL)
        return;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(t, &tv);
    for (unsigned turns = 0; !expired && turns < 100000; turns++)
        if (event_base_loop(k->core.base, EVLOOP_ONCE) < 0)
            break;
    event_free(t);
}

int kit_instance_up(kit *k, mcc_err *err)
{
    char keypath[128];
    mcc_instance *inst = NULL;
    snprintf(keypath, sizeof(keypath), "plugins.%s.config", k->name);
    k->nroutes = 0;
    if (mcc_instance_new(&k->core, k->name, k->plugin, k->core.config, k->config, keypath, &inst,
                         err) != MCC_OK)
        return MCC_ERROR;
    if (mcc_instance_start(inst, err) != MCC_OK) {
        mcc_instance_free(inst);
        return MCC_ERROR;
    }
    k->inst = inst;
    k->desc = inst->desc;
    k->ops = inst->desc->ops;
    k->state = inst->state;
    return MCC_OK;
}

void kit_instance_down(kit *k)
{
    if (k->inst == NULL)
        return;
    mcc_instance_free(k->inst);
    k->inst = NULL;
    k->ops = NULL;
    k->state = NULL;
    k->desc = NULL;
    k->nroutes = 0;
}

/* Loads a companion instance into the core's list, where host->policy finds it by name. */
static int kit_with_load(kit *k, const kit_with *w, mcc_err *err)
{
    cJSON *conf = NULL;
    mcc_instance *inst = NULL;
    char keypath[128];
    if (w->json != NULL && (conf = cJSON_Parse(w->json)) == NULL)
        return mcc_err_set(err, "--with %s: the config is not valid JSON", w->name);
    snprintf(keypath, sizeof(keypath), "plugins.%s.config", w->name);
    int rc =
        mcc_instance_new(&k->core, w->name, w->plugin, k->core.config, conf, keypath, &inst, err);
    cJSON_Delete(conf);
    if (rc != MCC_OK)
        return MCC_ERROR;
    if (mcc_core_instance_add(&k->core, inst, err) != MCC_OK) {
        mcc_instance_free(inst);
        return MCC_ERROR;
    }
    return mcc_instance_start(inst, err); /* a failed one is stopped with the core */
}

/* 1 when this process is the kit of the build tree, which then finds plugins there. */
static int kit_in_build_tree(void)
{
    char self[PATH_MAX], built[PATH_MAX];
    if (realpath("/proc/self/exe", self) == NULL || realpath(MCC_KIT_BUILD_BINARY, built) == NULL)
        return 0;
    return strcmp(self, built) == 0;
}

/* The build tree's plugins, else <prefix>/lib/mcc/plugins next to where the kit is installed
 * (a relocated prefix works), else the configured install directory. */
static void kit_default_plugin_dir(char *buf, size_t size)
{
    char self[PATH_MAX];
    struct stat sb;
    if (kit_in_build_tree()) {
        snprintf(buf, size, "%s", MCC_PLUGIN_BUILD_DIR);
        return;
    }
    if (realpath("/proc/self/exe", self) != NULL) {
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            int n = snprintf(buf, size, "%s/../%s/mcc/plugins", self, MCC_KIT_LIBDIR);
            if (n > 0 && (size_t)n < size && stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode))
                return;
        }
    }
    snprintf(buf, size, "%s", MCC_PLUGIN_INSTALL_DIR);
}

static int kit_rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int kit_core_init(kit *k, const char *plugin_dir, const char *cache_root, mcc_err *err)
{
    mcc_settings *s = calloc(1, sizeof(*s));
    mcc_config *cfg = mcc_config_new();
    int rc = MCC_ERROR;
    if (s == NULL || cfg == NULL) {
        mcc_err_set(err, "out of memory");
        goto done;
    }
    if (mcc_config_add_embedded(cfg, err) != MCC_OK || mcc_settings_load(cfg, s, err) != MCC_OK)
        goto done;
    if (cache_root != NULL) {
        snprintf(k->root, sizeof(k->root), "%s", cache_root);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(k->root, sizeof(k->root), "%s/mcc-conformance.XXXXXX",
                 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
        if (mkdtemp(k->root) == NULL) {
            mcc_err_set(err, "%s: %s", k->root, strerror(errno));
            goto done;
        }
        k->own_root = 1;
    }
    size_t dlen = strlen(plugin_dir);
    if (dlen >= sizeof(s->plugin_dir)) {
        mcc_err_set(err, "--plugin-dir: path too long");
        goto done;
    }
    memcpy(s->plugin_dir, plugin_dir, dlen + 1);
    snprintf(s->cache_root, sizeof(s->cache_root), "%s", k->root);
    s->access_log[0] = '\0';
    s->listen_content[0] = '\0';
    s->listen_admin[0] = '\0';
    rc = mcc_core_init(&k->core, cfg, s, err);
    cfg = NULL; /* the core owns it, even after a failure */
    if (rc != MCC_OK)
        goto done;
    /* the real table, but route_add records what the plugin registers */
    k->real = k->core.host;
    memcpy(&k->shim, k->real, sizeof(k->shim) < k->real->size ? sizeof(k->shim) : k->real->size);
    k->shim.route_add = kit_route_add;
    k->core.host = &k->shim;
done:
    mcc_config_free(cfg);
    free(s);
    return rc;
}

/* Reads CONFIG: inline JSON when it starts with '{', else a JSON file. */
static int kit_config_read(kit *k, const char *config, mcc_err *err)
{
    char *text = NULL;
    const char *p = config;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p == '{') {
        snprintf(k->config_src, sizeof(k->config_src), "<inline config>");
        k->config = cJSON_Parse(config);
    } else {
        FILE *f = fopen(config, "rb");
        if (f == NULL)
            return mcc_err_set(err, "%s: %s", config, strerror(errno));
        size_t cap = 1 << 16, len = 0;
        text = malloc(cap + 1);
        while (text != NULL) {
            size_t n = fread(text + len, 1, cap - len, f);
            len += n;
            if (n == 0 || len < cap)
                break;
            char *bigger = cap < (16u << 20) ? realloc(text, cap * 2 + 1) : NULL;
            if (bigger == NULL) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
        fclose(f);
        if (text == NULL)
            return mcc_err_set(err, "%s: unreadable or larger than 16 MiB", config);
        text[len] = '\0';
        snprintf(k->config_src, sizeof(k->config_src), "%s", config);
        k->config = cJSON_Parse(text);
        free(text);
    }
    if (k->config == NULL || !cJSON_IsObject(k->config))
        return mcc_err_set(err, "%s: the config must be a JSON object",
                           k->config_src[0] != '\0' ? k->config_src : config);
    return MCC_OK;
}

/* The config as a fragment of its own, so that errors name where it came from. */
static int kit_config_register(kit *k, mcc_err *err)
{
    cJSON *frag = cJSON_CreateObject();
    cJSON *plugins = frag != NULL ? cJSON_AddObjectToObject(frag, "plugins") : NULL;
    cJSON *block = plugins != NULL ? cJSON_AddObjectToObject(plugins, k->name) : NULL;
    cJSON *copy = k->config != NULL ? cJSON_Duplicate(k->config, 1) : cJSON_CreateObject();
    char *text = NULL;
    int rc = MCC_ERROR;
    if (block == NULL || copy == NULL ||
        cJSON_AddStringToObject(block, "plugin", k->plugin) == NULL ||
        !cJSON_AddItemToObject(block, "config", copy)) {
        cJSON_Delete(copy);
        mcc_err_set(err, "out of memory");
        goto done;
    }
    text = cJSON_PrintUnformatted(frag);
    if (text == NULL) {
        mcc_err_set(err, "out of memory");
        goto done;
    }
    rc = mcc_config_add_text(k->core.config, k->config_src[0] != '\0' ? k->config_src : "<none>",
                             text, err);
done:
    free(text);
    cJSON_Delete(frag);
    return rc;
}

static void kit_usage(FILE *out)
{
    fprintf(out,
            "usage: mcc-plugin-conformance [options] PLUGIN [CONFIG]\n"
            "Runs the contract tests of PLUGIN's kind through mccd's loader and host API and\n"
            "prints one line per contract: PASS name, FAIL name: why, SKIP name: why.\n"
            "  PLUGIN                    a plugin's shared object (a path), or a name in the\n"
            "                            plugin directory\n"
            "  CONFIG                    the instance's \"config\" object: inline JSON or a file\n"
            "  --kind KIND               fail unless PLUGIN is of KIND (storage, upstream, hosts,\n"
            "                            exporter, policy)\n"
            "  --persistent              storage: objects must survive destroying and creating\n"
            "                            the instance again on the same config\n"
            "  --with NAME=PLUGIN[=JSON] load instance NAME of PLUGIN first (an eviction policy a\n"
            "                            storage backend names); storage default: lru=lru\n"
            "  --accept-host HOST        hosts: HOST must be made cacheable\n"
            "  --decline-host HOST       hosts: HOST must be declined\n"
            "  --name NAME               the instance name (default: the plugin's file name)\n"
            "  --plugin-dir DIR          where plugin names are found (default: the build tree's\n"
            "                            plugins when run from it, else the installed ones)\n"
            "  --cache-root DIR          paths.cache_root for the plugins (default: a new temp\n"
            "                            directory, removed at exit)\n"
            "  --keep                    keep the temp cache root\n"
            "  -v, --verbose             the plugins' log lines (debug) on stderr\n"
            "Exit status: 0 when no contract failed, 1 when one did or PLUGIN could not be\n"
            "loaded, 2 on a usage error.\n");
}

static int kit_with_parse(kit *k, const char *spec)
{
    if (k->nwith >= KIT_MAX_WITH)
        return MCC_ERROR;
    kit_with *w = &k->with[k->nwith];
    const char *eq = strchr(spec, '=');
    if (eq == NULL || eq == spec || (size_t)(eq - spec) >= sizeof(w->name))
        return MCC_ERROR;
    memcpy(w->name, spec, (size_t)(eq - spec));
    w->name[eq - spec] = '\0';
    const char *plugin = eq + 1;
    const char *eq2 = strchr(plugin, '=');
    size_t plen = eq2 != NULL ? (size_t)(eq2 - plugin) : strlen(plugin);
    if (plen == 0 || plen >= sizeof(w->plugin))
        return MCC_ERROR;
    memcpy(w->plugin, plugin, plen);
    w->plugin[plen] = '\0';
    w->json = eq2 != NULL ? eq2 + 1 : NULL;
    k->nwith++;
    return MCC_OK;
}

static int kit_kind_parse(const char *name)
{
    static const struct {
        const char *name;
        int kind;
    } kinds[] = {{"storage", MCC_KIND_STORAGE},
                 {"upstream", MCC_KIND_UPSTREAM},
                 {"hosts", MCC_KIND_HOSTS},
                 {"exporter", MCC_KIND_EXPORTER},
                 {"policy", MCC_KIND_POLICY}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, name) == 0)
            return kinds[i].kind;
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kind", required_argument, NULL, 'k'},
        {"persistent", no_argument, NULL, 'p'},
        {"with", required_argument, NULL, 'w'},
        {"accept-host", required_argument, NULL, 'a'},
        {"decline-host", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},
        {"plugin-dir", required_argument, NULL, 'P'},
        {"cache-root", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"keep", no_argument, NULL, 'K'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    kit *k = calloc(1, sizeof(*k));
    const char *plugin_dir = NULL, *cache_root = NULL, *config = NULL, *name = NULL;
    int want_kind = 0, status = 2, opt;
    mcc_err err = {{0}};
    char dir_buf[PATH_MAX];

    if (k == NULL) {
        fprintf(stderr, "mcc-plugin-conformance: out of memory\n");
        return 2;
    }
    while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'k':
            want_kind = kit_kind_parse(optarg);
            if (want_kind < 0) {
                fprintf(stderr, "mcc-plugin-conformance: --kind: unknown kind \"%s\"\n", optarg);
                goto out;
            }
            break;
        case 'p':
            k->persistent = 1;
            break;
        case 'w':
            if (kit_with_parse(k, optarg) != MCC_OK) {
                fprintf(stderr,
                        "mcc-plugin-conformance: --with: expected NAME=PLUGIN[=JSON] "
                        "(at most 8), got \"%s\"\n",
                        optarg);
                goto out;
            }
            break;
        case 'a':
        case 'd':
            if ((opt == 'a' ? k->naccept : k->ndecline) >= KIT_MAX_HOSTS) {
                fprintf(stderr, "mcc-plugin-conformance: at most %d hosts each\n", KIT_MAX_HOSTS);
                goto out;
            }
            if (opt == 'a')
                k->accept_hosts[k->naccept++] = optarg;
            else
                k->decline_hosts[k->ndecline++] = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'P':
            plugin_dir = optarg;
            break;
        case 'r':
            cache_root = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'K':
            k->keep = 1;
            break;
        case 'v':
            k->verbose = 1;
            break;
        case 'h':
            kit_usage(stdout);
            status = 0;
            goto out;
        default:
            kit_usage(stderr);
            goto out;
        }
    }
    if (optind >= argc || argc - optind > 2 || (config != NULL && argc - optind > 1)) {
        kit_usage(stderr);
        goto out;
    }
    k->plugin = argv[optind];
    if (config == NULL && argc - optind == 2)
        config = argv[optind + 1];
    if (config != NULL && kit_config_read(k, config, &err) != MCC_OK) {
        fprintf(stderr, "mcc-plugin-conformance: %s\n", err.msg);
        goto out;
    }
    /* the instance is named after the plugin's file unless told */
    if (name == NULL) {
        const char *base = strrchr(k->plugin, '/');
        base = base != NULL ? base + 1 : k->plugin;
        size_t n = strcspn(base, ".");
        if (n == 0 || n >= sizeof(k->name))
            n = snprintf(k->name, sizeof(k->name), "under-test") > 0 ? strlen(k->name) : 0;
        else
            memcpy(k->name, base, n);
        k->name[n] = '\0';
    } else if (strlen(name) >= sizeof(k->name) || name[0] == '\0') {
        fprintf(stderr, "mcc-plugin-conformance: --name: 1 to 63 characters\n");
        goto out;
    } else {
        snprintf(k->name, sizeof(k->name), "%s", name);
    }

    mcc_log_set_level(k->verbose ? MCC_LOG_DEBUG : MCC_LOG_ERROR);
    if (plugin_dir == NULL) {
        kit_default_plugin_dir(dir_buf, sizeof(dir_buf));
        plugin_dir = dir_buf;
    }
    k->run_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    signal(SIGSEGV, kit_crash);
    signal(SIGBUS, kit_crash);
    signal(SIGFPE, kit_crash);
    signal(SIGILL, kit_crash);
    signal(SIGABRT, kit_crash);
    signal(SIGPIPE, SIG_IGN);

    status = 1;
    if (kit_core_init(k, plugin_dir, cache_root, &err) != MCC_OK ||
        kit_config_register(k, &err) != MCC_OK) {
        printf("FAIL load: %s\n", err.msg);
        goto fini;
    }

    /* the kind decides the default companions, so the descriptor is looked at first */
    mcc_module *peek = mcc_loader_open_named(plugin_dir, k->plugin, &err);
    if (peek == NULL) {
        printf("FAIL load: %s\n", err.msg);
        goto fini;
    }
    int kind = mcc_module_desc(peek)->kind;
    mcc_loader_close(peek);
    if (want_kind != 0 && kind != want_kind) {
        printf("FAIL load: %s is a %s plugin, not %s\n", k->plugin, mcc_kind_name(kind),
               mcc_kind_name(want_kind));
        goto fini;
    }
    if (kind == MCC_KIND_STORAGE && k->nwith == 0)
        kit_with_parse(k, "lru=lru");
    for (unsigned i = 0; i < k->nwith; i++) {
        if (kit_with_load(k, &k->with[i], &err) != MCC_OK) {
            printf("FAIL load: --with %s: %s\n", k->with[i].name, err.msg);
            goto fini;
        }
    }
    if (kit_instance_up(k, &err) != MCC_OK) {
        printf("FAIL load: %s\n", err.msg);
        goto fini;
    }
    printf("# %s: %s %s %s (ABI %u.%u)\n", mcc_module_path(k->inst->module), mcc_kind_name(kind),
           k->desc->name, k->desc->version != NULL ? k->desc->version : "?", k->desc->abi_major,
           k->desc->abi_minor);
    fflush(stdout);
    kit_loop(k, 20);

    switch (kind) {
    case MCC_KIND_STORAGE:
        kit_storage_run(k);
        break;
    case MCC_KIND_UPSTREAM:
        kit_upstream_run(k);
        break;
    case MCC_KIND_HOSTS:
        kit_hosts_run(k);
        break;
    case MCC_KIND_EXPORTER:
        kit_exporter_run(k);
        break;
    case MCC_KIND_POLICY:
        kit_policy_run(k);
        break;
    default:
        printf("FAIL load: kind %d has no contracts\n", kind);
        k->failed++;
        break;
    }
    kit_crash_name = "teardown";
    kit_instance_down(k);
    printf("# %u passed, %u failed, %u skipped\n", k->passed, k->failed, k->skipped);
    status = k->failed > 0 ? 1 : 0;

fini:
    kit_crash_name = "teardown";
    kit_instance_down(k);
    mcc_core_fini(&k->core);
    if (k->own_root && !k->keep)
        nftw(k->root, kit_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (k->own_root)
        fprintf(stderr, "mcc-plugin-conformance: kept %s\n", k->root);
out:
    cJSON_Delete(k->config);
    free(k);
    return status;
}
