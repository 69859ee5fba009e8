#!/usr/bin/env bash
# The Delivery Optimization request form through mccd, as the real agent sends it: full and
# resumed downloads with exact headers (Content-Length, Content-Range, never chunked), HEAD, 416,
# a doubled Range header, the other addressing forms on one key, '+' and %2B, 0- and 1-byte
# objects and ranges across slice boundaries of an object that is not a multiple of a slice.
source "$(dirname "$0")/lib.sh"

# Delivery Optimization content is content-addressed: the built-in hosts are immutable, and so
# is the test host here (no revalidation requests in the origin log)
MCC_TEST_FRESHNESS=immutable

MIB=1048576
SLICE=$MIB # the default cache.slice_size
UA='User-Agent: Microsoft-Delivery-Optimization-Lite/10.0.0.1'
size=$((7 * MIB / 2)) # 3.5 MiB: four slices, the last one half full
sum=$(make_blob path/file.bin "$size")
resume_sum=$(make_blob path/resume.bin "$size")
make_blob empty.bin 0 >/dev/null
one_sum=$(make_blob one.bin 1)
forms_sum=$(make_blob forms/f.bin 300000)
make_blob cold/head.bin "$size" >/dev/null
make_blob cold/past.bin "$size" >/dev/null
query_sum=$(make_blob cold/query.bin 400000)
plus_sum=$(make_blob 'dir/a+b.bin' 200000)
start_origin
start_mccd
src=$ORIGIN_ROOT/path/file.bin

# the origin's validators, which mccd must pass on unchanged; getv NAME HEADER prints a header
# of the origin's own answer
getv() { curl -sS -I "http://$ORIGIN_ADDR/$1" | tr -d '\r' | sed -n "s/^$2: //p"; }
curl -sS -I "http://$ORIGIN_ADDR/path/file.bin" -o /dev/null -D "$T/origin.h"
etag=$(tr -d '\r' <"$T/origin.h" | sed -n 's/^ETag: //p')
lastmod=$(tr -d '\r' <"$T/origin.h" | sed -n 's/^Last-Modified: //p')
assert_ne "" "$etag" "origin ETag"
assert_ne "" "$lastmod" "origin Last-Modified"

# A request as the agent sends it: its User-Agent and Accept, the Host header naming the cache.
# Prints the status; headers go to HEADERS, the body to OUT.
do_get() { # PATH OUT HEADERS [curl options...]
    local path=$1 out=$2 headers=$3 sep='?'
    shift 3
    case "$path" in *\?*) sep='&' ;; esac
    curl -sS -D "$headers" -o "$out" -w '%{http_code}' -H "$UA" -H 'Accept: */*' "$@" \
        "$MCC_CONTENT$path${sep}cacheHostOrigin=origin.test"
}

# The headers the agent relies on, exactly: STATUS, Content-Length, Content-Range iff 206,
# Accept-Ranges, Content-Type, the origin's validators, Cache-Status, and no chunked encoding.
check_headers() { # HEADERS STATUS LENGTH CONTENT_RANGE|- CACHE_STATUS [ETAG LASTMOD]
    local h=$1 text
    text=$(tr -d '\r' <"$h")
    assert_eq "HTTP/1.1 $2" "$(head -n 1 <<<"$text" | cut -d' ' -f1-2)" "status line of $h"
    assert_header "$h" Content-Length "$3"
    if [ "$4" = - ]; then
        assert_not_contains "$text" "Content-Range" "$h"
    else
        assert_header "$h" Content-Range "$4"
    fi
    assert_header "$h" Accept-Ranges bytes
    assert_header "$h" Content-Type application/octet-stream
    assert_header "$h" ETag "${6:-$etag}"
    assert_header "$h" Last-Modified "${7:-$lastmod}"
    assert_cache_status "$h" "$5"
    if grep -qi '^transfer-encoding:' <<<"$text"; then fail "$h: a Transfer-Encoding answer"; fi
    assert_eq 1 "$(grep -c '^Content-Length:' <<<"$text")" "Content-Length lines in $h"
}

