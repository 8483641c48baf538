# shellcheck shell=bash
# Build steps of cluster/kwok.sh (sourced): Kubernetes, etcd, kwok and Sealed Secrets from the
# Go module proxy (cluster/builders/), each cached under ${CACHE_ROOT} and built only when its
# binaries are missing.

# run_build NAME BUILDER_DIR OUT_DIR LDFLAGS PKG...: build into a temp dir
# then move into place, so a half-finished build never looks cached.
run_build() {
	local name=$1 builder=$2 out=$3 ldflags=$4
	shift 4
	local tmp="${out}.tmp.$$" logf="${LOG_DIR}/build-${name}.log" start=${SECONDS}
	rm -rf "${tmp}"
	mkdir -p "${tmp}"
	log "building ${name} (log: ${logf}) ..."
	if ! (cd "${builder}" && nice -n 10 "${GO}" build -trimpath -ldflags "${ldflags}" -o "${tmp}/" "$@") >"${logf}" 2>&1; then
		tail -n 30 "${logf}" >&2
		rm -rf "${tmp}"
		die "build of ${name} failed"
	fi
	mkdir -p "${out}"
	mv "${tmp}"/* "${out}/"
	rmdir "${tmp}"
	log "built ${name} in $((SECONDS - start))s"
}

build_kubernetes() {
	local b missing=0
	for b in "${KUBE_BINARIES[@]}"; do [[ -x "${KUBE_BIN_DIR}/${b}" ]] || missing=1; done
	((missing)) || return 0
	local dir="${CLUSTER_DIR}/builders/kubernetes"
	check_pin "${dir}/go.mod" "^(require)?[[:space:]]*k8s.io/kubernetes ${KUBE_VERSION}\$"
	check_pin "${dir}/go.mod" "k8s.io/api => k8s.io/api ${KUBE_STAGING_VERSION}\$"
	local pkgs=()
	for b in "${KUBE_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${b}"); done
	run_build "kubernetes-${KUBE_VERSION}" "${dir}" "${KUBE_BIN_DIR}" "$(kube_ldflags)" "${pkgs[@]}"
}

build_etcd() {
	[[ -x "${ETCD_BIN_DIR}/etcd" ]] && return 0
	local dir="${CLUSTER_DIR}/builders/etcd"
	check_pin "${dir}/go.mod" "^(require)?[[:space:]]*go.etcd.io/etcd/server/v3 ${ETCD_VERSION}\$"
	local logf="${LOG_DIR}/build-etcd-${ETCD_VERSION}.log" start=${SECONDS}
	# The main package is the module root (go.etcd.io/etcd/server/v3); name the output explicitly.
	mkdir -p "${ETCD_BIN_DIR}"
	log "building etcd-${ETCD_VERSION} (log: ${logf}) ..."
	if ! (cd "${dir}" && nice -n 10 "${GO}" build -trimpath -ldflags "-s -w" \
		-o "${ETCD_BIN_DIR}/etcd.tmp.$$" go.etcd.io/etcd/server/v3) >"${logf}" 2>&1; then
		tail -n 30 "${logf}" >&2
		rm -f "${ETCD_BIN_DIR}/etcd.tmp.$$"
		die "build of etcd-${ETCD_VERSION} failed"
	fi
	mv "${ETCD_BIN_DIR}/etcd.tmp.$$" "${ETCD_BIN_DIR}/etcd"
	log "built etcd-${ETCD_VERSION} in $((SECONDS - start))s"
}

build_kwok() {
	[[ -x "${KWOK_BIN_DIR}/kwok" && -x "${KWOK_BIN_DIR}/kwokctl" ]] && return 0
	local dir="${CLUSTER_DIR}/builders/kwok"
	check_pin "${dir}/go.mod" "^(require)?[[:space:]]*sigs.k8s.io/kwok ${KWOK_VERSION}\$"
	local p=sigs.k8s.io/kwok/pkg/consts
	run_build "kwok-${KWOK_VERSION}" "${dir}" "${KWOK_BIN_DIR}" \
		"-s -w -X ${p}.Version=${KWOK_VERSION#v} -X ${p}.KubeVersion=${KUBE_VERSION#v}" \
		sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
}

# Sealed Secrets: the controller and kubeseal, plus the SealedSecret CRD shipped in the module.
SS_BIN_DIR="${CACHE_ROOT}/bin/sealed-secrets/${SEALED_SECRETS_VERSION}"

build_sealed_secrets() {
	[[ -x "${SS_BIN_DIR}/controller" && -x "${SS_BIN_DIR}/kubeseal" && -f "${SS_BIN_DIR}/crd.yaml" ]] &&
		return 0
	local dir="${CLUSTER_DIR}/builders/sealed-secrets" module=github.com/bitnami/sealed-secrets src
	check_pin "${dir}/go.mod" "^(require)?[[:space:]]*${module} ${SEALED_SECRETS_VERSION}\$"
	check_pin "${dir}/go.mod" "=> github.com/bitnami-labs/sealed-secrets ${SEALED_SECRETS_VERSION}\$"
	run_build "sealed-secrets-${SEALED_SECRETS_VERSION}" "${dir}" "${SS_BIN_DIR}" \
		"-s -w -X main.VERSION=${SEALED_SECRETS_VERSION}" "${module}/cmd/controller" "${module}/cmd/kubeseal"
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
METRICS_SERVER_BINARY="${CACHE_ROOT}/bin/metrics-server/${METRICS_SERVER_VERSION}/metrics-server"

cmd_build() {
	local start=${SECONDS}
	go_env
	build_kwok
	build_etcd
	build_kubernetes
	build_sealed_secrets
	"${CLUSTER_DIR}/kind.sh" build-metrics-server >/dev/null
	link_bin_dir
	if ((SECONDS - start > 2)); then log "build finished in $((SECONDS - start))s; binaries in ${BIN_DIR}"; fi
}
