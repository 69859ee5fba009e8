#!/usr/bin/env bash
# HTTP caching (RFC 9111), what is stored and how it is reused: no-store, private and
# Authorization relayed without storing; Vary; a 304 refreshing the stored headers; ETag
# precedence; a new version on revalidation replacing the object; unsafe methods invalidating;
# client conditionals (If-None-Match, If-Modified-Since, If-Range) answered from storage;
# request Cache-Control; two pipelined requests on one connection answered in order.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scripted_lib.sh"

LM=$(httpdate -5000)
cat >"$SORIGIN_ROUTES" <<EOF
{
 "/s/nostore.bin": {"headers": {"Cache-Control": "no-store", "ETag": "\"ns\""}, "body_size": 4000},
 "/s/private.bin": {"headers": {"Cache-Control": "private, max-age=100"}, "body_size": 4000},
 "/s/auth.bin": {"headers": {"Cache-Control": "max-age=100", "ETag": "\"au\""}, "body_size": 4000},
 "/s/vary.bin": {"headers": {"Cache-Control": "max-age=100", "ETag": "\"va\"",
                             "Vary": "Accept-Language"}, "body_size": 4000},
 "/s/refresh.bin": {"headers": {"Cache-Control": "max-age=1", "ETag": "\"rf\"",
                                "Last-Modified": "$LM"}, "body_size": 4000},
 "/s/newtag.bin": {"headers": {"Cache-Control": "max-age=1", "ETag": "\"t1\"",
                               "Last-Modified": "$LM"}, "body_size": 70000, "body_seed": "one"},
 "/s/post.bin": {"headers": {"Cache-Control": "max-age=100", "ETag": "\"po\""},
                 "body_size": 4000,
                 "methods": {"POST": {"status": 200, "body": "posted\n"},
                             "PUT": {"status": 500, "body": "broken\n"},
                             "DELETE": {"status": 204}}},
 "/s/cond.bin": {"headers": {"Cache-Control": "max-age=100", "ETag": "\"c1\"",
                             "Last-Modified": "$LM"}, "body_size": 10000},
 "/s/reqcc.bin": {"headers": {"Cache-Control": "max-age=100", "ETag": "\"rq\""},
                  "body_size": 4000},
 "/s/pipe1.bin": {"headers": {"Cache-Control": "max-age=100"}, "body": "first answer\n"},
 "/s/pipe2.bin": {"headers": {"Cache-Control": "max-age=100"}, "body": "second answer, longer\n",
                  "delay_ms": 300}
}
EOF
start_scripted_origin
start_mccd

declare -A WANT=()
# get NAME STEP [curl options...]: /s/NAME through mccd; sets ST (status), CS (Cache-Status),
# H (the headers file) and B (the body file)
get() {
    local name=$1 step=$2
    shift 2
    B=$T/$name.$step
    H=$T/$name.$step.h
    ST=$(cget "/s/$name" "$B" "$H" "$@")
    CS=$(hdr "$H" Cache-Status)
}
# the body is the route's (computed once per route version, KEY default NAME)
body_ok() { # NAME [KEY]
    local key=${2:-$1}
    [ -n "${WANT[$key]:-}" ] || WANT[$key]=$(sroute_body "/s/$1" "$T/want")
    assert_sha256 "$B" "${WANT[$key]}"
}
count() { sorigin_count "/s/$1" "${2:-}"; }
field() { sorigin_field "/s/$1" "$2" "${3:--1}"; }

# --- no-store, private: relayed every time, never stored ---------------------------------------
for n in nostore.bin private.bin; do
    for i in 1 2 3; do
        get "$n" "$i"
        assert_eq 200 "$ST" "status of $n ($i)"
        body_ok "$n"
        assert_contains "$CS" "; fwd=miss" "Cache-Status of $n ($i)"
        assert_not_contains "$CS" "stored" "Cache-Status of $n ($i)"
    done
    assert_eq 3 "$(count "$n")" "origin requests for 3 GETs of $n (one each)"
