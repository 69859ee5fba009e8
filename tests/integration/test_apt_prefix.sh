#!/usr/bin/env bash
# apt with sources.list pointing at the cache by path prefix (http://cache/<host>/path, the
# apt-cacher-ng style), no proxy: update and download of small and large packages from a real
# local repository served by mcc-test-origin, again with a fresh apt state served from the cache
# only, and a resumed download (Range).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/apt_repo.sh"

apt_repo_standard
start_origin
MCC_TEST_HOSTS="$APT_REPO_HOST=repo" MCC_TEST_DISK_SIZE=128MiB start_mccd
names=(mcc-hello mcc-tools mcc-data mcc-big)
url=$MCC_CONTENT/$APT_REPO_HOST/debian

# first client: everything is a miss, each .deb leaves the origin once
apt_client "$T/c1" "$url"
apt_run "$T/c1" update
apt_assert_ok "first apt-get update"
debug=$(cat "$T/c1/http-debug.log")
assert_contains "$debug" "GET /$APT_REPO_HOST/debian/dists/stable/Release HTTP/1.1" \
    "apt's request line"
assert_contains "$debug" "Host: 127.0.0.1:$MCC_CONTENT_PORT" "apt's Host header"
assert_contains "$RUN_OUT" "stable/main $APT_ARCH Packages" "first update"
apt_run "$T/c1" download "${names[@]}"
apt_assert_ok "first apt-get download"
apt_assert_debs "$T/c1/download" "${names[@]}"
apt_assert_origin_once "${names[@]}"
deb=${APT_DEBS[mcc-big]}
apt_assert_access 1 "GET $APT_REPO_HOST /debian/$deb 200 $(stat -c %s "$APT_REPO/$deb") miss " \
    "the large package's first download"

apt_check_cached "$url" "" "${names[@]}"

kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died"
