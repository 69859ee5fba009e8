/* Unit tests of daemon/conf: fragment merging and provenance, typed getters and their messages,
 * size/duration parsing, unknown keys, and the daemon's settings. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "cunit_main.h"
#include "harness.h"

/* A config made of one fragment named f.json, for getter tests. */
static mcc_config *conf_of(const char *text)
{
    mcc_err err = {{0}};
    mcc_config *cfg = mcc_config_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    int rc = mcc_config_add_text(cfg, "f.json", text, &err);
    CU_ASSERT_EQUAL_FATAL(rc, MCC_OK);
    return cfg;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_merge(void)
{
    mcc_err err = {{0}};
    mcc_config *cfg = mcc_config_new();
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "a.json",
                                        "{\"x\":{\"a\":1,\"b\":2},\"arr\":[1,2,3],\"s\":\"one\","
                                        "\"o\":{\"k\":1,\"m\":{\"n\":1}}}",
                                        &err),
                    MCC_OK);
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "b.json",
                                        "{\"x\":{\"b\":3,\"c\":4},\"arr\":[9],\"s\":\"two\","
                                        "\"o\":[1]}",
                                        &err),
                    MCC_OK);
    cJSON *root = mcc_config_root(cfg);
    cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "x");
    CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(x, "a")->valueint, 1);
    CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(x, "b")->valueint, 3);
    CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(x, "c")->valueint, 4);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(x), 3);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "arr");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(arr), 1);
    CU_ASSERT_EQUAL(cJSON_GetArrayItem(arr, 0)->valueint, 9);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(root, "s")->valuestring, "two");
    CU_ASSERT_TRUE(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "o")));

    /* provenance: last writer of each key; arrays as one value */
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "x.a"), "a.json");
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "x.b"), "b.json");
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "x.c"), "b.json");
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "arr"), "b.json");
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "arr[0]"), "b.json");
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "s"), "b.json");
    /* the object o was replaced by an array: its keys are gone, and so is their provenance */
    CU_ASSERT_PTR_NULL(mcc_config_source(cfg, "o.k"));
    CU_ASSERT_PTR_NULL(mcc_config_source(cfg, "o.m.n"));
    CU_ASSERT_PTR_NULL(mcc_config_source(cfg, "nope"));

    /* an object again on top of the array, then a scalar replacing a whole subtree */
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "c.json", "{\"o\":{\"z\":1},\"x\":{\"a\":7}}", &err),
                    MCC_OK);
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "o"), "c.json");
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "o.z"), "c.json");
    CU_ASSERT_PTR_NULL(mcc_config_source(cfg, "o.k"));
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "x.a"), "c.json");
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "x.b"), "b.json");
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "d.json", "{\"x\":false}", &err), MCC_OK);
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "x"), "d.json");
    CU_ASSERT_PTR_NULL(mcc_config_source(cfg, "x.b"));
    CU_ASSERT_PTR_NULL(mcc_config_source(cfg, "x.a"));

    char *printed = mcc_config_print(cfg);
    cJSON *back = cJSON_Parse(printed);
    CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(back, "x")));
    CU_ASSERT_EQUAL(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(back, "o"), "z")
            ->valueint,
        1);
    cJSON_Delete(back);
    free(printed);
    mcc_config_free(cfg);
}

static void test_syntax_errors(void)
{
    mcc_err err = {{0}};
    mcc_config *cfg = mcc_config_new();
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "bad.json", "{\n  \"a\": 1,\n  \"b\": }\n", &err),
                    MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "bad.json:3:8: invalid JSON");
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "trail.json", "{\"a\": 1} x", &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "trail.json:1:10: invalid JSON");
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "empty.json", "", &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "empty.json:1:1: invalid JSON");
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "top.json", "[1, 2]", &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "top.json: the top level must be an object");
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "num.json", "5", &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "num.json: the top level must be an object");
    /* nothing of the failed fragments was merged */
    CU_ASSERT_PTR_NULL(mcc_config_root(cfg)->child);
    CU_ASSERT_EQUAL(mcc_config_add_file(cfg, "/nonexistent/x.json", &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "/nonexistent/x.json: cannot open: No such file or directory");
    mcc_config_free(cfg);
}