done

# --- a request with Authorization is relayed (with it), its answer not stored -------------------
for i in 1 2; do
    get auth.bin "a$i" -H 'Authorization: Bearer secret-token'
    assert_eq 200 "$ST" "status of auth.bin with Authorization"
    body_ok auth.bin
    assert_not_contains "$CS" "stored" "Cache-Status of auth.bin with Authorization"
done
assert_eq 2 "$(count auth.bin)" "origin requests for auth.bin with Authorization"
assert_eq "Bearer secret-token" "$(field auth.bin Authorization)" "Authorization relayed"
get auth.bin p1
assert_contains "$CS" "; fwd=miss; stored" "auth.bin without Authorization"
get auth.bin p2
assert_contains "$CS" "; hit" "auth.bin without Authorization, again"
assert_eq 3 "$(count auth.bin)" "origin requests for auth.bin"
get auth.bin a3 -H 'Authorization: Bearer other'
assert_eq 4 "$(count auth.bin)" "a request with Authorization never takes the stored copy"

# --- Vary: Accept-Language -------------------------------------------------------------------
get vary.bin 1 -H 'Accept-Language: en'
assert_contains "$CS" "; fwd=miss; stored" "vary.bin en"
assert_eq "Accept-Language" "$(hdr "$H" Vary)" "Vary passed on"
get vary.bin 2 -H 'Accept-Language: en'
assert_contains "$CS" "; hit" "vary.bin en again (same variant)"
assert_eq 1 "$(count vary.bin)" "origin requests for vary.bin en twice"
get vary.bin 3 -H 'Accept-Language: de'
assert_eq 200 "$ST" "status of vary.bin de"
body_ok vary.bin
assert_not_contains "$CS" "; hit" "vary.bin de (another variant)"
assert_eq 2 "$(count vary.bin)" "origin requests after the de variant was asked for"
# the origin must see what the variant depends on, else it answers its default variant
assert_eq "en" "$(field vary.bin Accept-Language 1)" "Accept-Language the origin saw for en"
assert_eq "de" "$(field vary.bin Accept-Language 2)" "Accept-Language the origin saw for de"

# --- a 304 refreshes the stored headers ------------------------------------------------------
get refresh.bin 1
assert_eq "max-age=1" "$(hdr "$H" Cache-Control)" "Cache-Control of refresh.bin at first"
sroute_set /s/refresh.bin headers.Cache-Control '"max-age=100, public"'
sleep 2.2
get refresh.bin 2
assert_eq 200 "$ST" "status of the revalidated refresh.bin"
body_ok refresh.bin
assert_eq 2 "$(count refresh.bin)" "origin requests for refresh.bin"
assert_eq 304 "$(field refresh.bin status)" "the origin's answer to the revalidation"
# ETag precedence: both validators are sent; the origin decides by If-None-Match
assert_eq '"rf"' "$(field refresh.bin If-None-Match)" "If-None-Match of the revalidation"
assert_eq "$LM" "$(field refresh.bin If-Modified-Since)" "If-Modified-Since of the revalidation"
assert_contains "$CS" "; fwd=stale; fwd-status=304" "Cache-Status of the revalidated refresh.bin"
assert_eq "max-age=100, public" "$(hdr "$H" Cache-Control)" "Cache-Control after the 304"
sleep 1.2
get refresh.bin 3
assert_contains "$CS" "; hit" "refresh.bin, fresh by the Cache-Control of the 304"
assert_eq 2 "$(count refresh.bin)" "origin requests for refresh.bin after the 304"

