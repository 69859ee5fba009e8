# Sourced by every integration test: a per-test temp dir, free loopback ports, the origin (ours or
# nginx), mccd with a test configuration, asserts, and a trap that stops every process started.
#
# Environment (set by ctest, see CMakeLists.txt): MCCD, MCC_ORIGIN, MCC_BUILD_DIR, MCC_SOURCE_DIR,
# MCC_PLUGIN_DIR. MCC_TEST_KEEP=1 keeps the temp dir of a failed test for a look.
set -euo pipefail

: "${MCCD:?MCCD must name the mccd binary (run the test through ctest)}"
: "${MCC_BUILD_DIR:=$(dirname "$MCCD")}"
: "${MCC_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${MCC_PLUGIN_DIR:=$MCC_BUILD_DIR/plugins-out}"
: "${MCC_ORIGIN:=$MCC_BUILD_DIR/tests/origin/mcc-test-origin}"

TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/mcc-$TEST_NAME.XXXXXX")
chmod 755 "$T" # nginx workers run as another user when the test runs as root

MCC_PIDS=()       # every process started, stopped in reverse order
MCC_PID_NAMES=()  # what each one is, for messages

log() { echo "[$TEST_NAME] $*" >&2; }

fail() {
    echo "[$TEST_NAME] FAIL: $*" >&2
    exit 1
}

# Exit code 77 makes ctest report the test as skipped (SKIP_RETURN_CODE).
skip() {
    echo "[$TEST_NAME] SKIP: $*" >&2
    exit 77
}

# --- processes ------------------------------------------------------------------------------

track_pid() { # PID NAME
    MCC_PIDS+=("$1")
    MCC_PID_NAMES+=("$2")
}

untrack_pid() { # PID
    local i
    for i in "${!MCC_PIDS[@]}"; do
        if [ "${MCC_PIDS[$i]}" = "$1" ]; then
            unset "MCC_PIDS[$i]" "MCC_PID_NAMES[$i]"
        fi
    done
}

# Sends SIG (default TERM) to PID, waits up to TIMEOUT seconds (default 5), then SIGKILL. Sets
# STOP_RC to the exit status (128+n for a signal) and STOP_KILLED=1 when SIGKILL was needed.
# shellcheck disable=SC2034 # STOP_RC and STOP_KILLED are read by the tests
stop_pid() { # PID [TIMEOUT] [SIG]
    local pid=$1 timeout=${2:-5} sig=${3:-TERM} i
    STOP_KILLED=0
    STOP_RC=0
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        STOP_KILLED=1
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || STOP_RC=$?
    untrack_pid "$pid"
}

