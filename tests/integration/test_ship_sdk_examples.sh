#!/usr/bin/env bash
# The SDK examples build out of tree against an installed SDK only (find_package(mcc-sdk) and
# mcc_sdk_add_plugin), install into the prefix's plugin dir, and the installed mccd loads and uses
# them: the hostfile rules make hosts cacheable (others get 403), the jsonl exporter's file grows
# with every download and every report period.
source "$(dirname "$0")/lib.sh"

prefix=$T/prefix
run cmake --install "$MCC_BUILD_DIR" --prefix "$prefix"
assert_rc 0 "cmake --install of the build dir"
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$MCC_BUILD_DIR/CMakeCache.txt")
plugins=$prefix/${libdir:-lib}/mcc/plugins

# --- build each example with its own CMakeLists.txt, seeing nothing of the source tree's SDK ---
for ex in jsonl-exporter:jsonl host-file:hostfile; do
    dir=${ex%%:*}
    name=${ex#*:}
    cp -r "$MCC_SOURCE_DIR/sdk/examples/$dir" "$T/$dir" # as an integrator's checkout would be
    run cmake -S "$T/$dir" -B "$T/$dir/build" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_C_FLAGS="-Werror" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
    assert_rc 0 "configure $dir against the installed SDK"
    run cmake --build "$T/$dir/build"
    assert_rc 0 "build $dir"
    cc_cmd=$(cat "$T/$dir/build/compile_commands.json")
    assert_contains "$cc_cmd" "$prefix/include" "$dir compile command"
    assert_not_contains "$cc_cmd" "$MCC_SOURCE_DIR/sdk" "$dir compile command"
    run cmake --install "$T/$dir/build"
    assert_rc 0 "install $dir"
    assert_file_exists "$plugins/$name.so"
    exported=$(nm -D --defined-only "$plugins/$name.so" | awk '$2 == "T" { print $3 }')
    assert_eq "mcc_plugin_v1" "$exported" "symbols exported by $name.so"
done

# --- mccd --check-plugin, as the author's guide tells plugin authors to test ------------------
printf 'repo.example.com repo   # the primary name\nmirror.example.net:80 repo\n\n' >"$T/rules.txt"
printf '{ "file": "%s" }\n' "$T/rules.txt" >"$T/hostfile.json"
run "$prefix/bin/mccd" --plugin-dir "$plugins" --check-plugin hostfile \
    --plugin-config "$T/hostfile.json"
assert_rc 0 "mccd --check-plugin hostfile"
assert_contains "$RUN_OUT" "ok: $plugins/hostfile.so: hosts hostfile 1.0.0" "check-plugin hostfile"
assert_contains "$RUN_ERR" "2 cacheable hosts" "hostfile's log line"
printf 'good.example.com\nbad..example.com\n' >"$T/bad-rules.txt"
printf '{ "file": "%s" }\n' "$T/bad-rules.txt" >"$T/bad-hostfile.json"
run "$prefix/bin/mccd" --plugin-dir "$plugins" --check-plugin hostfile \
    --plugin-config "$T/bad-hostfile.json"
assert_rc 1 "mccd --check-plugin hostfile with a bad rules file"
assert_contains "$RUN_ERR" "$T/bad-rules.txt:2:" "the error names the rules file and line"
printf '{ "path": "%s", "rotate": true }\n' "$T/x.jsonl" >"$T/bad-jsonl.json"
run "$prefix/bin/mccd" --plugin-dir "$plugins" --check-plugin jsonl \
    --plugin-config "$T/bad-jsonl.json"
assert_rc 1 "mccd --check-plugin jsonl with an unknown key"
assert_contains "$RUN_ERR" "rotate: unknown key" "jsonl unknown key"

# --- the installed mccd runs with both examples ------------------------------------------------
sum=$(make_blob repo/pool/tool_1.2.deb 1572864)
start_origin
cat >"$T/examples.json" <<EOF
{
  "summary": { "period": "1s" },
  "cache": { "hosts": ["hosts", "rules"] },
  "plugins": {
    "rules": { "plugin": "hostfile",
               "config": { "file": "$T/rules.txt", "connect_to": "$ORIGIN_ADDR" } },
    "stats": { "plugin": "jsonl", "config": { "path": "$T/stats.jsonl" } }
  }
}
EOF
MCCD=$prefix/bin/mccd
MCC_PLUGIN_DIR=$plugins
start_mccd "$T/examples.json"

# request lines in the exporter's file, as "status hit miss host" rows
request_rows() {
    python3 - "$T/stats.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    rec = json.loads(line) # every line must be one JSON object
    if rec["type"] == "request":
        print(rec["status"], rec["hit_bytes"], rec["miss_bytes"], rec["host"])
PY
}

# waits until the exporter's file holds N request lines (the record follows the last byte)
wait_requests() { # N
    local i
    for ((i = 0; i < 50; i++)); do
        [ "$(request_rows | wc -l)" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "expected $1 request lines in stats.jsonl, got: $(request_rows)"
}

code=$(cache_get repo.example.com /repo/pool/tool_1.2.deb "$T/a.bin")
assert_eq 200 "$code" "a host from the rules file"
assert_sha256 "$T/a.bin" "$sum"
wait_requests 1
assert_eq "200 0 1572864 repo.example.com" "$(request_rows | tail -n 1)" "first request line"

code=$(cache_get other.example.com /repo/pool/tool_1.2.deb "$T/b.bin")
assert_eq 403 "$code" "a host in no rule"
wait_requests 2
assert_eq "403 0 0 other.example.com" "$(request_rows | tail -n 1)" "second request line"

# the mirror shares the canonical name "repo": served from disk, no new origin bytes
code=$(cache_get mirror.example.net /repo/pool/tool_1.2.deb "$T/c.bin")
assert_eq 200 "$code" "the second host of the same canonical name"
assert_sha256 "$T/c.bin" "$sum"
wait_requests 3
assert_eq "200 1572864 0 mirror.example.net" "$(request_rows | tail -n 1)" "third request line"
assert_eq 1572864 "$(origin_bytes tool_1.2.deb)" "origin bytes"

# a path that needs escaping still makes a line of valid JSON
code=$(curl -sS -o /dev/null -w '%{http_code}' \
    "$MCC_CONTENT/a%22quote%5Cback%01ctl.bin?cacheHostOrigin=other.example.com")
assert_eq 403 "$code" "an odd path on a host in no rule"
wait_requests 4

# the report periods (1 s here) add up to what was sent
for ((i = 0; i < 60; i++)); do
    totals=$(python3 - "$T/stats.jsonl" <<'PY'
import json, sys
hit = miss = 0
for line in open(sys.argv[1]):
    rec = json.loads(line)
    if rec["type"] == "period":
        hit += rec["hit_bytes"]
        miss += rec["miss_bytes"]
print(hit, miss)
PY
    )
    [ "$totals" = "1572864 1572864" ] && break
    sleep 0.1
done
assert_eq "1572864 1572864" "$totals" "hit and miss bytes summed over the period lines"
