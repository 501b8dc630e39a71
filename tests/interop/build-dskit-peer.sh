#!/bin/sh
# Build the dskit interop peer (tests/interop/dskit-peer, a Go module): a
# memberlist node on Grafana dskit's TCP-only transport, with nothing but the
# Go toolchain and the Go module proxy (no GOPATH mode, no system packages
# of dskit or memberlist).
#
#   tests/interop/build-dskit-peer.sh
#
# The binary goes to target/dskit-peer. dskit-peer/go.mod pins one dskit
# version and, as dskit itself does, replaces github.com/hashicorp/memberlist
# with Grafana's fork (github.com/grafana/memberlist); the build checks that
# the binary embeds exactly those two.
#
# The build runs with -mod=readonly (go.mod and go.sum are never edited: a
# mismatch fails) and -trimpath. A binary newer than the peer's sources, its
# module files, this script and the Go toolchain is left alone; delete it to
# force a rebuild.
#
# Go: $GO if set, else the first of "go" on PATH and /usr/local/go/bin/go
# that is at least as new as the "go" directive of dskit-peer/go.mod. With no
# go at all, Debian's golang-go is installed with apt-get (as root, or
# through sudo) when it is new enough, else this fails and says what is
# needed.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
script="$root/tests/interop/build-dskit-peer.sh"
peer="$root/tests/interop/dskit-peer"
target="$root/target"
out="$target/dskit-peer"
dskit=github.com/grafana/dskit
memberlist=github.com/hashicorp/memberlist

die() {
	echo "build-dskit-peer: $*" >&2
	exit 1
}
. "$root/tests/interop/go-toolchain.sh"

for arg in "$@"; do
	case $arg in
	-h | --help)
		sed -n '2,/^set -eu$/{/^set/d;s/^# \{0,1\}//;p}' "$script"
		exit 0
		;;
	*) die "$arg: no arguments are taken (the versions are pinned by tests/interop/dskit-peer/go.mod)" ;;
	esac
done

modfile="$peer/go.mod"
[ -f "$modfile" ] || die "$modfile is missing"

# What go.mod pins: dskit's version, the memberlist replacement, "go".
want_dskit=$(awk -v p="$dskit" '$1 == "require" && $2 == p { print $3 } $1 == p { print $2 }' "$modfile")
want_replace=$(awk -v p="$memberlist" '$1 == "replace" && $2 == p && $3 == "=>" { print $4 " " $5 }' "$modfile")
need_go=$(awk '$1 == "go" { print $2; exit }' "$modfile")
[ -n "$want_dskit" ] || die "dskit-peer/go.mod does not require $dskit"
[ -n "$want_replace" ] || die "dskit-peer/go.mod does not replace $memberlist"
[ -n "$need_go" ] || need_go=1.0

go_modules="dskit-peer/go.mod"
setup_go

mkdir -p "$target"

# Up to date? Compare with every input that could change the binary (the
# module cache is pinned by go.sum).
if [ -x "$out" ] && [ -z "$(find "$peer" "$script" "$root/tests/interop/go-toolchain.sh" "$goroot/VERSION" -newer "$out" -print 2>/dev/null | head -n 1)" ]; then
	echo "build-dskit-peer: $out is up to date"
	exit 0
fi

(cd "$peer" && "$go" build -mod=readonly -trimpath -buildvcs=false -o "$out.tmp" .) ||
	die "building $out with $go failed"

# The binary must embed the versions go.mod asks for.
built_dskit=$("$go" version -m "$out.tmp" | awk -v p="$dskit" '$1 == "dep" && $2 == p { print $3 }')
built_replace=$("$go" version -m "$out.tmp" | awk -v p="$memberlist" '$1 == "dep" && $2 == p { dep = 1; next } dep && $1 == "=>" { print $2 " " $3 } { dep = 0 }')
[ "$built_dskit" = "$want_dskit" ] || die "$out.tmp embeds dskit ${built_dskit:-?}, not $want_dskit"
[ "$built_replace" = "$want_replace" ] || die "$out.tmp embeds memberlist ${built_replace:-?}, not $want_replace"
mv -f "$out.tmp" "$out"
echo "build-dskit-peer: built $out (dskit $want_dskit, memberlist $want_replace, $("$go" env GOVERSION))"
