/* Unit tests of daemon/conf/env.c: MCC's environment variables, their validation messages, the
 * fragments written, and loading them back into settings. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "cunit_main.h"
#include "harness.h"

#define G1 "12345678-1234-1234-1234-123456789abc"
#define G2 "ABCDEF01-2345-6789-ABCD-EF0123456789"
#define G3 "0f0f0f0f-aaaa-bbbb-cccc-dddddddddddd"

/* The base directory of a test: DIR/out is where fragments go (created by env_to_conf). */
typedef struct env_dir {
    char base[64];
    char out[96];
} env_dir;

static void env_dir_init(env_dir *d)
{
    snprintf(d->base, sizeof(d->base), "/tmp/mcc-test-env-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(d->base));
    snprintf(d->out, sizeof(d->out), "%s/conf/env.d", d->base);
}

static void env_dir_fini(env_dir *d)
{
    mcc_harness_rm_tree(d->base);
}

/* Entries of DIR that are not "." or ".."; -1 when DIR does not exist. */
static int count_entries(const char *dir)
{
    DIR *dd = opendir(dir);
    if (dd == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dd)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(dd);
    return n;
}

/* The fragment NAME of DIR, parsed; NULL when absent. */
static cJSON *read_fragment(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return cJSON_Parse(buf);
}

/* Fragment NAME of DIR equals the JSON text WANT. */
static void check_fragment(const char *dir, const char *name, const char *want)
{
    cJSON *got = read_fragment(dir, name);
    cJSON *exp = cJSON_Parse(want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(exp);
    CU_ASSERT_PTR_NOT_NULL(got);
    int same = got != NULL && cJSON_Compare(got, exp, 1);
    CU_ASSERT_TRUE(same);
    if (!same) {
        char *g = got != NULL ? cJSON_PrintUnformatted(got) : NULL;
        fprintf(stderr, "\n  %s:\n  got:  %s\n  want: %s\n", name, g ? g : "(none)", want);
        free(g);
    }
    cJSON_Delete(got);
    cJSON_Delete(exp);
}

/* envp for the test: the base identity and one drive, then EXTRA (NULL-terminated), without
 * the base variables named in DROP (a name prefix, or NULL). */
static void build_env(char **env, size_t cap, char *const *extra, const char *drop)
{
    static char *const base[] = {"CUSTOMER_ID=" G1,      "CACHE_NODE_ID=" G2,  "CUSTOMER_KEY=" G3,
                                 "STORAGE_1_SIZE_GB=10", "PATH=/usr/bin:/bin", NULL};
    size_t n = 0;
    for (char *const *e = base; *e != NULL; e++) {
        if (drop == NULL || strncmp(*e, drop, strlen(drop)) != 0)
            env[n++] = *e;
    }
    for (char *const *e = extra; e != NULL && *e != NULL && n + 1 < cap; e++)
        env[n++] = *e;
    env[n] = NULL;
}

/* The base environment plus VAR fails with exactly MSG, and nothing is created. */
static void env_fails_drop(const char *var, const char *drop, const char *msg)
{
    env_dir d;
    env_dir_init(&d);
    char *extra[] = {(char *)var, NULL};
    char *env[16];
    build_env(env, 16, var != NULL ? extra : NULL, drop);
    mcc_err err = {{0}};
    CU_ASSERT_EQUAL(mcc_env_to_conf(env, d.out, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, msg);
    if (strcmp(err.msg, msg) != 0)
        fprintf(stderr, "\n  got:  %s\n  want: %s\n", err.msg, msg);
    CU_ASSERT_EQUAL(count_entries(d.out), -1); /* not even the directory */
    CU_ASSERT_EQUAL(count_entries(d.base), 0);
    env_dir_fini(&d);
}

static void env_fails(const char *var, const char *msg)
{
    env_fails_drop(var, NULL, msg);
}

/* The base environment plus the NULL-terminated EXTRA succeeds; D is initialised. */
static void env_ok(env_dir *d, char *const *extra)
{
    env_dir_init(d);
    char *env[32];
    build_env(env, 32, extra, NULL);
    mcc_err err = {{0}};
    int rc = mcc_env_to_conf(env, d->out, &err);
    CU_ASSERT_EQUAL(rc, MCC_OK);
    if (rc != MCC_OK)
        fprintf(stderr, "\n  unexpected: %s\n", err.msg);
}

static void test_identity(void)
{
    env_dir d;
    mode_t mask = umask(022); /* the directory mode is mkdir's, under the umask */
    env_ok(&d, NULL);
    umask(mask);
    /* identity and storage only: no other concern was set */
    CU_ASSERT_EQUAL(count_entries(d.out), 2);
    check_fragment(d.out, "10-identity.json",
                   "{\"node\":{\"name\":\"" G2 "\",\"customer_id\":\"" G1
                   "\",\"cache_node_id\":\"" G2 "\",\"customer_key\":\"" G3 "\"}}");
    check_fragment(d.out, "20-storage.json",
                   "{\"plugins\":{\"disk\":{\"config\":{\"drives\":"
                   "[{\"path\":\"cache1\",\"size\":\"10GiB\"}]}}}}");
    char path[256];
    snprintf(path, sizeof(path), "%s/10-identity.json", d.out);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0644);
    CU_ASSERT_EQUAL(stat(d.out, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0755);
    env_dir_fini(&d);

#define GUID_WHAT "expected a GUID like 12345678-1234-1234-1234-123456789abc"
    env_fails_drop("CUSTOMER_ID=not-a-guid",
                   "CUSTOMER_ID=", "CUSTOMER_ID: " GUID_WHAT ", got \"not-a-guid\"");
    env_fails_drop(NULL, "CUSTOMER_ID=", "CUSTOMER_ID: missing, " GUID_WHAT);
    env_fails_drop(NULL, "CACHE_NODE_ID=", "CACHE_NODE_ID: missing, " GUID_WHAT);
    env_fails_drop(NULL, "CUSTOMER_KEY=", "CUSTOMER_KEY: missing, " GUID_WHAT);
    env_fails_drop("CACHE_NODE_ID=12345678123412341234123456789abc", "CACHE_NODE_ID=",
                   "CACHE_NODE_ID: " GUID_WHAT ", got \"12345678123412341234123456789abc\"");
    env_fails_drop("CUSTOMER_KEY={12345678-1234-1234-1234-123456789abc}", "CUSTOMER_KEY=",
                   "CUSTOMER_KEY: " GUID_WHAT ", got \"{12345678-1234-1234-1234-123456789abc}\"");
    env_fails_drop("CUSTOMER_KEY=12345678-1234-1234-1234-123456789ab", "CUSTOMER_KEY=",
                   "CUSTOMER_KEY: " GUID_WHAT ", got \"12345678-1234-1234-1234-123456789ab\"");
    env_fails_drop("CUSTOMER_KEY=12345678-1234-1234-1234-123456789abg", "CUSTOMER_KEY=",
                   "CUSTOMER_KEY: " GUID_WHAT ", got \"12345678-1234-1234-1234-123456789abg\"");
    env_fails_drop("CUSTOMER_KEY=", "CUSTOMER_KEY=", "CUSTOMER_KEY: " GUID_WHAT ", got \"\"");
}

static void test_storage(void)
{
    env_dir d;
    char *drives[] = {"STORAGE_3_SIZE_GB=250", "STORAGE_2_SIZE_GB=10", "STORAGE_9_SIZE_GB=1000",
                      NULL};
    env_ok(&d, drives);
    check_fragment(d.out, "20-storage.json",
                   "{\"plugins\":{\"disk\":{\"config\":{\"drives\":["
                   "{\"path\":\"cache1\",\"size\":\"10GiB\"},"
                   "{\"path\":\"cache2\",\"size\":\"10GiB\"},"
                   "{\"path\":\"cache3\",\"size\":\"250GiB\"},"
                   "{\"path\":\"cache9\",\"size\":\"1000GiB\"}]}}}}");
    env_dir_fini(&d);

    env_fails("STORAGE_0_SIZE_GB=10", "STORAGE_0_SIZE_GB: expected N from 1 to 9 in "
                                      "STORAGE_N_SIZE_GB");
    env_fails("STORAGE_10_SIZE_GB=10", "STORAGE_10_SIZE_GB: expected N from 1 to 9 in "
                                       "STORAGE_N_SIZE_GB");
    env_fails("STORAGE_01_SIZE_GB=10", "STORAGE_01_SIZE_GB: expected N from 1 to 9 in "
                                       "STORAGE_N_SIZE_GB");
    env_fails("STORAGE_2_SIZE_GB=9",
              "STORAGE_2_SIZE_GB: expected an integer number of GB >= 10, got \"9\"");
    env_fails("STORAGE_2_SIZE_GB=10.5",
              "STORAGE_2_SIZE_GB: expected an integer number of GB >= 10, got \"10.5\"");
    env_fails("STORAGE_2_SIZE_GB=ten",
              "STORAGE_2_SIZE_GB: expected an integer number of GB >= 10, got \"ten\"");
    env_fails("STORAGE_2_SIZE_GB=-20",
              "STORAGE_2_SIZE_GB: expected an integer number of GB >= 10, got \"-20\"");
    env_fails("STORAGE_2_SIZE_GB=",
              "STORAGE_2_SIZE_GB: expected an integer number of GB >= 10, got \"\"");
    env_fails("STORAGE_2_SIZE_GB=99999999999",
              "STORAGE_2_SIZE_GB: expected an integer number of GB >= 10, got \"99999999999\"");
    env_fails_drop(NULL, "STORAGE_1",
                   "STORAGE_N_SIZE_GB: missing, expected at least one of STORAGE_1_SIZE_GB to "
                   "STORAGE_9_SIZE_GB (an integer >= 10)");
}

static void test_upstream(void)
{
    static const struct {
        const char *var, *parent;
    } good[] = {
        {"UPSTREAM_HOST=parent.local", "parent.local:80"},
        {"UPSTREAM_HOST=Parent.Example.COM", "parent.example.com:80"},
        {"UPSTREAM_HOST=10.0.0.5:8080", "10.0.0.5:8080"},
        {"UPSTREAM_HOST=mcc-parent", "mcc-parent:80"},
        {"UPSTREAM_HOST=[fd00::1]:81", "[fd00::1]:81"},
        {"UPSTREAM_HOST=fd00::1", "[fd00::1]:80"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        env_dir d;
        char *extra[] = {(char *)good[i].var, NULL};
        env_ok(&d, extra);
        char want[256];
        snprintf(want, sizeof(want),
                 "{\"plugins\":{\"parent\":{\"plugin\":\"parent\",\"config\":{\"parents\":"
                 "[\"%s\"]}}},\"cache\":{\"upstreams\":[\"parent\"]}}",
                 good[i].parent);
        check_fragment(d.out, "30-upstream.json", want);
        env_dir_fini(&d);
    }
    env_dir d;
    char *proxy[] = {"UPSTREAM_PROXY=Proxy.corp:3128", NULL};
    env_ok(&d, proxy);
    check_fragment(d.out, "30-upstream.json", "{\"fetch\":{\"proxy\":\"proxy.corp:3128\"}}");
    env_dir_fini(&d);

#define HOST_WHAT "expected an FQDN or IP address with an optional :port"
    env_fails("UPSTREAM_HOST=http://parent", "UPSTREAM_HOST: " HOST_WHAT ", got \"http://parent\"");
    env_fails("UPSTREAM_HOST=parent:0", "UPSTREAM_HOST: " HOST_WHAT ", got \"parent:0\"");
    env_fails("UPSTREAM_HOST=parent:65536", "UPSTREAM_HOST: " HOST_WHAT ", got \"parent:65536\"");
    env_fails("UPSTREAM_HOST=-bad.example", "UPSTREAM_HOST: " HOST_WHAT ", got \"-bad.example\"");
    env_fails("UPSTREAM_HOST=a..b", "UPSTREAM_HOST: " HOST_WHAT ", got \"a..b\"");
    env_fails("UPSTREAM_HOST=10.0.0.256", "UPSTREAM_HOST: " HOST_WHAT ", got \"10.0.0.256\"");
    env_fails("UPSTREAM_HOST=", "UPSTREAM_HOST: " HOST_WHAT ", got \"\"");
    env_fails("UPSTREAM_PROXY=proxy.corp",
              "UPSTREAM_PROXY: expected host:port like proxy.example.com:3128, got "
              "\"proxy.corp\"");
    env_fails("UPSTREAM_PROXY=proxy.corp:",
              "UPSTREAM_PROXY: expected host:port like proxy.example.com:3128, got "
              "\"proxy.corp:\"");
}

static void test_custom_hosts(void)
{
    env_dir d;
    char *extra[] = {"CACHEABLE_CUSTOM_12_HOST=Twelve.example.com",
                     "CACHEABLE_CUSTOM_2_HOST=repo.example.com:8080",
                     "CACHEABLE_CUSTOM_2_CANONICAL=ubuntu archive",
                     "CACHEABLE_CUSTOM_100000000000000000000000_HOST=10.1.2.3",
                     "CACHEABLE_CUSTOM_1_FOO=ignored",
                     NULL};
    env_ok(&d, extra);
    check_fragment(d.out, "40-hosts.json",
                   "{\"plugins\":{\"hosts\":{\"config\":{\"custom\":["
                   "{\"host\":\"repo.example.com:8080\",\"canonical\":\"ubuntu archive\"},"
                   "{\"host\":\"twelve.example.com\"},"
                   "{\"host\":\"10.1.2.3\"}]}}}}");
    env_dir_fini(&d);

    env_fails("CACHEABLE_CUSTOM_3_CANONICAL=x",
              "CACHEABLE_CUSTOM_3_CANONICAL: set without CACHEABLE_CUSTOM_3_HOST");
    env_fails("CACHEABLE_CUSTOM_0_HOST=a.example",
              "CACHEABLE_CUSTOM_0_HOST: expected N a positive integer without leading zeros in "
              "CACHEABLE_CUSTOM_N_HOST");
    env_fails("CACHEABLE_CUSTOM_01_HOST=a.example",
              "CACHEABLE_CUSTOM_01_HOST: expected N a positive integer without leading zeros in "
              "CACHEABLE_CUSTOM_N_HOST");
    env_fails("CACHEABLE_CUSTOM_4_HOST=a.example/path",
              "CACHEABLE_CUSTOM_4_HOST: " HOST_WHAT ", got \"a.example/path\"");
    env_fails("CACHEABLE_CUSTOM_4_HOST=", "CACHEABLE_CUSTOM_4_HOST: " HOST_WHAT ", got \"\"");

    /* CANONICAL must be printable and non-empty: two variables in one environment */
    static const struct {
        const char *canon, *msg;
    } bad[] = {
        {"CACHEABLE_CUSTOM_5_CANONICAL=", "CACHEABLE_CUSTOM_5_CANONICAL: expected a non-empty "
                                          "string of printable characters, got \"\""},
        {"CACHEABLE_CUSTOM_5_CANONICAL=a\tb", "CACHEABLE_CUSTOM_5_CANONICAL: expected a "
                                              "non-empty string of printable characters, got "
                                              "\"a\tb\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        env_dir_init(&d);
        char *more[] = {"CACHEABLE_CUSTOM_5_HOST=h.example", (char *)bad[i].canon, NULL};
        char *env[16];
        build_env(env, 16, more, NULL);
        mcc_err err = {{0}};
        CU_ASSERT_EQUAL(mcc_env_to_conf(env, d.out, &err), MCC_ERROR);
        CU_ASSERT_STRING_EQUAL(err.msg, bad[i].msg);
        CU_ASSERT_EQUAL(count_entries(d.out), -1);
        env_dir_fini(&d);
    }
}

static void test_summary_and_listen(void)
{
    static const struct {
        const char *pub, *unr;
        int vpub, vunr;
    } bools[] = {
        {"IS_SUMMARY_PUBLIC=true", "IS_SUMMARY_ACCESS_UNRESTRICTED=TRUE", 1, 1},
        {"IS_SUMMARY_PUBLIC=False", "IS_SUMMARY_ACCESS_UNRESTRICTED=false", 0, 0},
        {"IS_SUMMARY_PUBLIC=True", "IS_SUMMARY_ACCESS_UNRESTRICTED=FALSE", 1, 0},
    };
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        env_dir d;
        char *extra[] = {(char *)bools[i].pub, (char *)bools[i].unr, NULL};
        env_ok(&d, extra);
        char want[128];
        snprintf(want, sizeof(want), "{\"summary\":{\"public\":%s,\"unrestricted\":%s}}",
                 bools[i].vpub ? "true" : "false", bools[i].vunr ? "true" : "false");
        check_fragment(d.out, "50-summary.json", want);
        env_dir_fini(&d);
    }
    env_fails("IS_SUMMARY_PUBLIC=yes", "IS_SUMMARY_PUBLIC: expected True or False, got \"yes\"");
    env_fails("IS_SUMMARY_ACCESS_UNRESTRICTED=1",
              "IS_SUMMARY_ACCESS_UNRESTRICTED: expected True or False, got \"1\"");
    env_fails("SUMMARY_API_KEY=", "SUMMARY_API_KEY: expected a non-empty string of at most 127 "
                                  "printable characters, got \"\"");

    env_dir d;
    char *listen[] = {"MCC_CONTENT_LISTEN=8081",  "MCC_ADMIN_LISTEN=[::1]:5001",
                      "MCC_CACHE_ROOT=/data/mcc", "MCC_LOG_LEVEL=debug",
                      "SUMMARY_API_KEY=s3cret",   NULL};
    env_ok(&d, listen);
    check_fragment(d.out, "05-listen.json",
                   "{\"listen\":{\"content\":\"0.0.0.0:8081\",\"admin\":\"[::1]:5001\"},"
                   "\"paths\":{\"cache_root\":\"/data/mcc\"},\"log\":{\"level\":\"debug\"}}");
    check_fragment(d.out, "50-summary.json", "{\"summary\":{\"api_key\":\"s3cret\"}}");
    env_dir_fini(&d);
    char *admin_off[] = {"MCC_ADMIN_LISTEN=", NULL};
    env_ok(&d, admin_off);
    check_fragment(d.out, "05-listen.json", "{\"listen\":{\"admin\":\"\"}}");
    env_dir_fini(&d);

#define LISTEN_WHAT "expected a port or address:port like 8081, 0.0.0.0:8081 or [::]:8081"
    env_fails("MCC_CONTENT_LISTEN=localhost:80",
              "MCC_CONTENT_LISTEN: " LISTEN_WHAT ", got \"localhost:80\"");
    env_fails("MCC_CONTENT_LISTEN=99999", "MCC_CONTENT_LISTEN: " LISTEN_WHAT ", got \"99999\"");
    env_fails("MCC_ADMIN_LISTEN=0", "MCC_ADMIN_LISTEN: " LISTEN_WHAT ", got \"0\"");
    env_fails("MCC_CACHE_ROOT=data", "MCC_CACHE_ROOT: expected an absolute path, got \"data\"");
    env_fails("MCC_LOG_LEVEL=trace",
              "MCC_LOG_LEVEL: expected one of error, warn, info, debug, got \"trace\"");
}

/* A full environment written, then loaded back as mccd does: embedded defaults + the dir. */
static void test_full_roundtrip(void)
{
    env_dir d;
    char *extra[] = {"STORAGE_2_SIZE_GB=20",
                     "UPSTREAM_HOST=parent.example.com",
                     "UPSTREAM_PROXY=10.0.0.9:3128",
                     "CACHEABLE_CUSTOM_1_HOST=archive.ubuntu.com",
                     "CACHEABLE_CUSTOM_1_CANONICAL=ubuntu",
                     "CACHEABLE_CUSTOM_2_HOST=de.archive.ubuntu.com:8080",
                     "CACHEABLE_CUSTOM_2_CANONICAL=ubuntu",
                     "IS_SUMMARY_PUBLIC=True",
                     "IS_SUMMARY_ACCESS_UNRESTRICTED=False",
                     "SUMMARY_API_KEY=k3y",
                     "MCC_CONTENT_LISTEN=127.0.0.1:8081",
                     "MCC_CACHE_ROOT=/srv/mcc",
                     "HOME=/root",
                     NULL};
    env_ok(&d, extra);
    CU_ASSERT_EQUAL(count_entries(d.out), 6);

    mcc_err err = {{0}};
    mcc_config *cfg = mcc_config_new();
    CU_ASSERT_EQUAL_FATAL(mcc_config_add_embedded(cfg, &err), MCC_OK);
    CU_ASSERT_EQUAL_FATAL(mcc_config_add_dir(cfg, d.out, 0, &err), MCC_OK);
    mcc_settings *s = calloc(1, sizeof(*s));
    int rc = mcc_settings_load(cfg, s, &err);
    if (rc != MCC_OK)
        fprintf(stderr, "\n  %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, MCC_OK);
    CU_ASSERT_STRING_EQUAL(s->node_name, G2);
    CU_ASSERT_STRING_EQUAL(s->customer_id, G1);
    CU_ASSERT_STRING_EQUAL(s->cache_node_id, G2);
    CU_ASSERT_STRING_EQUAL(s->customer_key, G3);
    CU_ASSERT_STRING_EQUAL(s->listen_content, "127.0.0.1:8081");
    CU_ASSERT_STRING_EQUAL(s->listen_admin, "0.0.0.0:5001"); /* the default stays */
    CU_ASSERT_STRING_EQUAL(s->cache_root, "/srv/mcc");
    CU_ASSERT_STRING_EQUAL(s->proxy, "10.0.0.9:3128");
    CU_ASSERT_EQUAL(s->nupstreams, 1);
    CU_ASSERT_STRING_EQUAL(s->upstreams[0], "parent");
    CU_ASSERT_EQUAL(s->summary_public, 1);
    CU_ASSERT_EQUAL(s->summary_unrestricted, 0);
    CU_ASSERT_STRING_EQUAL(s->summary_api_key, "k3y");
    CU_ASSERT_EQUAL(s->summary_period_ms, 15000);

    const mcc_instance_conf *parent = NULL, *disk = NULL, *hosts = NULL;
    for (unsigned i = 0; i < s->ninstances; i++) {
        if (strcmp(s->instances[i].name, "parent") == 0)
            parent = &s->instances[i];
        if (strcmp(s->instances[i].name, "disk") == 0)
            disk = &s->instances[i];
        if (strcmp(s->instances[i].name, "hosts") == 0)
            hosts = &s->instances[i];
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(parent);
    CU_ASSERT_PTR_NOT_NULL_FATAL(disk);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hosts);
    CU_ASSERT_STRING_EQUAL(parent->plugin, "parent");
    CU_ASSERT_EQUAL(parent->enabled, 1);
    cJSON *parents = cJSON_GetObjectItemCaseSensitive(parent->config, "parents");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(parents), 1);
    CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(parents, 0)->valuestring, "parent.example.com:80");

    /* the env's drives replace the default drive list; sizes read back through the getters */
    mcc_conf *node = mcc_conf_new(cfg, disk->config, "plugins.disk.config");
    const mcc_conf *drives = mcc_conf_child(node, "drives", 'a', &err);
    CU_ASSERT_EQUAL_FATAL(mcc_conf_count(drives), 2);
    const char *path;
    uint64_t size;
    const mcc_conf *d1 = mcc_conf_index(drives, 1, NULL);
    CU_ASSERT_EQUAL(mcc_conf_str(d1, "path", NULL, &path, &err), MCC_OK);
    CU_ASSERT_STRING_EQUAL(path, "cache2");
    CU_ASSERT_EQUAL(mcc_conf_size(d1, "size", 0, &size, &err), MCC_OK);
    CU_ASSERT_EQUAL(size, 20ull << 30);
    char want_file[256];
    snprintf(want_file, sizeof(want_file), "%s/20-storage.json", d.out);
    CU_ASSERT_EQUAL(mcc_conf_error(d1, "size", &err, "too small"), MCC_ERROR);
    char want_msg[400];
    snprintf(want_msg, sizeof(want_msg), "%s: plugins.disk.config.drives[1].size: too small",
             want_file);
    CU_ASSERT_STRING_EQUAL(err.msg, want_msg);
    mcc_conf_free(node);

    /* the hosts plugin's defaults stay, its custom list comes from the env */
    CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hosts->config, "builtin")));
    cJSON *custom = cJSON_GetObjectItemCaseSensitive(hosts->config, "custom");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(custom), 2);
    cJSON *c0 = cJSON_GetArrayItem(custom, 0), *c1 = cJSON_GetArrayItem(custom, 1);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(c0, "host")->valuestring,
                           "archive.ubuntu.com");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(c0, "canonical")->valuestring,
                           "ubuntu");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(c1, "host")->valuestring,
                           "de.archive.ubuntu.com:8080");
    free(s);
    mcc_config_free(cfg);

    /* run again with only the base environment: fragments of concerns now unset are removed,
     * a bad environment afterwards leaves the directory as it was */
    char *env[16];
    build_env(env, 16, NULL, NULL);
    CU_ASSERT_EQUAL(mcc_env_to_conf(env, d.out, &err), MCC_OK);
    CU_ASSERT_EQUAL(count_entries(d.out), 2);
    cJSON *gone = read_fragment(d.out, "30-upstream.json");
    CU_ASSERT_PTR_NULL(gone);
    char *bad[] = {"STORAGE_1_SIZE_GB=5", NULL};
    build_env(env, 16, bad, "STORAGE_1");
    CU_ASSERT_EQUAL(mcc_env_to_conf(env, d.out, &err), MCC_ERROR);
    check_fragment(d.out, "20-storage.json",
                   "{\"plugins\":{\"disk\":{\"config\":{\"drives\":"
                   "[{\"path\":\"cache1\",\"size\":\"10GiB\"}]}}}}");
    CU_ASSERT_EQUAL(count_entries(d.out), 2);
    env_dir_fini(&d);
}

static const CU_TestInfo env_tests[] = {
    {"identity", test_identity},
    {"storage", test_storage},
    {"upstream and proxy", test_upstream},
    {"custom hosts", test_custom_hosts},
    {"summary and listen", test_summary_and_listen},
    {"full environment round trip", test_full_roundtrip},
    CU_TEST_INFO_NULL,
};

int mcc_test_register(void)
{
    return mcc_test_suite("env", env_tests);
}
