#!/usr/bin/env bash
# Runs the whole test suite: installs missing packages, builds into build/, runs every unit and
# integration test with ctest. Extra arguments go to ctest (e.g. -L integration, -R cli).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$src/build
start=$(date +%s)

if ! "$src/scripts/install-deps.sh" --check; then
    if [ "$(id -u)" -eq 0 ]; then
        "$src/scripts/install-deps.sh"
    else
        # -n: never wait for a password (CI has no stdin)
        sudo -n "$src/scripts/install-deps.sh"
    fi
fi

"$src/scripts/build.sh" "$build"

rc=0
# tests use their own ports and temp dirs: they run side by side
jobs=$(nproc)
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@" || rc=$?

# In CI (CI=true) two more passes: the unit, fuzz-corpus and integration tests again on an
# ASan + UBSan build (the integration tests then run its mccd: ctest sets MCCD per build dir),
# and every fuzz target (scripts/fuzz.sh, clang) with a fixed seed over a fixed number of inputs
# (FUZZ_SEED 1, FUZZ_RUNS 200000, at most FUZZ_SECONDS 120 each): the same tree passes or fails
# the same way on every run. Fuzzing for new bugs is scripts/fuzz.sh without a seed.
if [ "${CI:-}" = true ]; then
    step=$(date +%s)
    asan=$src/build-asan
    if "$src/scripts/build.sh" "$asan" -DMCC_SANITIZE=ON; then
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            ctest --test-dir "$asan" --output-on-failure -j "$jobs" \
                -L 'unit|integration|fuzz-regression' ||
            rc=$?
    else
        rc=1
    fi
    echo "sanitizer pass: $(($(date +%s) - step))s"
    step=$(date +%s)
    FUZZ_SEED=${FUZZ_SEED:-1} FUZZ_RUNS=${FUZZ_RUNS:-200000} FUZZ_SECONDS=${FUZZ_SECONDS:-120} \
        "$src/scripts/fuzz.sh" "$src/build-fuzz" || rc=1
    echo "fuzz pass: $(($(date +%s) - step))s"
fi

elapsed=$(($(date +%s) - start))
echo
if [ "$rc" -eq 0 ]; then
    echo "mcc test suite: PASSED in ${elapsed}s (details: $build/Testing/Temporary/LastTest.log)"
else
    echo "mcc test suite: FAILED (ctest exit $rc) in ${elapsed}s" \
         "(details: $build/Testing/Temporary/LastTest.log)"
fi
exit "$rc"
