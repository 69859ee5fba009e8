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
ctest --test-dir "$build" --output-on-failure "$@" || rc=$?

elapsed=$(($(date +%s) - start))
echo
if [ "$rc" -eq 0 ]; then
    echo "mcc test suite: PASSED in ${elapsed}s (details: $build/Testing/Temporary/LastTest.log)"
else
    echo "mcc test suite: FAILED (ctest exit $rc) in ${elapsed}s" \
         "(details: $build/Testing/Temporary/LastTest.log)"
fi
exit "$rc"
