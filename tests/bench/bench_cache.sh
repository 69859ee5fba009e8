#!/usr/bin/env bash
# One command: mccd against nginx (proxy_cache, slice 1m, cache lock) on 127.0.0.1, every
# workload in alternation for a few rounds, then a table of medians (docs/performance.md).
#   tests/bench/bench_cache.sh [--build DIR] [driver options: --rounds N --duration S --quick ...]
# The build dir defaults to $MCC_BUILD_DIR, else build/ at the top of the tree. Prints figures;
# passes or fails nothing. Needs nginx (with the slice module), wrk, curl and python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${MCC_BUILD_DIR:-$top/build}
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --quick) args+=(--rounds 1 --duration 2 --large 64m --huge 256m --large-repeat 1); shift ;;
    *) args+=("$1"); shift ;;
    esac
done

mccd=${MCCD:-$build/mccd}
if [ ! -x "$mccd" ]; then
    echo "bench_cache: no mccd at $mccd (build first, or --build DIR)" >&2
    exit 2
fi
for tool in nginx wrk curl python3; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "bench_cache: $tool is not installed (scripts/install-deps.sh)" >&2; exit 2; }
done
if ! nginx -V 2>&1 | grep -q -- --with-http_slice_module; then
    echo "bench_cache: this nginx has no ngx_http_slice_module" >&2
    exit 2
fi

exec python3 "$here/bench_cache.py" --mccd "$mccd" --plugin-dir "$build/plugins-out" "${args[@]}"