# --- a 200 with a new ETag on revalidation replaces the object (other bytes, same length) ------
get newtag.bin 1
body_ok newtag.bin newtag1
sroute_set /s/newtag.bin headers.ETag '"\"t2\""'
sroute_set /s/newtag.bin headers.Cache-Control '"max-age=100"'
sroute_set /s/newtag.bin body_seed '"two"'
sleep 2.2
get newtag.bin 2
assert_eq 200 "$ST" "status of the new newtag.bin"
body_ok newtag.bin newtag2
assert_ne "${WANT[newtag1]}" "${WANT[newtag2]}" "the two versions' bytes"
assert_eq '"t2"' "$(hdr "$H" ETag)" "ETag of the new version"
assert_eq '"t1"' "$(field newtag.bin If-None-Match)" "If-None-Match of the revalidation"
assert_eq 200 "$(field newtag.bin status)" "the origin's answer to the revalidation"
get newtag.bin 3
assert_eq 200 "$ST" "status of newtag.bin from storage"
body_ok newtag.bin newtag2
assert_contains "$CS" "; hit" "Cache-Status of the new version stored"
assert_eq 2 "$(count newtag.bin)" "origin requests for newtag.bin"
get newtag.bin 4 -r 100-199
assert_eq 206 "$ST" "a range of the new version"
assert_eq "$(sroute_body /s/newtag.bin "$T/want" >/dev/null; range_sha256 "$T/want" 100 199)" \
    "$(sha "$B")" "bytes 100-199 of the new version"

# --- unsafe methods invalidate the stored object when they succeed ------------------------------
get post.bin 1
get post.bin 2
assert_contains "$CS" "; hit" "post.bin stored"
st=$(curl -sS -o "$T/post.out" -w '%{http_code}' -X POST --data 'x=1' \
    "$MCC_CONTENT/s/post.bin?cacheHostOrigin=origin.test")
assert_eq 200 "$st" "status of the POST"
assert_eq "posted" "$(cat "$T/post.out")" "body of the POST answer"
assert_eq 1 "$(count post.bin POST)" "POSTs that reached the origin"
get post.bin 3
assert_eq 200 "$ST" "GET after the POST"
body_ok post.bin
assert_contains "$CS" "; fwd=miss; stored" "GET after the POST (invalidated)"
assert_eq 2 "$(count post.bin GET)" "GETs that reached the origin after the POST"
# a failing unsafe method leaves the stored object alone
st=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --data 'y' \
    "$MCC_CONTENT/s/post.bin?cacheHostOrigin=origin.test")
assert_eq 500 "$st" "status of the failing PUT"
get post.bin 4
assert_contains "$CS" "; hit" "GET after a failed PUT"
st=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE \
    "$MCC_CONTENT/s/post.bin?cacheHostOrigin=origin.test")
assert_eq 204 "$st" "status of the DELETE"
get post.bin 5
assert_contains "$CS" "; fwd=miss; stored" "GET after the DELETE"
assert_eq 3 "$(count post.bin GET)" "GETs that reached the origin"

# --- client conditionals answered from storage -----------------------------------------------
get cond.bin 1
assert_eq 200 "$ST" "cond.bin"
get cond.bin inm -H 'If-None-Match: "zz", W/"c1"'
assert_eq 304 "$ST" "If-None-Match naming the stored ETag (weakly)"
assert_eq 0 "$(wc -c <"$B" 2>/dev/null || echo 0)" "body bytes of the 304"
assert_eq '"c1"' "$(hdr "$H" ETag)" "ETag of the 304"
get cond.bin inm2 -H 'If-None-Match: "zz"'
assert_eq 200 "$ST" "If-None-Match naming another ETag"
body_ok cond.bin
get cond.bin ims -H "If-Modified-Since: $(httpdate -10)"
assert_eq 304 "$ST" "If-Modified-Since after Last-Modified"
get cond.bin ims2 -H "If-Modified-Since: $(httpdate -9000)"
assert_eq 200 "$ST" "If-Modified-Since before Last-Modified"
# If-None-Match takes precedence over If-Modified-Since (RFC 9110 13.2.2)
get cond.bin both -H 'If-None-Match: "zz"' -H "If-Modified-Since: $(httpdate -10)"
assert_eq 200 "$ST" "a non-matching If-None-Match with a matching If-Modified-Since"
get cond.bin ir1 -r 100-199 -H 'If-Range: "other"'
assert_eq 200 "$ST" "If-Range with another ETag"
body_ok cond.bin
get cond.bin ir2 -r 100-199 -H 'If-Range: "c1"'
assert_eq 206 "$ST" "If-Range with the stored ETag"
assert_eq "bytes 100-199/10000" "$(hdr "$H" Content-Range)" "Content-Range"
assert_eq "$(sroute_body /s/cond.bin "$T/want" >/dev/null; range_sha256 "$T/want" 100 199)" \
    "$(sha "$B")" "bytes 100-199 of cond.bin"
