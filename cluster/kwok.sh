#!/usr/bin/env bash
# Local Kubernetes test cluster for exchange.platform: kwokctl binary runtime,
# all binaries built from the Go module proxy and cached under
# ~/.cache/exchange-platform/. See cluster/README.md.
set -euo pipefail

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=versions.env
source "${CLUSTER_DIR}/versions.env"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "${CLUSTER_DIR}/lib.sh"
LOG_PREFIX=kwok

GO="${GO:-/usr/local/go/bin/go}"
CACHE_ROOT="${EXCHANGE_PLATFORM_CACHE:-${HOME}/.cache/exchange-platform}"
CLUSTER_NAME="exchange-platform"
LOG_DIR="${CACHE_ROOT}/logs"

KUBE_BIN_DIR="${CACHE_ROOT}/bin/kubernetes/${KUBE_VERSION}"
ETCD_BIN_DIR="${CACHE_ROOT}/bin/etcd/${ETCD_VERSION}"
KWOK_BIN_DIR="${CACHE_ROOT}/bin/kwok/${KWOK_VERSION}"
# One directory with every binary (symlinks), suitable for PATH.
BIN_DIR="${CACHE_ROOT}/bin/set/k8s-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

export KWOK_WORKDIR="${CACHE_ROOT}/kwok"
# kubectl's discovery/http cache (default ~/.kube/cache).
export KUBECACHEDIR="${CACHE_ROOT}/kube-cache"
CLUSTER_WORKDIR="${KWOK_WORKDIR}/clusters/${CLUSTER_NAME}"
KUBECONFIG_PATH="${CLUSTER_WORKDIR}/kubeconfig.yaml"
KUBECTL="${BIN_DIR}/kubectl"
# EXCHANGE_PLATFORM_RECREATE=1 (or `up --recreate`): recreate a cluster made from other
# versions or configuration; without it `up` leaves such a cluster as it is.
RECREATE=${EXCHANGE_PLATFORM_RECREATE:-}

# --------------------------------------------------------------------- build

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

# ------------------------------------------------------------------- cluster

# Context file kwokctl create/delete merge into (it would use ~/.kube/config).
CONTEXTS_KUBECONFIG="${KWOK_WORKDIR}/contexts-kubeconfig.yaml"
FINGERPRINT_FILE="${CLUSTER_WORKDIR}/exchange-platform.fingerprint"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok-controller metrics-server)

# fd 9 (the up/down lock) is closed so the daemons kwokctl forks do not hold it.
kwokctl() { "${BIN_DIR}/kwokctl" --name "${CLUSTER_NAME}" "$@" 9>&-; }

require_bins() {
	[[ -x "${BIN_DIR}/kwokctl" && -x "${BIN_DIR}/kubectl" ]] || die "binaries missing; run: $0 build"
}

# The kwokctl configuration: kwokctl.yaml.in without its comment lines, the versions and the paths
# of the binaries (in the cache) and of content_copy's copies filled in, itself content-named.
# Sets GENERATED_CONFIG and STAGES_CONFIG (the stages, passed beside it at create).
render_config() {
	mkdir -p "${KWOK_WORKDIR}/cache" "${CACHE_ROOT}/config"
	local audit_policy ms_manifests tmp="${CACHE_ROOT}/config/kwokctl-config.yaml.tmp.$$"
	audit_policy=$(content_copy "${CLUSTER_DIR}/audit-policy.yaml")
	ms_manifests=$(content_copy "${CLUSTER_DIR}/kwok-metrics-server")
	STAGES_CONFIG=$(content_copy "${CLUSTER_DIR}/kwok-stages.yaml")
	sed -e '/^[[:space:]]*#/d' \
		-e "s|@KUBE_VERSION@|${KUBE_VERSION}|g" \
		-e "s|@ETCD_VERSION@|${ETCD_VERSION}|g" \
		-e "s|@KWOK_VERSION@|${KWOK_VERSION}|g" \
		-e "s|@KWOK_CACHE_DIR@|${KWOK_WORKDIR}/cache|g" \
		-e "s|@BIN_DIR@|${BIN_DIR}|g" \
		-e "s|@METRICS_SERVER_VERSION@|${METRICS_SERVER_VERSION}|g" \
		-e "s|@METRICS_SERVER_BINARY@|${METRICS_SERVER_BINARY}|g" \
		-e "s|@METRICS_SERVER_MANIFESTS@|${ms_manifests}|g" \
		-e "s|@AUDIT_POLICY@|${audit_policy}|g" \
		"${CLUSTER_DIR}/kwokctl.yaml.in" >"${tmp}"
	! grep -qF "${CLUSTER_DIR}/" "${tmp}" || die "the kwokctl configuration names a file of the checkout"
	GENERATED_CONFIG="${CACHE_ROOT}/config/$(inputs_hash "${tmp}")-kwokctl-config.yaml"
	mv "${tmp}" "${GENERATED_CONFIG}"
}

