#!/usr/bin/env bash
# The content path on the memory storage backend: first a check that MCC_TEST_STORAGE=memory
# really stores in memory (a hit from it, nothing on disk, nothing left after a restart), then
# every content test (test_content_*.sh) run again under MCC_TEST_STORAGE=memory. Fails when any
# of them fails; a test that needs storage surviving a restart skips itself
# (require_persistent_storage in lib.sh).
source "$(dirname "$0")/lib.sh"

# Tests known to need persistence that do not yet call require_persistent_storage themselves:
# not run here until they do (then they run and skip themselves).
PERSISTENT_ONLY=" test_content_crash "

# --- the mechanism ---------------------------------------------------------------------------
sum=$(make_blob mem.bin 3000000)
start_origin
MCC_TEST_FRESHNESS=immutable MCC_TEST_STORAGE=memory start_mccd # the repeat is a plain hit
assert_file_exists "$MCC_CONF_DIR/55-storage-memory.json"
for i in 1 2; do
    code=$(cache_get origin.test /mem.bin "$T/m$i" -D "$T/mh$i")
    assert_eq 200 "$code" "download $i"
    assert_sha256 "$T/m$i" "$sum"
done
grep -qi '^Cache-Status: .*; hit' "$T/mh2" ||
    fail "the second download was not a hit: $(tr -d '\r' <"$T/mh2" | grep -i cache-status)"
assert_eq 3000000 "$(origin_bytes 'GET /mem.bin ')" "origin bytes for two downloads"
# the disk instance is configured but is not the storage: it holds nothing
stored=$(find "$T/cache" -type f -name '*.data' | wc -l)
assert_eq 0 "$stored" "object files on disk with MCC_TEST_STORAGE=memory"
# memory keeps nothing across a restart: the object comes from the origin again
stop_pid "$MCCD_PID"
MCC_TEST_STORAGE=memory restart_mccd
code=$(cache_get origin.test /mem.bin "$T/m3")
assert_eq 200 "$code" "download after a restart"
assert_sha256 "$T/m3" "$sum"
assert_eq 6000000 "$(origin_bytes 'GET /mem.bin ')" "origin bytes after a restart"
stop_all

# --- the content tests -------------------------------------------------------------------------
dir=$(cd "$(dirname "$0")" && pwd)
passed=() skipped=() failed=()
for t in "$dir"/test_content_*.sh; do
    name=$(basename "$t" .sh)
    if [[ "$PERSISTENT_ONLY" == *" $name "* ]] && ! grep -q require_persistent_storage "$t"; then
        log "$name: not run (needs persistent storage; should call require_persistent_storage)"
        skipped+=("$name")
        continue
    fi
    start=$SECONDS
    rc=0
    MCC_TEST_STORAGE=memory bash "$t" >"$T/$name.log" 2>&1 || rc=$?
    case "$rc" in
    0) passed+=("$name") ;;
    77) skipped+=("$name") ;;
    *)
        failed+=("$name")
        echo "----- $name under MCC_TEST_STORAGE=memory (exit $rc, last 25 lines) -----" >&2
        tail -n 25 "$T/$name.log" >&2
        ;;
    esac
    log "$name: exit $rc in $((SECONDS - start))s"
done
log "memory backend: ${#passed[@]} passed, ${#skipped[@]} skipped (${skipped[*]:-none})"
[ "${#passed[@]}" -gt 0 ] || fail "no content test ran"
[ "${#failed[@]}" -eq 0 ] || fail "content tests failing on the memory backend: ${failed[*]}"