# --- a full download, cold then warm -----------------------------------------------------
assert_eq 200 "$(do_get /path/file.bin "$T/full1" "$T/h.full1")" "cold full GET"
check_headers "$T/h.full1" 200 "$size" - "fwd=miss; stored"
assert_sha256 "$T/full1" "$sum"
assert_eq "$size" "$(origin_bytes 'GET /path/file.bin ')" "origin bytes after the cold GET"
assert_eq 200 "$(do_get /path/file.bin "$T/full2" "$T/h.full2")" "warm full GET"
check_headers "$T/h.full2" 200 "$size" - "hit"
assert_sha256 "$T/full2" "$sum"
assert_eq "$size" "$(origin_bytes 'GET /path/file.bin ')" "origin bytes after the warm GET"
assert_eq 1 "$(origin_requests 'GET /path/file.bin ')" "origin requests for file.bin"

# HEAD: the same headers as the GET, and not one body byte on the wire
curl -sS -I -D "$T/h.head" -o /dev/null -H "$UA" \
    "$MCC_CONTENT/path/file.bin?cacheHostOrigin=origin.test"
check_headers "$T/h.head" 200 "$size" - "hit"
# (Date and Age may tick between the two)
diff <(tr -d '\r' <"$T/h.full2" | grep -Ev '^(Date|Age):') \
    <(tr -d '\r' <"$T/h.head" | grep -Ev '^(Date|Age):') ||
    fail "HEAD headers differ from GET headers"
printf '%s\r\n' 'HEAD /path/file.bin?cacheHostOrigin=origin.test HTTP/1.1' 'Host: 127.0.0.1' \
    "$UA" 'Connection: close' '' | raw_http "$MCC_CONTENT_PORT" "$T/head.raw"
python3 - "$T/head.raw" <<'EOF' || fail "HEAD answer carried body bytes"
import sys
raw = open(sys.argv[1], "rb").read()
head, sep, rest = raw.partition(b"\r\n\r\n")
sys.exit(0 if sep and head.startswith(b"HTTP/1.1 200") and rest == b"" else 1)
EOF

# --- resuming: Range bytes=N-(total-1), and the header twice (the last one counts) ----------
n=1234567
assert_eq 206 "$(do_get /path/file.bin "$T/res" "$T/h.res" -H "Range: bytes=$n-$((size - 1))")" \
    "resume"
check_headers "$T/h.res" 206 $((size - n)) "bytes $n-$((size - 1))/$size" "hit"
assert_eq "$(range_sha256 "$src" "$n" $((size - 1)))" "$(sha256sum <"$T/res" | cut -d' ' -f1)" \
    "resumed bytes"
m=2500000
assert_eq 206 "$(do_get /path/file.bin "$T/res2" "$T/h.res2" -H 'Range: bytes=0-99' \
    -H "Range: bytes=$m-$((size - 1))")" "resume with two Range headers"
check_headers "$T/h.res2" 206 $((size - m)) "bytes $m-$((size - 1))/$size" "hit"
assert_eq "$(range_sha256 "$src" "$m" $((size - 1)))" "$(sha256sum <"$T/res2" | cut -d' ' -f1)" \
    "bytes of the last Range"

# unsatisfiable: 416 with the total, so that the agent learns it
assert_eq 416 "$(do_get /path/file.bin "$T/r416" "$T/h.416" -H "Range: bytes=$size-")" \
    "range past the end"
assert_header "$T/h.416" Content-Range "bytes */$size"

