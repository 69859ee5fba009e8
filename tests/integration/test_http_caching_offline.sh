#!/usr/bin/env bash
# HTTP caching (RFC 9111) when the origin fails: a stale object is served while the origin answers
# 5xx or is down (Cache-Status fwd=stale ... detail=upstream-failed), never past
# cache.offline_max_stale, never under must-revalidate / proxy-revalidate / s-maxage; an index
# file (pathrules "revalidate") is served from storage while the origin is down; the origin
# coming back ends it. Also cache.heuristic_max capping heuristic freshness.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scripted_lib.sh"

cat >"$T/80-caching.json" <<'EOF'
{ "cache": { "offline_max_stale": "6s", "heuristic_max": "2s" } }
EOF
LM_OLD=$(httpdate -100000)
cat >"$SORIGIN_ROUTES" <<EOF
{
 "/o/stale.bin": {"headers": {"Cache-Control": "max-age=1", "ETag": "\"s1\""}, "body_size": 6000},
 "/o/err.bin": {"headers": {"Cache-Control": "max-age=1", "ETag": "\"e1\""}, "body_size": 6000},
 "/o/mustrev.bin": {"headers": {"Cache-Control": "max-age=1, must-revalidate", "ETag": "\"m1\""},
                    "body_size": 6000},
 "/o/proxyrev.bin": {"headers": {"Cache-Control": "max-age=1, proxy-revalidate",
                                 "ETag": "\"p1\""}, "body_size": 6000},
 "/o/smaxage.bin": {"headers": {"Cache-Control": "s-maxage=1", "ETag": "\"x1\""},
                    "body_size": 6000},
 "/o/heur.bin": {"headers": {"Last-Modified": "$LM_OLD"}, "body_size": 6000},
 "/o/dists/stable/InRelease": {"headers": {"Cache-Control": "max-age=1000", "ETag": "\"r1\""},
                               "body_size": 900},
 "/o/pool/main/p/pkg/pkg_1.0_all.deb": {"headers": {"Cache-Control": "max-age=1",
                                                    "ETag": "\"d1\""}, "body_size": 70000}
}
EOF
start_scripted_origin
start_mccd "$T/80-caching.json"
assert_contains "$("$MCCD" --conf-dir "$MCC_CONF_DIR" --print-config | tr -d ' \t\n')" \
    '"heuristic_max":"2s","offline_max_stale":"6s"' "merged configuration"

declare -A WANT=()
get() { # NAME STEP [curl options...]: sets ST, CS, B
    local name=$1 step=$2
    shift 2
    B=$T/$(basename "$name").$step
    ST=$(cget "/o/$name" "$B" "$B.h" "$@")
    CS=$(hdr "$B.h" Cache-Status)
}
body_ok() { # NAME
    [ -n "${WANT[$1]:-}" ] || WANT[$1]=$(sroute_body "/o/$1" "$T/want")
    assert_sha256 "$B" "${WANT[$1]}"
}
count() { sorigin_count "/o/$1"; }

ALL="stale.bin err.bin mustrev.bin proxyrev.bin smaxage.bin heur.bin dists/stable/InRelease
pool/main/p/pkg/pkg_1.0_all.deb"
for n in $ALL; do
    get "$n" 1
    assert_eq 200 "$ST" "status of $n"
    body_ok "$n"
    assert_contains "$CS" "; fwd=miss; stored" "Cache-Status of the first $n"
done
get heur.bin 2
assert_contains "$CS" "; hit" "heur.bin at once (heuristically fresh for 2 s)"
sleep 2.2

# heuristic freshness capped by cache.heuristic_max (2 s, where Last-Modified gives 10000 s)
get heur.bin 3
assert_eq 200 "$ST" "status of heur.bin"
body_ok heur.bin
assert_contains "$CS" "; fwd=stale; fwd-status=304" "heur.bin after heuristic_max"
assert_eq 2 "$(count heur.bin)" "origin requests for heur.bin"

# the origin answers 503 to a revalidation: the stale object is served, saying so
sroute_set /o/err.bin status 503
get err.bin 2
assert_eq 200 "$ST" "status of err.bin while the origin answers 503"
body_ok err.bin
assert_contains "$CS" "; fwd=stale; fwd-status=503; detail=upstream-failed" \
    "Cache-Status of err.bin"
assert_eq 2 "$(count err.bin)" "origin requests for err.bin"

# --- the origin goes down --------------------------------------------------------------------
stop_scripted_origin
get stale.bin 2
assert_eq 200 "$ST" "status of the stale stale.bin with the origin down"
body_ok stale.bin
assert_contains "$CS" "; fwd=stale; fwd-status=502; detail=upstream-failed" \
    "Cache-Status of stale.bin with the origin down"
for n in mustrev.bin proxyrev.bin smaxage.bin; do
    get "$n" 2
    assert_eq 502 "$ST" "status of the stale $n (the origin forbids serving it stale)"
done
# an index file is always revalidated; with the origin down the stored one is what there is
get dists/stable/InRelease 2
assert_eq 200 "$ST" "status of InRelease with the origin down"
body_ok dists/stable/InRelease
assert_contains "$CS" "; fwd=stale; fwd-status=502; detail=upstream-failed" \
    "Cache-Status of InRelease with the origin down"
# a package is never revalidated: a plain hit
get pool/main/p/pkg/pkg_1.0_all.deb 2
assert_eq 200 "$ST" "status of the .deb with the origin down"
body_ok pool/main/p/pkg/pkg_1.0_all.deb
assert_contains "$CS" "; hit" "Cache-Status of the .deb with the origin down"

# past cache.offline_max_stale (6 s beyond its 1 s lifetime) stale.bin is not served any more
sleep 6
get stale.bin 3
case "$ST" in
502 | 504) ;;
*) fail "status of stale.bin 4 s past its lifetime with the origin down: $ST ($CS)" ;;
esac
get pool/main/p/pkg/pkg_1.0_all.deb 3
assert_eq 200 "$ST" "the .deb long after its max-age with the origin down"
body_ok pool/main/p/pkg/pkg_1.0_all.deb

# --- the origin is back on its port: revalidation works again ----------------------------------
start_scripted_origin "$SORIGIN_PORT"
get stale.bin 4
assert_eq 200 "$ST" "status of stale.bin with the origin back"
body_ok stale.bin
assert_contains "$CS" "; fwd=stale; fwd-status=304" "Cache-Status of stale.bin with the origin back"
assert_eq 2 "$(count stale.bin)" "origin requests for stale.bin (the first, one 304)"

kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died"
