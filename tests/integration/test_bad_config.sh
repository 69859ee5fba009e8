#!/usr/bin/env bash
# mccd --check-config refuses broken fragments with exit 1, naming the fragment file and the key
# path (or the line, for invalid JSON), and accepts the same directory once it is fixed.
source "$(dirname "$0")/lib.sh"

# A conf dir holding a valid base fragment (loopback ports, temp cache root) and FRAGMENT as
# 70-NAME.json; runs --check-config on it.
check_with() { # NAME JSON
    local dir=$T/$1
    mkdir -p "$dir"
    cat >"$dir/10-base.json" <<JSON
{
  "listen": { "content": "127.0.0.1:$(free_port)", "admin": "127.0.0.1:$(free_port)" },
  "paths": { "cache_root": "$T/cache" },
  "plugins": { "disk": { "config": { "root": "$T/cache" } } }
}
JSON
    printf '%s\n' "$2" >"$dir/70-$1.json"
    CHECKED_FILE=$dir/70-$1.json
    run "$MCCD" --check-config --conf-dir "$dir"
}

# the base alone is fine: the failures below come from the broken fragment
check_with fine '{ "log": { "level": "warn" } }'
assert_rc 0 "--check-config with a valid fragment"
assert_contains "$RUN_OUT" "config ok" "--check-config output"

# an unknown key in a daemon section
check_with unknown-key '{ "listen": { "contnet": "127.0.0.1:8081" } }'
assert_rc 1 "--check-config with an unknown key"
assert_contains "$RUN_ERR" "$CHECKED_FILE" "unknown key error"
assert_contains "$RUN_ERR" "listen.contnet" "unknown key error"

# a value of the wrong type
check_with wrong-type '{ "limits": { "max_connections": "lots" } }'
assert_rc 1 "--check-config with a wrong type"
assert_contains "$RUN_ERR" "$CHECKED_FILE" "wrong type error"
assert_contains "$RUN_ERR" "limits.max_connections" "wrong type error"

# a malformed size
check_with bad-size '{ "cache": { "slice_size": "1 banana" } }'
assert_rc 1 "--check-config with a malformed size"
assert_contains "$RUN_ERR" "$CHECKED_FILE" "malformed size error"
assert_contains "$RUN_ERR" "cache.slice_size" "malformed size error"

# an integer out of its range
check_with too-many-threads '{ "cache": { "send_threads": 65 } }'
assert_rc 1 "--check-config with cache.send_threads 65"
assert_contains "$RUN_ERR" "$CHECKED_FILE" "out of range error"
assert_contains "$RUN_ERR" "cache.send_threads: expected an integer from 0 to 64" "out of range error"

# invalid JSON: the file and the line of the mistake
check_with invalid-json '{
  "log": {
    "level": "debug",,
  }
}'
assert_rc 1 "--check-config with invalid JSON"
assert_contains "$RUN_ERR" "$CHECKED_FILE:3" "invalid JSON error (file:line)"

# a top level that is not an object
check_with not-object '[ 1, 2 ]'
assert_rc 1 "--check-config with an array at the top level"
assert_contains "$RUN_ERR" "$CHECKED_FILE" "top-level array error"

# an unknown key inside a plugin's config: refused by the plugin, still named by file and path
check_with plugin-key '{ "plugins": { "hosts": { "config": { "bogus": 1 } } } }'
assert_rc 1 "--check-config with an unknown plugin config key"
assert_contains "$RUN_ERR" "$CHECKED_FILE" "unknown plugin key error"
assert_contains "$RUN_ERR" "plugins.hosts.config.bogus" "unknown plugin key error"

# a missing conf dir given explicitly is an error too
run "$MCCD" --check-config --conf-dir "$T/does-not-exist"
assert_rc 1 "--check-config with a missing --conf-dir"
assert_contains "$RUN_ERR" "$T/does-not-exist" "missing conf dir error"
