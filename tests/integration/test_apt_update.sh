#!/usr/bin/env bash
# A new version published on the origin is seen by the next apt-get update through the cache
# (index files are revalidated: RFC 9111 and the pathrules defaults) and downloaded; then, with
# the origin stopped, apt-get update and the download of a package already cached still succeed
# through the cache (stale index files and the stored 404 of Release.gpg are served offline).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/apt_repo.sh"

APT_DEBS[mcc-hello]=$(apt_repo_deb mcc-hello 1.0)
APT_DEBS[mcc-tools]=$(apt_repo_deb mcc-tools 2.1 65536)
apt_repo_index
start_nginx_origin
MCC_TEST_HOSTS="$APT_REPO_HOST=repo" start_mccd
url=http://$APT_REPO_HOST/debian

apt_client "$T/c1" "$url" "$MCC_CONTENT"
apt_run "$T/c1" update
apt_assert_ok "first apt-get update"
apt_run "$T/c1" download mcc-hello mcc-tools
apt_assert_ok "first apt-get download"
apt_assert_debs "$T/c1/download" mcc-hello mcc-tools

# publish mcc-hello 1.1 in place of 1.0: new Packages, Release and InRelease at the same URLs.
# Last-Modified has a resolution of one second: let one pass so that the new index files differ
# from the old ones in their validators too, as they would on a real mirror.
sleep 1.1
rm -f "$APT_REPO/${APT_DEBS[mcc-hello]}"
APT_DEBS[mcc-hello]=$(apt_repo_deb mcc-hello 1.1)
apt_repo_index

# the same client: the next update sees 1.1, and the download fetches it
apt_run "$T/c1" update
apt_assert_ok "apt-get update after publishing 1.1"
rm -f "$T/c1/download/"*.deb
apt_run "$T/c1" download mcc-hello
apt_assert_ok "apt-get download after publishing 1.1"
assert_contains "$RUN_OUT" "mcc-hello all 1.1" "what apt downloaded"
apt_assert_debs "$T/c1/download" mcc-hello
apt_assert_origin_once mcc-hello mcc-tools

# a fresh client sees 1.1 as well, from the cache
apt_client "$T/c2" "$url" "$MCC_CONTENT"
apt_run "$T/c2" update
apt_assert_ok "fresh client's apt-get update"
apt_run "$T/c2" download mcc-hello mcc-tools
apt_assert_ok "fresh client's apt-get download"
apt_assert_debs "$T/c2/download" mcc-hello mcc-tools
apt_assert_origin_once mcc-hello mcc-tools

# the origin goes away: update and download of cached packages still work through the cache
stop_pid "$ORIGIN_PID"
apt_run "$T/c1" update
apt_assert_ok "apt-get update with the origin down"
rm -f "$T/c1/download/"*.deb
apt_run "$T/c1" download mcc-hello mcc-tools
apt_assert_ok "apt-get download with the origin down"
apt_assert_debs "$T/c1/download" mcc-hello mcc-tools
apt_client "$T/c3" "$url" "$MCC_CONTENT"
apt_run "$T/c3" update
apt_assert_ok "fresh client's apt-get update with the origin down"
apt_run "$T/c3" download mcc-hello mcc-tools
apt_assert_ok "fresh client's apt-get download with the origin down"
apt_assert_debs "$T/c3/download" mcc-hello mcc-tools
kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died"
