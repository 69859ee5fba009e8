#!/usr/bin/env bash
# The status page in a real browser: headless Chromium renders GET / of a running mccd after some
# downloads; the DOM after its script ran shows the numbers /summary gives, the drive, the top
# host and a chart with one bar pair per period; the screenshot is kept as a build artifact.
source "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || skip "chromium is not installed"

jget() { # FILE EXPR
    python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(int(v) if isinstance(v, float) and v == int(v) else v)' "$1" "$2"
}

# Runs headless Chromium on URL with a profile of its own; extra arguments are its options.
chromium() { # URL [options...]
    local url=$1 profile
    shift
    profile=$(mktemp -d "$T/chromium.XXXXXX")
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --virtual-time-budget=4000 "$@" "$url" 2>>"$T/chromium.log"
}

sha=$(make_blob pkg/big.deb 2500000)
start_origin
cat >"$T/period.json" <<'EOF'
{ "summary": { "period": "1s" } }
EOF
start_mccd "$T/period.json"

assert_eq 200 "$(cache_get origin.test /pkg/big.deb "$T/d1")" "miss"
assert_sha256 "$T/d1" "$sha"
assert_eq 200 "$(cache_get origin.test /pkg/big.deb "$T/d2")" "hit"
assert_eq 206 "$(cache_get origin.test /pkg/big.deb "$T/d3" -r 0-99999)" "ranged hit"
# let the traffic's period close and one idle period follow, so every number is settled
sleep 2.2
curl -sS "$MCC_ADMIN/summary" >"$T/s.json"
hit=$(jget "$T/s.json" 'j["lifetime"]["hitBytes"]')
miss=$(jget "$T/s.json" 'j["lifetime"]["missBytes"]')
ratio=$(jget "$T/s.json" 'j["lifetime"]["hitRatioBytes"]')
assert_eq 2600000 "$hit" "lifetime hit bytes"
assert_eq 2500000 "$miss" "lifetime miss bytes"

# the page is self-contained: nothing it names lives elsewhere
curl -sS -D "$T/page.hdr" "$MCC_ADMIN/" >"$T/page.html"
assert_contains "$(cat "$T/page.hdr")" "text/html" "page content type"
assert_contains "$(cat "$T/page.hdr")" "Content-Security-Policy: default-src 'none'" "page CSP"
if grep -Eqi '(src|href)=["'"'"']?(https?:)?//' "$T/page.html"; then
    fail "the status page loads something from elsewhere"
fi

chromium "$MCC_ADMIN/" --dump-dom >"$T/dom.html" ||
    fail "chromium failed: $(tail -5 "$T/chromium.log")"
dom=$(cat "$T/dom.html")
assert_contains "$dom" "id=\"life-hit\">$hit<" "rendered lifetime hit bytes"
assert_contains "$dom" "id=\"life-miss\">$miss<" "rendered lifetime miss bytes"
assert_contains "$dom" "id=\"life-egress\">$((hit + miss))<" "rendered lifetime egress bytes"
assert_contains "$dom" "id=\"life-ratio\">$ratio<" "rendered lifetime hit ratio"
assert_contains "$dom" "id=\"node\">$(jget "$T/s.json" 'j["nodeId"]')<" "rendered node id"
used=$(curl -sS "$MCC_ADMIN/summary/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["drives"][0]["usedBytes"])')
[ "$used" -ge 2500000 ] && [ "$used" -le $((2500000 + 3 * 4096)) ] ||
    fail "drive use $used for one object of 2500000 bytes"
assert_contains "$dom" "<td class=\"l\">$T/cache/cache1</td><td>$used</td>" "rendered drive"
assert_contains "$dom" "<td class=\"l\">origin.test</td><td>5100000</td>" "rendered top host"
assert_contains "$dom" "no parent cache configured" "parents"
assert_contains "$dom" 'id="error"></div>' "no load error on the page"
# the chart: a hit and a miss bar per period, at least the 2 periods closed so far
bars=$(grep -o '<rect class="hit"' <<<"$dom" | wc -l)
[ "$bars" -ge 3 ] || fail "chart has $bars hit bars (one is the legend), expected at least 3"
assert_contains "$dom" '<polyline class="ratio"' "hit ratio line"

art=$MCC_BUILD_DIR/artifacts
mkdir -p "$art"
rm -f "$art/status-page.png"
chromium "$MCC_ADMIN/" --screenshot="$art/status-page.png" --window-size=1000,1200 >/dev/null ||
    fail "chromium screenshot failed: $(tail -5 "$T/chromium.log")"
[ -s "$art/status-page.png" ] || fail "no screenshot"
assert_eq "89504e47" "$(head -c 4 "$art/status-page.png" | od -An -tx1 | tr -d ' \n')" "PNG magic"
log "screenshot: $art/status-page.png"