stop_all() {
    local idx=("${!MCC_PIDS[@]}") i
    for ((i = ${#idx[@]} - 1; i >= 0; i--)); do
        stop_pid "${MCC_PIDS[${idx[$i]}]}" 5
    done
    MCC_PIDS=()
    MCC_PID_NAMES=()
}

mcc_on_exit() {
    local rc=$? f
    trap - EXIT
    set +e
    stop_all
    python3 "$MCC_SOURCE_DIR/tests/integration/ports.py" release $$
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        # what the servers said, so that a CI log explains the failure
        for f in "$T"/*.log "$T"/*/*.log; do
            [ -s "$f" ] || continue
            echo "----- ${f#"$T"/} (last 30 lines) -----" >&2
            tail -n 30 "$f" >&2
        done
    fi
    if [ "$rc" -ne 0 ] && [ "${MCC_TEST_KEEP:-0}" = 1 ]; then
        echo "[$TEST_NAME] kept $T" >&2
    else
        rm -rf "$T"
    fi
    [ "$rc" -eq 0 ] && echo "[$TEST_NAME] PASS" >&2
    exit "$rc"
}
trap mcc_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- ports ----------------------------------------------------------------------------------

# A loopback TCP port nothing listens on now and no other test holds, outside the ephemeral
# range (see ports.py); held until the test exits, so a restarted server gets it back.
free_port() {
    python3 "$MCC_SOURCE_DIR/tests/integration/ports.py" reserve $$ || fail "no free port found"
}

# The descriptors of PID, as "OTHER CACHE DUPLICATES". CACHE counts open files of stored objects
# (*.data, *.meta): the disk backend keeps those of its idle objects open on purpose (its
# open_files setting, two per object). DUPLICATES counts stored files open more than once,
# which with no request in flight is a leak. OTHER is everything else (sockets, pipes, logs).
fd_census() { # PID
    python3 - "$1" <<'PY'
import collections, os, sys
d = "/proc/%s/fd" % sys.argv[1]
other, cache = 0, collections.Counter()
for name in os.listdir(d):
    try:
        target = os.readlink(os.path.join(d, name))
    except OSError:
        continue  # closed meanwhile
    if target.endswith(".data") or target.endswith(".meta"):
        cache[target] += 1
    else:
        other += 1
print(other, sum(cache.values()), sum(n - 1 for n in cache.values()))
PY
}

# True when something listens on 127.0.0.1:PORT (or on any address with that port).
port_listening() { # PORT
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# True when a TCP connection to 127.0.0.1:PORT succeeds.
port_answers() { # PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits until PORT accepts connections while PID lives. Fails with the tail of LOG otherwise.
wait_port() { # PORT PID NAME LOG [TIMEOUT]
    local port=$1 pid=$2 name=$3 errlog=$4 timeout=${5:-10} i
    for ((i = 0; i < timeout * 20; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$errlog" >&2 || true
            fail "$name exited before listening on $port"
        fi
        port_answers "$port" && return 0
        sleep 0.05
    done
    tail -n 30 "$errlog" >&2 || true
    fail "$name did not listen on $port within ${timeout}s"
}

# --- origins --------------------------------------------------------------------------------

# Starts mcc-test-origin serving ORIGIN_ROOT ($T/origin by default); extra arguments are its
# options (--rate, --delay-ms, --fault). Sets ORIGIN_PORT, ORIGIN_ADDR, ORIGIN_LOG, ORIGIN_PID.
start_origin() {
    local portfile="$T/origin.port" i
    : "${ORIGIN_ROOT:=$T/origin}"
    mkdir -p "$ORIGIN_ROOT"
    ORIGIN_LOG=$T/origin-requests.log
    rm -f "$portfile"
    "$MCC_ORIGIN" --listen 127.0.0.1:0 --root "$ORIGIN_ROOT" --log "$ORIGIN_LOG" \
        --port-file "$portfile" "$@" >"$T/origin.log" 2>&1 &
    ORIGIN_PID=$!
    track_pid "$ORIGIN_PID" origin
    # the port file appears once the origin listens (the port is its own ephemeral one)
    for ((i = 0; i < 200; i++)); do
        [ -s "$portfile" ] && break
        kill -0 "$ORIGIN_PID" 2>/dev/null || { cat "$T/origin.log" >&2; fail "origin exited"; }
        sleep 0.05
    done
    [ -s "$portfile" ] || fail "origin did not start within 10s"
    ORIGIN_PORT=$(cat "$portfile")
    ORIGIN_ADDR=127.0.0.1:$ORIGIN_PORT
    log "origin (pid $ORIGIN_PID) on $ORIGIN_ADDR"
}

# Starts nginx as an origin serving ORIGIN_ROOT, logging in the test origin's line format
# ("METHOD URI range=R status=S bytes=N"), so that origin_bytes works for both.
start_nginx_origin() {
    local dir=$T/nginx
    command -v nginx >/dev/null 2>&1 || skip "nginx is not installed"
    : "${ORIGIN_ROOT:=$T/origin}"
    mkdir -p "$ORIGIN_ROOT" "$dir/tmp"
    ORIGIN_PORT=$(free_port)
    ORIGIN_ADDR=127.0.0.1:$ORIGIN_PORT
    ORIGIN_LOG=$T/origin-requests.log
    : >"$ORIGIN_LOG"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 256; }
http {
    default_type application/octet-stream;
    log_format mcc '\$request_method \$request_uri range=\$http_range status=\$status '
                   'bytes=\$body_bytes_sent';
    access_log $ORIGIN_LOG mcc;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    sendfile on;
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $ORIGIN_ROOT;
    }
}
EOF
    nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' >"$T/nginx.log" 2>&1 &
    ORIGIN_PID=$!
    track_pid "$ORIGIN_PID" nginx
    wait_port "$ORIGIN_PORT" "$ORIGIN_PID" nginx "$T/nginx.log"
    log "nginx origin (pid $ORIGIN_PID) on $ORIGIN_ADDR"
}

# Waits until the origin log stops growing (a response is logged once its last byte left, which
# can be a moment after the client saw it), at most 2 s.
origin_settle() {
    local before after i
    [ -n "${ORIGIN_LOG:-}" ] || fail "no origin started"
    for ((i = 0; i < 20; i++)); do
        before=$(stat -c %s "$ORIGIN_LOG" 2>/dev/null || echo 0)
        sleep 0.1
        after=$(stat -c %s "$ORIGIN_LOG" 2>/dev/null || echo 0)
        [ "$before" = "$after" ] && return 0
    done
}

# Body bytes the origin sent, summed over its log lines that match the grep pattern (all lines
# by default).
origin_bytes() { # [PATTERN]
    origin_settle
    { grep -e "${1:-.}" "$ORIGIN_LOG" || true; } |
        sed -n 's/.* bytes=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# Number of requests the origin logged that match the grep pattern.
origin_requests() { # [PATTERN]
    origin_settle
    { grep -e "${1:-.}" "$ORIGIN_LOG" || true; } | wc -l
}

# Stops mccd while a slow download of URL is out: it must exit by itself, with status 0.
stop_during_download() { # URL
    local slow
    curl -sS --limit-rate 1M -o /dev/null "$1" 2>/dev/null &
    slow=$!
    sleep 1
    stop_pid "$MCCD_PID" 10
    kill "$slow" 2>/dev/null || true
    wait "$slow" 2>/dev/null || true
    assert_eq 0 "$STOP_KILLED" "mccd needed SIGKILL with a download out"
    assert_eq 0 "$STOP_RC" "mccd's exit status after SIGTERM"
}

# Creates ORIGIN_ROOT/NAME with SIZE random bytes (dirs as needed) and prints its SHA-256.
make_blob() { # NAME SIZE
    : "${ORIGIN_ROOT:=$T/origin}"
    mkdir -p "$(dirname "$ORIGIN_ROOT/$1")"
    head -c "$2" /dev/urandom >"$ORIGIN_ROOT/$1"
    sha256sum "$ORIGIN_ROOT/$1" | cut -d' ' -f1
}

# --- mccd -----------------------------------------------------------------------------------

# The test's custom cacheable hosts, "host=canonical" words, all reached at the origin (via
# connect_to), with the host rule freshness MCC_TEST_FRESHNESS when set. Set before start_mccd;
# the default is one host, origin.test.
: "${MCC_TEST_HOSTS:=origin.test=origin}"

# Writes the test configuration into DIR (created): loopback ports, the temp cache root, debug
# log, an access log, the custom hosts pointing at the origin and a small disk.
write_mccd_conf() { # DIR
    local dir=$1 custom="" sep="" h name canon connect=""
    mkdir -p "$dir" "$T/cache"
    if [ -n "${ORIGIN_ADDR:-}" ]; then
        connect=", \"connect_to\": \"$ORIGIN_ADDR\""
    fi
    # MCC_TEST_FRESHNESS (standard, immutable, revalidate) applies to every test host
    if [ -n "${MCC_TEST_FRESHNESS:-}" ]; then
        connect+=", \"freshness\": \"$MCC_TEST_FRESHNESS\""
    fi
    for h in $MCC_TEST_HOSTS; do
        name=${h%%=*}
        canon=${h#*=}
        custom+="$sep{ \"host\": \"$name\", \"canonical\": \"$canon\"$connect }"
        sep=", "
    done
    cat >"$dir/50-test.json" <<EOF
{
  "listen": { "content": "127.0.0.1:$MCC_CONTENT_PORT", "admin": "127.0.0.1:$MCC_ADMIN_PORT" },
  "paths": { "cache_root": "$T/cache", "plugin_dir": "$MCC_PLUGIN_DIR" },
  "log": { "level": "debug", "access_log": "$T/mccd/access.log" },
  "plugins": {
    "hosts": { "plugin": "hosts", "config": { "builtin": true, "custom": [ $custom ] } },
    "disk": { "plugin": "disk", "config": {
      "root": "$T/cache", "drives": [ { "path": "cache1", "size": "${MCC_TEST_DISK_SIZE:-64MiB}" } ]
    } }
  }
}
EOF
    # MCC_TEST_STORAGE=memory: the same test on the memory backend, of the same size (issue 11)
    if [ "${MCC_TEST_STORAGE:-disk}" = memory ]; then
        cat >"$dir/55-storage-memory.json" <<EOF
{
  "cache": { "storage": "memory" },
  "plugins": { "memory": { "plugin": "memory", "config": {
    "size": "${MCC_TEST_DISK_SIZE:-64MiB}", "eviction": "lru"
  } } }
}
EOF
    fi
}

# A test that needs stored objects to survive a restart of mccd calls this first: it is skipped
# when the suite runs on a backend that keeps nothing across restarts (MCC_TEST_STORAGE=memory).
require_persistent_storage() {
    if [ "${MCC_TEST_STORAGE:-disk}" = memory ]; then
        skip "needs storage that survives a restart (MCC_TEST_STORAGE=memory)"
    fi
}

# Starts mccd with the test configuration plus any fragment files given (copied into the conf
# dir after 50-test.json, so they win). Waits for both ports. Sets MCCD_PID, MCC_CONTENT_PORT,
# MCC_ADMIN_PORT, MCC_CONTENT (base URL), MCC_ADMIN (base URL), MCC_CONF_DIR, MCC_ACCESS_LOG.
# shellcheck disable=SC2034 # the variables set are for the tests
start_mccd() { # [FRAGMENT...]
    local f n=60
    MCC_CONTENT_PORT=$(free_port)
    MCC_ADMIN_PORT=$(free_port)
    MCC_CONF_DIR=$T/mccd/conf.d
    MCC_ACCESS_LOG=$T/mccd/access.log
    write_mccd_conf "$MCC_CONF_DIR"
    for f in "$@"; do
        cp "$f" "$MCC_CONF_DIR/$n-$(basename "$f")"
        n=$((n + 1))
    done
    "$MCCD" --conf-dir "$MCC_CONF_DIR" >"$T/mccd/mccd.log" 2>&1 &
    MCCD_PID=$!
    track_pid "$MCCD_PID" mccd
    wait_port "$MCC_ADMIN_PORT" "$MCCD_PID" mccd "$T/mccd/mccd.log"
    wait_port "$MCC_CONTENT_PORT" "$MCCD_PID" mccd "$T/mccd/mccd.log"
    MCC_CONTENT=http://127.0.0.1:$MCC_CONTENT_PORT
    MCC_ADMIN=http://127.0.0.1:$MCC_ADMIN_PORT
    log "mccd (pid $MCCD_PID) content $MCC_CONTENT admin $MCC_ADMIN"
}

# Starts mccd again on the configuration, ports and cache root of the last start_mccd (after it
# was stopped or killed); its output is appended to the same log. Sets MCCD_PID.
restart_mccd() {
    [ -n "${MCC_CONF_DIR:-}" ] || fail "restart_mccd before start_mccd"
    "$MCCD" --conf-dir "$MCC_CONF_DIR" >>"$T/mccd/mccd.log" 2>&1 &
    MCCD_PID=$!
    track_pid "$MCCD_PID" mccd
    wait_port "$MCC_ADMIN_PORT" "$MCCD_PID" mccd "$T/mccd/mccd.log"
    wait_port "$MCC_CONTENT_PORT" "$MCCD_PID" mccd "$T/mccd/mccd.log"
    log "mccd restarted (pid $MCCD_PID)"
}

# Fetches PATH of HOST through mccd in the Delivery Optimization form into OUT; prints the status.
cache_get() { # HOST PATH OUT [curl options...]
    local host=$1 path=$2 out=$3 sep='?'
    shift 3
    case "$path" in *\?*) sep='&' ;; esac
    curl -sS -o "$out" -w '%{http_code}' "$@" "$MCC_CONTENT$path${sep}cacheHostOrigin=$host"
}

# Sends stdin as raw bytes to 127.0.0.1:PORT in one write and saves everything the server
# answers into OUT, until it closes the connection, IDLE seconds (default 3) pass without a byte,
# or 60 s in all. For requests curl will not send (bad targets, pipelining).
raw_http() { # PORT OUT [IDLE]
    python3 - "$1" "$2" "${3:-3}" 3<&0 <<'PYEOF'
import os, socket, sys, time
port, out, idle = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
data = os.fdopen(3, "rb").read()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(data)
s.settimeout(idle)
got = bytearray()
deadline = time.monotonic() + 60
try:
    while time.monotonic() < deadline:
        b = s.recv(65536)
        if not b:
            break
        got += b
except (socket.timeout, ConnectionResetError):
    pass
with open(out, "wb") as f:
    f.write(got)
PYEOF
}

# --- asserts --------------------------------------------------------------------------------

assert_eq() { # EXPECTED ACTUAL [WHAT]
    [ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

assert_ne() { # UNEXPECTED ACTUAL [WHAT]
    [ "$1" != "$2" ] || fail "${3:-value}: expected anything but '$1'"
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]
    case "$1" in
    *"$2"*) ;;
    *) fail "${3:-text}: expected to contain '$2', got: $(printf '%s' "$1" | head -c 2000)" ;;
    esac
}

assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
    case "$1" in
    *"$2"*) fail "${3:-text}: expected no '$2', got: $(printf '%s' "$1" | head -c 2000)" ;;
    esac
}

assert_file_exists() { # PATH
    [ -e "$1" ] || fail "expected $1 to exist"
}

assert_sha256() { # FILE EXPECTED
    [ -f "$1" ] || fail "$1: no such file"
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    [ "$got" = "$2" ] || fail "$1: sha256 $got, expected $2 ($(stat -c %s "$1") bytes)"
}

# SHA-256 of bytes FIRST..LAST (inclusive) of FILE.
range_sha256() { # FILE FIRST LAST
    dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count=$(($3 - $2 + 1)) status=none |
        sha256sum | cut -d' ' -f1
}

# Checks that the header block in file HEADERS (as written by curl -D) has the line
# "NAME: VALUE" exactly (name case-sensitive, as Delivery Optimization looks names up).
assert_header() { # HEADERS NAME VALUE
    grep -qxF "$2: $3" <(tr -d '\r' <"$1") ||
        fail "$1: no header line '$2: $3' in: $(tr -d '\r' <"$1" | tr '\n' '|')"
}

# Checks that the header block in file HEADERS has "Cache-Status: <node>; VALUE" (any node name).
assert_cache_status() { # HEADERS VALUE
    local got
    got=$(tr -d '\r' <"$1" | sed -n 's/^Cache-Status: [^;]*; //p')
    [ "$got" = "$2" ] || fail "$1: Cache-Status '<node>; $got', expected '<node>; $2'"
}

# Requests URL with curl (extra curl options allowed) and checks the HTTP status.
assert_status() { # EXPECTED URL [curl options...]
    local expected=$1 url=$2 got
    shift 2
    got=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" || true)
    [ "$got" = "$expected" ] || fail "$url: status $got, expected $expected"
}

# Runs a command, capturing its exit code, stdout and stderr in RUN_RC, RUN_OUT, RUN_ERR.
run() { # CMD...
    RUN_RC=0
    "$@" >"$T/run.out" 2>"$T/run.err" || RUN_RC=$?
    RUN_OUT=$(cat "$T/run.out")
    RUN_ERR=$(cat "$T/run.err")
}

assert_rc() { # EXPECTED [WHAT]: checks RUN_RC of the last run
    [ "$RUN_RC" = "$1" ] ||
        fail "${2:-command}: exit $RUN_RC, expected $1; stdout: $RUN_OUT; stderr: $RUN_ERR"
}
