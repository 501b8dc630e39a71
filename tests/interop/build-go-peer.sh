#!/bin/sh
# Build the Go interop peer (tests/interop/go-peer, a Go module) against one
# or more HashiCorp memberlist releases, with nothing but the Go toolchain
# and the Go module proxy (no apt packages of memberlist, no GOPATH mode).
#
#   tests/interop/build-go-peer.sh [VERSION...]
#
# Each VERSION (v0.7.0, or 0.7.0) must be pinned by the peer: go-peer/go.mod
# pins the newest, go-peer/versions/VERSION.mod (with VERSION.sum beside it,
# as "go build -modfile" expects) each older one. Without arguments, every
# pinned version is built. VERSION goes to target/go-peer-VERSION; the
# version of go.mod is also linked as target/go-peer, the tests' default.
# Releases from v0.3.0 on are built with the "labels" tag (label.go).
#
# Builds run with -mod=readonly (go.mod and go.sum are never edited: a
# mismatch fails) and -trimpath. A binary newer than the peer's sources,
# its module files, this script and the Go toolchain is left alone; delete
# it to force a rebuild.
#
# Go: $GO if set, else the first of "go" on PATH and /usr/local/go/bin/go
# that is at least as new as the highest "go" directive among the module
# files used. With no go at all, Debian's golang-go is installed with apt-get
# (as root, or through sudo) when it is new enough, else this fails and says
# what is needed.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
script="$root/tests/interop/build-go-peer.sh"
peer="$root/tests/interop/go-peer"
target="$root/target"
memberlist=github.com/hashicorp/memberlist

die() {
	echo "build-go-peer: $*" >&2
	exit 1
}
. "$root/tests/interop/go-toolchain.sh"

# The memberlist version a module file requires, and its "go" directive.
required_memberlist() {
	awk -v p="$memberlist" '$1 == "require" && $2 == p { print $3 } $1 == p { print $2 }' "$1"
}
go_directive() {
	awk '$1 == "go" { print $2; exit }' "$1"
}

# modfile_for VERSION: the module file pinning it, relative to $peer.
modfile_for() {
	if [ "$(required_memberlist "$peer/go.mod")" = "$1" ]; then
		echo go.mod
	elif [ -f "$peer/versions/$1.mod" ] && [ "$(required_memberlist "$peer/versions/$1.mod")" = "$1" ]; then
		echo "versions/$1.mod"
	else
		die "memberlist $1 is not pinned: add tests/interop/go-peer/versions/$1.mod and .sum (pinned: $(pinned))"
	fi
}

pinned() {
	{
		required_memberlist "$peer/go.mod"
		for f in "$peer"/versions/*.mod; do
			[ -f "$f" ] && required_memberlist "$f"
		done
	} | sort -V -u | tr '\n' ' ' | sed 's/ $//'
}

default_version=$(required_memberlist "$peer/go.mod")
[ -n "$default_version" ] || die "go-peer/go.mod does not require $memberlist"

versions=
for arg in "$@"; do
	case $arg in
	-h | --help)
		sed -n '2,/^set -eu$/{/^set/d;s/^# \{0,1\}//;p}' "$script"
		exit 0
		;;
	*/*) die "$arg: arguments are memberlist versions (v0.7.0); binaries go to target/go-peer-VERSION" ;;
	v*) versions="$versions $arg" ;;
	*) versions="$versions v$arg" ;;
	esac
done
[ -n "$versions" ] || versions=$(pinned)

# The newest Go any of the requested builds needs.
need_go=1.0
for v in $versions; do
	modfile=$(modfile_for "$v") || exit 1
	d=$(go_directive "$peer/$modfile")
	if [ -n "$d" ] && ! ver_ge "$need_go" "$d"; then
		need_go=$d
	fi
done

go_modules="the go-peer's module files"
setup_go

mkdir -p "$target"
for v in $versions; do
	modfile=$(modfile_for "$v") || exit 1
	out="$target/go-peer-$v"
	tags=
	if ver_ge "${v#v}" 0.3.0; then
		tags=labels
	fi

	# Up to date? Compare with every input that could change the binary
	# (the module cache is pinned by the .sum files under $peer).
	if [ -x "$out" ] && [ -z "$(find "$peer" "$script" "$root/tests/interop/go-toolchain.sh" "$goroot/VERSION" -newer "$out" -print 2>/dev/null | head -n 1)" ]; then
		echo "build-go-peer: $out is up to date"
	else
		set -- -mod=readonly -trimpath -buildvcs=false
		[ "$modfile" = go.mod ] || set -- "$@" "-modfile=$modfile"
		[ -z "$tags" ] || set -- "$@" -tags "$tags"
		(cd "$peer" && "$go" build "$@" -o "$out.tmp" .) || die "building $out with $go failed"
		# The binary must embed the version asked for.
		built=$("$go" version -m "$out.tmp" | awk -v p="$memberlist" '$1 == "dep" && $2 == p { print $3 }')
		[ "$built" = "$v" ] || die "$out.tmp embeds memberlist ${built:-?}, not $v"
		mv -f "$out.tmp" "$out"
		echo "build-go-peer: built $out (memberlist $v, $("$go" env GOVERSION)${tags:+, tags $tags})"
	fi
	if [ "$v" = "$default_version" ]; then
		ln -sfn "go-peer-$v" "$target/go-peer"
	fi
done
