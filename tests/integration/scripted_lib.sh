# Sourced by the HTTP caching tests (after lib.sh): the scripted origin (tests/origin/
# scripted_origin.py), its routes file and its JSON request log, and Cache-Status helpers.
# shellcheck shell=bash disable=SC2034 # SORIGIN_* are for the tests

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
# the interpreter itself: a version manager's shim costs a tenth of a second per call
SORIGIN_PY=$(python3 -c 'import sys; print(sys.executable)')
SORIGIN_SCRIPT=$MCC_SOURCE_DIR/tests/origin/scripted_origin.py
SORIGIN_ROUTES=$T/routes.json
SORIGIN_LOG=$T/sorigin-requests.jsonl
[ -f "$SORIGIN_ROUTES" ] || echo '{}' >"$SORIGIN_ROUTES"

# Starts the scripted origin on a new ephemeral port (or PORT, to come back where it was) and
# points mccd's test hosts at it (ORIGIN_ADDR). Sets SORIGIN_PID, SORIGIN_PORT, ORIGIN_ADDR,
# ORIGIN_LOG (so that lib.sh's origin_settle works).
start_scripted_origin() { # [PORT]
    local portfile=$T/sorigin.port i
    rm -f "$portfile"
    "$SORIGIN_PY" "$SORIGIN_SCRIPT" --routes "$SORIGIN_ROUTES" --log "$SORIGIN_LOG" \
        --listen "127.0.0.1:${1:-0}" --port-file "$portfile" >>"$T/sorigin.log" 2>&1 &
    SORIGIN_PID=$!
    track_pid "$SORIGIN_PID" scripted-origin
    for ((i = 0; i < 200; i++)); do
        [ -s "$portfile" ] && break
        kill -0 "$SORIGIN_PID" 2>/dev/null || { cat "$T/sorigin.log" >&2; fail "origin exited"; }
        sleep 0.05
    done
    [ -s "$portfile" ] || fail "scripted origin did not start within 10s"
    SORIGIN_PORT=$(cat "$portfile")
    ORIGIN_ADDR=127.0.0.1:$SORIGIN_PORT
    ORIGIN_LOG=$SORIGIN_LOG
    log "scripted origin (pid $SORIGIN_PID) on $ORIGIN_ADDR"
}

stop_scripted_origin() {
    stop_pid "$SORIGIN_PID"
}

# Sets the route of PATH to the JSON object ROUTE (replacing it); the origin's next answer
# follows it. The file is replaced by rename: the origin never reads half of it.
sroute() { # PATH ROUTE_JSON
    "$SORIGIN_PY" - "$SORIGIN_ROUTES" "$1" "$2" <<'EOF'
import json, os, sys
f, path, route = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
routes = json.load(open(f))
routes[path] = route
open(f + ".tmp", "w").write(json.dumps(routes, indent=1))
os.rename(f + ".tmp", f)
EOF
}

# Changes one key of PATH's route (VALUE is JSON), or with a dotted KEY like headers.ETag one
# member of an object in it; VALUE null removes it.
sroute_set() { # PATH KEY VALUE_JSON
    "$SORIGIN_PY" - "$SORIGIN_ROUTES" "$1" "$2" "$3" <<'EOF'
import json, os, sys
f, path, key, value = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
routes = json.load(open(f))
obj = routes[path]
*parents, last = key.split(".")
for p in parents:
    obj = obj.setdefault(p, {})
if value is None:
    obj.pop(last, None)
else:
    obj[last] = value
open(f + ".tmp", "w").write(json.dumps(routes, indent=1))
os.rename(f + ".tmp", f)
EOF
}

# The body PATH's route answers now, into FILE; prints its SHA-256.
sroute_body() { # PATH FILE
    "$SORIGIN_PY" "$SORIGIN_SCRIPT" --routes "$SORIGIN_ROUTES" --emit "$1" >"$2"
    sha256sum "$2" | cut -d' ' -f1
}

# Number of requests the origin logged for PATH (with METHOD, default any). The origin logs a
# request before it answers, so nothing needs to settle.
sorigin_count() { # PATH [METHOD]
    "$SORIGIN_PY" - "$SORIGIN_LOG" "$1" "${2:-}" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] == sys.argv[2] and (sys.argv[3] == "" or r["method"] == sys.argv[3]):
        n += 1
print(n)
EOF
}

# FIELD (a logged request header like If-None-Match, or status, bytes, method) of the Nth
# request (1-based; negative from the end, default -1: the last) the origin logged for PATH;
# "-" when absent, "none" when there is no such request.
sorigin_field() { # PATH FIELD [N]
    "$SORIGIN_PY" - "$SORIGIN_LOG" "$1" "$2" "${3:--1}" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if r["path"] == sys.argv[2]]
n = int(sys.argv[4])
try:
    r = rows[n - 1 if n > 0 else n]
except IndexError:
    print("none")
    sys.exit(0)
print(r.get(sys.argv[3], "-"))
EOF
}

# Fetches PATH of origin.test through mccd into BODY, headers into HDRS (curl -D); prints the
# status (000 when there was no answer within 10 s). Extra curl options follow.
cget() { # PATH BODY HDRS [curl options...]
    local path=$1 body=$2 hdrs=$3
    shift 3
    curl -sS --max-time 10 -o "$body" -D "$hdrs" -w '%{http_code}' "$@" \
        "$MCC_CONTENT$path?cacheHostOrigin=origin.test" || true # 000 then: the asserts tell
}

# The value of header NAME (case-insensitive) in the header file HDRS (the last block), or "".
hdr() { # HDRS NAME
    tr -d '\r' <"$1" | awk -v n="$2" '
        /^HTTP\// { v = "" }
        { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == tolower(n)) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v) } }
        END { print v }'
}

sha() { # FILE
    sha256sum "$1" | cut -d' ' -f1
}

# The HTTP date (IMF-fixdate) of now plus OFFSET seconds (negative: in the past), for route
# headers that must not move between answers.
httpdate() { # OFFSET
    LC_ALL=C date -u -d "@$(($(date +%s) + $1))" '+%a, %d %b %Y %H:%M:%S GMT'
}

assert_between() { # LOW HIGH VALUE [WHAT]
    case "$3" in
    '' | *[!0-9]*) fail "${4:-value}: expected a number from $1 to $2, got '$3'" ;;
    esac
    if [ "$3" -lt "$1" ] || [ "$3" -gt "$2" ]; then
        fail "${4:-value}: expected a number from $1 to $2, got $3"
    fi
}
