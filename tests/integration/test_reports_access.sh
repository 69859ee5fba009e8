#!/usr/bin/env bash
# Admin access modes over a real network: mccd runs in a network namespace of its own with its
# admin listener on 0.0.0.0, a client namespace reaches it over a veth pair (169.254.77.0/30,
# both ends inside the namespaces this test makes), and loopback clients ask from inside the
# server's namespace. Configured through MCC's environment (mccd --env-to-conf): the default
# (loopback only), IS_SUMMARY_PUBLIC with CUSTOMER_KEY and with SUMMARY_API_KEY, and
# IS_SUMMARY_ACCESS_UNRESTRICTED; with the right, a wrong and no key.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null 2>&1 || skip "iproute2 is not installed"

NS_SRV=mccrs$$
NS_CLI=mccrc$$
SRV_IP=169.254.77.1
ns_cleanup() {
    ip netns del "$NS_SRV" 2>/dev/null || true
    ip netns del "$NS_CLI" 2>/dev/null || true
}
# stop mccd before its namespace goes, then lib.sh's handler (it reads the exit status first)
trap 'rc=$?; stop_all; ns_cleanup; (exit $rc); mcc_on_exit' EXIT

ip netns add "$NS_SRV" || skip "cannot create a network namespace here"
ip netns add "$NS_CLI"
ip -n "$NS_SRV" link set lo up
ip -n "$NS_CLI" link set lo up
ip -n "$NS_SRV" link add vsrv type veth peer name vcli netns "$NS_CLI"
ip -n "$NS_SRV" addr add "$SRV_IP/30" dev vsrv
ip -n "$NS_CLI" addr add 169.254.77.2/30 dev vcli
ip -n "$NS_SRV" link set vsrv up
ip -n "$NS_CLI" link set vcli up

CUSTOMER_KEY=5f0e4a52-7b1c-4c8e-9d2a-3e6f1a2b3c4d
ENV_BASE=(CUSTOMER_ID=0b3e8f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b
    CACHE_NODE_ID=9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d CUSTOMER_KEY=$CUSTOMER_KEY
    STORAGE_1_SIZE_GB=10)

# Starts mccd in the server namespace with the fragments mccd --env-to-conf makes of the MCC
# environment ENV_BASE plus the given VAR=VALUE words, then the test's own fragment.
start_ns_mccd() { # [VAR=VALUE...]
    local dir=$T/mccd-$RANDOM i
    MCC_CONTENT_PORT=$(free_port)
    MCC_ADMIN_PORT=$(free_port)
    MCC_CONF_DIR=$dir/conf.d
    mkdir -p "$MCC_CONF_DIR" "$T/mccd"
    run env -i PATH="$PATH" "${ENV_BASE[@]}" "$@" "$MCCD" --env-to-conf "$MCC_CONF_DIR"
    assert_rc 0 "mccd --env-to-conf"
    write_mccd_conf "$MCC_CONF_DIR"
    cat >"$MCC_CONF_DIR/60-listen.json" <<EOF
{ "listen": { "content": "127.0.0.1:$MCC_CONTENT_PORT", "admin": "0.0.0.0:$MCC_ADMIN_PORT" } }
EOF
    ip netns exec "$NS_SRV" "$MCCD" --conf-dir "$MCC_CONF_DIR" >"$dir/mccd.log" 2>&1 &
    MCCD_PID=$!
    track_pid "$MCCD_PID" mccd
    for ((i = 0; i < 200; i++)); do
        kill -0 "$MCCD_PID" 2>/dev/null || { cat "$dir/mccd.log" >&2; fail "mccd exited"; }
        ip netns exec "$NS_SRV" bash -c "exec 3<>/dev/tcp/127.0.0.1/$MCC_ADMIN_PORT" \
            2>/dev/null && return 0
        sleep 0.05
    done
    fail "mccd did not listen on $MCC_ADMIN_PORT in its namespace"
}

# STATUS of GET PATH from the loopback (inside the server's namespace) or the remote client;
# the body is left in $T/body. Extra arguments go to curl.
ask() { # local|remote PATH [curl options...]
    local where=$1 path=$2 ns host
    shift 2
    if [ "$where" = local ]; then ns=$NS_SRV host=127.0.0.1; else ns=$NS_CLI host=$SRV_IP; fi
    ip netns exec "$ns" curl -sS -m 5 -o "$T/body" -w '%{http_code}' "$@" \
        "http://$host:$MCC_ADMIN_PORT$path" || echo "curl-failed"
}

expect() { # STATUS local|remote PATH [curl options...]
    local want=$1 got
    shift
    got=$(ask "$@")
    [ "$got" = "$want" ] || fail "$*: status $got, expected $want (body: $(head -c 200 "$T/body"))"
}

# --- default: loopback only -------------------------------------------------------------------
start_ns_mccd
expect 200 local /summary
assert_contains "$(cat "$T/body")" '"lifetime"' "loopback summary"
expect 200 local /metrics
expect 403 remote /summary
expect 403 remote /summary -H "Authorization: Bearer $CUSTOMER_KEY" # a key opens nothing here
expect 403 remote "/summary?apiKey=$CUSTOMER_KEY"
expect 403 remote /healthz
stop_pid "$MCCD_PID"

# --- public: the key is CUSTOMER_KEY ----------------------------------------------------------
start_ns_mccd IS_SUMMARY_PUBLIC=true
expect 200 local /summary
expect 200 remote /summary -H "Authorization: Bearer $CUSTOMER_KEY"
assert_contains "$(cat "$T/body")" '"hitRatioBytes"' "remote summary with the key"
expect 200 remote "/summary?apiKey=$CUSTOMER_KEY"
expect 200 remote /metrics -H "Authorization: Bearer $CUSTOMER_KEY"
expect 200 remote "/?apiKey=$CUSTOMER_KEY"
expect 401 remote /summary -H "Authorization: Bearer ${CUSTOMER_KEY%?}0"
wrong_body=$(cat "$T/body")
expect 401 remote /summary
missing_body=$(cat "$T/body")
assert_eq "$wrong_body" "$missing_body" "401 says nothing about why"
expect 401 remote "/summary?apiKey=nope"
expect 401 remote /metrics
expect 401 remote /summary -H "Authorization: Basic $CUSTOMER_KEY"
stop_pid "$MCCD_PID"

# --- public with SUMMARY_API_KEY: that key, and no longer CUSTOMER_KEY -------------------------
start_ns_mccd IS_SUMMARY_PUBLIC=True SUMMARY_API_KEY=s3cret-summary-key
expect 200 remote /summary -H "Authorization: Bearer s3cret-summary-key"
expect 200 remote "/summary?apiKey=s3cret-summary-key"
expect 401 remote /summary -H "Authorization: Bearer $CUSTOMER_KEY"
expect 401 remote /summary
expect 200 local /summary
stop_pid "$MCCD_PID"

# --- unrestricted: anyone ---------------------------------------------------------------------
start_ns_mccd IS_SUMMARY_ACCESS_UNRESTRICTED=true
expect 200 remote /summary
expect 200 remote /metrics
expect 200 remote /summary -H "Authorization: Bearer wrong"
expect 200 local /summary
stop_pid "$MCCD_PID"