get cond.bin ir3 -r 100-199 -H "If-Range: $LM"
assert_eq 206 "$ST" "If-Range with the stored Last-Modified"
assert_eq 1 "$(count cond.bin)" "origin requests for cond.bin (all answered from storage)"

# --- request Cache-Control ---------------------------------------------------------------------
get reqcc.bin 1
sleep 1.1
get reqcc.bin 2 -H 'Cache-Control: max-age=0'
assert_eq 200 "$ST" "reqcc.bin with max-age=0"
body_ok reqcc.bin
assert_contains "$CS" "; fwd=stale; fwd-status=304" "Cache-Status with request max-age=0"
assert_eq 2 "$(count reqcc.bin)" "origin requests after request max-age=0"
assert_eq '"rq"' "$(field reqcc.bin If-None-Match)" "If-None-Match for request max-age=0"
get reqcc.bin 3
assert_contains "$CS" "; hit" "reqcc.bin without request directives"
get reqcc.bin 4 -H 'Cache-Control: no-cache'
assert_eq 3 "$(count reqcc.bin)" "origin requests after request no-cache"
get reqcc.bin 5 -H 'Pragma: no-cache'
assert_eq 4 "$(count reqcc.bin)" "origin requests after Pragma: no-cache"
get reqcc.bin 6 -H 'Cache-Control: no-store'
assert_eq 200 "$ST" "reqcc.bin with request no-store"
body_ok reqcc.bin
assert_eq 5 "$(count reqcc.bin)" "origin requests after request no-store"
assert_eq "no-store" "$(field reqcc.bin Cache-Control)" "request no-store relayed"

# --- pipelined GETs on one keep-alive connection, answered in order: a slow miss, then a hit ----
get pipe1.bin 1
req() { # PATH
    printf 'GET %s?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' "$1"
}
{
    req /s/pipe2.bin
    req /s/pipe1.bin
    printf 'GET /s/pipe2.bin?cacheHostOrigin=origin.test HTTP/1.1\r\nHost: x\r\n'
    printf 'Connection: close\r\n\r\n'
} | raw_http "$MCC_CONTENT_PORT" "$T/pipe.raw" 5
"$SORIGIN_PY" - "$T/pipe.raw" <<'EOF' || fail "pipelined answers are wrong (see above)"
import sys
raw = open(sys.argv[1], "rb").read()
want = [b"second answer, longer\n", b"first answer\n", b"second answer, longer\n"]
got = []
while raw:
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        sys.exit("incomplete answer: %r" % raw[:200])
    lines = head.split(b"\r\n")
    n = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    if not lines[0].startswith(b"HTTP/1.1 200"):
        sys.exit("status line %r" % lines[0])
    got.append(rest[:n])
    raw = rest[n:]
if got != want:
    sys.exit("bodies %r, expected %r" % (got, want))
EOF
assert_eq 1 "$(count pipe1.bin)" "origin requests for pipe1.bin"
assert_eq 1 "$(count pipe2.bin)" "origin requests for pipe2.bin"

kill -0 "$MCCD_PID" 2>/dev/null || fail "mccd died"
