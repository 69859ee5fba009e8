# shellcheck shell=bash
# Sourced by the test_nested_*.sh tests after lib.sh: several mccd levels on 127.0.0.1, each
# configured like a real deployment through MCC's environment variables and --env-to-conf.

# The cacheable origin host of every level. origin.test is reached at ORIGIN_ADDR through a
# connect_to rule of the top level; any other name (e.g. 127.0.0.1:PORT) is reached as named, as
# it must be through a proxy (which resolves the name itself).
: "${NESTED_HOST:=origin.test}"

# A GUID made from NAME, so that every level has its own node name (and Via entry).
nested_guid() { # NAME
    local h
    h=$(printf '%s' "$1" | sha256sum | cut -c1-32)
    echo "${h:0:8}-${h:8:4}-4${h:13:3}-8${h:17:3}-${h:20:12}"
}

# Starts (or restarts, on the same ports and cache) level NAME. UPSTREAM is the level above
# ("127.0.0.1:PORT") or "" for a top level, which reaches origin.test at ORIGIN_ADDR. Further
# arguments are VAR=VALUE for --env-to-conf, then "--", then fragment files copied after the
# test's own. Sets <NAME>_PID, <NAME>_PORT (content), <NAME>_ADMIN, <NAME>_DIR.
start_level() { # NAME UPSTREAM [VAR=VALUE...] [-- FRAGMENT...]
    local name=$1 up=$2 dir=$T/$1 content admin pid n=70 f
    shift 2
    local envs=() frags=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        envs+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    frags=("$@")
    mkdir -p "$dir/conf.d"
    if [ ! -s "$dir/ports" ]; then
        echo "$(free_port) $(free_port)" >"$dir/ports"
    fi
    read -r content admin <"$dir/ports"
    run env -i PATH="$PATH" \
        CUSTOMER_ID=0b0e3d2c-1f4a-4c5e-9a7b-2d3c4e5f6a7b \
        CACHE_NODE_ID="$(nested_guid "$name")" \
        CUSTOMER_KEY=a1b2c3d4-e5f6-4789-abcd-ef0123456789 \
        STORAGE_1_SIZE_GB=10 \
        MCC_CACHE_ROOT="$dir/cache" \
        MCC_CONTENT_LISTEN="127.0.0.1:$content" \
        MCC_ADMIN_LISTEN="127.0.0.1:$admin" \
        MCC_LOG_LEVEL=debug \
        CACHEABLE_CUSTOM_1_HOST="$NESTED_HOST" \
        ${up:+UPSTREAM_HOST=$up} \
        "${envs[@]}" \
        "$MCCD" --env-to-conf "$dir/conf.d"
    assert_rc 0 "mccd --env-to-conf for $name"
    cat >"$dir/conf.d/60-test.json" <<EOF
{
  "paths": { "plugin_dir": "$MCC_PLUGIN_DIR" },
  "log": { "access_log": "$dir/access.log" }
}
EOF
    if [ -z "$up" ] && [ "$NESTED_HOST" = origin.test ]; then
        cat >"$dir/conf.d/61-origin.json" <<EOF
{ "plugins": { "hosts": { "config": {
  "custom": [ { "host": "origin.test", "connect_to": "$ORIGIN_ADDR" } ] } } } }
EOF
    fi
    for f in "${frags[@]}"; do
        cp "$f" "$dir/conf.d/$n-$(basename "$f")"
        n=$((n + 1))
    done
    "$MCCD" --conf-dir "$dir/conf.d" >>"$dir/mccd.log" 2>&1 &
    pid=$!
    track_pid "$pid" "mccd $name"
    wait_port "$admin" "$pid" "mccd $name" "$dir/mccd.log"
    wait_port "$content" "$pid" "mccd $name" "$dir/mccd.log"
    printf -v "${name^^}_PID" '%s' "$pid"
    printf -v "${name^^}_PORT" '%s' "$content"
    printf -v "${name^^}_ADMIN" '%s' "$admin"
    printf -v "${name^^}_DIR" '%s' "$dir"
    log "level $name (pid $pid) content 127.0.0.1:$content${up:+, parent $up}"
}

# Fetches PATH of NESTED_HOST through the level on PORT in the Delivery Optimization form into
# OUT; prints the status. Extra arguments go to curl.
level_get() { # PORT PATH OUT [curl options...]
    local port=$1 path=$2 out=$3 sep='?'
    shift 3
    case "$path" in *\?*) sep='&' ;; esac
    curl -sS -o "$out" -w '%{http_code}' --max-time 30 "$@" \
        "http://127.0.0.1:$port$path${sep}cacheHostOrigin=$NESTED_HOST" || true
}

# Access log lines of level NAME for PATH (exact path field) whose cache status matches the
# regular expression STATUS (miss, hit|revalidated, ...; any when empty).
level_lines() { # NAME PATH [STATUS]
    local f=$T/$1/access.log
    [ -f "$f" ] || { echo 0; return 0; }
    awk -v p="$2" -v s="${3:-}" '$5 == p && (s == "" || $8 ~ ("^(" s ")$")) { n++ }
        END { print n + 0 }' "$f"
}

# Bytes level NAME sent for PATH that came from its upstream (the miss=N fields), summed.
level_miss_bytes() { # NAME PATH
    local f=$T/$1/access.log
    [ -f "$f" ] || { echo 0; return 0; }
    awk -v p="$2" '$5 == p { for (i = 9; i <= NF; i++) if ($i ~ /^miss=/) n += substr($i, 6) }
        END { print n + 0 }' "$f"
}

# Fails unless level NAME's last response for PATH was a 200 of SIZE bytes all from its disk
# (fresh or revalidated: freshness is the daemon's business, storage is what is checked here).
assert_from_disk() { # NAME PATH SIZE
    local f=$T/$1/access.log line
    line=$(awk -v p="$2" '$5 == p { l = $0 } END { print l }' "$f" 2>/dev/null)
    assert_contains "$line" " 200 $3 " "$1: last response for $2"
    assert_contains "$line" " hit=$3 miss=0 " "$1: last response for $2"
}

# Body bytes the origin sent for exactly PATH.
origin_path_bytes() { # PATH
    origin_settle
    awk -v p="$1" '$2 == p { for (i = 3; i <= NF; i++) if ($i ~ /^bytes=/) n += substr($i, 7) }
        END { print n + 0 }' "$ORIGIN_LOG"
}