static void test_dir(void)
{
    char dir[] = "/tmp/mcc-test-conf-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    mcc_err err = {{0}};
    write_file(dir, "20-b.json", "{\"v\":\"b\",\"only_b\":1,\"arr\":[1]}");
    write_file(dir, "10-a.json", "{\"v\":\"a\",\"only_a\":1,\"arr\":[1,2]}");
    write_file(dir, "3-c.json", "{\"v\":\"c\"}"); /* strcmp: after "20-" */
    write_file(dir, "99-z.txt", "not json at all");
    write_file(dir, ".hidden.json", "not json either");
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/dir.json", dir);
    CU_ASSERT_EQUAL(mkdir(sub, 0755), 0);

    mcc_config *cfg = mcc_config_new();
    CU_ASSERT_EQUAL(mcc_config_add_dir(cfg, dir, 0, &err), MCC_OK);
    cJSON *root = mcc_config_root(cfg);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(root, "v")->valuestring, "c");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "arr")), 1);
    char expect[600];
    snprintf(expect, sizeof(expect), "%s/3-c.json", dir);
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "v"), expect);
    snprintf(expect, sizeof(expect), "%s/10-a.json", dir);
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "only_a"), expect);
    snprintf(expect, sizeof(expect), "%s/20-b.json", dir);
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "arr"), expect);
    mcc_config_free(cfg);

    /* a syntax error in a file of the directory names the file */
    write_file(dir, "50-bad.json", "{\n\"x\": [1,,2]\n}");
    cfg = mcc_config_new();
    CU_ASSERT_EQUAL(mcc_config_add_dir(cfg, dir, 0, &err), MCC_ERROR);
    snprintf(expect, sizeof(expect), "%s/50-bad.json:2:9: invalid JSON", dir);
    CU_ASSERT_STRING_EQUAL(err.msg, expect);
    mcc_config_free(cfg);

    mcc_harness_rm_tree(dir);
    cfg = mcc_config_new();
    CU_ASSERT_EQUAL(mcc_config_add_dir(cfg, dir, 1, &err), MCC_OK);
    CU_ASSERT_EQUAL(mcc_config_add_dir(cfg, dir, 0, &err), MCC_ERROR);
    snprintf(expect, sizeof(expect), "%s: cannot open directory: No such file or directory", dir);
    CU_ASSERT_STRING_EQUAL(err.msg, expect);
    mcc_config_free(cfg);
}

static const char *getters_json =
    "{\"s\":{\"str\":\"hello\",\"num\":5,\"neg\":-3,\"big\":1e300,\"frac\":1.5,"
    "\"t\":true,\"f\":false,\"nul\":null,\"obj\":{\"in\":1},\"arr\":[1,\"two\"],"
    "\"size_s\":\"64KiB\",\"size_n\":4096,\"size_bad\":\"12XB\",\"size_neg\":-1,"
    "\"dur_s\":\"250ms\",\"dur_n\":2,\"dur_f\":0.5,\"dur_bad\":\"5 parsecs\",\"dur_neg\":-2,"
    "\"longstr\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}";

