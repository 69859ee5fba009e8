#!/usr/bin/env bash
# Configures and builds mcc (warnings are errors): scripts/build.sh [BUILD_DIR [cmake options...]]
# BUILD_DIR defaults to build/ in the source tree.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$src/build}
if [ $# -gt 0 ]; then shift; fi

cmake -S "$src" -B "$build" -DMCC_WERROR=ON "$@"
cmake --build "$build" -j"$(nproc)"
