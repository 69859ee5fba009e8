#!/usr/bin/env bash
# HTTP caching (RFC 9111), freshness: max-age, s-maxage, Expires - Date, the origin's Age, the
# Age mccd sends, heuristic freshness from Last-Modified, responses without freshness or
# validators, and the pathrules classes (InRelease always revalidated, pool/*.deb never). Each
# case checks how many requests reached the scripted origin, the validators it saw, and the
# bytes and headers the client got.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scripted_lib.sh"

LM=$(httpdate -1000)
LM_OLD=$(httpdate -100000)
route() { # PATH HEADERS_JSON [BODY_SIZE]
    sroute "$1" "{\"headers\": $2, \"body_size\": ${3:-5000}}"
}
route /f/maxage.bin \
    "{\"Cache-Control\": \"max-age=2\", \"ETag\": \"\\\"m1\\\"\", \"Last-Modified\": \"$LM\"}"
route /f/smax.bin '{"Cache-Control": "max-age=100, s-maxage=2", "ETag": "\"s1\""}'
route /f/smax2.bin '{"Cache-Control": "max-age=2, s-maxage=100", "ETag": "\"s2\""}'
route /f/expires.bin '{"Date": "now", "Expires": "now+3", "ETag": "\"e1\""}'
route /f/expired.bin '{"Date": "now-100", "Expires": "now-98", "ETag": "\"e2\""}'
route /f/exp0.bin '{"Expires": "0", "ETag": "\"e3\""}'
route /f/age.bin '{"Cache-Control": "max-age=10", "Age": "7", "ETag": "\"a1\""}'
route /f/agegrow.bin '{"Cache-Control": "max-age=100", "ETag": "\"a2\""}'
route /f/heur.bin "{\"Last-Modified\": \"$LM_OLD\"}"
route /f/nolm.bin '{"ETag": "\"n1\""}'
route /f/novalid.bin '{}' 3000
route /f/dists/stable/InRelease '{"Cache-Control": "max-age=1000", "ETag": "\"r1\""}' 700
route /f/pool/main/h/hello/hello_1.0_all.deb '{"Cache-Control": "max-age=0", "ETag": "\"d1\""}'
start_scripted_origin
start_mccd

# fetch NAME STEP: /f/NAME into $T/<base>.STEP, its headers into $T/<base>.STEP.h (at once, no
# checks: several fetches must happen within the shortest lifetime)
fetch() { # NAME STEP [curl options...]
    local name=$1 step=$2 b
    b=$T/$(basename "$1")
    shift 2
    cget "/f/$name" "$b.$step" "$b.$step.h" "$@" >"$b.$step.st"
}
declare -A WANT=()
# check NAME STEP: status 200 and the route's bytes; sets CS (Cache-Status) and AGE
check() { # NAME STEP
    local name=$1 step=$2 b
    b=$T/$(basename "$1")
    assert_eq 200 "$(cat "$b.$step.st")" "status of $name (step $step)"
    [ -n "${WANT[$name]:-}" ] || WANT[$name]=$(sroute_body "/f/$name" "$T/want")
    assert_sha256 "$b.$step" "${WANT[$name]}"
    CS=$(hdr "$b.$step.h" Cache-Status)
    AGE=$(hdr "$b.$step.h" Age)
}
get() { # NAME STEP [curl options...]
    fetch "$@"
    check "$1" "$2"
}
count() { sorigin_count "/f/$1"; }
field() { sorigin_field "/f/$1" "$2" "${3:--1}"; }

ALL="maxage.bin smax.bin smax2.bin expires.bin expired.bin exp0.bin age.bin agegrow.bin heur.bin
nolm.bin novalid.bin dists/stable/InRelease pool/main/h/hello/hello_1.0_all.deb"

# --- step 1: every object is fetched once and stored; step 2 at once: fresh ones are hits -------
t1=$(date +%s)
for n in $ALL; do
    fetch "$n" 1
done
FRESH="maxage.bin smax.bin smax2.bin expires.bin age.bin agegrow.bin heur.bin
pool/main/h/hello/hello_1.0_all.deb"
for n in $FRESH; do
    fetch "$n" 2
done
for n in $ALL; do
    check "$n" 1
    assert_contains "$CS" "; fwd=miss; stored" "Cache-Status of the first $n"
    assert_eq 1 "$(count "$n")" "origin requests for $n after the first GET"
    assert_eq - "$(field "$n" If-None-Match)" "If-None-Match of the first request for $n"
done
assert_eq "max-age=2" "$(hdr "$T/maxage.bin.1.h" Cache-Control)" "Cache-Control passed on"
assert_eq '"m1"' "$(hdr "$T/maxage.bin.1.h" ETag)" "ETag passed on"
assert_eq "$LM" "$(hdr "$T/maxage.bin.1.h" Last-Modified)" "Last-Modified passed on"
assert_between 7 9 "$(hdr "$T/age.bin.1.h" Age)" "Age of a response the origin sent with Age 7"

for n in $FRESH; do
    check "$n" 2
    assert_contains "$CS" "; hit" "Cache-Status of $n while fresh"
    assert_eq 1 "$(count "$n")" "origin requests for $n while fresh"
done
assert_between 7 9 "$(hdr "$T/age.bin.2.h" Age)" "Age of the stored Age-7 response at once"
assert_between 0 1 "$(hdr "$T/agegrow.bin.2.h" Age)" "Age of a response stored just now"

