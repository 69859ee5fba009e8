# Sourced by the apt tests (after lib.sh): builds a small unsigned Debian repository under
# ORIGIN_ROOT/debian with dpkg-deb and apt-ftparchive, and runs apt-get against it with all of
# apt's state, cache and configuration inside the test's temp dir (never /etc/apt, /var/lib/apt).
# shellcheck shell=bash disable=SC2034 # APT_* and RUN_* are for the tests

for tool in apt-get dpkg-deb apt-ftparchive gzip; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done

: "${ORIGIN_ROOT:=$T/origin}"
APT_REPO=$ORIGIN_ROOT/debian
APT_ARCH=$(dpkg --print-architecture)
APT_REPO_HOST=repo.test
mkdir -p "$APT_REPO/pool/main" "$APT_REPO/dists/stable/main/binary-$APT_ARCH"

# Builds package NAME at VERSION (Architecture: all) into the pool: a README and, with SIZE, a
# data file of SIZE random bytes (stored uncompressed so that the .deb is about that large).
# Prints the .deb's path relative to the repository root (its Filename: in Packages).
apt_repo_deb() { # NAME VERSION [SIZE]
    local name=$1 version=$2 size=${3:-0} src rel
    src=$T/debsrc/${name}_$version
    rel=pool/main/${name:0:1}/$name/${name}_${version}_all.deb
    rm -rf "$src"
    mkdir -p "$src/DEBIAN" "$src/usr/share/$name" "$APT_REPO/$(dirname "$rel")"
    cat >"$src/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: all
Maintainer: mcc tests <tests@mcc.invalid>
Section: misc
Priority: optional
Description: mcc apt test package $name
 Built by tests/integration/apt_repo.sh to exercise apt through the cache.
EOF
    printf '%s %s\n' "$name" "$version" >"$src/usr/share/$name/README"
    [ "$size" -gt 0 ] && head -c "$size" /dev/urandom >"$src/usr/share/$name/data.bin"
    dpkg-deb --root-owner-group -Znone -b "$src" "$APT_REPO/$rel" >/dev/null ||
        fail "dpkg-deb could not build $name $version"
    echo "$rel"
}

# (Re)writes Packages, Packages.gz, Release and InRelease (unsigned: the client lists the
# repository with [trusted=yes]) from what is in the pool now.
apt_repo_index() {
    local dists=$APT_REPO/dists/stable bin=$APT_REPO/dists/stable/main/binary-$APT_ARCH
    (cd "$APT_REPO" && apt-ftparchive packages pool >"$bin/Packages") ||
        fail "apt-ftparchive packages failed"
    gzip -9nc "$bin/Packages" >"$bin/Packages.gz"
    rm -f "$dists/Release" "$dists/InRelease"
    apt-ftparchive \
        -o APT::FTPArchive::Release::Origin=mcc-test \
        -o APT::FTPArchive::Release::Label=mcc-test \
        -o APT::FTPArchive::Release::Suite=stable \
        -o APT::FTPArchive::Release::Codename=stable \
        -o APT::FTPArchive::Release::Architectures="$APT_ARCH" \
        -o APT::FTPArchive::Release::Components=main \
        release "$dists" >"$T/Release.new" || fail "apt-ftparchive release failed"
    mv "$T/Release.new" "$dists/Release"
    cp "$dists/Release" "$dists/InRelease"
}

# The repository most apt tests use: three small packages (one over a slice boundary) and one
# large one (30 MiB, many slices). APT_DEBS maps each package name to its pool path.
declare -A APT_DEBS=()
apt_repo_standard() {
    APT_DEBS[mcc-hello]=$(apt_repo_deb mcc-hello 1.0)
    APT_DEBS[mcc-tools]=$(apt_repo_deb mcc-tools 2.1 65536)
    APT_DEBS[mcc-data]=$(apt_repo_deb mcc-data 0.3 1500000)
    APT_DEBS[mcc-big]=$(apt_repo_deb mcc-big 1.0 $((30 << 20)))
    apt_repo_index
}

# SHA-256 of the repository's .deb at REL (a path printed by apt_repo_deb).
apt_repo_sha() { # REL
    sha256sum "$APT_REPO/$1" | cut -d' ' -f1
}

# Sets up an apt client in DIR: its own configuration (read through APT_CONFIG, so the host's
# /etc/apt is never read), state, lists and cache, and one sources.list line for URL. With
# PROXY, apt reaches the repository through that HTTP proxy.
apt_client() { # DIR URL [PROXY]
    local dir=$1 url=$2 proxy=${3:-}
    mkdir -p "$dir/etc/apt/apt.conf.d" "$dir/etc/apt/sources.list.d" \
        "$dir/etc/apt/preferences.d" "$dir/etc/apt/trusted.gpg.d" \
        "$dir/var/lib/apt/lists/partial" "$dir/var/cache/apt/archives/partial" \
        "$dir/var/lib/dpkg" "$dir/var/log/apt" "$dir/download"
    : >"$dir/var/lib/dpkg/status"
    echo "deb [trusted=yes] $url stable main" >"$dir/etc/apt/sources.list"
    cat >"$dir/apt.conf" <<EOF
Dir "$dir/";
Dir::State "var/lib/apt/";
Dir::State::status "$dir/var/lib/dpkg/status";
Dir::Cache "var/cache/apt/";
Dir::Etc "etc/apt/";
Dir::Etc::main "apt.conf";
Dir::Etc::parts "apt.conf.d";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d";
Dir::Etc::trustedparts "trusted.gpg.d";
Dir::Log "var/log/apt/";
APT::Architecture "$APT_ARCH";
APT::Architectures { "$APT_ARCH"; };
APT::Get::List-Cleanup "true";
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
Acquire::Retries "0";
Acquire::http::Timeout "20";
Debug::NoLocking "true";
EOF
    if [ -n "$proxy" ]; then
        echo "Acquire::http::Proxy \"$proxy\";" >>"$dir/apt.conf"
    else
        echo 'Acquire::http::Proxy "DIRECT";' >>"$dir/apt.conf"
    fi
}

