#!/usr/bin/env bash
# The kind tier: a one-node kind cluster running Kubernetes built here (node image from Debian
# packages and Go modules), its own dockerd when none answers, every image preloaded, CoreDNS
# without an upstream, metrics-server and the Sealed Secrets controller in the cluster.
# Everything is cached under ~/.cache/exchange-platform/. See cluster/README-kind.md.
# Two checkouts can use it at once: kind/clusters.sh says which cluster each run gets.
#
# KIND_NODE_IMAGE=kindest/node:vX.Y.Z switches to kind's official node image, used unchanged
# (for machines with their own Docker and internet); `KIND_DRY_RUN=1 kind.sh up` prints the
# kind configuration and command without running them.
set -euo pipefail

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KIND_DIR="${CLUSTER_DIR}/kind"
ROOT_DIR="$(cd "${CLUSTER_DIR}/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=versions.env
source "${CLUSTER_DIR}/versions.env"
# shellcheck source-path=SCRIPTDIR source=kind/versions.env
source "${KIND_DIR}/versions.env"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "${CLUSTER_DIR}/lib.sh"
LOG_PREFIX=kind

GO="${GO:-/usr/local/go/bin/go}"
CACHE_ROOT="${EXCHANGE_PLATFORM_CACHE:-${HOME}/.cache/exchange-platform}"
LOG_DIR="${CACHE_ROOT}/logs"
# The cluster's name; while a run holds it, another run gets <base>-<hash>.
BASE_NAME="${KIND_CLUSTER_NAME:-exchange-platform}"
DOCKER_DIR="${CACHE_ROOT}/docker"
OWN_DOCKER_HOST="unix://${DOCKER_DIR}/docker.sock"
# shellcheck disable=SC2153 # KIND_VERSION is kind/versions.env's
KIND_BIN_DIR="${CACHE_ROOT}/bin/kind/${KIND_VERSION}"
KUBE_BIN_DIR="${CACHE_ROOT}/bin/kubernetes/${KUBE_VERSION}"
KUBECTL="${KUBE_BIN_DIR}/kubectl"
MS_BIN_DIR="${CACHE_ROOT}/bin/metrics-server/${METRICS_SERVER_VERSION}"
# The names pods use in the cluster; the stand-in and deployer images are loaded under names
# that hold their content's hash and given these names inside the node (load_images).
STANDIN_IMAGE=exchange-platform/standin:dev
STANDIN_SIDE_EFFECT_IMAGE=exchange-platform/standin:side-effect
MS_IMAGE="exchange-platform/metrics-server:${METRICS_SERVER_VERSION}"
SS_IMAGE="exchange-platform/sealed-secrets-controller:${SEALED_SECRETS_VERSION}"
# The playbooks in a pod (tests/integration/test_kind_incluster.py): see build_deployer_image.
DEPLOYER_IMAGE=exchange-platform/deployer:dev
# What the local node image is built with (Debian packages).
APT_PACKAGES=(debootstrap jq gcc libc6-dev)

# shellcheck source-path=SCRIPTDIR source=kind/docker.sh
source "${KIND_DIR}/docker.sh"
# shellcheck source-path=SCRIPTDIR source=kind/build.sh
source "${KIND_DIR}/build.sh"
# shellcheck source-path=SCRIPTDIR source=kind/deployer-build.sh
source "${KIND_DIR}/deployer-build.sh"
# shellcheck source-path=SCRIPTDIR source=kind/edge-build.sh
source "${KIND_DIR}/edge-build.sh"
# shellcheck source-path=SCRIPTDIR source=kind/monitoring-build.sh
source "${KIND_DIR}/monitoring-build.sh"
# shellcheck source-path=SCRIPTDIR source=kind/rollouts-build.sh
source "${KIND_DIR}/rollouts-build.sh"
# shellcheck source-path=SCRIPTDIR source=kind/install.sh
source "${KIND_DIR}/install.sh"
# shellcheck source-path=SCRIPTDIR source=kind/clusters.sh
source "${KIND_DIR}/clusters.sh"
use_cluster "${BASE_NAME}"

# ----------------------------------------------------------------- build

