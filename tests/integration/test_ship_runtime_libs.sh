#!/usr/bin/env bash
# Every shared library that mccd and the shipped plugins load directly comes from a package the
# container's runtime stage installs (Dockerfile), or from libc6, which every Debian image has:
# a library linked in later (libevent_pthreads for cache.loops) cannot go missing there.
source "$(dirname "$0")/lib.sh"
command -v dpkg >/dev/null 2>&1 || skip "no dpkg: not a Debian system"
command -v readelf >/dev/null 2>&1 || skip "no readelf (binutils)"

python3 - "$MCC_SOURCE_DIR/Dockerfile" "$MCCD" "$MCC_PLUGIN_DIR" <<'EOF' || fail "see above"
import os, re, subprocess, sys

dockerfile, mccd, plugin_dir = sys.argv[1:4]
text = open(dockerfile).read()
stage = text[text.index(" AS runtime"):]
install = stage[stage.index("apt-get install"):]
install = install[:install.index("rm -rf")]
packages = {w for w in re.findall(r"[a-z0-9][a-z0-9.+-]+", install)
            if w not in ("apt-get", "install", "y", "no-install-recommends")}
packages.add("libc6")

def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True)
    if out.returncode != 0:
        return None  # not an ELF file (a test fixture)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)

cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
def package_of(lib):
    m = re.search(r"^\s*" + re.escape(lib) + r" \(libc6,x86-64[^)]*\) => (\S+)$", cache, re.M) \
        or re.search(r"^\s*" + re.escape(lib) + r" \([^)]*\) => (\S+)$", cache, re.M)
    if m is None:
        return None
    real = os.path.realpath(m.group(1))
    for cand in (real, real.replace("/usr/lib/", "/lib/", 1), m.group(1)):
        out = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.split(":", 1)[0].strip()
    return None

files = [mccd] + sorted(os.path.join(plugin_dir, f) for f in os.listdir(plugin_dir)
                        if f.endswith(".so"))
missing, checked = [], 0
for f in files:
    libs = needed(f)
    if libs is None:
        continue
    for lib in libs:
        if lib.startswith(("libasan.", "libubsan.")):
            continue  # a sanitizer build's runtime: the container ships the plain build
        pkg = package_of(lib)
        checked += 1
        if pkg is None:
            missing.append("%s: %s is in no package here" % (os.path.basename(f), lib))
        elif pkg not in packages:
            missing.append("%s: %s comes from %s, which the runtime stage does not install"
                           % (os.path.basename(f), lib, pkg))
if checked == 0:
    sys.exit("no libraries found to check")
if missing:
    sys.exit("\n".join(sorted(set(missing))))
print("[test_ship_runtime_libs] %d libraries of %d files, all from %s"
      % (checked, len(files), " ".join(sorted(packages))), file=sys.stderr)
EOF
log "PASS"
