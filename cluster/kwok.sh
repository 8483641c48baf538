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
# KWOK_CLUSTER_NAME: another cluster beside the shared one (`throwaway` makes one for a command).
CLUSTER_NAME="${KWOK_CLUSTER_NAME:-exchange-platform}"
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
# shellcheck source-path=SCRIPTDIR source=kwok/build.sh
source "${CLUSTER_DIR}/kwok/build.sh"

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

proc_gone() { ! proc_alive "$1"; }

# daemon_pid PIDFILE PATTERN: the pid PIDFILE holds, if that process is alive and its command line
# contains PATTERN (a pid the kernel gave to another process since is not ours).
daemon_pid() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	[[ "${pid}" =~ ^[0-9]+$ ]] && proc_alive "${pid}" || return 1
	tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
	printf '%s\n' "${pid}"
}

# await_exit PID GRACE_SECONDS: wait for PID (already told to stop) to exit; SIGKILL it after
# GRACE_SECONDS, so ports and data directories are free when this returns.
await_exit() {
	wait_for "$2" "pid $1 to exit on SIGTERM" proc_gone "$1" && return 0
	kill -KILL "$1" 2>/dev/null || true
	wait_for 30 "pid $1 to exit after SIGKILL" proc_gone "$1" || die "pid $1 does not exit"
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

no_component_running() {
	local c
	for c in "${COMPONENTS[@]}"; do ! component_running "${c}" || return 1; done
}

# The first of the cluster's ports (kwokctl chose them at create) that something answers on, or
# false. Only meaningful while none of its components runs: kwokctl gives a new cluster the first
# free ports from 32766 down, so a throwaway made while this one was stopped has its ports.
taken_port() {
	local port ports
	mapfile -t ports < <(sed -nE 's/^  [a-zA-Z]+Port: ([0-9]+)$/\1/p' "${CLUSTER_WORKDIR}/kwok.yaml" 2>/dev/null)
	for port in "${ports[@]}"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
			printf '%s\n' "${port}"
			return 0
		fi
	done
	return 1
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
	local pids pid
	ss_stop
	flux_stop
	mapfile -t pids < <(component_pids)
	if [[ -x "${BIN_DIR}/kwokctl" ]]; then
		kwokctl delete cluster --kubeconfig "${CONTEXTS_KUBECONFIG}" >&2 || true
	fi
	# kwokctl sends SIGTERM and returns.
	for pid in "${pids[@]}"; do await_exit "${pid}" 30; done
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
	local port
	if [[ -d "${CLUSTER_WORKDIR}" ]] && no_component_running && port=$(taken_port); then
		log "another process listens on port ${port} of stopped cluster ${CLUSTER_NAME} (a cluster made" \
			"while it was stopped gets its ports); recreating it"
		delete_cluster
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
	wait_for 180 "kube-apiserver /readyz" apiserver_ready || die "kube-apiserver is not ready (logs: ${CLUSTER_WORKDIR}/logs)"
	# No node IPs of kwok's default 192.0.2.x (off this machine): the stages then give each node
	# kwok-controller's address on 127.0.0.1, which metrics-server scrapes.
	kwokctl scale node --replicas 2 --param '.nodeIPs = []' >&2
	wait_for 120 "2 Ready nodes" two_nodes_ready || die "the nodes are not Ready (logs: ${CLUSTER_WORKDIR}/logs)"
	wait_for 120 "ServiceAccount default/default" default_sa_exists ||
		die "no ServiceAccount default/default (logs: ${CLUSTER_WORKDIR}/logs)"
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

# Drop a pid file whose process is gone (kwokctl would treat a zombie as running).
clean_stale_pidfile() {
	component_running "$1" || rm -f "${CLUSTER_WORKDIR}/pids/$1.pid"
}

cmd_stop_apiserver() {
	local pidfile="${CLUSTER_WORKDIR}/pids/kube-apiserver.pid" pid
	if ! component_running kube-apiserver; then
		rm -f "${pidfile}"
		log "kube-apiserver is not running"
		return 0
	fi
	pid=$(<"${pidfile}")
	# SIGTERM first; a graceful shutdown can wait up to 60s for open watches,
	# so escalate to SIGKILL (what `kwokctl stop` uses) after a short grace.
	kill -TERM "${pid}" 2>/dev/null || true
	await_exit "${pid}" 5
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
	wait_for 180 "kube-apiserver /readyz" apiserver_ready || die "kube-apiserver is not ready (logs: ${CLUSTER_WORKDIR}/logs)"
	log "kube-apiserver started"
}

# throwaway COMMAND...: run COMMAND against a kwok cluster of its own (KWOK_CLUSTER_NAME=
# exchange-platform-throwaway-<random>: the same binaries and configuration as the shared one,
# about 7 s to make), deleted after it, however it ends. For tests that stop the apiserver: an
# outage of the shared cluster would fail whatever another checkout runs on it at the time.
# A throwaway cluster whose command is gone (killed before it could delete it) is deleted by the
# next throwaway.
cmd_throwaway() {
	[[ $# -gt 0 ]] || die "usage: $0 throwaway COMMAND..."
	local self="${CLUSTER_DIR}/kwok.sh" owners="${KWOK_WORKDIR}/throwaway-owners" name status=0 workdir owner
	mkdir -p "${owners}"
	for workdir in "${KWOK_WORKDIR}"/clusters/exchange-platform-throwaway-*; do
		[[ -d "${workdir}" ]] || continue
		owner=$(cat "${owners}/${workdir##*/}" 2>/dev/null || true)
		if [[ "${owner}" =~ ^[0-9]+$ ]] && proc_alive "${owner}"; then continue; fi
		log "deleting ${workdir##*/}: the command it was made for is gone"
		KWOK_CLUSTER_NAME="${workdir##*/}" "${self}" down >&2 || true
		rm -f "${owners}/${workdir##*/}"
	done
	name="exchange-platform-throwaway-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
	# Recorded before the cluster exists: another checkout's throwaway never takes it for a leak.
	printf '%s\n' "$$" >"${owners}/${name}"
	# shellcheck disable=SC2064 # expanded now: name, self and owners are this function's
	trap "KWOK_CLUSTER_NAME=${name} $(printf '%q' "${self}") down >&2 || true; rm -f $(printf '%q' "${owners}/${name}")" EXIT
	KWOK_CLUSTER_NAME="${name}" "${self}" up >/dev/null
	log "running on throwaway cluster ${name}: $*"
	KWOK_CLUSTER_NAME="${name}" "$@" || status=$?
	return "${status}"
}

cmd_env() {
	printf 'export KUBECONFIG=%q\n' "${KUBECONFIG_PATH}"
	# shellcheck disable=SC2016 # $PATH is expanded by the caller's eval
	printf 'export PATH=%q:"$PATH"\n' "${BIN_DIR}"
}

# shellcheck source-path=SCRIPTDIR source=kwok/sealed-secrets.sh
source "${CLUSTER_DIR}/kwok/sealed-secrets.sh"
# shellcheck source-path=SCRIPTDIR source=kwok/flux.sh
source "${CLUSTER_DIR}/kwok/flux.sh"

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
  throwaway COMMAND...             run COMMAND on a kwok cluster of its own, deleted after it
  sealed-secrets                   (re)start the Sealed Secrets controller if needed (up does too)
  sealed-secrets-cert              print the controller's certificate (PEM)
  flux                             start Flux's controllers and git server if needed; print (JSON)
                                   the git server's root directory and URL
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
	throwaway) cmd_throwaway "$@" ;;
	sealed-secrets) cmd_sealed_secrets "$@" ;;
	sealed-secrets-cert) cmd_sealed_secrets_cert "$@" ;;
	flux) cmd_flux "$@" ;;
	-h | --help | help) usage ;;
	*)
		usage
		exit 2
		;;
	esac
}

main "$@"
