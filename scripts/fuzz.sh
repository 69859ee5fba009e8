#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and runs each one for a
# bounded time on a copy of its seed corpus; fails when any target crashes, leaks or breaks an
# invariant. scripts/fuzz.sh [BUILD_DIR] [TARGET...]; FUZZ_SECONDS per target (default 30).
# FUZZ_SEED and FUZZ_RUNS make a run repeatable: the same seed and number of inputs explore the
# same inputs on any machine (FUZZ_SECONDS then only caps a slow one). Without them every run
# explores anew, which is what a search for new bugs wants.
# A crashing input is kept as BUILD_DIR/fuzz-out/<target>/crash-*: replay it with
# BUILD_DIR/tests/fuzz/fuzz_<target>_replay FILE.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$src/build-fuzz}
if [ $# -gt 0 ]; then shift; fi
mkdir -p "$build"
build=$(cd "$build" && pwd) # the targets run in their own folders
seconds=${FUZZ_SECONDS:-30}
repeat=()
[ -n "${FUZZ_SEED:-}" ] && repeat+=(-seed="$FUZZ_SEED")
[ -n "${FUZZ_RUNS:-}" ] && repeat+=(-runs="$FUZZ_RUNS")
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(range addr conf env meta cc disk)
fi

command -v clang >/dev/null 2>&1 || { echo "fuzz.sh: clang is not installed" >&2; exit 1; }
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DMCC_WERROR=ON -DMCC_FUZZ=ON >/dev/null
cmake --build "$build" --target mcc_fuzz -j"$(nproc)"

out=$build/fuzz-out
failed=()
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; exit 1; }
    # the seeds stay as they are in the tree: new inputs go to a scratch corpus
    rm -rf "${out:?}/$t"
    mkdir -p "$out/$t/corpus"
    echo "fuzz.sh: $t for ${seconds}s${FUZZ_RUNS:+ or $FUZZ_RUNS inputs}${FUZZ_SEED:+, seed $FUZZ_SEED}"
    rc=0
    (cd "$out/$t" && "$bin" ${repeat[@]+"${repeat[@]}"} -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 "$out/$t/corpus" \
        "$src/tests/fuzz/corpus/$t" >"$out/$t/fuzz.log" 2>&1) || rc=$?
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$out/$t/fuzz.log" |
        tr '\n' ' ' || true
    echo
    if [ "$rc" -ne 0 ]; then
        echo "fuzz.sh: $t FAILED (exit $rc); the end of its log:" >&2
        { grep -vE '^#[0-9]+' "$out/$t/fuzz.log" || true; } | tail -n 40 >&2
        ls "$out/$t"/crash-* "$out/$t"/leak-* "$out/$t"/timeout-* "$out/$t"/oom-* 2>/dev/null >&2 ||
            true
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: FAILED: ${failed[*]} (inputs under $out)" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${FUZZ_RUNS:+$FUZZ_RUNS inputs or }${seconds}s each${FUZZ_SEED:+ (seed $FUZZ_SEED)}: no crash"