# --- ranges across slice boundaries of the warm object -------------------------------------
for r in "$((SLICE - 1))-$SLICE" "1048000-2097300" "2097000-3200000" \
    "$((3 * SLICE))-$((size - 1))" "0-0" "$((size - 1))-$((size - 1))" "100-$((3 * SLICE + 5))"; do
    a=${r%-*} b=${r#*-}
    assert_eq 206 "$(do_get /path/file.bin "$T/rng" "$T/h.rng" -H "Range: bytes=$r")" "range $r"
    check_headers "$T/h.rng" 206 $((b - a + 1)) "bytes $a-$b/$size" "hit"
    assert_eq "$(range_sha256 "$src" "$a" "$b")" "$(sha256sum <"$T/rng" | cut -d' ' -f1)" \
        "bytes of range $r"
done
# a suffix range: the last 100 bytes
assert_eq 206 "$(do_get /path/file.bin "$T/suf" "$T/h.suf" -H 'Range: bytes=-100')" "suffix range"
check_headers "$T/h.suf" 206 100 "bytes $((size - 100))-$((size - 1))/$size" "hit"
assert_eq "$(range_sha256 "$src" $((size - 100)) $((size - 1)))" \
    "$(sha256sum <"$T/suf" | cut -d' ' -f1)" "bytes of the suffix range"
assert_eq "$size" "$(origin_bytes 'GET /path/file.bin ')" "origin bytes after all ranges"

# --- a cold resume: only the slices from the one holding N come from the origin -------------
rsrc=$ORIGIN_ROOT/path/resume.bin
n=1500000
code=$(do_get /path/resume.bin "$T/cres" "$T/h.cres" -H "Range: bytes=$n-$((size - 1))")
assert_eq 206 "$code" "cold resume"
check_headers "$T/h.cres" 206 $((size - n)) "bytes $n-$((size - 1))/$size" "fwd=miss; stored" \
    "$(getv path/resume.bin ETag)" "$(getv path/resume.bin Last-Modified)"
assert_eq "$(range_sha256 "$rsrc" "$n" $((size - 1)))" "$(sha256sum <"$T/cres" | cut -d' ' -f1)" \
    "cold resumed bytes"
got=$(origin_bytes 'GET /path/resume.bin ')
assert_eq $((size - n / SLICE * SLICE)) "$got" "origin bytes of the cold resume (from its slice)"
# the whole file now: the first slice is fetched, the rest is served from the cache
assert_eq 200 "$(do_get /path/resume.bin "$T/cfull" "$T/h.cfull")" "full after the cold resume"
assert_cache_status "$T/h.cfull" "fwd=partial; stored"
assert_header "$T/h.cfull" Content-Length "$size"
assert_sha256 "$T/cfull" "$resume_sum"
assert_eq "$size" "$(origin_bytes 'GET /path/resume.bin ')" "origin bytes of resume.bin in all"

# --- cold HEAD and cold 416: the length is learnt from at most one slice --------------------
curl -sS -I -D "$T/h.chead" -o /dev/null -H "$UA" \
    "$MCC_CONTENT/cold/head.bin?cacheHostOrigin=origin.test"
check_headers "$T/h.chead" 200 "$size" - "fwd=miss; stored" "$(getv cold/head.bin ETag)" \
    "$(getv cold/head.bin Last-Modified)"
[ "$(origin_bytes 'GET /cold/head.bin ')" -le "$SLICE" ] ||
    fail "a cold HEAD cost more than a slice"
assert_eq 416 "$(do_get /cold/past.bin "$T/cpast" "$T/h.cpast" -H "Range: bytes=$size-")" \
    "cold range past the end"
assert_header "$T/h.cpast" Content-Range "bytes */$size"
[ "$(origin_bytes 'GET /cold/past.bin ')" -le "$SLICE" ] || fail "a cold 416 cost more than a slice"

# --- a URL that has a query already: kept for the origin, part of the key ------------------
assert_eq 200 "$(do_get '/cold/query.bin?v=1&x=%2F' "$T/q1" "$T/h.q1")" "URL with a query"
assert_sha256 "$T/q1" "$query_sum"
assert_cache_status "$T/h.q1" "fwd=miss; stored"
assert_eq 1 "$(origin_requests 'GET /cold/query.bin?v=1&x=%2F ')" "origin request with the query"
assert_eq 200 "$(do_get '/cold/query.bin?v=1&x=%2F' "$T/q2" "$T/h.q2")" "same query again"
assert_cache_status "$T/h.q2" "hit"
assert_eq 200 "$(do_get '/cold/query.bin?v=2' "$T/q3" "$T/h.q3")" "another query"
assert_cache_status "$T/h.q3" "fwd=miss; stored"
assert_sha256 "$T/q3" "$query_sum"
assert_eq 2 "$(origin_requests 'GET /cold/query.bin?')" "origin requests for two queries"

# --- every addressing form names the same object: one origin transfer ----------------------
code=$(curl -sS -o "$T/f.abs" -w '%{http_code}' -x "$MCC_CONTENT" "http://origin.test/forms/f.bin")
assert_eq 200 "$code" "absolute-form request"
assert_sha256 "$T/f.abs" "$forms_sum"
code=$(curl -sS -o "$T/f.pre" -D "$T/h.pre" -w '%{http_code}' \
    "$MCC_CONTENT/origin.test/forms/f.bin")
assert_eq 200 "$code" "path-prefix request"
assert_sha256 "$T/f.pre" "$forms_sum"
assert_cache_status "$T/h.pre" "hit"
code=$(curl -sS -o "$T/f.host" -D "$T/h.host" -w '%{http_code}' -H 'Host: origin.test' \
    "$MCC_CONTENT/forms/f.bin")
assert_eq 200 "$code" "Host-header request"
assert_sha256 "$T/f.host" "$forms_sum"
assert_cache_status "$T/h.host" "hit"
assert_eq 200 "$(do_get /forms/f.bin "$T/f.do" "$T/h.do")" "Delivery Optimization form"
assert_sha256 "$T/f.do" "$forms_sum"
assert_cache_status "$T/h.do" "hit"
assert_eq 1 "$(origin_requests 'GET /forms/f.bin ')" "origin requests for the four forms"
assert_eq 300000 "$(origin_bytes 'GET /forms/f.bin ')" "origin bytes for the four forms"

# --- '+' and %2B (either case) in a path are one object ------------------------------------
assert_eq 200 "$(do_get '/dir/a+b.bin' "$T/p1" "$T/h.p1")" "path with +"
assert_sha256 "$T/p1" "$plus_sum"
assert_eq 200 "$(do_get '/dir/a%2Bb.bin' "$T/p2" "$T/h.p2")" "path with %2B"
assert_sha256 "$T/p2" "$plus_sum"
assert_cache_status "$T/h.p2" "hit"
assert_eq 200 "$(do_get '/dir/a%2bb.bin' "$T/p3" "$T/h.p3")" "path with %2b"
assert_sha256 "$T/p3" "$plus_sum"
assert_cache_status "$T/h.p3" "hit"
assert_eq 1 "$(origin_requests 'GET /dir/a')" "origin requests for a+b.bin"

# --- 0 and 1 byte objects --------------------------------------------------------------------
e0=$(getv empty.bin ETag) l0=$(getv empty.bin Last-Modified)
for round in cold warm; do
    assert_eq 200 "$(do_get /empty.bin "$T/e" "$T/h.e")" "$round GET of 0 bytes"
    if [ "$round" = cold ]; then status="fwd=miss; stored"; else status=hit; fi
    check_headers "$T/h.e" 200 0 - "$status" "$e0" "$l0"
    assert_eq 0 "$(stat -c %s "$T/e")" "$round body of the empty object"
done
assert_eq 416 "$(do_get /empty.bin "$T/e" "$T/h.e416" -H 'Range: bytes=0-')" "range of 0 bytes"
assert_header "$T/h.e416" Content-Range "bytes */0"
e1=$(getv one.bin ETag) l1=$(getv one.bin Last-Modified)
assert_eq 200 "$(do_get /one.bin "$T/o1" "$T/h.o1")" "cold GET of 1 byte"
check_headers "$T/h.o1" 200 1 - "fwd=miss; stored" "$e1" "$l1"
assert_sha256 "$T/o1" "$one_sum"
assert_eq 206 "$(do_get /one.bin "$T/o2" "$T/h.o2" -H 'Range: bytes=0-0')" "range of 1 byte"
check_headers "$T/h.o2" 206 1 "bytes 0-0/1" "hit" "$e1" "$l1"
assert_sha256 "$T/o2" "$one_sum"
assert_eq 416 "$(do_get /one.bin "$T/o3" "$T/h.o3" -H 'Range: bytes=1-')" "range past 1 byte"
assert_header "$T/h.o3" Content-Range "bytes */1"
assert_eq 1 "$(origin_bytes 'GET /one.bin ')" "origin bytes for one.bin"
assert_eq 1 "$(origin_requests 'GET /empty.bin ')" "origin requests for empty.bin"

# a clean exit: no crash or leak report at shutdown (sanitizer builds)
stop_pid "$MCCD_PID" 10
assert_eq 0 "$STOP_RC" "mccd exit status after SIGTERM"
