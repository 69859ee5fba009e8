#!/usr/bin/env bash
# mccd's command line: --help names every option, --version prints one, unknown options fail.
source "$(dirname "$0")/lib.sh"

run "$MCCD" --help
assert_rc 0 "mccd --help"
for opt in --help --version --conf-dir --plugin-dir --check-config --print-config \
    --env-to-conf --check-plugin --plugin-config --log-level; do
    assert_contains "$RUN_OUT" "$opt" "mccd --help"
done
assert_eq "" "$RUN_ERR" "mccd --help stderr"

run "$MCCD" --version
assert_rc 0 "mccd --version"
# the project version from CMakeLists.txt
version=$(sed -n 's/^project(mcc VERSION \([0-9.]*\).*/\1/p' "$MCC_SOURCE_DIR/CMakeLists.txt")
assert_ne "" "$version" "version in CMakeLists.txt"
assert_contains "$RUN_OUT" "$version" "mccd --version"
[[ "$RUN_OUT" =~ ^mccd\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "mccd --version: got '$RUN_OUT'"

run "$MCCD" --no-such-option
[ "$RUN_RC" -ne 0 ] || fail "mccd --no-such-option exited 0"
assert_contains "$RUN_ERR" "no-such-option" "mccd --no-such-option stderr"
assert_eq "" "$RUN_OUT" "mccd --no-such-option stdout"

run "$MCCD" stray-argument
[ "$RUN_RC" -ne 0 ] || fail "mccd stray-argument exited 0"
assert_contains "$RUN_ERR" "stray-argument" "mccd stray-argument stderr"

run "$MCCD" --log-level loud --version
[ "$RUN_RC" -ne 0 ] || fail "mccd --log-level loud exited 0"
assert_contains "$RUN_ERR" "loud" "mccd --log-level loud stderr"

run "$MCCD" --check-config --print-config
[ "$RUN_RC" -ne 0 ] || fail "mccd --check-config --print-config exited 0"