# Fingerprint of everything the cluster is created from: the versions and the configuration's
# content (the copies' names hold their hashes), never where the checkout lives.
fingerprint() {
	cat "${GENERATED_CONFIG}" "${STAGES_CONFIG}" "${CLUSTER_DIR}/versions.env" | sha256sum | cut -d' ' -f1
}

fingerprint_matches() {
	[[ -f "${FINGERPRINT_FILE}" && "$(<"${FINGERPRINT_FILE}")" == "$(fingerprint)" ]]
}

# proc_alive PID: true if PID exists and is not a zombie (kwokctl's daemons are
# reparented to PID 1, which may reap them late; kill -0 succeeds on zombies).
# A zombie leader whose other threads still exit (sockets not yet closed) counts as alive.
proc_alive() {
	local stat tasks
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ "${stat:0:1}" != Z ]] && return 0
	tasks=(/proc/"$1"/task/*)
	((${#tasks[@]} > 1))
}

component_running() {
	local pidfile="${CLUSTER_WORKDIR}/pids/$1.pid" pid
	[[ -f "${pidfile}" ]] || return 1
	pid=$(<"${pidfile}")
	[[ "${pid}" =~ ^[0-9]+$ ]] && proc_alive "${pid}"
}

all_components_running() {
	local c
	for c in "${COMPONENTS[@]}"; do component_running "${c}" || return 1; done
}

apiserver_ready() { kctl get --raw /readyz >/dev/null 2>&1; }

ready_node_count() {
	kctl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
		grep -c '^True$' || true
}

two_nodes_ready() { [[ "$(ready_node_count)" -ge 2 ]]; }

default_sa_exists() { kctl -n default get serviceaccount default >/dev/null 2>&1; }

cluster_healthy() {
	[[ -f "${KUBECONFIG_PATH}" ]] && all_components_running && apiserver_ready &&
		two_nodes_ready && default_sa_exists
}

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...
wait_for() {
	local desc=$1 timeout=$2 start=${SECONDS}
	shift 2
	until "$@"; do
		if ((SECONDS - start >= timeout)); then
			die "timed out after ${timeout}s waiting for ${desc} (logs: ${CLUSTER_WORKDIR}/logs)"
		fi
		sleep 0.5
	done
}

# Serialise up/down (fd 9 stays open until the script exits).
with_lock() {
	mkdir -p "${CACHE_ROOT}"
	exec 9>"${CACHE_ROOT}/cluster.lock"
	flock -w 900 9 || die "could not lock ${CACHE_ROOT}/cluster.lock"
}

# Pids of the cluster's components, from kwokctl's pid files.
component_pids() {
	local f pid
	for f in "${CLUSTER_WORKDIR}"/pids/*.pid; do
		[[ -f "${f}" ]] || continue
		pid=$(<"${f}")
		[[ "${pid}" =~ ^[0-9]+$ ]] && printf '%s\n' "${pid}"
	done
}

delete_cluster() {
	local pids pid start=${SECONDS}
	ss_stop
	mapfile -t pids < <(component_pids)
	if [[ -x "${BIN_DIR}/kwokctl" ]]; then
		kwokctl delete cluster --kubeconfig "${CONTEXTS_KUBECONFIG}" >&2 || true
	fi
	# kwokctl sends SIGTERM and returns; wait so ports and data dirs are free.
	for pid in "${pids[@]}"; do
		while proc_alive "${pid}"; do
			if ((SECONDS - start > 30)); then
				kill -KILL "${pid}" 2>/dev/null || true
			fi
			sleep 0.2
		done
	done
	rm -rf "${CLUSTER_WORKDIR}"
}

# usage: up [--recreate]
cmd_up() {
	local arg
	for arg in "$@"; do
		case "${arg}" in
		--recreate) RECREATE=1 ;;
		*) die "up takes only --recreate (got ${arg})" ;;
		esac
	done
	with_lock
	cmd_build
	require_bins
	render_config
	local t0 mode=create secs keep=0
	t0=$(date +%s.%N)
	# A cluster made from other versions or configuration (another checkout's, or this one's
	# before a change) holds what was deployed on it: keep it unless told to recreate it.
	if [[ -d "${CLUSTER_WORKDIR}" && -f "${KUBECONFIG_PATH}" ]] && ! fingerprint_matches; then
		if [[ "${RECREATE}" == 1 ]]; then
			log "cluster ${CLUSTER_NAME} was made from other versions or configuration; recreating it (EXCHANGE_PLATFORM_RECREATE=1 or --recreate)"
			delete_cluster
		else
			keep=1
			log "WARNING: cluster ${CLUSTER_NAME} was made from other versions or configuration than" \
				"${CLUSTER_DIR}'s (made by: $(cat "${CLUSTER_WORKDIR}/exchange-platform.made-by" 2>/dev/null || echo unknown));" \
				"using it as it is. To recreate it, losing everything on it: EXCHANGE_PLATFORM_RECREATE=1 $0 up (or $0 up --recreate)"
		fi
	fi
	if [[ -d "${CLUSTER_WORKDIR}" ]] && { ((keep)) || fingerprint_matches; } && cluster_healthy; then
		log "cluster ${CLUSTER_NAME} is already up"
		ensure_sealed_secrets
		printf '%s\n' "${KUBECONFIG_PATH}"
		return 0
	fi
	if [[ -d "${CLUSTER_WORKDIR}" ]]; then
		if { ((keep)) || fingerprint_matches; } && [[ -f "${KUBECONFIG_PATH}" ]]; then
			mode=restart
			log "starting the stopped components of cluster ${CLUSTER_NAME} ..."
			local c
			for c in "${COMPONENTS[@]}"; do clean_stale_pidfile "${c}"; done
			if ! kwokctl start cluster >&2; then
				((keep == 0)) || die "starting cluster ${CLUSTER_NAME} failed; to recreate it: $0 up --recreate"
				log "start failed; recreating the cluster"
				delete_cluster
			fi
		else
			log "cluster ${CLUSTER_NAME} is incomplete; recreating"
			delete_cluster
		fi
	fi
	if [[ ! -d "${CLUSTER_WORKDIR}" ]]; then
		mode=create
		log "creating cluster ${CLUSTER_NAME} in ${CLUSTER_WORKDIR} ..."
		kwokctl --config "${GENERATED_CONFIG}" --config "${STAGES_CONFIG}" \
			create cluster --kubeconfig "${CONTEXTS_KUBECONFIG}" --timeout 5m >&2 ||
			die "kwokctl create cluster failed (logs: ${CLUSTER_WORKDIR}/logs)"
		fingerprint >"${FINGERPRINT_FILE}"
		printf '%s\n' "${CLUSTER_DIR}" >"${CLUSTER_WORKDIR}/exchange-platform.made-by"
	fi
	wait_for "kube-apiserver /readyz" 180 apiserver_ready
	# No node IPs of kwok's default 192.0.2.x (off this machine): the stages then give each node
	# kwok-controller's address on 127.0.0.1, which metrics-server scrapes.
	kwokctl scale node --replicas 2 --param '.nodeIPs = []' >&2
	wait_for "2 Ready nodes" 120 two_nodes_ready
	wait_for "ServiceAccount default/default" 120 default_sa_exists
	ensure_sealed_secrets
	secs=$(awk -v a="${t0}" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	mkdir -p "${LOG_DIR}"
	printf '%s %s %ss k8s=%s\n' "$(date -u +%FT%TZ)" "${mode}" "${secs}" "${KUBE_VERSION}" >>"${LOG_DIR}/up-times.log"
	log "cluster ${CLUSTER_NAME} up (${mode}) in ${secs}s (recorded in ${LOG_DIR}/up-times.log)"
	printf '%s\n' "${KUBECONFIG_PATH}"
}

cmd_down() {
	with_lock
	if [[ ! -d "${CLUSTER_WORKDIR}" ]]; then
		log "cluster ${CLUSTER_NAME} does not exist"
		return 0
	fi
	delete_cluster
	log "cluster ${CLUSTER_NAME} deleted"
}

cmd_kubeconfig() {
	[[ -f "${KUBECONFIG_PATH}" ]] || log "warning: cluster not created yet; run: $0 up"
	printf '%s\n' "${KUBECONFIG_PATH}"
}

cmd_kubectl() {
	require_bins
	exec "${BIN_DIR}/kubectl" --kubeconfig "${KUBECONFIG_PATH}" "$@"
}

# Client-certificate kubeconfig signed by the cluster CA: CN=USER, O=GROUP
# (GROUP may be comma-separated for several groups).
cmd_user_kubeconfig() {
	[[ $# -eq 3 ]] || die "usage: $0 user-kubeconfig USER GROUP OUTFILE"
	local user=$1 group=$2 out=$3
	require_bins
	[[ -f "${KUBECONFIG_PATH}" ]] || die "cluster not created; run: $0 up"
	local tmp="${out}.tmp.$$"
	if ! (umask 077 && kwokctl get kubeconfig --user "${user}" --group "${group}" >"${tmp}"); then
		rm -f "${tmp}"
		die "kwokctl get kubeconfig failed"
	fi
	mv "${tmp}" "${out}"
	log "wrote kubeconfig for user=${user} group(s)=${group} to ${out}"
}

apiserver_stopped() { ! component_running kube-apiserver; }

# Drop a pid file whose process is gone (kwokctl would treat a zombie as running).
clean_stale_pidfile() {
	component_running "$1" || rm -f "${CLUSTER_WORKDIR}/pids/$1.pid"
}

cmd_stop_apiserver() {
	local pidfile="${CLUSTER_WORKDIR}/pids/kube-apiserver.pid" pid start=${SECONDS}
	if ! component_running kube-apiserver; then
		rm -f "${pidfile}"
		log "kube-apiserver is not running"
		return 0
	fi
	pid=$(<"${pidfile}")
	# SIGTERM first; a graceful shutdown can wait up to 60s for open watches,
	# so escalate to SIGKILL (what `kwokctl stop` uses) after a short grace.
	kill -TERM "${pid}" 2>/dev/null || true
	while proc_alive "${pid}" && ((SECONDS - start < 5)); do sleep 0.2; done
	proc_alive "${pid}" && kill -KILL "${pid}" 2>/dev/null
	wait_for "kube-apiserver (pid ${pid}) to exit" 30 apiserver_stopped
	rm -f "${pidfile}"
	log "kube-apiserver stopped (was pid ${pid}); the other components keep running"
}

cmd_start_apiserver() {
	require_bins
	[[ -d "${CLUSTER_WORKDIR}" ]] || die "cluster not created; run: $0 up"
	local c
	for c in "${COMPONENTS[@]}"; do clean_stale_pidfile "${c}"; done
	# `kwokctl start cluster` starts only the components that are not running.
	kwokctl start cluster >&2
	wait_for "kube-apiserver /readyz" 180 apiserver_ready
	log "kube-apiserver started"
}

cmd_env() {
	printf 'export KUBECONFIG=%q\n' "${KUBECONFIG_PATH}"
	# shellcheck disable=SC2016 # $PATH is expanded by the caller's eval
	printf 'export PATH=%q:"$PATH"\n' "${BIN_DIR}"
}

# ------------------------------------------------------------ sealed secrets

# The real Sealed Secrets controller runs beside kwokctl's components. It only supports
# in-cluster configuration, so it runs as root in a private mount namespace where its
# ServiceAccount directory (token, ca.crt, namespace) is bind-mounted at
# /var/run/secrets/kubernetes.io/serviceaccount, with KUBERNETES_SERVICE_HOST/PORT naming the
# API server. Both its listeners are on 127.0.0.1 (its defaults are every interface).
SS_DIR="${CLUSTER_WORKDIR}/sealed-secrets"
SS_NAMESPACE=kube-system
SS_NAME=sealed-secrets-controller
SS_KEY_LABEL=sealedsecrets.bitnami.com/sealed-secrets-key=active

# ss_pid: the controller's pid, if the recorded process is alive and is our controller.
ss_pid() {
	local pid
	pid=$(cat "${SS_DIR}/controller.pid" 2>/dev/null) || return 1
	[[ "${pid}" =~ ^[0-9]+$ ]] && proc_alive "${pid}" || return 1
	[[ "$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null)" == "${SS_BIN_DIR}/controller "* ]] || return 1
	printf '%s\n' "${pid}"
}

ss_ready() { curl -fsS --max-time 2 "http://$(cat "${SS_DIR}/addr")/readyz" >/dev/null 2>&1; }

ss_has_key() { [[ -n "$(kctl -n "${SS_NAMESPACE}" get secret -l "${SS_KEY_LABEL}" -o name 2>/dev/null)" ]]; }

# Running, ready and serving this cluster (a recreated cluster has a new CA and an empty etcd).
ss_healthy() {
	ss_pid >/dev/null && cmp -s "${SS_DIR}/sa/ca.crt" "${CLUSTER_WORKDIR}/pki/ca.crt" && ss_ready
}

ss_stop() {
	local pid start=${SECONDS}
	pid=$(ss_pid) || return 0
	kill -TERM "${pid}" 2>/dev/null || true
	while proc_alive "${pid}" && ((SECONDS - start < 5)); do sleep 0.1; done
	proc_alive "${pid}" && kill -KILL "${pid}" 2>/dev/null
	while proc_alive "${pid}"; do sleep 0.1; done
	rm -f "${SS_DIR}/controller.pid"
}

# Two free TCP ports on 127.0.0.1, chosen by the kernel.
free_ports() {
	python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))'
}

ss_start() {
	local server port metrics_port sa="${SS_DIR}/sa"
	server=$(kctl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
	mkdir -p "${sa}"
	# The CRD as the module ships it (replace: a stand-in CRD made earlier is overwritten whole).
	kctl create -f "${SS_BIN_DIR}/crd.yaml" >/dev/null 2>&1 || kctl replace -f "${SS_BIN_DIR}/crd.yaml" >/dev/null
	kctl apply --server-side --force-conflicts -f "${CLUSTER_DIR}/sealed-secrets.yaml" >/dev/null
	kctl wait --for condition=established --timeout 60s crd/sealedsecrets.bitnami.com >/dev/null
	cp "${CLUSTER_WORKDIR}/pki/ca.crt" "${sa}/ca.crt"
	printf '%s' "${SS_NAMESPACE}" >"${sa}/namespace"
	(umask 077 && kctl -n "${SS_NAMESPACE}" create token "${SS_NAME}" --duration 8760h >"${sa}/token.tmp")
	mv "${sa}/token.tmp" "${sa}/token"
	read -r port metrics_port < <(free_ports)
	printf '127.0.0.1:%s\n' "${port}" >"${SS_DIR}/addr"
	log "starting the Sealed Secrets controller ${SEALED_SECRETS_VERSION} on 127.0.0.1:${port} (log: ${SS_DIR}/controller.log) ..."
	# One process from here on (subshell -> setsid -> unshare -> sh -> controller, each exec'ing
	# the next), without fd 9: the up/down lock must not outlive this script.
	# shellcheck disable=SC2016 # expanded by the inner sh
	(
		cd / || exit 1
		KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="${server##*:}" \
			POD_NAMESPACE="${SS_NAMESPACE}" exec setsid unshare --mount --propagation private sh -c '
			mount -t tmpfs -o size=1m,mode=0755 tmpfs /run &&
			mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
			mount --bind "$1" /run/secrets/kubernetes.io/serviceaccount &&
			echo $$ >"$2" && shift 2 && exec "$@"' sh "${sa}" "${SS_DIR}/controller.pid" \
			"${SS_BIN_DIR}/controller" --listen-addr "127.0.0.1:${port}" \
			--listen-metrics-addr "127.0.0.1:${metrics_port}" --key-renew-period 0
	) >>"${SS_DIR}/controller.log" 2>&1 </dev/null 9>&- &
	wait_for "the Sealed Secrets controller (log: ${SS_DIR}/controller.log)" 120 ss_ready
	wait_for "the Sealed Secrets key in ${SS_NAMESPACE}" 60 ss_has_key
}

# Idempotent: leaves a healthy controller alone, (re)starts a missing, stale or unready one.
ensure_sealed_secrets() {
	[[ -x "${SS_BIN_DIR}/controller" && -f "${SS_BIN_DIR}/crd.yaml" ]] || die "Sealed Secrets missing; run: $0 build"
	ss_healthy && return 0
	local start=${SECONDS}
	ss_stop
	ss_start
	log "Sealed Secrets controller ready in $((SECONDS - start))s (cert: $0 sealed-secrets-cert)"
}

cmd_sealed_secrets() {
	with_lock
	require_bins
	cluster_healthy || die "cluster not up; run: $0 up"
	ensure_sealed_secrets
}

# The controller's current certificate (PEM), for kubeseal --cert and exchange.platform.seal.
cmd_sealed_secrets_cert() {
	[[ -f "${SS_DIR}/addr" ]] || die "no Sealed Secrets controller; run: $0 up"
	curl -fsS --max-time 10 "http://$(cat "${SS_DIR}/addr")/v1/cert.pem" ||
		die "the Sealed Secrets controller did not answer; run: $0 sealed-secrets"
}

# ---------------------------------------------------------------------- main

usage() {
	cat >&2 <<EOF
usage: $0 <command> [args]
  build                            build missing binaries into ${CACHE_ROOT}
  up [--recreate]                  build if needed, start the cluster, print the kubeconfig path;
                                   --recreate (or EXCHANGE_PLATFORM_RECREATE=1): recreate a cluster
                                   made from other versions or configuration (else it is kept)
  down                             delete the cluster
  kubeconfig                       print the admin kubeconfig path
  kubectl ARGS...                  run the built kubectl against the cluster
  user-kubeconfig USER GROUP OUT   write a client-cert kubeconfig for USER in GROUP
  stop-apiserver | start-apiserver stop/start only kube-apiserver (outage tests)
  env                              print export lines for KUBECONFIG and PATH
  sealed-secrets                   (re)start the Sealed Secrets controller if needed (up does too)
  sealed-secrets-cert              print the controller's certificate (PEM)
EOF
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case "${cmd}" in
	build) cmd_build "$@" ;;
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	kubeconfig) cmd_kubeconfig "$@" ;;
	kubectl) cmd_kubectl "$@" ;;
	user-kubeconfig) cmd_user_kubeconfig "$@" ;;
	stop-apiserver) cmd_stop_apiserver "$@" ;;
	start-apiserver) cmd_start_apiserver "$@" ;;
	env) cmd_env "$@" ;;
	sealed-secrets) cmd_sealed_secrets "$@" ;;
	sealed-secrets-cert) cmd_sealed_secrets_cert "$@" ;;
	-h | --help | help) usage ;;
	*)
		usage
		exit 2
		;;
	esac
}

main "$@"
