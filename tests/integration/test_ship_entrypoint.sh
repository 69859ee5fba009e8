#!/usr/bin/env bash
# The container image's steps without a container engine: scripts/install.sh installs into a temp
# prefix (as the Dockerfile does into /opt/mcc), then the installed mcc-entrypoint runs with a
# sample MCC module environment (two drives, custom hosts sharing a canonical name, a public
# summary with a key), becomes mccd and serves a file from the test origin; the health check,
# a container restart with a changed environment, and a bad environment are checked too.
source "$(dirname "$0")/lib.sh"

prefix=$T/prefix
run "$MCC_SOURCE_DIR/scripts/install.sh" --build-dir "$MCC_BUILD_DIR" --prefix "$prefix"
assert_rc 0 "scripts/install.sh"
for f in bin/mccd bin/mcc-entrypoint bin/mcc-healthcheck etc/mcc/conf.d/00-defaults.json; do
    assert_file_exists "$prefix/$f"
done
[ -x "$prefix/bin/mcc-entrypoint" ] || fail "mcc-entrypoint is not executable"

ORIGIN_ROOT=$T/origin
sum=$(make_blob pkg/pool/update.swu 2621440) # 2.5 slices of 1 MiB
start_origin

content_port=$(free_port)
admin_port=$(free_port)
guid_customer=0b0e3d2c-1f4a-4c5e-9a7b-2d3c4e5f6a7b
guid_node=11111111-2222-4333-8444-555555555555
guid_key=a1b2c3d4-e5f6-4789-abcd-ef0123456789
# what an IoT Edge deployment sets (docs/deployment.md), plus the test's loopback ports and paths
mcc_env=(
    PATH="$PATH"
    "CUSTOMER_ID=$guid_customer"
    "CACHE_NODE_ID=$guid_node"
    "CUSTOMER_KEY=$guid_key"
    STORAGE_1_SIZE_GB=10
    STORAGE_2_SIZE_GB=12
    CACHEABLE_CUSTOM_1_HOST=packages.example.com
    CACHEABLE_CUSTOM_1_CANONICAL=pkgs
    CACHEABLE_CUSTOM_2_HOST=westus.packages.example.com
    CACHEABLE_CUSTOM_2_CANONICAL=pkgs
    IS_SUMMARY_PUBLIC=True
    SUMMARY_API_KEY=ship-test-key
    "MCC_CONTENT_LISTEN=127.0.0.1:$content_port"
    "MCC_ADMIN_LISTEN=127.0.0.1:$admin_port"
    "MCC_CACHE_ROOT=$T/nginx"
    "MCC_RUNTIME_DIR=$T/run/conf.d"
    "MCC_EXTRA_CONF_DIR=$T/extra"
)
runtime=$T/run/conf.d

# The container's custom hosts resolve through DNS; here they must reach the test origin. The
# extra fragment is the environment's own host list with connect_to added, nothing else.
run env -i "${mcc_env[@]}" "$prefix/bin/mccd" --env-to-conf "$T/preview"
assert_rc 0 "mccd --env-to-conf (preview of the hosts fragment)"
mkdir -p "$T/extra" "$T/mccd"
python3 - "$T/preview/40-hosts.json" "$ORIGIN_ADDR" "$T/mccd/access.log" \
    >"$T/extra/90-test.json" <<'PY' || fail "cannot write the test fragment"
import json, sys
frag = json.load(open(sys.argv[1]))
for rule in frag["plugins"]["hosts"]["config"]["custom"]:
    rule["connect_to"] = sys.argv[2]
frag["log"] = {"level": "debug", "access_log": sys.argv[3]}
json.dump(frag, sys.stdout, indent=2)
PY

start_entrypoint() { # log name; the MCC environment is mcc_env
    env -i "${mcc_env[@]}" "$prefix/bin/mcc-entrypoint" >"$T/mccd/$1.log" 2>&1 &
    MCCD_PID=$!
    track_pid "$MCCD_PID" mcc-entrypoint
    wait_port "$admin_port" "$MCCD_PID" mcc-entrypoint "$T/mccd/$1.log"
    wait_port "$content_port" "$MCCD_PID" mcc-entrypoint "$T/mccd/$1.log"
    # the entry point exec'd: the process that listens is mccd itself, with no shell around it
    assert_eq "$(realpath "$prefix/bin/mccd")" "$(realpath "/proc/$MCCD_PID/exe")" \
        "the entry point's process image"
}

start_entrypoint first
MCC_CONTENT=http://127.0.0.1:$content_port
MCC_ADMIN=http://127.0.0.1:$admin_port

# one fragment per concern that the environment set; no upstream fragment without UPSTREAM_*
for f in 05-listen.json 10-identity.json 20-storage.json 40-hosts.json 50-summary.json; do
    assert_file_exists "$runtime/$f"
done
[ ! -e "$runtime/30-upstream.json" ] || fail "30-upstream.json written without UPSTREAM_HOST"

# the configuration mccd runs with: shipped conf.d, then the environment, then the extra dir
run "$prefix/bin/mccd" --print-config --conf-dir "$prefix/etc/mcc/conf.d" --conf-dir "$runtime" \
    --conf-dir "$T/extra"
