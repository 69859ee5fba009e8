/* mccd: the command line, the one-shot modes (check, print, env-to-conf, check-plugin) and the
 * daemon's start-up and shutdown around the event loop. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/core.h"
#include "core/instance.h"
#include "core/loader.h"
#include "core/lock.h"
#include "fetch/fetch.h"
#include "http/admin.h"
#include "core/reload.h"
#include "http/front.h"

extern char **environ;

#define MAIN_MAX_CONF_DIRS 32

typedef struct main_opts {
    const char *conf_dirs[MAIN_MAX_CONF_DIRS];
    unsigned nconf_dirs;
    const char *plugin_dir;
    int check_config;
    int print_config;
    const char *env_to_conf;
    const char *check_plugin;
    const char *plugin_config;
    int log_level; /* -1 when not given */
} main_opts;

enum {
    OPT_CONF_DIR = 256,
    OPT_PLUGIN_DIR,
    OPT_CHECK_CONFIG,
    OPT_PRINT_CONFIG,
    OPT_ENV_TO_CONF,
    OPT_CHECK_PLUGIN,
    OPT_PLUGIN_CONFIG,
    OPT_LOG_LEVEL,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option main_options[] = {
    {"conf-dir", required_argument, NULL, OPT_CONF_DIR},
    {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
    {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
    {"env-to-conf", required_argument, NULL, OPT_ENV_TO_CONF},
    {"check-plugin", required_argument, NULL, OPT_CHECK_PLUGIN},
    {"plugin-config", required_argument, NULL, OPT_PLUGIN_CONFIG},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void main_usage(FILE *out)
{
    fprintf(out,
            "usage: mccd [OPTION]...\n"
            "An open, plugin-based connected cache for device updates.\n"
            "\n"
            "  --conf-dir DIR         read DIR/*.json after the built-in defaults (repeatable;\n"
            "                         default " MCC_CONF_INSTALL_DIR ", optional)\n"
            "  --plugin-dir DIR       load plugins from DIR (default: paths.plugin_dir, else the\n"
            "                         build tree or " MCC_PLUGIN_INSTALL_DIR ")\n"
            "  --check-config         validate the configuration and every enabled plugin's\n"
            "                         config, print \"config ok\" and exit\n"
            "  --print-config         print the merged configuration as JSON and exit\n"
            "  --env-to-conf DIR      write MCC's environment variables as fragments into DIR\n"
            "  --check-plugin FILE    load, create, start and stop one plugin (a path or a name\n"
            "                         in the plugin dir), print what it is and exit\n"
            "  --plugin-config FILE   the JSON config object for --check-plugin (default {})\n"
            "  --log-level LEVEL      error, warn, info or debug (overrides log.level)\n"
            "  --help                 print this help and exit\n"
            "  --version              print the version and exit\n");
}

static int main_parse(int argc, char **argv, main_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->log_level = -1;
    int c;
    while ((c = getopt_long(argc, argv, "", main_options, NULL)) != -1) {
        switch (c) {
        case OPT_CONF_DIR:
            if (o->nconf_dirs == MAIN_MAX_CONF_DIRS) {
                fprintf(stderr, "mccd: at most %d --conf-dir options\n", MAIN_MAX_CONF_DIRS);
                return 2;
            }
            o->conf_dirs[o->nconf_dirs++] = optarg;
            break;
        case OPT_PLUGIN_DIR:
            o->plugin_dir = optarg;
            break;
        case OPT_CHECK_CONFIG:
            o->check_config = 1;
            break;
        case OPT_PRINT_CONFIG:
            o->print_config = 1;
            break;
        case OPT_ENV_TO_CONF:
            o->env_to_conf = optarg;
            break;
        case OPT_CHECK_PLUGIN:
            o->check_plugin = optarg;
            break;
        case OPT_PLUGIN_CONFIG:
            o->plugin_config = optarg;
            break;
        case OPT_LOG_LEVEL:
            o->log_level = mcc_log_level_parse(optarg);
            if (o->log_level < 0) {
                fprintf(stderr, "mccd: --log-level: \"%s\" is not error, warn, info or debug\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_HELP:
            main_usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("mccd %s (plugin ABI %d.%d)\n", MCC_VERSION, MCC_ABI_MAJOR, MCC_ABI_MINOR);
            exit(0);
        default:
            main_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mccd: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    if (o->plugin_config != NULL && o->check_plugin == NULL) {
        fprintf(stderr, "mccd: --plugin-config needs --check-plugin\n");
        return 2;
    }
    int modes =
        o->check_config + o->print_config + (o->env_to_conf != NULL) + (o->check_plugin != NULL);
    if (modes > 1) {
        fprintf(stderr, "mccd: --check-config, --print-config, --env-to-conf and --check-plugin "
                        "exclude each other\n");
        return 2;
    }
    return 0;
}

/* The embedded defaults, then each conf dir in the order given. */
static mcc_config *main_config_load(const main_opts *o, mcc_err *err)
{
    mcc_config *cfg = mcc_config_new();
    if (cfg == NULL) {
        mcc_err_set(err, "out of memory");
        return NULL;
    }
    if (mcc_config_add_embedded(cfg, err) != MCC_OK)
        goto fail;
    if (o->nconf_dirs == 0) {
        if (mcc_config_add_dir(cfg, MCC_CONF_INSTALL_DIR, 1, err) != MCC_OK)
            goto fail;
    }
    for (unsigned i = 0; i < o->nconf_dirs; i++)
        if (mcc_config_add_dir(cfg, o->conf_dirs[i], 0, err) != MCC_OK)
            goto fail;
    return cfg;

fail:
    mcc_config_free(cfg);
    return NULL;
}

/* 1 when this process is the mccd of the build tree, which then finds its plugins there. */
static int main_in_build_tree(void)
{
    char self[PATH_MAX], built[PATH_MAX];
    if (realpath("/proc/self/exe", self) == NULL || realpath(MCC_BUILD_BINARY, built) == NULL)
        return 0;
    return strcmp(self, built) == 0;
}

static int main_plugin_dir(const main_opts *o, mcc_settings *s, mcc_err *err)
{
    const char *dir = o->plugin_dir;
    if (dir == NULL && s->plugin_dir[0] != '\0')
        return MCC_OK;
    if (dir == NULL)
        dir = main_in_build_tree() ? MCC_PLUGIN_BUILD_DIR : MCC_PLUGIN_INSTALL_DIR;
    size_t n = strlen(dir);
    if (n >= sizeof(s->plugin_dir))
        return mcc_err_set(err, "--plugin-dir: path too long");
    memcpy(s->plugin_dir, dir, n + 1);
    return MCC_OK;
}

/* --check-config: every enabled instance is created (its plugin validates its config) and
 * destroyed again; nothing listens, nothing is started. */
static int main_check_config(mcc_core *core)
{
    mcc_err err = {{0}};
    if (mcc_core_instances_create(core, &err) != MCC_OK) {
        fprintf(stderr, "mccd: %s\n", err.msg);
        return 1;
    }
    mcc_core_instances_free(core);
    printf("config ok\n");
    return 0;
}

/* A file name's stem ("/x/disk.so" -> "disk"), the instance name --check-plugin uses. */
static void main_stem(const char *file, char *buf, size_t len)
{
    const char *base = strrchr(file, '/');
    base = base != NULL ? base + 1 : file;
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".so") == 0)
        n -= 3;
    if (n == 0 || n >= len) {
        snprintf(buf, len, "check");
        return;
    }
    memcpy(buf, base, n);
    buf[n] = '\0';
}

/* The enabled policy instances of the configuration, created and started: a plugin checked
 * alone (a storage backend) may ask the host for its policy by name. SKIP is the checked
 * plugin's own instance name. */
static int main_policies_start(mcc_core *core, const char *skip, mcc_err *err)
{
    const mcc_settings *s = &core->settings;
    for (unsigned i = 0; i < s->ninstances; i++) {
        const mcc_instance_conf *ic = &s->instances[i];
        if (!ic->enabled || strcmp(ic->name, skip) == 0)
            continue;
        /* peek at the kind before creating: only policies come up here */
        mcc_module *peek = mcc_loader_open_named(s->plugin_dir, ic->plugin, err);
        if (peek == NULL)
            return MCC_ERROR;
        int is_policy = mcc_module_desc(peek)->kind == MCC_KIND_POLICY;
        mcc_loader_close(peek);
        if (!is_policy)
            continue;
        char keypath[128];
        snprintf(keypath, sizeof(keypath), "plugins.%s.config", ic->name);
        mcc_instance *inst;
        if (mcc_instance_new(core, ic->name, ic->plugin, core->config, ic->config, keypath, &inst,
                             err) != MCC_OK)
            return MCC_ERROR;
        if (mcc_core_instance_add(core, inst, err) != MCC_OK) {
            mcc_instance_free(inst);
            return MCC_ERROR;
        }
        if (mcc_instance_start(inst, err) != MCC_OK)
            return MCC_ERROR;
    }
    return MCC_OK;
}

static int main_check_plugin(mcc_core *core, const main_opts *o)
{
    mcc_err err = {{0}};
    mcc_config *pcfg = NULL;
    cJSON *item = NULL;
    int rc = 1;

    /* "name" is looked up in the plugin dir; "x.so" in the current directory is a path */
    char path[PATH_MAX];
    const char *file = o->check_plugin;
    struct stat st;
    if (strchr(file, '/') == NULL && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
        snprintf(path, sizeof(path), "./%s", file);
        file = path;
    }
    if (o->plugin_config != NULL) {
        pcfg = mcc_config_new();
        if (pcfg == NULL || mcc_config_add_file(pcfg, o->plugin_config, &err) != MCC_OK) {
            fprintf(stderr, "mccd: %s\n", pcfg == NULL ? "out of memory" : err.msg);
            goto done;
        }
        item = mcc_config_root(pcfg);
    }

    char name[64];
    main_stem(file, name, sizeof(name));
    if (main_policies_start(core, name, &err) != MCC_OK) {
        fprintf(stderr, "mccd: %s\n", err.msg);
        goto done;
    }
    mcc_instance *inst;
    if (mcc_instance_new(core, name, file, pcfg != NULL ? pcfg : core->config, item, "", &inst,
                         &err) != MCC_OK) {
        fprintf(stderr, "mccd: %s\n", err.msg);
        goto done;
    }
    if (mcc_core_instance_add(core, inst, &err) != MCC_OK) {
        mcc_instance_free(inst);
        fprintf(stderr, "mccd: %s\n", err.msg);
        goto done;
    }
    if (mcc_instance_start(inst, &err) != MCC_OK) {
        fprintf(stderr, "mccd: %s\n", err.msg);
        goto done;
    }
    const mcc_plugin *d = inst->desc;
    printf("ok: %s: %s %s %s (ABI %u.%u): %s\n", mcc_module_path(inst->module),
           mcc_kind_name((int)d->kind), d->name, d->version != NULL ? d->version : "-",
           (unsigned)d->abi_major, (unsigned)d->abi_minor,
           d->description != NULL ? d->description : "");
    rc = 0;

done:
    mcc_core_instances_free(core);
    mcc_config_free(pcfg);
    return rc;
}

/* What a SIGHUP needs to read the configuration again the way start-up did. */
typedef struct main_reload {
    mcc_core *core;
    const main_opts *opts;
} main_reload;

static void main_on_hup(evutil_socket_t sig, short what, void *arg)
{
    main_reload *r = arg;
    mcc_err err = {{0}};
    mcc_log(MCC_LOG_INFO, "SIGHUP: reloading the configuration");
    mcc_config *cfg = main_config_load(r->opts, &err);
    mcc_settings *s = calloc(1, sizeof(*s));
    if (cfg == NULL || s == NULL || mcc_settings_load(cfg, s, &err) != MCC_OK ||
        main_plugin_dir(r->opts, s, &err) != MCC_OK ||
        mcc_core_reload(r->core, cfg, s, &err) != MCC_OK) {
        mcc_log(MCC_LOG_ERROR, "reload refused, the running configuration stays: %s",
                cfg == NULL || s == NULL ? (err.msg[0] != '\0' ? err.msg : "out of memory")
                                         : err.msg);
        mcc_config_free(cfg);
        free(s);
        return;
    }
    free(s);
    mcc_log(MCC_LOG_INFO, "configuration reloaded");
}

static void main_on_signal(evutil_socket_t sig, short what, void *arg)
{
    mcc_core *core = arg;
    mcc_log(MCC_LOG_INFO, "signal %d: shutting down", (int)sig);
    event_base_loopexit(core->base, NULL);
}

static int main_run(mcc_core *core, const main_opts *opts)
{
    mcc_err err = {{0}};
    char errbuf[256] = "";
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
    main_reload reload = {core, opts};
    int rc = 1;

    /* held from here on by whichever loop runs; released while it waits (core/lock.h) */
    mcc_lock();
    core->fetcher = mcc_fetcher_new(core->base, errbuf, sizeof(errbuf));
    if (core->fetcher == NULL) {
        fprintf(stderr, "mccd: cannot start upstream transfers: %s\n", errbuf);
        goto unlock;
    }
    if (mcc_core_instances_create(core, &err) != MCC_OK ||
        mcc_core_instances_start(core, &err) != MCC_OK ||
        mcc_admin_listen(core->admin, core->settings.listen_admin, &err) != MCC_OK) {
        fprintf(stderr, "mccd: %s\n", err.msg);
        goto unlock;
    }
    core->front = mcc_front_new(core, &err);
    if (core->front == NULL ||
        mcc_front_start_loops(core->front, core->settings.loops, &err) != MCC_OK) {
        fprintf(stderr, "mccd: %s\n", err.msg);
        goto unlock;
    }

    sigterm = evsignal_new(core->base, SIGTERM, main_on_signal, core);
    sigint = evsignal_new(core->base, SIGINT, main_on_signal, core);
    sighup = evsignal_new(core->base, SIGHUP, main_on_hup, &reload);
    if (sigterm == NULL || sigint == NULL || sighup == NULL || evsignal_add(sigterm, NULL) != 0 ||
        evsignal_add(sigint, NULL) != 0 || evsignal_add(sighup, NULL) != 0) {
        fprintf(stderr, "mccd: cannot watch SIGTERM/SIGINT/SIGHUP\n");
        goto free_signals;
    }

    mcc_log(MCC_LOG_INFO, "mccd ready: content %s admin %s",
            mcc_front_address(core->front),
            mcc_admin_address(core->admin));
    if (event_base_dispatch(core->base) < 0) {
        fprintf(stderr, "mccd: event loop failed\n");
        goto free_signals;
    }
    mcc_log(MCC_LOG_INFO, "mccd stopped");
    rc = 0;

free_signals:
    if (sigterm != NULL)
        event_free(sigterm);
    if (sigint != NULL)
        event_free(sigint);
    if (sighup != NULL)
        event_free(sighup);
unlock:
    mcc_front_stop_loops(core->front); /* this thread alone from here on */
    mcc_unlock();
    return rc;
}

int main(int argc, char **argv)
{
    main_opts o;
    mcc_err err = {{0}};
    mcc_core core;
    memset(&core, 0, sizeof(core));
    /* before any event base: loops touch each other's connections (core/lock.h) */
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "mccd: cannot make libevent thread-safe\n");
        return 1;
    }

    int prc = main_parse(argc, argv, &o);
    if (prc != 0)
        return prc;
    /* a client closing early must cost a failed write, not the process */
    signal(SIGPIPE, SIG_IGN);
    /* every client and every stored object being read holds a descriptor: use what is allowed */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (o.log_level >= 0)
        mcc_log_set_level(o.log_level);

    if (o.env_to_conf != NULL) {
        if (mcc_env_to_conf(environ, o.env_to_conf, &err) != MCC_OK) {
            fprintf(stderr, "mccd: %s\n", err.msg);
            return 1;
        }
        return 0;
    }

    mcc_config *cfg = main_config_load(&o, &err);
    if (cfg == NULL) {
        fprintf(stderr, "mccd: %s\n", err.msg);
        return 1;
    }
    if (o.print_config) {
        char *text = mcc_config_print(cfg);
        int ok = text != NULL && printf("%s\n", text) >= 0;
        free(text);
        mcc_config_free(cfg);
        return ok ? 0 : 1;
    }

    mcc_settings *settings = calloc(1, sizeof(*settings));
    if (settings == NULL || mcc_settings_load(cfg, settings, &err) != MCC_OK ||
        main_plugin_dir(&o, settings, &err) != MCC_OK) {
        fprintf(stderr, "mccd: %s\n", settings == NULL ? "out of memory" : err.msg);
        free(settings);
        mcc_config_free(cfg);
        return 1;
    }
    mcc_log_set_level(o.log_level >= 0 ? o.log_level : settings->log_level);
    if (o.check_config || o.check_plugin != NULL)
        settings->access_log[0] = '\0'; /* one-shot modes serve no requests */

    int rc = 1;
    if (mcc_core_init(&core, cfg, settings, &err) != MCC_OK) {
        fprintf(stderr, "mccd: %s\n", err.msg);
        goto done;
    }
    if (o.check_config)
        rc = main_check_config(&core);
    else if (o.check_plugin != NULL)
        rc = main_check_plugin(&core, &o);
    else
        rc = main_run(&core, &o);

done:
    mcc_core_fini(&core);
    free(settings);
    return rc;
}
