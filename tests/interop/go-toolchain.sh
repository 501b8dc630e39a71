# Sourced by the Go build scripts of tests/interop. setup_go finds a Go
# toolchain at least as new as $need_go (the "go" directive of the module
# files to build), from $GO, "go" on PATH or /usr/local/go/bin/go; with
# none at all, installs Debian's golang-go with apt-get (as root, or
# through sudo) when it is new enough. It sets $go and $goroot, pins the
# toolchain (GOTOOLCHAIN=local: never download another one) and keeps the
# Go caches under $target when there is no home for them.
#
# The caller defines die() and, before setup_go, sets need_go, target and
# go_modules (what needs that Go, for messages, e.g. "dskit-peer/go.mod").

# ver_ge A B: version A >= version B (dotted numbers).
ver_ge() {
	[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

go_version() {
	"$1" env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9][0-9.]*\).*/\1/p'
}

find_go() {
	if [ -n "${GO:-}" ]; then
		set -- "$GO"
	else
		set -- "$(command -v go || true)" /usr/local/go/bin/go
	fi
	for g in "$@"; do
		[ -n "$g" ] && [ -x "$g" ] || continue
		have=$(go_version "$g")
		if [ -n "$have" ] && ver_ge "$have" "$need_go"; then
			echo "$g"
			return 0
		fi
		echo "$g is Go ${have:-of unknown version}, older than the $need_go $go_modules needs" >&2
	done
	return 1
}

install_debian_go() {
	candidate=$(apt-cache policy golang-go 2>/dev/null | sed -n 's/^ *Candidate: \([0-9]*:\)\{0,1\}\([0-9][0-9.]*\).*/\2/p')
	if [ -z "$candidate" ] || ! ver_ge "$candidate" "$need_go"; then
		die "no Go toolchain found, and Debian's golang-go (${candidate:-not available}) is older than Go $need_go, which $go_modules needs (its \"go\" directive); install a Go release of at least $need_go (e.g. under /usr/local/go) or set GO=/path/to/go"
	fi
	sudo=
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install golang-go $candidate"
		sudo=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get install -y golang-go || {
		$sudo apt-get update
		$sudo apt-get install -y golang-go
	}
}

setup_go() {
export GOTOOLCHAIN=local
export GOFLAGS=

if ! go=$(find_go); then
	if [ -n "${GO:-}" ] || command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ]; then
		die "need Go $need_go or newer (the \"go\" directive of $go_modules); install it (e.g. under /usr/local/go) or set GO=/path/to/go"
	fi
	install_debian_go
	go=$(find_go) || die "golang-go was installed but no usable go was found"
fi
goroot=$("$go" env GOROOT)

# The build and module caches normally live under $HOME; keep them under
# target/ when there is no home to put them in.
if [ -z "${HOME:-}" ]; then
	if [ -z "${GOCACHE:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
		export GOCACHE="$target/go-build-cache"
	fi
	if [ -z "${GOMODCACHE:-}" ] && [ -z "${GOPATH:-}" ]; then
		export GOMODCACHE="$target/go-mod-cache"
	fi
fi
}