# Expires before Date + apparent age 100 s, and Expires "0": stale when stored, revalidated with
# the ETag; an object with an ETag and no freshness information is revalidated on every request
for n in expired.bin exp0.bin nolm.bin; do
    get "$n" 2
    assert_contains "$CS" "; fwd=stale; fwd-status=304" "Cache-Status of $n revalidated"
    assert_eq 2 "$(count "$n")" "origin requests for $n"
    assert_eq 304 "$(field "$n" status)" "the origin's answer to the revalidation of $n"
done
assert_eq '"e2"' "$(field expired.bin If-None-Match)" "If-None-Match for expired.bin"
assert_eq - "$(field expired.bin If-Modified-Since)" "If-Modified-Since without Last-Modified"
get nolm.bin 3
assert_eq 3 "$(count nolm.bin)" "origin requests for nolm.bin after 3 GETs"
assert_eq '"n1"' "$(field nolm.bin If-None-Match)" "If-None-Match for nolm.bin"

# pathrules: InRelease is revalidated on every request although fresh for 1000 s by its headers
get dists/stable/InRelease 2
assert_contains "$CS" "; fwd=stale; fwd-status=304" "Cache-Status of InRelease"
assert_eq 2 "$(count dists/stable/InRelease)" "origin requests for InRelease"
assert_eq '"r1"' "$(field dists/stable/InRelease If-None-Match)" "If-None-Match for InRelease"
get dists/stable/InRelease 3
assert_eq 3 "$(count dists/stable/InRelease)" "origin requests for InRelease after 3 GETs"

# --- step 3, after the short lifetimes ran out --------------------------------------------------
sleep 3.2
fetch maxage.bin 3
fetch maxage.bin 4
for n in smax.bin smax2.bin expires.bin age.bin agegrow.bin heur.bin \
    pool/main/h/hello/hello_1.0_all.deb; do
    fetch "$n" 3
done
# max-age=2: stale -> conditional request with both validators -> 304 -> served from storage
check maxage.bin 3
assert_eq 2 "$(count maxage.bin)" "origin requests for the stale maxage.bin"
assert_eq '"m1"' "$(field maxage.bin If-None-Match)" "If-None-Match of the revalidation"
assert_eq "$LM" "$(field maxage.bin If-Modified-Since)" "If-Modified-Since of the revalidation"
assert_eq 304 "$(field maxage.bin status)" "the origin's answer to the revalidation"
assert_contains "$CS" "; fwd=stale; fwd-status=304" "Cache-Status after a 304"
assert_eq 0 "$AGE" "Age right after a 304 refreshed the object"
check maxage.bin 4
assert_contains "$CS" "; hit" "Cache-Status once refreshed"
assert_eq 2 "$(count maxage.bin)" "origin requests for the refreshed maxage.bin"

# s-maxage wins over max-age in a shared cache, both ways
check smax.bin 3
assert_eq 2 "$(count smax.bin)" "origin requests for smax.bin (s-maxage=2 ran out)"
assert_contains "$CS" "; fwd=stale; fwd-status=304" "Cache-Status of smax.bin"
check smax2.bin 3
assert_eq 1 "$(count smax2.bin)" "origin requests for smax2.bin (max-age=2, s-maxage=100)"
assert_contains "$CS" "; hit" "Cache-Status of smax2.bin"

# Expires - Date = 3 s
check expires.bin 3
assert_eq 2 "$(count expires.bin)" "origin requests for expires.bin after Expires"
assert_eq '"e1"' "$(field expires.bin If-None-Match)" "If-None-Match for expires.bin"

# max-age=10 with Age: 7 from the origin: stale 3 s later
check age.bin 3
assert_eq 2 "$(count age.bin)" "origin requests for age.bin (Age 7 + 3 s > max-age 10)"

# the Age header grows while the object stays stored
check agegrow.bin 3
assert_contains "$CS" "; hit" "Cache-Status of agegrow.bin"
assert_between 3 $(($(date +%s) - t1 + 1)) "$AGE" "Age $(($(date +%s) - t1)) s after storing"

# heuristic freshness: a tenth of the time since Last-Modified (10000 s) keeps it fresh
check heur.bin 3
assert_contains "$CS" "; hit" "Cache-Status of heur.bin"
assert_eq 1 "$(count heur.bin)" "origin requests for heur.bin (heuristically fresh)"

# pathrules: a pool/*.deb is never revalidated, although max-age=0
check pool/main/h/hello/hello_1.0_all.deb 3
assert_contains "$CS" "; hit" "Cache-Status of the .deb"
assert_eq 1 "$(count pool/main/h/hello/hello_1.0_all.deb)" "origin requests for the .deb"

# --- last (a daemon that loops on it would stall what follows) ---------------------------------
# no validators and no freshness: every request fetches the object again, unconditionally, once
get novalid.bin 2
assert_eq 2 "$(count novalid.bin)" "origin requests for novalid.bin"
assert_eq - "$(field novalid.bin If-None-Match)" "If-None-Match for novalid.bin"
assert_eq - "$(field novalid.bin If-Modified-Since)" "If-Modified-Since for novalid.bin"
assert_eq 3000 "$(field novalid.bin bytes)" "body bytes of the refetch of novalid.bin"

kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died"
