#!/usr/bin/env bash
# The kind tier: a one-node kind cluster running Kubernetes built here (node image from Debian
# packages and Go modules), its own dockerd when none answers, every image preloaded, CoreDNS
# without an upstream, metrics-server and the Sealed Secrets controller in the cluster.
# Everything is cached under ~/.cache/exchange-platform/. See cluster/README-kind.md.
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
CLUSTER_NAME="${KIND_CLUSTER_NAME:-exchange-platform}"
STATE_DIR="${CACHE_ROOT}/kind/clusters/${CLUSTER_NAME}"
KUBECONFIG_PATH="${STATE_DIR}/kubeconfig"
DOCKER_DIR="${CACHE_ROOT}/docker"
OWN_DOCKER_HOST="unix://${DOCKER_DIR}/docker.sock"
KIND_BIN_DIR="${CACHE_ROOT}/bin/kind/${KIND_VERSION}"
KUBE_BIN_DIR="${CACHE_ROOT}/bin/kubernetes/${KUBE_VERSION}"
KUBECTL="${KUBE_BIN_DIR}/kubectl"
MS_BIN_DIR="${CACHE_ROOT}/bin/metrics-server/${METRICS_SERVER_VERSION}"
STANDIN_IMAGE=exchange-platform/standin:dev
MS_IMAGE="exchange-platform/metrics-server:${METRICS_SERVER_VERSION}"
SS_IMAGE="exchange-platform/sealed-secrets-controller:${SEALED_SECRETS_VERSION}"
# The playbooks in a pod (tests/integration/test_kind_incluster.py): see build_deployer_image.
DEPLOYER_IMAGE=exchange-platform/deployer:dev
# What the local node image is built with (Debian packages).
APT_PACKAGES=(debootstrap jq gcc libc6-dev)

# shellcheck source-path=SCRIPTDIR source=kind/build.sh
source "${KIND_DIR}/build.sh"
# shellcheck source-path=SCRIPTDIR source=kind/edge.sh
source "${KIND_DIR}/edge.sh"

# ---------------------------------------------------------------- docker

