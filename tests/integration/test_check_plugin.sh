#!/usr/bin/env bash
# mccd --check-plugin: every shipped plugin loads ("ok:"), every broken test plugin and a file
# that is no plugin are refused with exit 1 and a reason.
source "$(dirname "$0")/lib.sh"

[ -d "$MCC_PLUGIN_DIR" ] || fail "plugin dir $MCC_PLUGIN_DIR missing (build mcc_all_plugins)"

# per-plugin configs for --check-plugin, where a plugin needs one (disk: drives, a temp root)
plugin_config() { # NAME: prints a config file path, or nothing
    case "$1" in
    disk)
        printf '{ "root": "%s", "drives": [ { "path": "cache1", "size": "16MiB" } ] }\n' \
            "$T/cache" >"$T/disk.json"
        echo "$T/disk.json"
        ;;
    memory)
        printf '{ "size": "16MiB" }\n' >"$T/memory.json"
        echo "$T/memory.json"
        ;;
    parent)
        printf '{ "parents": [ "127.0.0.1:9" ], "probe_interval": 0 }\n' >"$T/parent.json"
        echo "$T/parent.json"
        ;;
    esac
}

check_plugin() { # FILE [CONFIG]
    if [ -n "${2:-}" ]; then
        run "$MCCD" --plugin-dir "$MCC_PLUGIN_DIR" --check-plugin "$1" --plugin-config "$2"
    else
        run "$MCCD" --plugin-dir "$MCC_PLUGIN_DIR" --check-plugin "$1"
    fi
}

# shipped plugins: every .so in the plugin dir that is not a test plugin
shipped=0
for so in "$MCC_PLUGIN_DIR"/*.so; do
    [ -e "$so" ] || continue
    name=$(basename "$so" .so)
    case "$name" in
    test_* | notaplugin) continue ;;
    esac
    check_plugin "$so" "$(plugin_config "$name")"
    assert_rc 0 "--check-plugin $name"
    assert_contains "$RUN_OUT" "ok: " "--check-plugin $name"
    assert_contains "$RUN_OUT" "$name" "--check-plugin $name"
    shipped=$((shipped + 1))
done
# the ones the default configuration needs are always there
for name in hosts cdn disk; do
    assert_file_exists "$MCC_PLUGIN_DIR/$name.so"
done
log "$shipped shipped plugins accepted"

# by name, looked up in the plugin dir
check_plugin hosts
assert_rc 0 "--check-plugin hosts (by name)"
assert_contains "$RUN_OUT" "ok: " "--check-plugin hosts (by name)"

# the good test plugin loads too: the refusals below are about each plugin's one defect
check_plugin "$MCC_PLUGIN_DIR/test_exporter_good.so"
assert_rc 0 "--check-plugin test_exporter_good"

# broken test plugins (tests/plugins), each with a word its reason must contain
broken_reasons=(
    "test_bad_nosymbol:mcc_plugin_v1"
    "test_bad_abi_major:ABI"
    "test_bad_abi_minor:ABI"
    "test_bad_kind:kind"
    "test_bad_storage_nowrite:write"
    "test_bad_create:frobnicator"
    "notaplugin:shared object"
)
for entry in "${broken_reasons[@]}"; do
    name=${entry%%:*}
    word=${entry#*:}
    so=$MCC_PLUGIN_DIR/$name.so
    assert_file_exists "$so"
    check_plugin "$so"
    assert_rc 1 "--check-plugin $name"
    assert_not_contains "$RUN_OUT" "ok: " "--check-plugin $name stdout"
    assert_contains "$RUN_ERR" "$name" "--check-plugin $name: the message names the file"
    assert_contains "$RUN_ERR" "$word" "--check-plugin $name: the reason"
    log "$name refused: $RUN_ERR"
done
# every other broken plugin that appears later is refused as well
for so in "$MCC_PLUGIN_DIR"/test_bad_*.so; do
    name=$(basename "$so" .so)
    case " ${broken_reasons[*]} " in *" $name:"*) continue ;; esac
    [ "$name" = test_bad_readsnothing ] && continue
    check_plugin "$so"
    assert_rc 1 "--check-plugin $name"
done

# a plugin that reads no config key: fine without config, refused with one, naming the key
check_plugin "$MCC_PLUGIN_DIR/test_bad_readsnothing.so"
assert_rc 0 "--check-plugin test_bad_readsnothing without config"
printf '{ "surplus": 1 }\n' >"$T/surplus.json"
check_plugin "$MCC_PLUGIN_DIR/test_bad_readsnothing.so" "$T/surplus.json"
assert_rc 1 "--check-plugin test_bad_readsnothing with a config key"
assert_contains "$RUN_ERR" "surplus" "unknown plugin config key"
assert_contains "$RUN_ERR" "$T/surplus.json" "unknown plugin config key names the file"

# a file that is not a shared object at all
printf 'not an ELF file\n' >"$T/fake.so"
run "$MCCD" --plugin-dir "$MCC_PLUGIN_DIR" --check-plugin "$T/fake.so"
assert_rc 1 "--check-plugin of a text file"
assert_contains "$RUN_ERR" "fake.so" "--check-plugin of a text file"

# a plain text file without the .so suffix
printf 'hello\n' >"$T/readme.txt"
run "$MCCD" --plugin-dir "$MCC_PLUGIN_DIR" --check-plugin "$T/readme.txt"
assert_rc 1 "--check-plugin of readme.txt"
assert_contains "$RUN_ERR" "readme.txt" "--check-plugin of readme.txt"

# a real shared object that is no mcc plugin (no mcc_plugin_v1)
if command -v gcc >/dev/null 2>&1; then
    printf 'int not_a_plugin(void) { return 1; }\n' >"$T/other.c"
    gcc -shared -fPIC -o "$T/other.so" "$T/other.c"
    run "$MCCD" --plugin-dir "$MCC_PLUGIN_DIR" --check-plugin "$T/other.so"
    assert_rc 1 "--check-plugin of a library without mcc_plugin_v1"
    assert_contains "$RUN_ERR" "mcc_plugin_v1" "--check-plugin without the entry symbol"
fi

# a missing file
run "$MCCD" --plugin-dir "$MCC_PLUGIN_DIR" --check-plugin "$T/nothing-here.so"
assert_rc 1 "--check-plugin of a missing file"
