#!/usr/bin/env bash
# mccd --env-to-conf: MCC's environment variables become conf.d fragments, validated with MCC's
# rules first (a bad value writes nothing and names the variable).
source "$(dirname "$0")/lib.sh"

guid1=0b0e3d2c-1f4a-4c5e-9a7b-2d3c4e5f6a7b
guid2=11111111-2222-4333-8444-555555555555
guid3=a1b2c3d4-e5f6-4789-abcd-ef0123456789
valid_env=(
    PATH="$PATH"
    "CUSTOMER_ID=$guid1"
    "CACHE_NODE_ID=$guid2"
    "CUSTOMER_KEY=$guid3"
    STORAGE_1_SIZE_GB=10
    STORAGE_2_SIZE_GB=25
    CACHEABLE_CUSTOM_1_HOST=packages.example.com
    CACHEABLE_CUSTOM_1_CANONICAL=packages-canon
    CACHEABLE_CUSTOM_2_HOST=mirror.example.org:8080
    CACHEABLE_CUSTOM_2_CANONICAL=mirror-canon
    MCC_CACHE_ROOT="$T/cache"
)

# runs mccd --env-to-conf DIR with exactly the variables given (nothing from the caller's env)
env_to_conf() { # DIR VAR=VALUE...
    local dir=$1
    shift
    run env -i "$@" "$MCCD" --env-to-conf "$dir"
}

# the valid environment without the variables starting with PREFIX, into the array FILTERED
without() { # PREFIX
    local v
    FILTERED=()
    for v in "${valid_env[@]}"; do
        [[ "$v" == "$1"* ]] || FILTERED+=("$v")
    done
}

fragments_in() { # DIR
    find "$1" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l
}

# 1. a malformed CUSTOMER_ID: refused, named, nothing written
bad=$T/bad-guid
mkdir -p "$bad"
env_to_conf "$bad" "${valid_env[@]}" CUSTOMER_ID=not-a-guid
[ "$RUN_RC" -ne 0 ] || fail "CUSTOMER_ID=not-a-guid accepted"
assert_contains "$RUN_ERR" "CUSTOMER_ID" "error for CUSTOMER_ID=not-a-guid"
assert_contains "$RUN_ERR" "not-a-guid" "error for CUSTOMER_ID=not-a-guid"
assert_eq 0 "$(fragments_in "$bad")" "fragments written for a bad CUSTOMER_ID"

# 2. a drive below MCC's 10 GB minimum: refused, named, nothing written
small=$T/small-drive
mkdir -p "$small"
env_to_conf "$small" "${valid_env[@]}" STORAGE_1_SIZE_GB=9
[ "$RUN_RC" -ne 0 ] || fail "STORAGE_1_SIZE_GB=9 accepted"
assert_contains "$RUN_ERR" "STORAGE_1_SIZE_GB" "error for STORAGE_1_SIZE_GB=9"
assert_eq 0 "$(fragments_in "$small")" "fragments written for STORAGE_1_SIZE_GB=9"

# 3. a missing required variable
missing=$T/missing
mkdir -p "$missing"
without CUSTOMER_KEY=
env_to_conf "$missing" "${FILTERED[@]}"
[ "$RUN_RC" -ne 0 ] || fail "missing CUSTOMER_KEY accepted"
assert_contains "$RUN_ERR" "CUSTOMER_KEY" "error for a missing CUSTOMER_KEY"

# 4. a valid environment: fragments that check and print as expected
good=$T/conf.d
env_to_conf "$good" "${valid_env[@]}"
assert_rc 0 "mccd --env-to-conf with a valid environment"
nfrag=$(fragments_in "$good")
[ "$nfrag" -ge 2 ] || fail "expected several fragments (one per concern), got $nfrag"
for f in "$good"/*.json; do
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$f" ||
        fail "$f is not valid JSON"
done

run "$MCCD" --check-config --conf-dir "$good"
assert_rc 0 "mccd --check-config on the generated fragments"
assert_contains "$RUN_OUT" "ok" "mccd --check-config output"

run "$MCCD" --print-config --conf-dir "$good"
assert_rc 0 "mccd --print-config on the generated fragments"
printf '%s' "$RUN_OUT" >"$T/merged.json"
python3 - "$T/merged.json" "$guid1" "$guid2" "$guid3" <<'PY' || fail "merged configuration is wrong"
import json, sys

cfg = json.load(open(sys.argv[1]))
customer, node_id, key = sys.argv[2:5]
errors = []

node = cfg.get("node", {})
for k, want in (("customer_id", customer), ("cache_node_id", node_id), ("customer_key", key)):
    if node.get(k) != want:
        errors.append(f"node.{k} = {node.get(k)!r}, expected {want!r}")

drives = cfg["plugins"]["disk"]["config"]["drives"]
paths = [d.get("path") for d in drives]
if len(drives) != 2 or paths != ["cache1", "cache2"]:
    errors.append(f"drives {drives!r}, expected cache1 and cache2")
sizes = [d.get("size") for d in drives]
if not (str(sizes[0]).startswith("10") and str(sizes[1]).startswith("25")):
    errors.append(f"drive sizes {sizes!r}, expected 10 and 25 GB")

custom = cfg["plugins"]["hosts"]["config"]["custom"]
got = {(c.get("host"), c.get("canonical")) for c in custom}
want = {("packages.example.com", "packages-canon"), ("mirror.example.org:8080", "mirror-canon")}
if not want <= got:
    errors.append(f"custom hosts {custom!r}, expected {sorted(want)!r}")

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
PY

# 5. a later valid run replaces the fragments of an earlier one (no stale custom host)
without CACHEABLE_CUSTOM_2_
env_to_conf "$good" "${FILTERED[@]}"
assert_rc 0 "second mccd --env-to-conf"
run "$MCCD" --print-config --conf-dir "$good"
assert_rc 0 "mccd --print-config after the second run"
assert_contains "$RUN_OUT" "packages.example.com" "merged config after the second run"
assert_not_contains "$RUN_OUT" "mirror.example.org" "merged config after the second run"
