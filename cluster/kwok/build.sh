# shellcheck shell=bash
# Build steps of cluster/kwok.sh (sourced): Kubernetes, etcd, kwok, Sealed Secrets and Flux from the
# Go module proxy (cluster/builders/), each cached under ${CACHE_ROOT} by go_build_cached (lib.sh)
# and built again only when its builder module or flags change.

build_kubernetes() {
	local dir="${CLUSTER_DIR}/builders/kubernetes" b pkgs=()
	check_pin "${dir}/go.mod" "^(require)?[[:space:]]*k8s.io/kubernetes ${KUBE_VERSION}\$"
	check_pin "${dir}/go.mod" "k8s.io/api => k8s.io/api ${KUBE_STAGING_VERSION}\$"
	for b in "${KUBE_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${b}"); done
	go_build_cached "kubernetes-${KUBE_VERSION}" "${dir}" "${KUBE_BIN_DIR}" "$(kube_ldflags)" "" "${pkgs[@]}"
}

# etcd's main package is its module root (go.etcd.io/etcd/server/v3): the binary is named here.
build_etcd() {
	local dir="${CLUSTER_DIR}/builders/etcd"
	check_pin "${dir}/go.mod" "^(require)?[[:space:]]*go.etcd.io/etcd/server/v3 ${ETCD_VERSION}\$"
	go_build_cached "etcd-${ETCD_VERSION}" "${dir}" "${ETCD_BIN_DIR}" "-s -w" "" etcd=go.etcd.io/etcd/server/v3
}

build_kwok() {
	local dir="${CLUSTER_DIR}/builders/kwok" p=sigs.k8s.io/kwok/pkg/consts
	check_pin "${dir}/go.mod" "^(require)?[[:space:]]*sigs.k8s.io/kwok ${KWOK_VERSION}\$"
	go_build_cached "kwok-${KWOK_VERSION}" "${dir}" "${KWOK_BIN_DIR}" \
		"-s -w -X ${p}.Version=${KWOK_VERSION#v} -X ${p}.KubeVersion=${KUBE_VERSION#v}" "" \
		sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
}

# Sealed Secrets: the controller and kubeseal, plus the SealedSecret CRD shipped in the module.
SS_BIN_DIR="${CACHE_ROOT}/bin/sealed-secrets/${SEALED_SECRETS_VERSION}"

build_sealed_secrets() {
	local dir="${CLUSTER_DIR}/builders/sealed-secrets" module=github.com/bitnami/sealed-secrets src
	check_pin "${dir}/go.mod" "^(require)?[[:space:]]*${module} ${SEALED_SECRETS_VERSION}\$"
	check_pin "${dir}/go.mod" "=> github.com/bitnami-labs/sealed-secrets ${SEALED_SECRETS_VERSION}\$"
	go_build_cached "sealed-secrets-${SEALED_SECRETS_VERSION}" "${dir}" "${SS_BIN_DIR}" \
		"-s -w -X main.VERSION=${SEALED_SECRETS_VERSION}" "" "${module}/cmd/controller" "${module}/cmd/kubeseal"
	[[ -f "${SS_BIN_DIR}/crd.yaml" ]] && return 0
	src=$(cd "${dir}" && "${GO}" list -m -f '{{.Dir}}' "${module}")
	cp "${src}/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml" "${SS_BIN_DIR}/crd.yaml.tmp.$$"
	mv "${SS_BIN_DIR}/crd.yaml.tmp.$$" "${SS_BIN_DIR}/crd.yaml"
}

link_bin_dir() {
	mkdir -p "${BIN_DIR}"
	local b
	for b in "${KUBE_BINARIES[@]}"; do ln -sfn "${KUBE_BIN_DIR}/${b}" "${BIN_DIR}/${b}"; done
	ln -sfn "${ETCD_BIN_DIR}/etcd" "${BIN_DIR}/etcd"
	ln -sfn "${KWOK_BIN_DIR}/kwok" "${BIN_DIR}/kwok"
	ln -sfn "${KWOK_BIN_DIR}/kwokctl" "${BIN_DIR}/kwokctl"
	ln -sfn "${SS_BIN_DIR}/kubeseal" "${BIN_DIR}/kubeseal"
}

# metrics-server for kwokctl's component: built by kind.sh (its builder and pin), no Docker needed.
METRICS_SERVER_VERSION=$(sed -n 's/^METRICS_SERVER_VERSION=//p' "${CLUSTER_DIR}/kind/versions.env")
# shellcheck disable=SC2034 # kwok.sh's render_config puts it in the kwokctl configuration
METRICS_SERVER_BINARY="${CACHE_ROOT}/bin/metrics-server/${METRICS_SERVER_VERSION}/metrics-server"

cmd_build() {
	local start=${SECONDS}
	go_env
	build_kwok
	build_etcd
	build_kubernetes
	build_sealed_secrets
	build_flux
	"${CLUSTER_DIR}/kind.sh" build-metrics-server >/dev/null
	link_bin_dir
	if ((SECONDS - start > 2)); then log "build finished in $((SECONDS - start))s; binaries in ${BIN_DIR}"; fi
}
