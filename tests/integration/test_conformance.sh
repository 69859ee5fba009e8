#!/usr/bin/env bash
# The conformance kit (mcc-plugin-conformance) against every plugin in the build's plugin dir
# with a sensible config each, the SDK examples, and the deliberately broken storage backends,
# which it must catch naming the broken contract. Also: the kit installed with the SDK finds the
# installed plugins by name.
source "$(dirname "$0")/lib.sh"

KIT=${MCC_CONFORMANCE:-$MCC_BUILD_DIR/mcc-plugin-conformance}
[ -x "$KIT" ] || fail "$KIT: the conformance kit was not built"

# The config and extra options of each plugin we ship or test with; others run with none.
plugin_args() { # NAME
    case "$1" in
    disk) printf '%s\n' '{"drives": [{"path": "d1", "size": "1MiB"}]}' --persistent \
        --cache-root "$T/root-disk" ;;
    memory) printf '%s\n' '{"size": "1MiB"}' ;;
    hosts) printf '%s\n' '{"custom": [{"host": "origin.test", "canonical": "origin"}]}' \
        --accept-host origin.test --accept-host dl.delivery.mp.microsoft.com \
        --decline-host example.com ;;
    parent) printf '%s\n' '{"parents": ["127.0.0.1:9", "127.0.0.2:9"]}' ;;
    pathrules)
        printf '%s' '{"rules": [{"match": "**/pool/**/*.deb", "freshness": "immutable"}, '
        printf '%s\n' '{"match": "**/InRelease", "freshness": "revalidate"}]}' ;;
    hostfile | host-file)
        printf 'repo.example.com repo\nmirror.example.net:80 repo\n' >"$T/rules.txt"
        printf '%s\n' "{\"file\": \"$T/rules.txt\"}" --accept-host repo.example.com \
            --decline-host example.com ;;
    jsonl | jsonl-exporter) printf '%s\n' "{\"path\": \"$T/out.jsonl\"}" ;;
    esac
}

# Runs the kit on PLUGIN (path) with its args; checks every contract passed and none failed.
conform() { # PLUGIN NAME
    local plugin=$1 name=$2 args=()
    mapfile -t args < <(plugin_args "$name")
    mkdir -p "$T/root-disk"
    run "$KIT" "$plugin" "${args[@]}"
    printf '%s\n' "$RUN_OUT" >"$T/kit-$name.out"
    if [ "$RUN_RC" != 0 ] && [ -z "${args[*]}" ] && grep -q '^FAIL load:' <<<"$RUN_OUT"; then
        # a plugin this test knows no config for yet: say so, do not hide a real failure
        log "WARN: $name needs a config: add one to plugin_args in $(basename "$0")"
        log "      $(grep '^FAIL load:' <<<"$RUN_OUT")"
        return 0
    fi
    [ "$RUN_RC" = 0 ] || fail "kit on $name: exit $RUN_RC: $(grep '^FAIL' <<<"$RUN_OUT" | head -5)
$RUN_ERR"
    assert_not_contains "$RUN_OUT" "FAIL " "kit on $name"
    assert_contains "$RUN_OUT" "PASS " "kit on $name"
    log "$name: $(grep -c '^PASS' <<<"$RUN_OUT") passed, $(grep -c '^SKIP' <<<"$RUN_OUT") skipped"
    CHECKED+=("$name")
}

