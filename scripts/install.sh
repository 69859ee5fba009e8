#!/usr/bin/env bash
# Builds mcc and installs it under a prefix: the one install path shared by the container image,
# bare-metal installs and the CI tests that exercise both (test_ship_entrypoint.sh).
#
#   scripts/install.sh [--build-dir DIR] [--prefix PREFIX] [--destdir DIR] [--no-build]
#                      [-- cmake options...]
#
# A build dir without a CMakeCache.txt is configured first (Release, warnings as errors,
# CMAKE_INSTALL_PREFIX=PREFIX, so that mccd's compiled-in defaults point into PREFIX); a configured
# one is used as it is and only brought up to date (--no-build: install what is built). Then
# `cmake --install` lays out PREFIX/bin/mccd, the plugins, the SDK and the default conf.d, and the
# container entry point and health check from deploy/container/ go to PREFIX/bin as
# mcc-entrypoint and mcc-healthcheck.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$src/build
prefix=/usr/local
destdir=""
build_step=1
cmake_args=()

usage() {
    echo "usage: scripts/install.sh [--build-dir DIR] [--prefix PREFIX] [--destdir DIR]" \
        "[--no-build] [-- cmake options...]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=${2:?--build-dir needs a directory}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
    --no-build) build_step=0; shift ;;
    --) shift; cmake_args=("$@"); break ;;
    -h | --help) usage ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

case "$prefix" in
/*) ;;
*) echo "install.sh: --prefix must be an absolute path, got '$prefix'" >&2; exit 2 ;;
esac

if [ "$build_step" = 0 ]; then
    [ -f "$build/CMakeCache.txt" ] || { echo "install.sh: $build is not configured" >&2; exit 1; }
elif [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMCC_WERROR=ON \
        -DCMAKE_INSTALL_PREFIX="$prefix" "${cmake_args[@]}"
elif [ ${#cmake_args[@]} -gt 0 ]; then
    echo "install.sh: $build is configured already; cmake options are ignored" >&2
fi
if [ "$build_step" = 1 ]; then
    # two jobs unless MCC_BUILD_JOBS says otherwise: our build machines and CI runners are small
    cmake --build "$build" -j"${MCC_BUILD_JOBS:-2}"
fi

root=$destdir$prefix
if [ -n "$destdir" ]; then
    DESTDIR=$destdir cmake --install "$build" --prefix "$prefix"
else
    cmake --install "$build" --prefix "$prefix"
fi
install -d "$root/bin"
install -m 0755 "$src/deploy/container/mcc-entrypoint" "$root/bin/mcc-entrypoint"
install -m 0755 "$src/deploy/container/mcc-healthcheck" "$root/bin/mcc-healthcheck"
echo "install.sh: installed into $root"