# Two checkouts building at once take turns (fd 7; some steps use fixed temporary paths): the
# second finds the first's results cached.
cmd_build() {
	local start=${SECONDS}
	mkdir -p "${CACHE_ROOT}"
	exec 7>"${CACHE_ROOT}/kind-build.lock"
	flock -w 5400 7 || die "could not lock ${CACHE_ROOT}/kind-build.lock"
	go_env
	# The deployer image is built from Debian packages with either node image.
	if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then ensure_packages debootstrap; else ensure_packages "${APT_PACKAGES[@]}"; fi
	ensure_docker
	# The control plane, etcd and Sealed Secrets: built (once, for both tiers) by kwok.sh.
	# debootstrap waits on the network while Go compiles.
	local rootfs_pid='' deployer_pid
	mkdir -p "${CACHE_ROOT}/kind"
	if [[ -z "${KIND_NODE_IMAGE:-}" ]]; then
		build_rootfs &
		rootfs_pid=$!
	fi
	build_deployer_rootfs &
	deployer_pid=$!
	"${CLUSTER_DIR}/kwok.sh" build >&2
	build_binaries
	if [[ -n "${rootfs_pid}" ]]; then
		wait "${rootfs_pid}" || die "building the node's root filesystem failed"
		build_base_image
		build_node_image
	fi
	build_app_images
	wait "${deployer_pid}" || die "building the deployer's root filesystem failed"
	build_deployer_image
	build_edge
	build_monitoring
	build_rollouts_image
	exec 7>&-
	if ((SECONDS - start > 2)); then log "build finished in $((SECONDS - start))s"; fi
}

# --------------------------------------------------------------- cluster

# The kind configuration: API server on 127.0.0.1 only; kubelet accepts this host's cgroup v1.
# The locally built node image has no kindnetd, so kind's default CNI is off (a static CNI
# configuration is baked in). kube-controller-manager and kube-scheduler run without leader
# election, as the kwok tier's do: one instance each on one node, and their lease renewals every
# 2 s were 60 of an idle node's 180 API requests a minute (appended to kind's own extraArgs
# lists, which a merge patch would replace).
kind_config() {
	cat <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  apiServerAddress: 127.0.0.1
EOF
	[[ -n "${KIND_NODE_IMAGE:-}" ]] || printf '  disableDefaultCNI: true\n'
	cat <<EOF
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  failCgroupV1: false
kubeadmConfigPatchesJSON6902:
- group: kubeadm.k8s.io
  version: v1beta4
  kind: ClusterConfiguration
  patch: |
    - op: add
      path: /controllerManager/extraArgs/-
      value: {name: leader-elect, value: "false"}
    - op: add
      path: /scheduler/extraArgs
      value: [{name: leader-elect, value: "false"}]
nodes:
- role: control-plane
EOF
}

# The node image: KIND_NODE_IMAGE, or the one cmd_build built (in this process: another
# checkout may have built another one since).
node_image() { printf '%s\n' "${KIND_NODE_IMAGE:-${NODE_IMAGE}}"; }

# What the cluster is made from: its configuration, the node image (named by a hash of its inputs'
# content) and the manifests installed (their content), never a path of the checkout.
fingerprint() {
	local m
	{
		kind_config
		node_image
		for m in "${KIND_DIR}"/manifests/*.yaml; do
			# backends.yaml is the tests' (not installed by up).
			if [[ "${m}" != */backends.yaml ]]; then cat "${m}"; fi
		done
	} | sha256sum | cut -c1-16
}

# grep reads the whole list: with -q it would stop at the first match, and kind, writing the next
# name into the closed pipe, fails the pipeline (pipefail), so a listed cluster looked absent.
cluster_exists() { kind_ get clusters 2>/dev/null | grep -x "${CLUSTER_NAME}" >/dev/null; }

