#!/usr/bin/env bash
# The shipped deployment files hold what they promise: each IoT Edge manifest's MCC module has
# create options that match its environment (a drive bind per STORAGE_N_SIZE_GB, 8081 -> 80,
# 5000 off host port 5000) and an environment that mccd turns into a configuration that checks;
# the systemd unit passes `systemd-analyze verify` where that tool exists.
source "$(dirname "$0")/lib.sh"

manifests=("$MCC_SOURCE_DIR"/deploy/iotedge/*.deployment.json)
[ -e "${manifests[0]}" ] || fail "no deploy/iotedge/*.deployment.json"
for m in "${manifests[@]}"; do
    name=$(basename "$m" .deployment.json)
    # the MCC module's environment as NAME=VALUE lines, after checking its create options
    python3 - "$m" >"$T/$name.env" <<'PY' || fail "$name: manifest check failed"
import json, re, sys
doc = json.load(open(sys.argv[1]))
agent = doc["modulesContent"]["$edgeAgent"]["properties.desired"]
mods = [m for m in agent["modules"].values() if "/mcc:" in m["settings"]["image"]]
if len(mods) != 1:
    sys.exit(f"expected one mcc module, found {len(mods)}")
mod = mods[0]
env = {k: v["value"] for k, v in mod["env"].items()}
opts = json.loads(mod["settings"]["createOptions"])["HostConfig"]
drives = sorted(int(m.group(1)) for k in env
                for m in [re.fullmatch(r"STORAGE_(\d)_SIZE_GB", k)] if m)
binds = sorted(int(m.group(1)) for b in opts["Binds"]
               for m in [re.fullmatch(r"/MicrosoftConnectedCache(\d)/:/nginx/cache\1/", b)] if m)
if not drives or drives != binds or len(binds) != len(opts["Binds"]):
    sys.exit(f"drives {drives} and binds {opts['Binds']} do not match")
ports = opts["PortBindings"]
if ports.get("8081/tcp") != [{"HostPort": "80"}]:
    sys.exit(f"8081/tcp must be published as host port 80, got {ports.get('8081/tcp')}")
admin = ports.get("5000/tcp", [{}])[0].get("HostPort")
if admin in (None, "5000"):
    sys.exit(f"5000/tcp must be published on another host port than 5000, got {admin}")
if mod.get("restartPolicy") != "always" or mod.get("status") != "running":
    sys.exit("the module must run with restartPolicy always")
for k, v in env.items():
    print(f"{k}={v}")
PY
    mapfile -t module_env <"$T/$name.env"
    run env -i PATH="$PATH" "${module_env[@]}" MCC_CACHE_ROOT="$T/cache" \
        "$MCCD" --env-to-conf "$T/$name.conf.d"
    assert_rc 0 "$name: mccd --env-to-conf with the manifest's environment"
    if grep -q '^UPSTREAM_HOST=' "$T/$name.env"; then
        assert_file_exists "$T/$name.conf.d/30-upstream.json"
        if [ ! -f "$MCC_PLUGIN_DIR/parent.so" ]; then
            log "$name: no parent plugin built, --check-config skipped"
            continue
        fi
    fi
    run "$MCCD" --check-config --conf-dir "$T/$name.conf.d"
    assert_rc 0 "$name: mccd --check-config of the manifest's configuration"
done

unit=$MCC_SOURCE_DIR/deploy/systemd/mccd.service
# shellcheck disable=SC2016 # $MAINPID is systemd's, not ours
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit" || fail "mccd.service: no SIGHUP reload"
grep -q '^AmbientCapabilities=CAP_NET_BIND_SERVICE$' "$unit" || fail "mccd.service: port 80"
command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze is not installed"
# the unit as installed, with mccd where this build has it
mkdir -p "$T/unit"
sed "s#/usr/local/bin/mccd#$MCCD#g" "$unit" >"$T/unit/mccd.service"
run systemd-analyze verify "$T/unit/mccd.service"
assert_rc 0 "systemd-analyze verify mccd.service"
assert_eq "" "$RUN_ERR$RUN_OUT" "systemd-analyze verify output"