# Runs apt-get with the client in DIR (through lib.sh's run: RUN_RC, RUN_OUT, RUN_ERR), from
# DIR/download so that `apt-get download` leaves the .deb files there. Debug::Acquire::http
# makes apt print every request header it sends (on stderr), kept in DIR/http-debug.log.
apt_run() { # DIR ARGS...
    local dir=$1
    shift
    RUN_RC=0
    (cd "$dir/download" &&
        APT_CONFIG=$dir/apt.conf apt-get -q -o Debug::Acquire::http=true "$@") \
        >"$T/run.out" 2>"$T/run.err" || RUN_RC=$?
    RUN_OUT=$(cat "$T/run.out")
    RUN_ERR=$(cat "$T/run.err")
    cat "$T/run.err" >>"$dir/http-debug.log"
}

# Fails unless the last apt_run succeeded without an error or warning.
apt_assert_ok() { # WHAT
    assert_rc 0 "$1"
    if grep -E -q '^(Err:|E:|W:)' "$T/run.out" "$T/run.err"; then
        fail "$1: apt reported: $(grep -E -h '^(Err:|E:|W:)' "$T/run.out" "$T/run.err" | head -5)"
    fi
}

# Checks that each named package's .deb in DIR (default: DIR of the client) is byte for byte
# the repository's.
apt_assert_debs() { # DIR NAME...
    local dir=$1 name rel
    shift
    for name in "$@"; do
        rel=${APT_DEBS[$name]:?unknown package $name}
        assert_sha256 "$dir/$(basename "$rel")" "$(apt_repo_sha "$rel")"
    done
}

# Checks from the origin log that each named package's .deb left the origin exactly once: the
# body bytes sent for its path add up to its size (a revalidation, 304, adds none).
apt_assert_origin_once() { # NAME...
    local name rel
    for name in "$@"; do
        rel=${APT_DEBS[$name]:?unknown package $name}
        assert_eq "$(stat -c %s "$APT_REPO/$rel")" "$(origin_bytes "GET /debian/$rel ")" \
            "body bytes of $rel sent by the origin"
    done
}

# Waits (at most 2 s: a request is logged once its last byte left) for mccd's access log to hold
# COUNT lines matching the grep pattern, then fails if it does not hold exactly COUNT.
apt_assert_access() { # COUNT PATTERN WHAT
    local i n=0
    for ((i = 0; i < 20; i++)); do
        n=$({ grep -e "$2" "$MCC_ACCESS_LOG" || true; } | wc -l)
        [ "$n" -ge "$1" ] && break
        sleep 0.1
    done
    assert_eq "$1" "$n" "$3 (access log lines matching '$2')"
}

# What both ways of pointing apt at the cache check once a first client (in $T/c1) filled it:
# a second update from that state (apt asks with If-Modified-Since), a fresh apt state whose
# packages all come from the cache and none from the origin again, and a download resumed with
# Range and If-Range. URL and PROXY as for apt_client ("" for none); NAMES the packages.
apt_check_cached() { # URL PROXY NAME...
    local url=$1 proxy=$2 name deb size have partial debug
    shift 2
    apt_run "$T/c1" update
    apt_assert_ok "second apt-get update"
    assert_contains "$(cat "$T/c1/http-debug.log")" "If-Modified-Since: " "second update's requests"

    apt_client "$T/c2" "$url" "$proxy"
    apt_run "$T/c2" update
    apt_assert_ok "fresh client's apt-get update"
    apt_run "$T/c2" download "$@"
    apt_assert_ok "fresh client's apt-get download"
    apt_assert_debs "$T/c2/download" "$@"
    apt_assert_origin_once "$@"
    for name in "$@"; do
        deb=${APT_DEBS[$name]}
        size=$(stat -c %s "$APT_REPO/$deb")
        apt_assert_access 1 "GET $APT_REPO_HOST /debian/$deb 200 $size hit hit=$size miss=0 " \
            "$name from the cache"
    done

    # apt finds a partial file and asks for the rest with Range and If-Range
    apt_client "$T/c3" "$url" "$proxy"
    apt_run "$T/c3" update
    apt_assert_ok "resuming client's apt-get update"
    deb=${APT_DEBS[mcc-big]}
    size=$(stat -c %s "$APT_REPO/$deb")
    have=$((10 * 1048576 + 12345))
    partial=$T/c3/var/cache/apt/archives/partial/$(basename "$deb")
    head -c "$have" "$APT_REPO/$deb" >"$partial"
    touch -r "$APT_REPO/$deb" "$partial"
    apt_run "$T/c3" install -y --download-only mcc-big
    apt_assert_ok "resumed apt-get install --download-only"
    debug=$(cat "$T/c3/http-debug.log")
    assert_contains "$debug" "Range: bytes=$have-" "apt's resume request"
    assert_contains "$debug" "If-Range: " "apt's resume request"
    apt_assert_debs "$T/c3/var/cache/apt/archives" mcc-big
    apt_assert_origin_once mcc-big
    apt_assert_access 1 "GET $APT_REPO_HOST /debian/$deb 206 $((size - have)) hit " \
        "the resumed download"
}
