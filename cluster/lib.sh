# shellcheck shell=bash
# Helpers shared by the cluster scripts (sourced by cluster/kwok.sh and cluster/kind.sh, and so
# by cluster/kind/build.sh and cluster/kind/edge.sh). The sourcing script sets:
#   LOG_PREFIX       the tag of its log lines (kwok, kind)
#   CACHE_ROOT       ~/.cache/exchange-platform or $EXCHANGE_PLATFORM_CACHE
#   LOG_DIR          where build logs go
#   KUBECTL          the kubectl binary kctl runs
#   KUBECONFIG_PATH  the kubeconfig kctl uses
#   KUBE_VERSION     (versions.env) for kube_ldflags

log() { printf '[%s] %s\n' "${LOG_PREFIX}" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

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

kctl() { "${KUBECTL}" --kubeconfig "${KUBECONFIG_PATH}" "$@"; }

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