CHECKED=()
for so in "$MCC_PLUGIN_DIR"/*.so; do
    name=$(basename "$so" .so)
    case "$name" in
    test_exporter_good) ;;  # a good test plugin: it must pass too
    test_* | notaplugin) continue ;; # deliberately broken ones, checked below or elsewhere
    esac
    conform "$so" "$name"
done

# what we ship must have been checked, with the contracts that matter for its kind
for must in disk memory hosts cdn lru; do
    case " ${CHECKED[*]} " in
    *" $must "*) ;;
    *) fail "$must was not run through the kit" ;;
    esac
done
for st in disk memory; do
    out=$(cat "$T/kit-$st.out")
    for contract in put_get partial_object range_reads concurrent_readers replace_keeps_old \
        eviction_limit present_after_commit checksum_failure; do
        assert_contains "$out" "PASS storage.$contract" "kit on $st"
    done
done
assert_contains "$(cat "$T/kit-disk.out")" "PASS storage.persistent_reopen" "kit on disk"
assert_contains "$(cat "$T/kit-disk.out")" "a corrupted byte was caught by verify" "kit on disk"
assert_contains "$(cat "$T/kit-lru.out")" "PASS policy.eviction_victims" "kit on lru"
assert_contains "$(cat "$T/kit-hosts.out")" "PASS hosts.expected_hosts" "kit on hosts"
assert_contains "$(cat "$T/kit-cdn.out")" "PASS upstream.outcome_values" "kit on cdn"

# --- the SDK examples, built from their sources as an author would (cc + the SDK headers) ---
if [ -d "$MCC_SOURCE_DIR/sdk/examples" ]; then
    for dir in "$MCC_SOURCE_DIR"/sdk/examples/*/; do
        ex=$(basename "$dir")
        srcs=("$dir"*.c)
        [ -e "${srcs[0]}" ] || continue
        run "${CC:-cc}" -std=gnu11 -shared -fPIC -Wall -Werror -I"$MCC_SOURCE_DIR/sdk/include" \
            -o "$T/$ex.so" "${srcs[@]}" -Wl,--no-undefined
        assert_rc 0 "building the SDK example $ex"
        conform "$T/$ex.so" "$ex"
    done
fi

# --- the broken backends are caught, by the contract they break -----------------------------
run "$KIT" "$MCC_PLUGIN_DIR/test_broken_storage_stale.so"
assert_rc 1 "kit on the stale backend"
assert_contains "$RUN_OUT" "FAIL storage.replace_keeps_old: the replacing object right after" \
    "kit on the stale backend"
assert_contains "$RUN_OUT" "nothing of the replaced one may show" "kit on the stale backend"
assert_contains "$RUN_OUT" "PASS storage.put_get" "kit on the stale backend (the rest passes)"

run "$KIT" "$MCC_PLUGIN_DIR/test_broken_storage_early.so"
assert_rc 1 "kit on the early backend"
assert_contains "$RUN_OUT" \
    "FAIL storage.present_after_commit: has_slice(0) is 1 through the writing handle before" \
    "kit on the early backend"
assert_contains "$RUN_OUT" "FAIL storage.concurrent_readers: reader 0: has_slice(0) is 1 before" \
    "kit on the early backend"

# --- usage errors and kinds ------------------------------------------------------------------
run "$KIT" --kind upstream memory '{"size": "1MiB"}'
assert_rc 1 "kit --kind upstream on a storage plugin"
assert_contains "$RUN_OUT" "FAIL load: memory is a storage plugin, not upstream" "--kind"
run "$KIT" "$MCC_PLUGIN_DIR/test_bad_abi_major.so"
assert_rc 1 "kit on a plugin of another ABI major"
assert_contains "$RUN_OUT" "FAIL load: " "kit on a plugin of another ABI major"
assert_contains "$RUN_OUT" "ABI major 2" "kit on a plugin of another ABI major"
run "$KIT" memory '{"size": 12}'
assert_rc 1 "kit with a bad config"
assert_contains "$RUN_OUT" "size: a size of at least 64KiB is required" "kit with a bad config"
run "$KIT" memory '{"sise": "1MiB"}'
assert_rc 1 "kit with an unknown key"
assert_contains "$RUN_OUT" "sise" "kit with an unknown key"
run "$KIT"
assert_rc 2 "kit without arguments"
run "$KIT" --help
assert_rc 0 "kit --help"
assert_contains "$RUN_OUT" "usage: mcc-plugin-conformance" "kit --help"

# --- installed with the SDK, it finds the installed plugins by name ----------------------------
run cmake --install "$MCC_BUILD_DIR" --prefix "$T/prefix"
assert_rc 0 "cmake --install"
assert_file_exists "$T/prefix/bin/mcc-plugin-conformance"
printf '{"size": "1MiB"}\n' >"$T/memory.json"
run "$T/prefix/bin/mcc-plugin-conformance" memory "$T/memory.json"
assert_rc 0 "the installed kit on the installed memory plugin"
assert_contains "$RUN_OUT" "# $T/prefix/" "the installed kit loads from the prefix"
assert_contains "$RUN_OUT" "PASS storage.eviction_limit" "the installed kit"