static void test_getters(void)
{
    mcc_err err = {{0}};
    mcc_config *cfg = conf_of(getters_json);
    mcc_conf *root = mcc_conf_new(cfg, mcc_config_root(cfg), "");
    const mcc_conf *s = mcc_conf_child(root, "s", 'o', &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(mcc_conf_path(s), "s");

    const char *str;
    CU_ASSERT_EQUAL(mcc_conf_str(s, "str", "d", &str, &err), MCC_OK);
    CU_ASSERT_STRING_EQUAL(str, "hello");
    CU_ASSERT_EQUAL(mcc_conf_str(s, "absent", "dflt", &str, &err), MCC_OK);
    CU_ASSERT_STRING_EQUAL(str, "dflt");
    CU_ASSERT_EQUAL(mcc_conf_str(s, "num", "d", &str, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.num: expected a string, got 5");
    CU_ASSERT_EQUAL(mcc_conf_str(s, "obj", "d", &str, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.obj: expected a string, got an object");
    CU_ASSERT_EQUAL(mcc_conf_str(s, "arr", "d", &str, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.arr: expected a string, got an array");
    CU_ASSERT_EQUAL(mcc_conf_str(s, "nul", "d", &str, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.nul: expected a string, got null");
    CU_ASSERT_EQUAL(mcc_conf_str(s, "t", "d", &str, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.t: expected a string, got true");

    int64_t i;
    CU_ASSERT_EQUAL(mcc_conf_int(s, "num", 0, 0, 10, &i, &err), MCC_OK);
    CU_ASSERT_EQUAL(i, 5);
    CU_ASSERT_EQUAL(mcc_conf_int(s, "neg", 0, INT64_MIN, INT64_MAX, &i, &err), MCC_OK);
    CU_ASSERT_EQUAL(i, -3);
    CU_ASSERT_EQUAL(mcc_conf_int(s, "absent", 42, 0, 10, &i, &err), MCC_OK);
    CU_ASSERT_EQUAL(i, 42);
    CU_ASSERT_EQUAL(mcc_conf_int(s, "num", 0, 6, 10, &i, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.num: expected an integer from 6 to 10, got 5");
    CU_ASSERT_EQUAL(mcc_conf_int(s, "neg", 0, 0, INT64_MAX, &i, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.neg: expected an integer >= 0, got -3");
    CU_ASSERT_EQUAL(mcc_conf_int(s, "frac", 0, INT64_MIN, INT64_MAX, &i, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.frac: expected an integer, got 1.5");
    CU_ASSERT_EQUAL(mcc_conf_int(s, "big", 0, INT64_MIN, INT64_MAX, &i, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.big: expected an integer, got 1e+300");
    CU_ASSERT_EQUAL(mcc_conf_int(s, "str", 0, INT64_MIN, 3, &i, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.str: expected an integer <= 3, got \"hello\"");

    int b = -1;
    CU_ASSERT_EQUAL(mcc_conf_bool(s, "t", 0, &b, &err), MCC_OK);
    CU_ASSERT_EQUAL(b, 1);
    CU_ASSERT_EQUAL(mcc_conf_bool(s, "f", 1, &b, &err), MCC_OK);
    CU_ASSERT_EQUAL(b, 0);
    CU_ASSERT_EQUAL(mcc_conf_bool(s, "absent", 1, &b, &err), MCC_OK);
    CU_ASSERT_EQUAL(b, 1);
    CU_ASSERT_EQUAL(mcc_conf_bool(s, "num", 0, &b, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.num: expected true or false, got 5");
    CU_ASSERT_EQUAL(mcc_conf_bool(s, "str", 0, &b, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.str: expected true or false, got \"hello\"");

    uint64_t u;
    CU_ASSERT_EQUAL(mcc_conf_size(s, "size_s", 0, &u, &err), MCC_OK);
    CU_ASSERT_EQUAL(u, 65536);
    CU_ASSERT_EQUAL(mcc_conf_size(s, "size_n", 0, &u, &err), MCC_OK);
    CU_ASSERT_EQUAL(u, 4096);
    CU_ASSERT_EQUAL(mcc_conf_size(s, "absent", 77, &u, &err), MCC_OK);
    CU_ASSERT_EQUAL(u, 77);
    CU_ASSERT_EQUAL(mcc_conf_size(s, "size_bad", 0, &u, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.size_bad: expected a size like 512, 64KiB, "
                                    "1MiB or 10GB, got \"12XB\"");
    CU_ASSERT_EQUAL(mcc_conf_size(s, "size_neg", 0, &u, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.size_neg: expected a size like 512, 64KiB, "
                                    "1MiB or 10GB, got -1");
    CU_ASSERT_EQUAL(mcc_conf_size(s, "frac", 0, &u, &err), MCC_ERROR);
    CU_ASSERT_EQUAL(mcc_conf_size(s, "big", 0, &u, &err), MCC_ERROR);
    CU_ASSERT_EQUAL(mcc_conf_size(s, "t", 0, &u, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.t: expected a size like 512, 64KiB, "
                                    "1MiB or 10GB, got true");

    CU_ASSERT_EQUAL(mcc_conf_duration(s, "dur_s", 0, &u, &err), MCC_OK);
    CU_ASSERT_EQUAL(u, 250);
    CU_ASSERT_EQUAL(mcc_conf_duration(s, "dur_n", 0, &u, &err), MCC_OK);
    CU_ASSERT_EQUAL(u, 2000);
    CU_ASSERT_EQUAL(mcc_conf_duration(s, "dur_f", 0, &u, &err), MCC_OK);
    CU_ASSERT_EQUAL(u, 500);
    CU_ASSERT_EQUAL(mcc_conf_duration(s, "absent", 9, &u, &err), MCC_OK);
    CU_ASSERT_EQUAL(u, 9);
    CU_ASSERT_EQUAL(mcc_conf_duration(s, "dur_bad", 0, &u, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.dur_bad: expected a duration like 250ms, 30s, "
                                    "5m or 1h, got \"5 parsecs\"");
    CU_ASSERT_EQUAL(mcc_conf_duration(s, "dur_neg", 0, &u, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.dur_neg: expected a duration like 250ms, 30s, "
                                    "5m or 1h, got -2");
    CU_ASSERT_EQUAL(mcc_conf_duration(s, "big", 0, &u, &err), MCC_ERROR);

    /* long values are cut in messages */
    CU_ASSERT_EQUAL(mcc_conf_int(s, "longstr", 0, 0, 1, &i, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.longstr: expected an integer from 0 to 1, got "
                                    "\"0123456789012345678901234567890123456789012345678901234"
                                    "567890...\"");

    /* children, count, index */
    CU_ASSERT_PTR_NULL(mcc_conf_child(s, "absent", 'o', &err));
    CU_ASSERT_PTR_NULL(mcc_conf_child(s, "arr", 'o', &err));
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.arr: expected an object, got an array");
    CU_ASSERT_PTR_NULL(mcc_conf_child(s, "obj", 'a', &err));
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.obj: expected an array, got an object");
    CU_ASSERT_PTR_NULL(mcc_conf_child(s, "num", 0, &err));
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.num: expected an object or an array, got 5");
    const mcc_conf *arr = mcc_conf_child(s, "arr", 'a', &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(arr);
    CU_ASSERT_PTR_EQUAL(mcc_conf_child(s, "arr", 0, &err), arr); /* same node each time */
    CU_ASSERT_EQUAL(mcc_conf_count(arr), 2);
    const char *name = "x";
    const mcc_conf *e1 = mcc_conf_index(arr, 1, &name);
    CU_ASSERT_PTR_NULL(name);
    CU_ASSERT_PTR_NULL(mcc_conf_index(arr, 2, NULL));
    CU_ASSERT_STRING_EQUAL(mcc_conf_path(e1), "s.arr[1]");
    CU_ASSERT_EQUAL(mcc_conf_str(e1, NULL, NULL, &str, &err), MCC_OK);
    CU_ASSERT_STRING_EQUAL(str, "two");
    const mcc_conf *e0 = mcc_conf_index(arr, 0, NULL);
    CU_ASSERT_EQUAL(mcc_conf_str(e0, NULL, NULL, &str, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.arr[0]: expected a string, got 1");
    const mcc_conf *obj = mcc_conf_child(s, "obj", 'o', &err);
    CU_ASSERT_EQUAL(mcc_conf_count(obj), 1);
    CU_ASSERT_PTR_NOT_NULL(mcc_conf_index(obj, 0, &name));
    CU_ASSERT_STRING_EQUAL(name, "in");
    CU_ASSERT_EQUAL(mcc_conf_count(e0), 0);

    /* conf_error: a message of the caller's own, same prefix */
    CU_ASSERT_EQUAL(mcc_conf_error(s, "str", &err, "too %s", "friendly"), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.str: too friendly");
    /* an absent key is named with its object's file */
    CU_ASSERT_EQUAL(mcc_conf_error(s, "missing", &err, "is required"), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "f.json: s.missing: is required");

    mcc_conf_free(root);
    mcc_config_free(cfg);

    /* a node outside any mcc_config (cfg NULL) still reads, with a placeholder file name */
    cJSON *doc = cJSON_Parse("{\"a\":\"x\"}");
    mcc_conf *lone = mcc_conf_new(NULL, doc, "plugins.p.config");
    int64_t v;
    CU_ASSERT_EQUAL(mcc_conf_int(lone, "a", 0, 0, 1, &v, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "<config>: plugins.p.config.a: expected an integer from 0 "
                                    "to 1, got \"x\"");
    mcc_conf_free(lone);
    cJSON_Delete(doc);
}

static void test_parse_size(void)
{
    static const struct {
        const char *text;
        int rc;
        uint64_t v;
    } cases[] = {
        {"0", MCC_OK, 0},
        {"512", MCC_OK, 512},
        {"512B", MCC_OK, 512},
        {"1K", MCC_OK, 1024},
        {"1k", MCC_OK, 1024},
        {"1KiB", MCC_OK, 1024},
        {"1kib", MCC_OK, 1024},
        {"1KB", MCC_OK, 1000},
        {"64KiB", MCC_OK, 65536},
        {"1M", MCC_OK, 1048576},
        {"1MiB", MCC_OK, 1048576},
        {"1MB", MCC_OK, 1000000},
        {"2G", MCC_OK, 2147483648ull},
        {"10GB", MCC_OK, 10000000000ull},
        {"10GiB", MCC_OK, 10737418240ull},
        {"3T", MCC_OK, 3298534883328ull},
        {"3TiB", MCC_OK, 3298534883328ull},
        {"3tb", MCC_OK, 3000000000000ull},
        {"18446744073709551615", MCC_OK, UINT64_MAX},
        {"18446744073709551616", MCC_ERROR, 0},
        {"99999999999999999999999", MCC_ERROR, 0},
        {"16777215TiB", MCC_OK, 16777215ull << 40},
        {"16777216TiB", MCC_ERROR, 0},
        {"18446744073709552KB", MCC_ERROR, 0},
        {"", MCC_ERROR, 0},
        {"KiB", MCC_ERROR, 0},
        {"-1", MCC_ERROR, 0},
        {"+1", MCC_ERROR, 0},
        {" 1", MCC_ERROR, 0},
        {"1 MiB", MCC_ERROR, 0},
        {"1.5MiB", MCC_ERROR, 0},
        {"1PB", MCC_ERROR, 0},
        {"1MiBs", MCC_ERROR, 0},
        {"0x10", MCC_ERROR, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = mcc_parse_size(cases[i].text, &v);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "size \"%s\": rc %d\n", cases[i].text, rc);
        if (cases[i].rc == MCC_OK)
            CU_ASSERT_EQUAL(v, cases[i].v);
    }
    CU_ASSERT_EQUAL(mcc_parse_size(NULL, &(uint64_t){0}), MCC_ERROR);
}

static void test_parse_duration(void)
{
    static const struct {
        const char *text;
        int rc;
        uint64_t v;
    } cases[] = {
        {"0", MCC_OK, 0},
        {"5", MCC_OK, 5000},
        {"250ms", MCC_OK, 250},
        {"30s", MCC_OK, 30000},
        {"5m", MCC_OK, 300000},
        {"1h", MCC_OK, 3600000},
        {"1d", MCC_OK, 86400000},
        {"2D", MCC_OK, 172800000},
        {"18446744073709551615ms", MCC_OK, UINT64_MAX},
        {"18446744073709551s", MCC_OK, 18446744073709551000ull},
        {"18446744073709552s", MCC_ERROR, 0},
        {"213503982334d", MCC_OK, 213503982334ull * 86400000ull},
        {"213503982335d", MCC_ERROR, 0},
        {"18446744073709551616ms", MCC_ERROR, 0},
        {"", MCC_ERROR, 0},
        {"ms", MCC_ERROR, 0},
        {"-1s", MCC_ERROR, 0},
        {"1.5s", MCC_ERROR, 0},
        {"1w", MCC_ERROR, 0},
        {"10 s", MCC_ERROR, 0},
        {"1h30m", MCC_ERROR, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = mcc_parse_duration(cases[i].text, &v);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "duration \"%s\": rc %d\n", cases[i].text, rc);
        if (cases[i].rc == MCC_OK)
            CU_ASSERT_EQUAL(v, cases[i].v);
    }
}

static void test_unknown_keys(void)
{
    mcc_err err = {{0}};
    mcc_config *cfg = mcc_config_new();
    CU_ASSERT_EQUAL(
        mcc_config_add_text(cfg, "a.json",
                            "{\"a\":{\"b\":{\"c\":1,\"d\":2}},"
                            "\"list\":[{\"x\":1},{\"x\":2,\"y\":3}],\"skip\":{\"q\":1}}",
                            &err),
        MCC_OK);
    CU_ASSERT_EQUAL(mcc_config_add_text(cfg, "b.json", "{\"a\":{\"b\":{\"d\":5}}}", &err), MCC_OK);
    mcc_conf *root = mcc_conf_new(cfg, mcc_config_root(cfg), "");
    /* nothing read: the first top-level member is unknown; b.json wrote into it last */
    CU_ASSERT_EQUAL(mcc_conf_check_unknown(root, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "b.json: a: unknown key");

    const mcc_conf *a = mcc_conf_child(root, "a", 'o', &err);
    const mcc_conf *ab = mcc_conf_child(a, "b", 'o', &err);
    int64_t v;
    CU_ASSERT_EQUAL(mcc_conf_int(ab, "c", 0, 0, 10, &v, &err), MCC_OK);
    const mcc_conf *list = mcc_conf_child(root, "list", 'a', &err);
    const mcc_conf *skip = mcc_conf_child(root, "skip", 'o', &err);
    mcc_conf_set_unchecked(skip);
    /* a.b.d came last from b.json */
    CU_ASSERT_EQUAL(mcc_conf_check_unknown(root, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "b.json: a.b.d: unknown key");
    CU_ASSERT_EQUAL(mcc_conf_int(ab, "d", 0, 0, 10, &v, &err), MCC_OK);
    /* the list's elements were never handed out: nothing in them is checked */
    CU_ASSERT_EQUAL(mcc_conf_check_unknown(root, &err), MCC_OK);
    for (size_t i = 0; i < mcc_conf_count(list); i++) {
        const mcc_conf *el = mcc_conf_index(list, i, NULL);
        CU_ASSERT_EQUAL(mcc_conf_int(el, "x", 0, 0, 10, &v, &err), MCC_OK);
        CU_ASSERT_EQUAL(v, (int64_t)i + 1);
    }
    CU_ASSERT_EQUAL(mcc_conf_check_unknown(root, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, "a.json: list[1].y: unknown key");
    /* checking a subtree alone */
    CU_ASSERT_EQUAL(mcc_conf_check_unknown(ab, &err), MCC_OK);
    mcc_conf_free(root);
    mcc_config_free(cfg);
}

static mcc_config *defaults_plus(const char *name, const char *text, mcc_err *err)
{
    mcc_config *cfg = mcc_config_new();
    CU_ASSERT_EQUAL_FATAL(mcc_config_add_embedded(cfg, err), MCC_OK);
    if (text != NULL)
        CU_ASSERT_EQUAL_FATAL(mcc_config_add_text(cfg, name, text, err), MCC_OK);
    return cfg;
}

static const mcc_instance_conf *find_instance(const mcc_settings *s, const char *name)
{
    for (unsigned i = 0; i < s->ninstances; i++) {
        if (strcmp(s->instances[i].name, name) == 0)
            return &s->instances[i];
    }
    return NULL;
}

static void test_settings_defaults(void)
{
    mcc_err err = {{0}};
    mcc_settings *s = calloc(1, sizeof(*s));
    mcc_config *cfg = defaults_plus(NULL, NULL, &err);
    CU_ASSERT_STRING_EQUAL(mcc_config_source(cfg, "limits.max_connections"),
                           "<embedded>/00-defaults.json");
    int rc = mcc_settings_load(cfg, s, &err);
    if (rc != MCC_OK)
        fprintf(stderr, "%s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, MCC_OK);
    char host[128] = "";
    gethostname(host, sizeof(host) - 1);
    CU_ASSERT_STRING_EQUAL(s->node_name, host[0] != '\0' ? host : "mcc");
    CU_ASSERT_STRING_EQUAL(s->customer_id, "");
    CU_ASSERT_STRING_EQUAL(s->listen_content, "0.0.0.0:80");
    CU_ASSERT_STRING_EQUAL(s->listen_admin, "0.0.0.0:5001");
    CU_ASSERT_STRING_EQUAL(s->plugin_dir, "");
    CU_ASSERT_STRING_EQUAL(s->cache_root, "/var/cache/mcc");
    CU_ASSERT_EQUAL(s->log_level, MCC_LOG_INFO);
    CU_ASSERT_STRING_EQUAL(s->access_log, "-");
    CU_ASSERT_EQUAL(s->max_connections, 10000);
    CU_ASSERT_EQUAL(s->max_header_bytes, 16384);
    CU_ASSERT_EQUAL(s->client_timeout_ms, 60000);
    CU_ASSERT_EQUAL(s->slice_size, 1048576);
    /* threads follow the cores: two loops where there are two or more, a sender per core */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CU_ASSERT_EQUAL(s->loops, cpus > 1 ? 2u : 1u);
    CU_ASSERT_EQUAL(s->send_threads, cpus > 1 ? (unsigned)(cpus < 64 ? cpus : 64) : 0u);
    CU_ASSERT_STRING_EQUAL(s->storage, "disk");
    CU_ASSERT_EQUAL(s->nhosts, 1);
    CU_ASSERT_STRING_EQUAL(s->hosts[0], "hosts");
    CU_ASSERT_EQUAL(s->nupstreams, 1);
    CU_ASSERT_STRING_EQUAL(s->upstreams[0], "cdn");
    CU_ASSERT_STRING_EQUAL(s->proxy, "");
    CU_ASSERT_EQUAL(s->connect_timeout_ms, 5000);
    CU_ASSERT_EQUAL(s->low_speed_time_ms, 10000);
    CU_ASSERT_EQUAL(s->low_speed_limit, 1000);
    CU_ASSERT_EQUAL(s->max_redirects, 5);
    CU_ASSERT_EQUAL(s->summary_public, 0);
    CU_ASSERT_EQUAL(s->summary_unrestricted, 0);
    CU_ASSERT_STRING_EQUAL(s->summary_api_key, "");
    CU_ASSERT_EQUAL(s->summary_period_ms, 15000);
    /* the shipped defaults may grow instances: find ours by name, in document order */
    const mcc_instance_conf *hosts = find_instance(s, "hosts"), *cdn = find_instance(s, "cdn");
    const mcc_instance_conf *disk = find_instance(s, "disk");
    CU_ASSERT_PTR_NOT_NULL_FATAL(hosts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cdn);
    CU_ASSERT_PTR_NOT_NULL_FATAL(disk);
    CU_ASSERT_TRUE(hosts < cdn && cdn < disk);
    CU_ASSERT_STRING_EQUAL(hosts->plugin, "hosts");
    CU_ASSERT_EQUAL(hosts->enabled, 1);
    CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hosts->config, "builtin")));
    CU_ASSERT_STRING_EQUAL(cdn->plugin, "cdn");
    CU_ASSERT_STRING_EQUAL(disk->plugin, "disk");
    /* config points into the merged document */
    CU_ASSERT_PTR_EQUAL(
        disk->config,
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(mcc_config_root(cfg), "plugins"), "disk"),
            "config"));
    mcc_config_free(cfg);

    /* an override: another instance, a disabled one, order and plugin names */
    cfg = defaults_plus("90-x.json",
                        "{\"plugins\":{\"mem\":{\"plugin\":\"memory\",\"config\":{\"any\":1}},"
                        "\"cdn\":{\"enabled\":false},\"p2\":{}},"
                        "\"cache\":{\"storage\":\"mem\",\"upstreams\":[\"p2\"]},"
                        "\"listen\":{\"content\":\"[::1]:8080\",\"admin\":\"\"},"
                        "\"log\":{\"level\":\"debug\"},\"summary\":{\"period\":1}}",
                        &err);
    rc = mcc_settings_load(cfg, s, &err);
    if (rc != MCC_OK)
        fprintf(stderr, "%s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, MCC_OK);
    unsigned base = s->ninstances - 2; /* the defaults', then mem and p2 */
    CU_ASSERT_STRING_EQUAL(s->instances[base].name, "mem");
    CU_ASSERT_STRING_EQUAL(s->instances[base].plugin, "memory");
    CU_ASSERT_EQUAL(s->instances[base].enabled, 1);
    CU_ASSERT_EQUAL(cJSON_GetObjectItemCaseSensitive(s->instances[base].config, "any")->valueint,
                    1);
    CU_ASSERT_STRING_EQUAL(s->instances[base + 1].name, "p2");
    CU_ASSERT_STRING_EQUAL(s->instances[base + 1].plugin, "p2");
    CU_ASSERT_PTR_NULL(s->instances[base + 1].config);
    CU_ASSERT_PTR_NOT_NULL_FATAL(find_instance(s, "cdn"));
    CU_ASSERT_EQUAL(find_instance(s, "cdn")->enabled, 0);
    CU_ASSERT_STRING_EQUAL(s->storage, "mem");
    CU_ASSERT_STRING_EQUAL(s->upstreams[0], "p2");
    CU_ASSERT_STRING_EQUAL(s->listen_content, "[::1]:8080");
    CU_ASSERT_STRING_EQUAL(s->listen_admin, "");
    CU_ASSERT_EQUAL(s->log_level, MCC_LOG_DEBUG);
    CU_ASSERT_EQUAL(s->summary_period_ms, 1000);
    mcc_config_free(cfg);
    free(s);
}

/* Loading the defaults with fragment 90-x.json on top fails with exactly MSG. */
static void settings_fails(const char *text, const char *msg)
{
    mcc_err err = {{0}};
    mcc_settings *s = calloc(1, sizeof(*s));
    mcc_config *cfg = defaults_plus("90-x.json", text, &err);
    CU_ASSERT_EQUAL(mcc_settings_load(cfg, s, &err), MCC_ERROR);
    CU_ASSERT_STRING_EQUAL(err.msg, msg);
    if (strcmp(err.msg, msg) != 0)
        fprintf(stderr, "\n  got:  %s\n  want: %s\n", err.msg, msg);
    mcc_config_free(cfg);
    free(s);
}

static void test_settings_errors(void)
{
    settings_fails("{\"listen\":{\"content\":\"localhost:80\"}}",
                   "90-x.json: listen.content: expected an address:port like 0.0.0.0:80 or "
                   "[::]:80, got \"localhost:80\"");
    settings_fails("{\"listen\":{\"content\":\"0.0.0.0:0\"}}",
                   "90-x.json: listen.content: expected an address:port like 0.0.0.0:80 or "
                   "[::]:80, got \"0.0.0.0:0\"");
    settings_fails("{\"listen\":{\"content\":\"\"}}",
                   "90-x.json: listen.content: expected an address:port like 0.0.0.0:80 or "
                   "[::]:80, got \"\"");
    settings_fails("{\"listen\":{\"admin\":\"[::1]:70000\"}}",
                   "90-x.json: listen.admin: expected an address:port like 0.0.0.0:5001 or "
                   "[::]:5001, or \"\" to disable, got \"[::1]:70000\"");
    settings_fails("{\"log\":{\"level\":\"verbose\"}}",
                   "90-x.json: log.level: expected one of error, warn, info, debug, got "
                   "\"verbose\"");
    settings_fails("{\"cache\":{\"storage\":\"nvme\"}}",
                   "90-x.json: cache.storage: expected the name of an instance under plugins, "
                   "got \"nvme\"");
    settings_fails("{\"plugins\":{\"disk\":{\"enabled\":false}}}",
                   "<embedded>/00-defaults.json: cache.storage: instance \"disk\" is disabled "
                   "(plugins.disk.enabled)");
    settings_fails("{\"cache\":{\"upstreams\":[\"cdn\",\"nope\"]}}",
                   "90-x.json: cache.upstreams[1]: expected the name of an instance under "
                   "plugins, got \"nope\"");
    settings_fails("{\"cache\":{\"hosts\":[]}}",
                   "90-x.json: cache.hosts: expected a non-empty array of instance names, got an "
                   "array");
    settings_fails("{\"cache\":{\"hosts\":[\"hosts\",\"hosts\"]}}",
                   "90-x.json: cache.hosts[1]: instance \"hosts\" is listed twice");
    settings_fails("{\"fetch\":{\"timeout\":5}}", "90-x.json: fetch.timeout: unknown key");
    settings_fails("{\"fetch\":{\"proxy\":\"proxy.example.com\"}}",
                   "90-x.json: fetch.proxy: expected \"\" or host:port like "
                   "proxy.example.com:3128, got \"proxy.example.com\"");
    settings_fails("{\"fetch\":{\"max_redirects\":21}}",
                   "90-x.json: fetch.max_redirects: expected an integer from 0 to 20, got 21");
    settings_fails("{\"extra\":{}}", "90-x.json: extra: unknown key");
    settings_fails("{\"plugins\":{\"disk\":{\"plugn\":\"disk\"}}}",
                   "90-x.json: plugins.disk.plugn: unknown key");
    settings_fails("{\"plugins\":{\"Disk\":{}}}",
                   "90-x.json: plugins.Disk: expected an instance name of 1 to 63 characters "
                   "a-z, 0-9, _ and -");
    settings_fails("{\"plugins\":{\"x\":5}}", "90-x.json: plugins.x: expected an object, got 5");
    settings_fails("{\"plugins\":{\"x\":{\"config\":[]}}}",
                   "90-x.json: plugins.x.config: expected an object, got an array");
    settings_fails("{\"node\":{\"customer_id\":\"1234\"}}",
                   "90-x.json: node.customer_id: expected \"\" or a GUID like "
                   "12345678-1234-1234-1234-123456789abc, got \"1234\"");
    settings_fails("{\"node\":{\"name\":\"a b\"}}",
                   "90-x.json: node.name: expected a name of letters, digits, '.', '-' and '_', "
                   "got \"a b\"");
    settings_fails("{\"paths\":{\"cache_root\":\"cache\"}}",
                   "90-x.json: paths.cache_root: expected an absolute path, got \"cache\"");
    settings_fails("{\"limits\":{\"max_header_bytes\":\"2MiB\"}}",
                   "90-x.json: limits.max_header_bytes: expected a size from 1KiB to 1MiB, got "
                   "\"2MiB\"");
    settings_fails("{\"cache\":{\"slice_size\":\"1000KB\"}}",
                   "90-x.json: cache.slice_size: expected a power of two from 4KiB to 256MiB, "
                   "got \"1000KB\"");
    settings_fails("{\"summary\":{\"period\":\"500ms\"}}",
                   "90-x.json: summary.period: expected a duration of at least 1s, got \"500ms\"");
    settings_fails("{\"summary\":{\"public\":\"yes\"}}",
                   "90-x.json: summary.public: expected true or false, got \"yes\"");
    settings_fails("{\"listen\":[]}", "90-x.json: listen: expected an object, got an array");
}

static const CU_TestInfo conf_tests[] = {
    {"merge and provenance", test_merge},
    {"syntax errors", test_syntax_errors},
    {"directory order", test_dir},
    {"typed getters", test_getters},
    {"parse size", test_parse_size},
    {"parse duration", test_parse_duration},
    {"unknown keys", test_unknown_keys},
    {"settings defaults", test_settings_defaults},
    {"settings errors", test_settings_errors},
    CU_TEST_INFO_NULL,
};

int mcc_test_register(void)
{
    return mcc_test_suite("conf", conf_tests);
}
