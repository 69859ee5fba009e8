/* Fuzz target: MCC's environment to conf.d fragments (conf/env.c). Input: "NAME=value" lines.
 * What env-to-conf accepts it writes into a temporary directory, and mccd must then start on
 * it: the fragments must load and the settings validate. */
#include <dirent.h>
#include <unistd.h>

#include <mcc/plugin.h>

#include "conf/conf.h"
#include "fuzz.h"

enum { ENV_MAX_LINES = 64 };

static char env_dir[] = "/tmp/mcc-fuzz-env.XXXXXX";

/* Empties the directory between inputs: each run starts with no fragments. */
static void env_dir_clear(void)
{
    DIR *dh = opendir(env_dir);
    struct dirent *de;
    if (dh == NULL)
        return;
    while ((de = readdir(dh)) != NULL) {
        char path[sizeof(env_dir) + 256];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", env_dir, de->d_name);
        unlink(path);
    }
    closedir(dh);
}

static void env_dir_remove(void)
{
    env_dir_clear();
    rmdir(env_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (mkdtemp(env_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(env_dir_remove);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_str(data, size);
    char *envp[ENV_MAX_LINES + 1];
    size_t n = 0;
    mcc_err err = {{0}};

    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL && n < ENV_MAX_LINES;
         line = strtok_r(NULL, "\n", &save))
        envp[n++] = line;
    envp[n] = NULL;

    env_dir_clear();
    if (mcc_env_to_conf(envp, env_dir, &err) != MCC_OK) {
        FUZZ_CHECK(err.msg[0] != '\0');
        goto out;
    }
    /* the container's next step: mccd --conf-dir DIR must accept what was written */
    mcc_config *cfg = mcc_config_new();
    mcc_settings *s = malloc(sizeof(*s));
    FUZZ_CHECK(cfg != NULL && s != NULL);
    FUZZ_CHECK(mcc_config_add_embedded(cfg, &err) == MCC_OK);
    if (mcc_config_add_dir(cfg, env_dir, 0, &err) != MCC_OK ||
        mcc_settings_load(cfg, s, &err) != MCC_OK) {
        fprintf(stderr, "env-to-conf accepted an environment mccd refuses: %s\n", err.msg);
        abort();
    }
    mcc_config_free(cfg);
    free(s);
out:
    free(text);
    return 0;
}
