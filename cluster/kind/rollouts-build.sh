# shellcheck shell=bash
# Argo Rollouts' controller for the kind tier (issue 26: its canary side by side with ours), built
# (sourced by cluster/kind.sh after monitoring-build.sh) as Prometheus is: from its Go module
# source as the main module, cached under ${CACHE_ROOT}, rebuilt only when its inputs change, and
# imported as a one-binary image (nothing is pulled). Its CRDs come from the module's
# manifests/crds. kind/install.sh installs it (install_rollouts, namespace argo-rollouts); its
# traffic routing is Traefik's (TraefikService weights, Traefik's kubernetescrd provider).
# See cluster/README-kind.md, "Argo Rollouts".

# ARGO_ROLLOUTS_VERSION: kind/versions.env. (v1.10.2 needs Go 1.26.10; the Gateway API traffic
# router is a plugin whose module the proxy does not serve, hence Traefik's built-in routing.)
# shellcheck disable=SC2153 # ARGO_ROLLOUTS_VERSION is kind/versions.env's
ROLLOUTS_IMAGE="exchange-platform/argo-rollouts:${ARGO_ROLLOUTS_VERSION}"

# The module source, copied so that Argo Rollouts is the main module (its go.mod's replace
# directives pin k8s.io/* to the versions it is built against). The zip holds no built web UI:
# the dashboard is the kubectl plugin's (not built), the controller does not serve it.
rollouts_source() {
	local b="${CLUSTER_DIR}/builders/argo-rollouts" v=${ARGO_ROLLOUTS_VERSION} src dir hash
	src="${CACHE_ROOT}/src/argo-rollouts-${v}"
	hash=$(inputs_hash "${b}/go.mod" "${b}/go.sum" "$(declare -f rollouts_source)")
	if [[ -f "${src}/.prepared" && "$(<"${src}/.prepared")" == "${hash}" ]]; then printf '%s' "${src}"; return 0; fi
	dir=$(cd "${b}" && "${GO}" mod download -json github.com/argoproj/argo-rollouts | jq -r .Dir)
	[[ -d "${dir}/cmd/rollouts-controller" && -d "${dir}/manifests/crds" ]] ||
		die "go mod download of github.com/argoproj/argo-rollouts ${v} failed"
	rm -rf "${src}"
	mkdir -p "${src%/*}"
	cp -r "${dir}" "${src}"
	chmod -R u+w "${src}"
	rm -f "$(edge_bin argo-rollouts "${v}")/.inputs-argo-rollouts-${v}"
	printf '%s\n' "${hash}" >"${src}/.prepared"
	printf '%s' "${src}"
}

# The controller (binary rollouts-controller) and crds.yaml: Rollout, AnalysisTemplate,
# ClusterAnalysisTemplate, AnalysisRun and Experiment, as the module's manifests/crds hold them.
build_rollouts() {
	local v=${ARGO_ROLLOUTS_VERSION} src out hash f p=github.com/argoproj/argo-rollouts/utils/version
	check_pin "${CLUSTER_DIR}/builders/argo-rollouts/go.mod" "^require github.com/argoproj/argo-rollouts ${v}\$"
	src=$(rollouts_source)
	out=$(edge_bin argo-rollouts "${v}")
	go_build_cached "argo-rollouts-${v}" "${src}" "${out}" \
		"-s -w -X ${p}.version=${v#v} -X ${p}.gitTag=${v} -X ${p}.gitTreeState=clean" "" ./cmd/rollouts-controller
	hash=$(inputs_hash "${src}/.prepared" "$(declare -f build_rollouts)")
	[[ -f "${out}/crds.yaml" && "$(cat "${out}/crds.yaml.inputs" 2>/dev/null)" == "${hash}" ]] && return 0
	for f in rollout analysis-template cluster-analysis-template analysis-run experiment; do
		[[ -f "${src}/manifests/crds/${f}-crd.yaml" ]] || die "Argo Rollouts ${v} has no manifests/crds/${f}-crd.yaml"
		printf -- '---\n'
		cat "${src}/manifests/crds/${f}-crd.yaml"
	done >"${out}/crds.yaml.tmp"
	mv "${out}/crds.yaml.tmp" "${out}/crds.yaml"
	printf '%s\n' "${hash}" >"${out}/crds.yaml.inputs"
}

rollouts_images() { printf '%s\n' "${ROLLOUTS_IMAGE}"; }

build_rollouts_image() {
	build_rollouts
	import_cached "${ROLLOUTS_IMAGE}" '["/bin/rollouts-controller"]' \
		"bin/rollouts-controller=$(edge_bin argo-rollouts "${ARGO_ROLLOUTS_VERSION}")/rollouts-controller"
}