# ensure_packages PACKAGE...: apt-get install those that are missing.
ensure_packages() {
	local p missing=()
	for p in "$@"; do dpkg-query -W -f '${Status}' "${p}" 2>/dev/null | grep -q 'ok installed' || missing+=("${p}"); done
	((${#missing[@]})) || return 0
	log "installing ${missing[*]} with apt-get ..."
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Debian's CLI when present (it matches the engine kind.sh starts), else the user's.
docker() { if [[ -x /usr/bin/docker ]]; then /usr/bin/docker "$@"; else command docker "$@"; fi; }

docker_answers() { timeout 10 docker version >/dev/null 2>&1; }

# Use the Docker engine DOCKER_HOST (or the default socket) names when it answers; otherwise
# start the project's own dockerd: socket, data and log under ${DOCKER_DIR}, Debian's runc behind
# a wrapper without CAP_SYS_RESOURCE as the default runtime, and no iptables/NAT rules written
# into the host (the kind network only talks to this machine).
ensure_docker() {
	# The project's own dockerd first, so a second run finds it again; never for the official
	# node image, which would be pulled: that path is for the user's own engine.
	if [[ -z "${KIND_NODE_IMAGE:-}" && -S "${DOCKER_DIR}/docker.sock" ]] && DOCKER_HOST=${OWN_DOCKER_HOST} docker_answers; then
		export DOCKER_HOST=${OWN_DOCKER_HOST}
		return 0
	fi
	docker_answers && return 0
	[[ -z "${KIND_NODE_IMAGE:-}" ]] || die "KIND_NODE_IMAGE needs a running Docker engine (none answers at ${DOCKER_HOST:-the default socket})"
	command -v dockerd >/dev/null || ensure_packages docker.io
	export DOCKER_HOST=${OWN_DOCKER_HOST}
	mkdir -p "${DOCKER_DIR}/data" "${DOCKER_DIR}/exec"
	printf '{}\n' >"${DOCKER_DIR}/daemon.json"
	# The runtime wrapper as a content-named copy in the cache: the daemon outlives this checkout.
	local runc
	runc=$(content_copy "${KIND_DIR}/runc-nosysresource")
	log "starting dockerd (socket ${DOCKER_DIR}/docker.sock, log ${LOG_DIR}/dockerd.log) ..."
	(
		cd / || exit 1
		exec setsid dockerd --host "${OWN_DOCKER_HOST}" --data-root "${DOCKER_DIR}/data" \
			--exec-root "${DOCKER_DIR}/exec" --pidfile "${DOCKER_DIR}/dockerd.pid" \
			--config-file "${DOCKER_DIR}/daemon.json" --iptables=false --ip-masq=false \
			--ip=127.0.0.1 --add-runtime "exchange-platform-runc=${runc}" \
			--default-runtime exchange-platform-runc
	) >>"${LOG_DIR}/dockerd.log" 2>&1 </dev/null 9>&- &
	for _ in $(seq 1 60); do docker_answers && return 0; sleep 1; done
	tail -n 20 "${LOG_DIR}/dockerd.log" >&2
	die "dockerd did not answer within 60s"
}

# kind runs `docker`; give it Debian's CLI (the one that matches the engine).
kind_() { PATH="${STATE_DIR}/path:${PATH}" "${KIND_BIN_DIR}/kind" "$@" 9>&-; }

# ----------------------------------------------------------------- build

cmd_build() {
	local start=${SECONDS}
	go_env
	# The deployer image is built from Debian packages with either node image.
	if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then ensure_packages debootstrap; else ensure_packages "${APT_PACKAGES[@]}"; fi
	ensure_docker
	# The control plane, etcd and Sealed Secrets: built (once, for both tiers) by kwok.sh.
	# debootstrap waits on the network while Go compiles.
	local rootfs_pid= deployer_pid
	mkdir -p "${CACHE_ROOT}/kind"
	if [[ -z "${KIND_NODE_IMAGE:-}" ]]; then
		build_rootfs &
		rootfs_pid=$!
	fi
	build_deployer_rootfs &
	deployer_pid=$!
	"${CLUSTER_DIR}/kwok.sh" build >&2
	build_binaries
	mkdir -p "${STATE_DIR}/path"
	ln -sfn "$(if [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker; else command -v docker; fi)" "${STATE_DIR}/path/docker"
	if [[ -n "${rootfs_pid}" ]]; then
		wait "${rootfs_pid}" || die "building the node's root filesystem failed"
		build_base_image
		build_node_image
		printf '%s\n' "${NODE_IMAGE}" >"${STATE_DIR}/node-image"
	fi
	build_app_images
	wait "${deployer_pid}" || die "building the deployer's root filesystem failed"
	build_deployer_image
	build_edge
	if ((SECONDS - start > 2)); then log "build finished in $((SECONDS - start))s"; fi
}

# --------------------------------------------------------------- cluster

# The kind configuration: API server on 127.0.0.1 only; kubelet accepts this host's cgroup v1.
# The locally built node image has no kindnetd, so kind's default CNI is off (a static CNI
# configuration is baked in).
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
nodes:
- role: control-plane
EOF
}

node_image() { if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then echo "${KIND_NODE_IMAGE}"; else cat "${STATE_DIR}/node-image"; fi; }

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

cluster_exists() { kind_ get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; }

cluster_healthy() {
	cluster_exists && [[ -f "${KUBECONFIG_PATH}" && "$(cat "${STATE_DIR}/fingerprint" 2>/dev/null)" == "$(fingerprint)" ]] &&
		kctl get --raw /readyz >/dev/null 2>&1 &&
		[[ "$(kctl get nodes -o jsonpath='{.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

workload_images() {
	printf '%s\n' "${STANDIN_IMAGE}" "${STANDIN_IMAGE%:*}:side-effect" "${MS_IMAGE}"
	if image_exists "${SS_IMAGE}"; then printf '%s\n' "${SS_IMAGE}"; fi
	if image_exists "${DEPLOYER_IMAGE}"; then printf '%s\n' "${DEPLOYER_IMAGE}"; fi
	edge_images
}

# The IDs of the workload images: a rebuilt image (e.g. the stand-in) is loaded again on `up`.
images_stamp() { workload_images | xargs docker image inspect -f '{{.Id}}' | sha256sum | cut -c1-16; }

# Every image the workloads use, loaded into the node's containerd (none is ever pulled).
cmd_load_images() {
	go_env
	ensure_docker
	local img imgs
	mapfile -t imgs < <(workload_images)
	for img in "${imgs[@]}"; do
		kind_ load docker-image --name "${CLUSTER_NAME}" "${img}" >/dev/null 2>&1 || die "kind load docker-image ${img} failed"
	done
	log "loaded ${imgs[*]}"
}

# CoreDNS without `forward`: names outside the cluster get no answer instead of a query that
# would leave the machine.
coredns_no_upstream() {
	local cm
	cm=$(kctl -n kube-system get configmap coredns -o json)
	if jq -e '.data.Corefile | test("forward")' <<<"${cm}" >/dev/null; then
		jq '.data.Corefile |= gsub("\n *forward [^{]*\\{[^}]*\\}"; "") | del(.metadata.resourceVersion)' <<<"${cm}" |
			kctl replace -f - >/dev/null
		kctl -n kube-system rollout restart deployment/coredns >/dev/null
	fi
	! kctl -n kube-system get configmap coredns -o jsonpath='{.data.Corefile}' | grep -q forward ||
		die "CoreDNS still has an upstream"
}

install_addons() {
	coredns_no_upstream
	sed -e "s|@MS_IMAGE@|${MS_IMAGE}|" "${KIND_DIR}/manifests/metrics-server.yaml" | kctl apply -f - >/dev/null
	local ss="${CACHE_ROOT}/bin/sealed-secrets/${SEALED_SECRETS_VERSION}"
	if image_exists "${SS_IMAGE}" && [[ -f "${ss}/crd.yaml" ]]; then
		kctl apply --server-side -f "${ss}/crd.yaml" -f "${CLUSTER_DIR}/sealed-secrets.yaml" >/dev/null
		sed -e "s|@SS_IMAGE@|${SS_IMAGE}|" "${KIND_DIR}/manifests/sealed-secrets.yaml" | kctl apply -f - >/dev/null
		kctl -n kube-system rollout status deployment/sealed-secrets-controller --timeout=180s >&2
	fi
	kctl -n kube-system rollout status deployment/coredns --timeout=180s >&2
	kctl -n kube-system rollout status deployment/metrics-server --timeout=180s >&2
	for _ in $(seq 1 90); do kctl get --raw /apis/metrics.k8s.io/v1beta1/nodes >/dev/null 2>&1 && return 0; sleep 2; done
	die "metrics.k8s.io does not answer"
}

cmd_up() {
	mkdir -p "${CACHE_ROOT}"
	exec 9>"${CACHE_ROOT}/kind.lock"
	flock -w 1800 9 || die "could not lock ${CACHE_ROOT}/kind.lock"
	local t0=${SECONDS} mode=create
	if [[ -n "${KIND_DRY_RUN:-}" ]]; then
		printf -- '--- kind config\n%s\n--- command\nkind create cluster --name %s --image %s --config <the config above> --kubeconfig %s --wait 300s\n' \
			"$(kind_config)" "${CLUSTER_NAME}" "${KIND_NODE_IMAGE:-<node image built by kind.sh build>}" "${KUBECONFIG_PATH}"
		return 0
	fi
	cmd_build
	if cluster_healthy; then
		local images
		images=$(images_stamp)
		if [[ "$(cat "${STATE_DIR}/images" 2>/dev/null)" != "${images}" ]]; then
			cmd_load_images
			printf '%s\n' "${images}" >"${STATE_DIR}/images"
		fi
		log "cluster ${CLUSTER_NAME} is already up"
		printf '%s\n' "${KUBECONFIG_PATH}"
		return 0
	fi
	cluster_exists && { mode=recreate; kind_ delete cluster --name "${CLUSTER_NAME}" >&2; }
	kind_config >"${STATE_DIR}/kind-config.yaml"
	log "creating kind cluster ${CLUSTER_NAME} from $(node_image) ..."
	kind_ create cluster --name "${CLUSTER_NAME}" --image "$(node_image)" --config "${STATE_DIR}/kind-config.yaml" \
		--kubeconfig "${KUBECONFIG_PATH}" --wait 300s >&2 || die "kind create cluster failed"
	cmd_load_images
	images_stamp >"${STATE_DIR}/images"
	install_addons
	install_edge
	fingerprint >"${STATE_DIR}/fingerprint"
	printf '%s %s %ss k8s=%s image=%s\n' "$(date -u +%FT%TZ)" "${mode}" "$((SECONDS - t0))" "${KUBE_VERSION}" \
		"$(node_image)" >>"${LOG_DIR}/kind-up-times.log"
	log "cluster ${CLUSTER_NAME} up (${mode}) in $((SECONDS - t0))s (recorded in ${LOG_DIR}/kind-up-times.log)"
	printf '%s\n' "${KUBECONFIG_PATH}"
}

cmd_down() {
	go_env
	[[ -x "${KIND_BIN_DIR}/kind" ]] || { log "kind is not built; nothing to delete"; return 0; }
	docker_answers || [[ -S "${DOCKER_DIR}/docker.sock" ]] && ensure_docker
	if docker_answers && cluster_exists; then
		kind_ delete cluster --name "${CLUSTER_NAME}" >&2
	fi
	rm -f "${KUBECONFIG_PATH}" "${STATE_DIR}/fingerprint"
	log "cluster ${CLUSTER_NAME} deleted"
}

# Only the metrics-server binary (no Docker): kwok.sh build uses it for kwokctl's component.
cmd_build_metrics_server() {
	go_env
	build_metrics_server
	printf '%s\n' "${MS_BIN_DIR}/metrics-server"
}

# The stand-in's own tests (exit codes, messages without values, health, env hashes, burn).
cmd_test_standin() {
	go_env
	(cd "${KIND_DIR}/standin" && "${GO}" vet . && "${GO}" test -count=1 .)
}

cmd_kubeconfig() { printf '%s\n' "${KUBECONFIG_PATH}"; }

cmd_docker_env() {
	if [[ -S "${DOCKER_DIR}/docker.sock" ]]; then printf 'export DOCKER_HOST=%q\n' "${OWN_DOCKER_HOST}"; fi
	printf 'export KUBECONFIG=%q\n' "${KUBECONFIG_PATH}"
}

usage() {
	cat >&2 <<EOF
usage: $0 <command>
  build         install docker.io/debootstrap if missing, start dockerd if none answers, build
                kind, the node image, the workload images and the deployer image (each cached)
  up            build, then create the cluster unless it is up; prints the kubeconfig path last
  down          delete the cluster (dockerd and the caches stay)
  kubeconfig    print the kubeconfig path
  load-images   load the workload and deployer images into the node again
  build-metrics-server  build only metrics-server (for the kwok tier); prints its path
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
	down) cmd_down ;;
	kubeconfig) cmd_kubeconfig ;;
	load-images) cmd_load_images ;;
	build-metrics-server) cmd_build_metrics_server ;;
	test-standin) cmd_test_standin ;;
	docker-env) cmd_docker_env ;;
	-h | --help | help) usage ;;
	*) usage; exit 2 ;;
	esac
}

main "$@"
