#!/usr/bin/env bash
# `cmake --install` lays out mccd, the plugins, the SDK headers, pkg-config and CMake package files
# and the default conf.d; a plugin built against the installed SDK alone loads in installed mccd.
source "$(dirname "$0")/lib.sh"

prefix=$T/prefix
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$MCC_BUILD_DIR/CMakeCache.txt")
: "${libdir:=lib}"
run cmake --install "$MCC_BUILD_DIR" --prefix "$prefix"
assert_rc 0 "cmake --install"

for f in bin/mccd "$libdir/mcc/plugins/hosts.so" include/mcc/mcc.h include/mcc/plugin.h \
    "$libdir/pkgconfig/mcc-sdk.pc" "$libdir/cmake/mcc-sdk/mcc-sdkConfig.cmake" \
    "$libdir/cmake/mcc-sdk/mcc-sdkConfigVersion.cmake" etc/mcc/conf.d/00-defaults.json; do
    assert_file_exists "$prefix/$f"
done
[ -x "$prefix/bin/mccd" ] || fail "$prefix/bin/mccd is not executable"
# every SDK header is installed, byte for byte
for h in "$MCC_SOURCE_DIR"/sdk/include/mcc/*.h; do
    cmp -s "$h" "$prefix/include/mcc/$(basename "$h")" || fail "installed $(basename "$h") differs"
done
cmp -s "$MCC_SOURCE_DIR/conf.d/00-defaults.json" "$prefix/etc/mcc/conf.d/00-defaults.json" ||
    fail "installed 00-defaults.json differs from conf.d/"
# test-only programs and plugins stay in the build tree
test_only=$(find "$prefix" -name 'test_*' -o -name 'notaplugin*' -o -name 'mcc-test-origin')
assert_eq "" "$test_only" "test-only files installed"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' \
    "$prefix/etc/mcc/conf.d/00-defaults.json" ||
    fail "installed 00-defaults.json is not valid JSON"

installed_plugins=$prefix/$libdir/mcc/plugins
run "$prefix/bin/mccd" --version
assert_rc 0 "installed mccd --version"
run "$prefix/bin/mccd" --plugin-dir "$installed_plugins" --check-plugin hosts
assert_rc 0 "installed mccd --check-plugin hosts"
assert_contains "$RUN_OUT" "ok:" "installed mccd --check-plugin hosts"

# pkg-config finds the SDK in the install tree
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
run pkg-config --cflags mcc-sdk
assert_rc 0 "pkg-config --cflags mcc-sdk"
# the -I must lead into this install tree, wherever it was configured to go (a relocatable
# .pc file: prefix=${pcfiledir}/../..)
read -r -a cflags <<<"$RUN_OUT"
incdir=$(printf '%s\n' "${cflags[@]}" | sed -n 's/^-I//p' | head -n 1)
if [ -z "$incdir" ] || [ "$(realpath -m "$incdir")" != "$(realpath "$prefix/include")" ]; then
    fail "pkg-config --cflags mcc-sdk: expected -I$prefix/include, got '$RUN_OUT'"
fi
run pkg-config --modversion mcc-sdk
assert_rc 0 "pkg-config --modversion mcc-sdk"
version=$(sed -n 's/^project(mcc VERSION \([0-9.]*\).*/\1/p' "$MCC_SOURCE_DIR/CMakeLists.txt")
assert_eq "$version" "$RUN_OUT" "mcc-sdk version"

# a tiny host-rule plugin that knows one host, built with the installed headers only
mkdir -p "$T/tiny"
cat >"$T/tiny/tiny.c" <<'C'
#include <string.h>
#include <mcc/mcc.h>

static int tiny_create(const mcc_host *host, mcc_instance *self, const mcc_conf *conf,
                       void **state, mcc_err *err)
{
    (void)host, (void)self, (void)conf, (void)err;
    static int token;
    *state = &token;
    return MCC_OK;
}

static void tiny_destroy(void *state) { (void)state; }

static int tiny_match(void *state, const char *host, unsigned port, const char *path,
                      mcc_host_rule *rule)
{
    (void)state, (void)port, (void)path;
    if (strcmp(host, "tiny.example") != 0)
        return MCC_DECLINED;
    memcpy(rule->ns, "tiny", 5);
    return MCC_OK;
}

static const mcc_hosts_ops tiny_ops = {.size = sizeof(mcc_hosts_ops), .match = tiny_match};

static const mcc_plugin tiny_plugin = {
    MCC_PLUGIN_HEAD(MCC_KIND_HOSTS, "tiny", "0.0.1"),
    .description = "one host, for the install test",
    .create = tiny_create,
    .destroy = tiny_destroy,
    .ops = &tiny_ops,
};

MCC_PLUGIN_DEFINE(tiny_plugin)
C
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
run gcc -std=c11 -Wall -Wextra -Werror -shared -fPIC $(pkg-config --cflags mcc-sdk) \
    -o "$T/tiny/tiny.so" "$T/tiny/tiny.c"
assert_rc 0 "gcc against the installed SDK"
exported=$(nm -D --defined-only "$T/tiny/tiny.so" | awk '$2 == "T" { print $3 }')
assert_eq "mcc_plugin_v1" "$exported" "symbols exported by the tiny plugin"
run "$prefix/bin/mccd" --plugin-dir "$installed_plugins" --check-plugin "$T/tiny/tiny.so"
assert_rc 0 "installed mccd --check-plugin tiny.so"
assert_contains "$RUN_OUT" "ok:" "installed mccd --check-plugin tiny.so"
assert_contains "$RUN_OUT" "tiny" "installed mccd --check-plugin tiny.so"

# the same plugin through the installed CMake package
mkdir -p "$T/tiny-cmake"
cat >"$T/tiny-cmake/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(tiny C)
find_package(mcc-sdk REQUIRED)
mcc_sdk_add_plugin(tiny "$T/tiny/tiny.c")
CM
run cmake -S "$T/tiny-cmake" -B "$T/tiny-cmake/build" -DCMAKE_PREFIX_PATH="$prefix"
assert_rc 0 "configure a plugin with find_package(mcc-sdk)"
run cmake --build "$T/tiny-cmake/build"
assert_rc 0 "build a plugin with mcc_sdk_add_plugin"
run "$prefix/bin/mccd" --plugin-dir "$installed_plugins" \
    --check-plugin "$T/tiny-cmake/build/tiny.so"
assert_rc 0 "installed mccd --check-plugin (CMake-built tiny.so)"
assert_contains "$RUN_OUT" "ok:" "installed mccd --check-plugin (CMake-built tiny.so)"
