# shellcheck shell=bash
# The one shell library of cluster/: every script sources it for logging, failing, waiting and
# building Go binaries into the cache. The sourcing script sets:
#   LOG_PREFIX       the tag of its log lines (kwok, kind, smoke)
#   CACHE_ROOT       ~/.cache/exchange-platform or $EXCHANGE_PLATFORM_CACHE
#   LOG_DIR          where build logs go
#   GO               the go binary (builds only)
#   KUBECTL          the kubectl binary kctl runs
#   KUBECONFIG_PATH  the kubeconfig kctl uses
#   KUBE_VERSION     (versions.env) for kube_ldflags

# ------------------------------------------------------------------ log, die

# Everything but a command's result goes to stderr: `up` prints only the kubeconfig on stdout.
log() { printf '[%s] %s\n' "${LOG_PREFIX}" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# ------------------------------------------------------------------ wait_for

# wait_for SECONDS WHAT COMMAND...: run COMMAND (its output discarded) until it succeeds, for at
# most SECONDS: five times a second for the first two seconds (a process exiting, a port opening),
# then once a second (rollouts, certificates). Returns 0 as soon as it succeeds; on timeout it
# logs "gave up waiting for WHAT" and returns 1, and the caller says what that means: `|| die` where
# the script cannot go on, a failed check in a smoke test, a fallback elsewhere.
wait_for() {
	local seconds=$1 what=$2 start=${SECONDS}
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS - start >= seconds)); then
			log "gave up waiting for ${what} after ${seconds}s"
			return 1
		fi
		if ((SECONDS - start < 2)); then sleep 0.2; else sleep 1; fi
	done
}

# ------------------------------------------------------------------ Go builds

# The Go environment of every build: the module proxy only, static binaries, the project's
# module and build caches.
go_env() {
	export GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
	export GOMODCACHE="${CACHE_ROOT}/go/mod" GOCACHE="${CACHE_ROOT}/go/cache"
	mkdir -p "${GOMODCACHE}" "${GOCACHE}" "${LOG_DIR}"
}

# check_pin FILE REGEX: fail if a builder's go.mod disagrees with the pinned versions.
check_pin() {
	grep -Eq "$2" "$1" || die "$1 does not match versions.env (expected /$2/); update both together"
}

# go_build_cached NAME BUILDER OUT_DIR LDFLAGS TAGS PKG...: `go build` PKG... in the module
# BUILDER into OUT_DIR, unless OUT_DIR/.inputs-NAME records the same inputs: BUILDER's go.mod,
# go.sum and *.go, the flags, the packages and the Go version. Each binary is named after its
# package, as `go build -o DIR/` names it; a single PKG written BINARY=PKG is named BINARY (a
# main package at a module root ending in /vN would be named after its parent). The binaries go
# to a temporary directory first and are moved into place, so an interrupted build is redone and
# two checkouts building at once never see half a binary. Silent when nothing is built.
go_build_cached() {
	local name=$1 builder=$2 out=$3 ldflags=$4 tags=$5
	shift 5
	local stamp="${out}/.inputs-${name}" hash logf="${LOG_DIR}/build-${name}.log" start=${SECONDS} f sources=()
	# Asked once per script: every build's inputs include it.
	[[ -n "${GO_TOOLCHAIN_VERSION:-}" ]] || GO_TOOLCHAIN_VERSION=$("${GO}" env GOVERSION)
	# The files that exist (a module without go.sum, a root without Go files): a missing one's
	# path would make the stamp depend on where the checkout is.
	for f in "${builder}"/go.mod "${builder}"/go.sum "${builder}"/*.go; do
		if [[ -f "${f}" ]]; then sources+=("${f}"); fi
	done
	hash=$(inputs_hash "${sources[@]}" "${ldflags}" "${tags}" "$*" "${GO_TOOLCHAIN_VERSION}")
	[[ -f "${stamp}" && "$(<"${stamp}")" == "${hash}" ]] && return 0
	local tmp="${out}.tmp.$$" target
	target="${tmp}/"
	if [[ $# -eq 1 && "$1" == *=* ]]; then
		target="${tmp}/${1%%=*}"
		set -- "${1#*=}"
	fi
	log "building ${name} (log: ${logf}) ..."
	rm -rf "${tmp}"
	mkdir -p "${tmp}" "${out}"
	if ! (cd "${builder}" && nice -n 10 "${GO}" build -trimpath -tags "${tags}" -ldflags "${ldflags}" \
		-o "${target}" "$@") >"${logf}" 2>&1; then
		tail -n 30 "${logf}" >&2
		rm -rf "${tmp}"
		die "build of ${name} failed"
	fi
	mv "${tmp}"/* "${out}/"
	rmdir "${tmp}"
	printf '%s\n' "${hash}" >"${stamp}"
	log "built ${name} in $((SECONDS - start))s"
}

# The ldflags of the Kubernetes binaries: the version `--version` reports (kwokctl and kind read
# it), stamped into component-base and client-go as the upstream build does.
kube_ldflags() {
	local p f="-s -w" major minor
	major=$(cut -d. -f1 <<<"${KUBE_VERSION#v}")
	minor=$(cut -d. -f2 <<<"${KUBE_VERSION}")
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		f+=" -X ${p}.gitVersion=${KUBE_VERSION} -X ${p}.gitMajor=${major} -X ${p}.gitMinor=${minor}"
		f+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=1970-01-01T00:00:00Z"
	done
	printf '%s' "${f}"
}

# ------------------------------------------------------------------ content

# inputs_hash FILE_OR_STRING...: short sha256 of files' contents and literal strings.
inputs_hash() {
	local x
	for x in "$@"; do
		if [[ -f "${x}" ]]; then cat "${x}"; else printf '%s\n' "${x}"; fi
	done | sha256sum | cut -c1-16
}

# content_copy SRC: copy the file or directory SRC to ${CACHE_ROOT}/config/<hash of its content>-<name>
# (once) and print that path. What a cluster or a daemon is made from is referred to by such a
# copy, never by a path in the checkout: two checkouts with the same content get the same path,
# and the checkout may move or go away.
content_copy() {
	local src=$1 hash dest
	if [[ -d "${src}" ]]; then
		hash=$(cd "${src}" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
	else
		hash=$(inputs_hash "${src}")
	fi
	dest="${CACHE_ROOT}/config/${hash}-${src##*/}"
	if [[ ! -e "${dest}" ]]; then
		mkdir -p "${CACHE_ROOT}/config"
		rm -rf "${dest}.tmp.$$"
		cp -r "${src}" "${dest}.tmp.$$"
		mv -T "${dest}.tmp.$$" "${dest}" 2>/dev/null || rm -rf "${dest}.tmp.$$"
	fi
	printf '%s' "${dest}"
}

# ------------------------------------------------------------------ ports

# free_ports N: N free TCP ports on 127.0.0.1, chosen by the kernel, on one line.
free_ports() {
	python3 -c 'import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))' "$1"
}

# ------------------------------------------------------------------ kubectl

kctl() { "${KUBECTL}" --kubeconfig "${KUBECONFIG_PATH}" "$@"; }
