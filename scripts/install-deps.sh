#!/usr/bin/env bash
# Installs every Debian 12 package that building mcc and running its whole test suite need.
# Run as root; safe to run again. `install-deps.sh --check` only reports what is missing.
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config
    libevent-dev libcurl4-openssl-dev libltdl-dev libcjson-dev libcunit1-dev libssl-dev
    libxxhash-dev uthash-dev libjemalloc-dev
    # integration tests: a second origin, clients, port and process tools
    nginx-light curl ca-certificates python3 procps iproute2
    # apt end to end (a local repository), an outbound proxy, promtool, a real browser
    dpkg-dev apt-utils tinyproxy prometheus chromium
    # fuzzing, sanitizers, leak checks, load generation
    clang libclang-rt-14-dev valgrind wrk
)

missing_packages() {
    local p status
    for p in "${packages[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        if [ "$status" != "install ok installed" ]; then
            echo "$p"
        fi
    done
}

# Debian's nginx package starts the service where invoke-rc.d can; mcc wants port 80 itself and
# the tests start their own nginx, so stop and disable the packaged one.
stop_packaged_nginx() {
    local pid _
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now nginx.service >/dev/null 2>&1 || true
    else
        if [ -x /etc/init.d/nginx ]; then
            /etc/init.d/nginx stop >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/nginx ]; then
            update-rc.d nginx disable >/dev/null 2>&1 || true
        fi
    fi
    # Whatever init system there is (or none), the packaged master records its pid here.
    if [ -s /run/nginx.pid ]; then
        pid=$(cat /run/nginx.pid)
        if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
            kill -QUIT "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid" 2>/dev/null || true
            fi
        fi
    fi
}

if [ "${1:-}" = "--check" ]; then
    missing=$(missing_packages)
    if [ -n "$missing" ]; then
        echo "missing packages: $(echo "$missing" | tr '\n' ' ')"
        exit 1
    fi
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--check]" >&2
    exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: run as root (sudo $0)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
stop_packaged_nginx
echo "install-deps.sh: all ${#packages[@]} packages installed"
