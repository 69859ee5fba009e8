/* Fuzz target: the configuration merger and the daemon's settings (conf/config.c, settings.c).
 * Input: one or two fragments separated by a NUL byte, merged on top of the built-in defaults
 * as conf.d files are; the result is read as mccd reads it at start. */
#include <mcc/plugin.h>

#include "conf/conf.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *first;
    char *second = fuzz_split(data, size, '\0', &first);
    mcc_err err = {{0}};
    mcc_settings *s = malloc(sizeof(*s)); /* large: not on the stack */
    mcc_config *cfg = mcc_config_new();

    FUZZ_CHECK(s != NULL && cfg != NULL);
    FUZZ_CHECK(mcc_config_add_embedded(cfg, &err) == MCC_OK);
    int rc = mcc_config_add_text(cfg, "/fuzz/50-a.json", first, &err);
    if (rc == MCC_OK && second != NULL)
        rc = mcc_config_add_text(cfg, "/fuzz/60-b.json", second, &err);
    if (rc != MCC_OK) {
        /* a refused fragment names itself */
        FUZZ_CHECK(strstr(err.msg, "/fuzz/") != NULL);
        goto out;
    }
    char *text = mcc_config_print(cfg);
    FUZZ_CHECK(text != NULL);
    free(text);
    memset(&err, 0, sizeof(err));
    if (mcc_settings_load(cfg, s, &err) == MCC_OK) {
        FUZZ_CHECK(s->nhosts <= MCC_MAX_ORDER && s->nupstreams <= MCC_MAX_ORDER);
        FUZZ_CHECK(s->ninstances <= MCC_MAX_INSTANCES);
        FUZZ_CHECK(memchr(s->node_name, '\0', sizeof(s->node_name)) != NULL);
        FUZZ_CHECK(memchr(s->plugin_dir, '\0', sizeof(s->plugin_dir)) != NULL);
        FUZZ_CHECK(s->slice_size >= 4096 && (s->slice_size & (s->slice_size - 1)) == 0);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
out:
    mcc_config_free(cfg);
    free(s);
    free(first);
    free(second);
    return 0;
}
