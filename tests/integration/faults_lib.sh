# Sourced by test_faults_*.sh and test_load.sh after lib.sh: mccd in front of mcc-test-origin
# with per-request faults. The origin reads the faults from the leading labels of the Host header
# (--fault-by-host), and every *.fault.test host shares the cache namespace of origin.test: one
# object can be asked with a fault ("reset-after.300000.fault.test") and cleanly ("origin.test").

# Delivery Optimization content is immutable: no revalidation requests in the origin log
# shellcheck disable=SC2034 # read by lib.sh's write_mccd_conf
MCC_TEST_FRESHNESS=immutable
# shellcheck disable=SC2034
MCC_TEST_HOSTS="origin.test=origin *.fault.test=origin"

# Short upstream timeouts so that stalls end within seconds. libcurl's low-speed check averages
# over a window of about 5 s, so a stall after a fast start is seen after up to ~7 s.
start_fault_setup() {
    start_origin --fault-by-host
    cat >"$T/fetch-timeouts.json" <<EOF
{ "fetch": { "connect_timeout": "2s", "low_speed_time": "2s", "low_speed_limit": 1000 } }
EOF
    start_mccd "$T/fetch-timeouts.json"
}

# GET PATH of HOST through mccd into OUT (headers in OUT.h, curl's message in OUT.err). Sets
# FG_CODE, FG_SIZE (bytes received), FG_TIME (seconds) and FG_RC (curl's exit status).
fget() { # HOST PATH OUT [curl options...]
    local host=$1 path=$2 out=$3 w sep='?'
    shift 3
    case "$path" in *\?*) sep='&' ;; esac
    FG_RC=0
    w=$(curl -sS -o "$out" -D "$out.h" -w '%{http_code} %{size_download} %{time_total}' \
        --max-time 40 "$@" "$MCC_CONTENT$path${sep}cacheHostOrigin=$host" 2>"$out.err") || FG_RC=$?
    read -r FG_CODE FG_SIZE FG_TIME <<<"$w"
    [ -f "$out" ] || : >"$out"
    log "$host $path: status $FG_CODE, $FG_SIZE bytes in ${FG_TIME}s, curl exit $FG_RC"
}

# Fails unless OUT holds the first bytes of RIGHT (all of them when WHOLE is "whole").
assert_prefix_of() { # OUT RIGHT [whole]
    local n
    n=$(stat -c %s "$1")
    if [ "${3:-}" = whole ]; then
        assert_sha256 "$1" "$(sha256sum <"$2" | cut -d' ' -f1)"
        return
    fi
    [ "$n" -le "$(stat -c %s "$2")" ] ||
        fail "$1: $n bytes, more than the $(stat -c %s "$2") right ones"
    [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$(head -c "$n" "$2" | sha256sum | cut -d' ' -f1)" ] ||
        fail "$1: its $n bytes are not the head of $2"
}

# Fails unless the last request of FG_* was a cut: curl saw fewer bytes than the length promised.
assert_cut() { # WHAT
    assert_eq 18 "$FG_RC" "$1: curl exit status (18: body shorter than Content-Length)"
}

# Checks that TIME (seconds, decimal) lies in [LOW, HIGH).
assert_time_between() { # TIME LOW HIGH WHAT
    awk -v t="$1" -v a="$2" -v b="$3" 'BEGIN { exit !(t >= a && t < b) }' ||
        fail "$4: took ${1}s, expected ${2}..${3}s"
}

# Body bytes the origin sent for PATH (all requests so far), from its log.
path_bytes() { # PATH
    origin_bytes "GET $1[? ]"
}