cluster_healthy() {
	[[ -f "${KUBECONFIG_PATH}" ]] && kctl get --raw /readyz >/dev/null 2>&1 &&
		[[ "$(kctl get nodes -o jsonpath='{.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# The images the workloads use, one line each: the image to load, then the names it gets inside
# the node (the stand-in's and the deployer's are named by their content; see build_standin).
workload_images() {
	printf '%s %s %s\n' "${STANDIN_BUILT_IMAGE}" "${STANDIN_IMAGE}" "${STANDIN_SIDE_EFFECT_IMAGE}"
	printf '%s\n' "${MS_IMAGE}"
	if image_exists "${SS_IMAGE}"; then printf '%s\n' "${SS_IMAGE}"; fi
	if [[ -n "${DEPLOYER_BUILT_IMAGE:-}" ]]; then printf '%s %s\n' "${DEPLOYER_BUILT_IMAGE}" "${DEPLOYER_IMAGE}"; fi
	edge_images
	monitoring_images
	rollouts_images
}

# What a cluster holds once load_images ran: the lines above, with the image ID of those named by
# version only (an image named by its content is that content, whichever build made it).
images_stamp() {
	local img names_in_node by_version=()
	{
		while read -r img names_in_node; do
			if [[ -n "${names_in_node}" ]]; then printf '%s %s\n' "${img}" "${names_in_node}"; else by_version+=("${img}"); fi
		done < <(workload_images)
		docker image inspect -f '{{.Id}}' "${by_version[@]}"
	} | sha256sum | cut -c1-16
}

# Every image the workloads use, loaded into the node's containerd (none is ever pulled), then
# given its names inside the node.
load_images() {
	local img names_in_node name node="${CLUSTER_NAME}-control-plane" loaded=()
	while read -r img names_in_node; do
		kind_ load docker-image --name "${CLUSTER_NAME}" "${img}" >/dev/null 2>&1 || die "kind load docker-image ${img} failed"
		for name in ${names_in_node}; do
			docker exec "${node}" ctr --namespace=k8s.io images tag --force "docker.io/${img}" "docker.io/${name}" >/dev/null ||
				die "could not name ${img} ${name} in ${node}"
		done
		loaded+=("${img}")
	done < <(workload_images)
	images_stamp >"${STATE_DIR}/images"
	log "loaded into ${CLUSTER_NAME}: ${loaded[*]}"
}

cmd_load_images() {
	cmd_build
	lock_kind
	use_checkout_cluster
	load_images
}

# ensure_cluster: pick the cluster (kind/clusters.sh), then make it ready for this content:
# nothing when it is up and holds these images, the images loaded when only they differ, else
# (made from other content, or broken) created anew with its add-ons and the edge.
ensure_cluster() {
	local t0=${SECONDS} mode=create
	pick_cluster
	if cluster_exists; then
		mode=recreate
		# A cluster made from this content that does not answer may be starting or busy: give it
		# a while before recreating it under whoever else uses it.
		if [[ "$(cat "${STATE_DIR}/fingerprint" 2>/dev/null)" == "${FINGERPRINT}" ]] &&
			wait_for 30 "cluster ${CLUSTER_NAME} to answer" cluster_healthy; then
			if [[ "$(cat "${STATE_DIR}/images" 2>/dev/null)" != "${IMAGES}" ]]; then load_images; fi
			log "cluster ${CLUSTER_NAME} is already up"
			record_checkout_cluster
			mark_used
			remove_unheld_extras
			return 0
		fi
		kind_ delete cluster --name "${CLUSTER_NAME}" >&2
	fi
	forget_cluster "${CLUSTER_NAME}"
	kind_config >"${STATE_DIR}/kind-config.yaml"
	log "creating kind cluster ${CLUSTER_NAME} from $(node_image) ..."
	kind_ create cluster --name "${CLUSTER_NAME}" --image "$(node_image)" --config "${STATE_DIR}/kind-config.yaml" \
		--kubeconfig "${KUBECONFIG_PATH}" --wait 300s >&2 || die "kind create cluster failed"
	load_images
	install_addons
	install_edge
	install_monitoring
	install_rollouts
	printf '%s\n' "${FINGERPRINT}" >"${STATE_DIR}/fingerprint"
	record_checkout_cluster
	mark_used
	remove_unheld_extras
	printf '%s %s %s %ss k8s=%s image=%s\n' "$(date -u +%FT%TZ)" "${CLUSTER_NAME}" "${mode}" "$((SECONDS - t0))" \
		"${KUBE_VERSION}" "$(node_image)" >>"${LOG_DIR}/kind-up-times.log"
	log "cluster ${CLUSTER_NAME} up (${mode}) in $((SECONDS - t0))s (recorded in ${LOG_DIR}/kind-up-times.log)"
}

cmd_up() {
	if [[ -n "${KIND_DRY_RUN:-}" ]]; then
		printf -- '--- kind config\n%s\n--- command\nkind create cluster --name %s --image %s --config <the config above> --kubeconfig %s --wait 300s\n' \
			"$(kind_config)" "${BASE_NAME}" "${KIND_NODE_IMAGE:-<node image built by kind.sh build>}" "${KUBECONFIG_PATH}"
		return 0
	fi
	if held_cluster_ready; then
		log "cluster ${CLUSTER_NAME} is already up (held by kind.sh with)"
	else
		cmd_build
		lock_kind
		ensure_cluster
	fi
	printf '%s\n' "${KUBECONFIG_PATH}"
}

# with COMMAND...: `up`, then run COMMAND holding the cluster (kind/clusters.sh); exits with
# COMMAND's status. COMMAND gets EXCHANGE_PLATFORM_KIND_HELD, so its own `kind.sh up`s (for
# KIND_CLUSTER_NAME) use the held cluster, and EXCHANGE_PLATFORM_KIND_TESTS for the tests' fixture.
cmd_with() {
	[[ $# -gt 0 ]] || die "usage: $0 with COMMAND..."
	local status=0
	cmd_build
	lock_kind
	ensure_cluster
	hold_cluster
	unlock_kind
	log "holding cluster ${CLUSTER_NAME} while: $*"
	EXCHANGE_PLATFORM_KIND_HELD="${BASE_NAME}=${CLUSTER_NAME}" EXCHANGE_PLATFORM_KIND_TESTS="${BASE_NAME}" \
		KIND_CLUSTER_NAME="${BASE_NAME}" "$@" 8>&- || status=$?
	mark_used
	return "${status}"
}

# The name of the cluster `up` would use now, creating nothing (test_second_checkout.py asks it).
cmd_which() {
	cmd_build
	pick_cluster
	printf '%s\n' "${CLUSTER_NAME}"
}

# Delete this base's clusters (dockerd and the caches stay); one a run holds is kept.
cmd_down() {
	go_env
	[[ -x "${KIND_BIN_DIR}/kind" ]] || { log "kind is not built; nothing to delete"; return 0; }
	docker_answers || [[ -S "${DOCKER_DIR}/docker.sock" ]] && ensure_docker
	docker_answers || { log "no Docker engine answers; nothing to delete"; return 0; }
	lock_kind
	local name
	for name in $(kind_ get clusters 2>/dev/null); do
		[[ "${name}" == "${BASE_NAME}" || "${name}" =~ ^${BASE_NAME}-[0-9a-f]{8}(-[0-9])?$ ]] || continue
		if held "${name}"; then
			log "cluster ${name} is kept: a run holds it (kind.sh with)"
			continue
		fi
		kind_ delete cluster --name "${name}" >&2
		forget_cluster "${name}"
		log "cluster ${name} deleted"
	done
}

# Only the metrics-server binary (no Docker): kwok.sh build uses it for kwokctl's component.
cmd_build_metrics_server() {
	go_env
	build_metrics_server
	printf '%s\n' "${MS_BIN_DIR}/metrics-server"
}

# The Gateway API CRDs alone, no Docker (the bench's canary row applies them to its kwok cluster).
cmd_build_gateway_api() {
	go_env
	build_gateway_api
	printf '%s\n' "$(edge_bin gateway-api "${GATEWAY_API_VERSION}")/crds.yaml"
}

# The stand-in's own tests (exit codes, messages without values, health, env hashes, burn,
# injected errors and latency).
cmd_test_standin() {
	go_env
	(cd "${KIND_DIR}/standin" && "${GO}" vet . && "${GO}" test -count=1 .)
}

cmd_kubeconfig() {
	use_checkout_cluster
	printf '%s\n' "${KUBECONFIG_PATH}"
}

cmd_docker_env() {
	use_checkout_cluster
	if [[ -S "${DOCKER_DIR}/docker.sock" ]]; then printf 'export DOCKER_HOST=%q\n' "${OWN_DOCKER_HOST}"; fi
	printf 'export KUBECONFIG=%q\n' "${KUBECONFIG_PATH}"
}

usage() {
	cat >&2 <<EOF
usage: $0 <command>
  build         install docker.io/debootstrap if missing, start dockerd if none answers, build
                kind, the node image, the workload images, the deployer image and the edge
                (each cached)
  up            build, then pick this checkout's cluster and create it unless it is up, load the
                images it lacks; prints the kubeconfig path last
  with CMD...   up, then run CMD while holding the cluster: no other checkout's up recreates,
                reloads or deletes it meanwhile (make molecule-kind runs its tests so)
  which         print the name of the cluster up would use (builds what is missing, creates nothing)
  down          delete the clusters of KIND_CLUSTER_NAME no run holds (dockerd and caches stay)
  kubeconfig    print the kubeconfig path of this checkout's cluster
  load-images   load the workload and deployer images into this checkout's cluster again
  build-metrics-server  build only metrics-server (for the kwok tier); prints its path
  build-gateway-api     build only the Gateway API CRDs (bench/run.sh's canary row on kwok);
                prints the path of their crds.yaml
  test-standin  go vet and go test of the stand-in application
  docker-env    print export lines for DOCKER_HOST (the project's dockerd) and KUBECONFIG
environment: KIND_CLUSTER_NAME (default exchange-platform), KIND_NODE_IMAGE (official node
image instead of the local one), KIND_DRY_RUN=1 (up prints the kind config and command only)
EOF
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case "${cmd}" in
	build) cmd_build ;;
	up) cmd_up ;;
	with) cmd_with "$@" ;;
	which) cmd_which ;;
	down) cmd_down ;;
	kubeconfig) cmd_kubeconfig ;;
	load-images) cmd_load_images ;;
	build-metrics-server) cmd_build_metrics_server ;;
	build-gateway-api) cmd_build_gateway_api ;;
	test-standin) cmd_test_standin ;;
	docker-env) cmd_docker_env ;;
	-h | --help | help) usage ;;
	*)
		usage
		exit 2
		;;
	esac
}

# Sourced (kind/smoke.sh): the functions and settings only.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
