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

# a second update from the same state: apt asks with If-Modified-Since, and still succeeds
apt_run "$T/c1" update
apt_assert_ok "second apt-get update"
assert_contains "$(cat "$T/c1/http-debug.log")" "If-Modified-Since: " "second update's requests"

# a fresh apt state: every .deb comes from the cache, none from the origin again
apt_client "$T/c2" "$url"
apt_run "$T/c2" update
apt_assert_ok "fresh client's apt-get update"
apt_run "$T/c2" download "${names[@]}"
apt_assert_ok "fresh client's apt-get download"
apt_assert_debs "$T/c2/download" "${names[@]}"
apt_assert_origin_once "${names[@]}"
for name in "${names[@]}"; do
    deb=${APT_DEBS[$name]}
    size=$(stat -c %s "$APT_REPO/$deb")
    apt_assert_access 1 "GET $APT_REPO_HOST /debian/$deb 200 $size hit hit=$size miss=0 " \
        "$name from the cache"
done

# a resumed download: apt finds a partial file and asks for the rest with Range and If-Range
apt_client "$T/c3" "$url"
apt_run "$T/c3" update
apt_assert_ok "resuming client's apt-get update"
deb=${APT_DEBS[mcc-big]}
size=$(stat -c %s "$APT_REPO/$deb")
have=$((10 * 1048576 + 12345))
partial=$T/c3/var/cache/apt/archives/partial/$(basename "$deb")
head -c "$have" "$APT_REPO/$deb" >"$partial"
touch -r "$APT_REPO/$deb" "$partial"
apt_run "$T/c3" install -y --download-only mcc-big
apt_assert_ok "resumed apt-get install --download-only"
debug=$(cat "$T/c3/http-debug.log")
assert_contains "$debug" "Range: bytes=$have-" "apt's resume request"
assert_contains "$debug" "If-Range: " "apt's resume request"
apt_assert_debs "$T/c3/var/cache/apt/archives" mcc-big
apt_assert_origin_once mcc-big
apt_assert_access 1 "GET $APT_REPO_HOST /debian/$deb 206 $((size - have)) hit " \
    "the resumed download"

kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died"