assert_rc 0 "mccd --print-config with the entry point's dirs"
printf '%s' "$RUN_OUT" >"$T/merged.json"
python3 - "$T/merged.json" "$T/nginx" "$guid_node" <<'PY' || fail "merged configuration is wrong"
import json, sys
cfg = json.load(open(sys.argv[1]))
root, node = sys.argv[2], sys.argv[3]
want = {
    "node.name": (cfg["node"]["name"], node),
    "paths.cache_root": (cfg["paths"]["cache_root"], root),
    "summary.public": (cfg["summary"]["public"], True),
    "summary.api_key": (cfg["summary"]["api_key"], "ship-test-key"),
    "drives": (cfg["plugins"]["disk"]["config"]["drives"],
               [{"path": "cache1", "size": "10GiB"}, {"path": "cache2", "size": "12GiB"}]),
    "custom hosts": ([(r["host"], r["canonical"])
                      for r in cfg["plugins"]["hosts"]["config"]["custom"]],
                     [("packages.example.com", "pkgs"), ("westus.packages.example.com", "pkgs")]),
}
bad = [f"{k}: {got!r}, expected {exp!r}" for k, (got, exp) in want.items() if got != exp]
if bad:
    sys.exit("; ".join(bad))
PY

# the image's HEALTHCHECK against the running daemon, and against a port nobody serves
run env -i PATH="$PATH" "MCC_ADMIN_LISTEN=127.0.0.1:$admin_port" "$prefix/bin/mcc-healthcheck"
assert_rc 0 "mcc-healthcheck against the running daemon"
run env -i PATH="$PATH" "MCC_ADMIN_LISTEN=127.0.0.1:$(free_port)" MCC_HEALTH_TIMEOUT=2 \
    "$prefix/bin/mcc-healthcheck"
assert_rc 1 "mcc-healthcheck against a closed port"
assert_status 200 "$MCC_ADMIN/healthz"

# a device fetches the file through the gateway: first a miss to the origin...
code=$(cache_get packages.example.com /pkg/pool/update.swu "$T/first.bin" -D "$T/first.h")
assert_eq 200 "$code" "first download"
assert_sha256 "$T/first.bin" "$sum"
assert_eq 2621440 "$(origin_bytes update.swu)" "origin bytes after the first download"
# ...then the other regional name of the same canonical host: served from disk, and the
# Cache-Status names the node by its CACHE_NODE_ID
code=$(cache_get westus.packages.example.com /pkg/pool/update.swu "$T/second.bin" -D "$T/second.h")
assert_eq 200 "$code" "download through the second host name"
assert_sha256 "$T/second.bin" "$sum"
assert_contains "$(tr -d '\r' <"$T/second.h")" "Cache-Status: $guid_node; hit" "second download"
assert_eq 2621440 "$(origin_bytes update.swu)" "origin bytes after the shared-canonical hit"
# a host the environment did not make cacheable
code=$(cache_get other.example.com /pkg/pool/update.swu "$T/other.bin")
assert_eq 403 "$code" "a host that is not cacheable"
# the bytes live on the MCC drives under MCC_CACHE_ROOT
stored=$(find "$T/nginx/cache1" "$T/nginx/cache2" -type f 2>/dev/null | wc -l)
[ "$stored" -gt 0 ] || fail "nothing stored under $T/nginx/cache1 or cache2"
assert_contains "$(cat "$T/mccd/access.log")" "packages.example.com /pkg/pool/update.swu 200" \
    "access log"

# SIGTERM reaches mccd directly (PID 1 in the container) and it stops cleanly
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_KILLED" "mccd needed SIGKILL"
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"

# a container restarted with a changed environment: the summary variables are gone, so is
# their fragment; the cache is warm
unset_summary=()
for v in "${mcc_env[@]}"; do
    case "$v" in IS_SUMMARY_PUBLIC=* | SUMMARY_API_KEY=*) ;; *) unset_summary+=("$v") ;; esac
done
mcc_env=("${unset_summary[@]}")
start_entrypoint second
[ ! -e "$runtime/50-summary.json" ] || fail "50-summary.json kept after its variables were unset"
code=$(cache_get packages.example.com /pkg/pool/update.swu "$T/third.bin" -D "$T/third.h")
assert_eq 200 "$code" "download after the restart"
assert_sha256 "$T/third.bin" "$sum"
assert_contains "$(tr -d '\r' <"$T/third.h")" "Cache-Status: $guid_node; hit" \
    "download after the restart"
assert_eq 2621440 "$(origin_bytes update.swu)" "origin bytes after the restart"
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after the second SIGTERM"

# a bad environment: the entry point stops with the variable named and never starts mccd
run env -i "${mcc_env[@]}" STORAGE_3_SIZE_GB=5 "$prefix/bin/mcc-entrypoint"
assert_rc 1 "mcc-entrypoint with STORAGE_3_SIZE_GB=5"
assert_contains "$RUN_ERR" "STORAGE_3_SIZE_GB" "error for STORAGE_3_SIZE_GB=5"
port_answers "$content_port" && fail "something listens on the content port after a bad environment"
true
