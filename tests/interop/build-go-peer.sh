#!/bin/sh
# Build the Go interop peer (tests/interop/go-peer) against HashiCorp
# memberlist v0.2.2 as Debian packages it, in GOPATH mode, using the
# package's sources in place under /usr/share/gocode.
#
#   tests/interop/build-go-peer.sh [OUT]     OUT defaults to target/go-peer
#
# Installs golang-go and golang-github-hashicorp-memberlist-dev with apt-get
# when go or the memberlist sources are missing (as root, or through sudo).
# Does nothing when OUT is newer than the peer's sources, this script and the
# memberlist sources; delete OUT to force a rebuild.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
peer="$root/tests/interop/go-peer"
gocode=/usr/share/gocode
memberlist="$gocode/src/github.com/hashicorp/memberlist"

out=${1:-"$root/target/go-peer"}
case $out in
/*) ;;
*) out="$(pwd)/$out" ;;
esac

install_deps() {
	sudo=
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=sudo
		else
			echo "build-go-peer: need root (or sudo) to install Go and memberlist" >&2
			exit 1
		fi
	fi
	pkgs="golang-go golang-github-hashicorp-memberlist-dev"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # $pkgs is a word list
	if ! $sudo apt-get install -y $pkgs; then
		$sudo apt-get update
		$sudo apt-get install -y $pkgs
	fi
}

if ! command -v go >/dev/null 2>&1 || [ ! -f "$memberlist/memberlist.go" ]; then
	install_deps
fi

# The peer's contract (no labels, how states are read) is written for 0.2.2.
version=$(dpkg-query -W -f '${Version}' golang-github-hashicorp-memberlist-dev 2>/dev/null || true)
case $version in
0.2.2*) ;;
*) echo "build-go-peer: warning: expected memberlist 0.2.2, found '${version:-unknown}'" >&2 ;;
esac

# Up to date? Compare OUT with every input that could change the binary.
if [ -x "$out" ] && [ -z "$(find "$peer" "$0" "$memberlist" -newer "$out" -print 2>/dev/null | head -n 1)" ]; then
	echo "build-go-peer: $out is up to date"
	exit 0
fi

gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT

# Put the peer in the temporary GOPATH's src, so that it builds as an
# ordinary GOPATH package; dependencies come from /usr/share/gocode.
mkdir -p "$gopath/src" "$(dirname "$out")"
ln -s "$peer" "$gopath/src/go-peer"

# The build cache normally lives under $HOME; keep one under target/
# when there is no home to put it in.
if [ -z "${GOCACHE:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ] && [ -z "${HOME:-}" ]; then
	export GOCACHE="$root/target/go-build-cache"
fi

cd "$gopath/src/go-peer"
GO111MODULE=off GOFLAGS= GOPATH="$gopath:$gocode" go build -o "$out" .
echo "build-go-peer: built $out"
