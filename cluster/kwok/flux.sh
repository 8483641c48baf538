# shellcheck shell=bash
# Flux's source-controller and kustomize-controller for cluster/kwok.sh (sourced): built from the
# Go module proxy (cluster/builders/flux) and started beside kwokctl's components, with a git
# server of their own, for the GitOps tests (tests/integration/test_gitops.py).

FLUX_BIN_DIR="${CACHE_ROOT}/bin/flux/${FLUX_VERSION}"
FLUX_CONTROLLERS=(source-controller kustomize-controller)
FLUX_DIR="${CLUSTER_WORKDIR}/flux"
FLUX_NAMESPACE=flux-system

# flux_source CONTROLLER: a copy of CONTROLLER's module source (it is the main module, so its
# own replace directives apply), prepared once per builder content. Changed from upstream:
# - its ./api replace is dropped: ./api is a nested module, not in the module zip, so the api
#   module comes from the proxy at the version its go.mod requires;
# - source-controller's github.com/fluxcd/pkg/artifact v0.18.3 is refused by the proxy (403):
#   v0.18.0, the same options and storage API, replaces it.
flux_source() {
	local c=$1 b="${CLUSTER_DIR}/builders/flux" src dir hash
	src="${CACHE_ROOT}/src/flux-${c}-${FLUX_VERSION}"
	hash=$(inputs_hash "${b}/go.mod" "${b}/go.sum" "$(declare -f flux_source)")
	if [[ -f "${src}/.prepared" && "$(<"${src}/.prepared")" == "${hash}" ]]; then printf '%s' "${src}"; return 0; fi
	dir=$(cd "${b}" && "${GO}" mod download -json "github.com/fluxcd/${c}" | jq -r .Dir)
	[[ -d "${dir}" ]] || die "go mod download of github.com/fluxcd/${c} ${FLUX_VERSION} failed"
	rm -rf "${src}"
	mkdir -p "${src%/*}"
	cp -r "${dir}" "${src}"
	chmod -R u+w "${src}"
	(cd "${src}" && "${GO}" mod edit -dropreplace "github.com/fluxcd/${c}/api") || die "go mod edit of ${c} failed"
	if [[ "${c}" == source-controller ]]; then
		(cd "${src}" && "${GO}" mod edit -replace github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.0) ||
			die "go mod edit of ${c} failed"
	fi
	# go.sum gets the changed modules' sums now, not during the build (go_build_cached hashes it).
	(cd "${src}" && "${GO}" list -deps . >/dev/null) || die "${c}'s source does not load"
	rm -f "${FLUX_BIN_DIR}/.inputs-flux-${c}-${FLUX_VERSION}"
	printf '%s\n' "${hash}" >"${src}/.prepared"
	printf '%s' "${src}"
}

# Both controllers, and their CustomResourceDefinitions as their modules ship them.
build_flux() {
	local c src
	for c in "${FLUX_CONTROLLERS[@]}"; do
		check_pin "${CLUSTER_DIR}/builders/flux/go.mod" "^[[:space:]]*github.com/fluxcd/${c} ${FLUX_VERSION}\$"
		src=$(flux_source "${c}")
		go_build_cached "flux-${c}-${FLUX_VERSION}" "${src}" "${FLUX_BIN_DIR}" "-s -w" "" "${c}=."
		if [[ ! -f "${FLUX_BIN_DIR}/crds-${c}.yaml" ]]; then
			cat "${src}"/config/crd/bases/*.yaml >"${FLUX_BIN_DIR}/crds-${c}.yaml.tmp.$$"
			mv "${FLUX_BIN_DIR}/crds-${c}.yaml.tmp.$$" "${FLUX_BIN_DIR}/crds-${c}.yaml"
		fi
	done
}

# flux_pid NAME: the pid of NAME (a controller or git_http), if it is alive and ours.
flux_pid() { daemon_pid "${FLUX_DIR}/$1.pid" "$1"; }

flux_ready() {
	local c
	for c in "${FLUX_CONTROLLERS[@]}"; do
		flux_pid "${c}" >/dev/null || return 1
		curl -fsS --max-time 2 "http://$(cat "${FLUX_DIR}/${c}.health")/readyz" >/dev/null 2>&1 || return 1
	done
	flux_pid git_http >/dev/null && curl -fsS --max-time 2 "$(cat "${FLUX_DIR}/git-url")/" >/dev/null 2>&1
}

flux_stop() {
	local name pid
	for name in "${FLUX_CONTROLLERS[@]}" git_http; do
		pid=$(flux_pid "${name}") || continue
		kill -TERM "${pid}" 2>/dev/null || true
		await_exit "${pid}" 10
		rm -f "${FLUX_DIR}/${name}.pid"
	done
}

# flux_spawn NAME COMMAND...: COMMAND in a session of its own, its pid in NAME.pid and its output
# in NAME.log, without fd 9 (the up/down lock must not outlive this script).
flux_spawn() {
	local name=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner sh, which records its own pid and execs
	(
		cd "${FLUX_DIR}" || exit 1
		exec setsid sh -c 'echo $$ >"$0" && exec "$@"' "${FLUX_DIR}/${name}.pid" "$@"
	) >>"${FLUX_DIR}/${name}.log" 2>&1 </dev/null 9>&- &
}

flux_start() {
	local storage metrics_s health_s metrics_k health_k git
	mkdir -p "${FLUX_DIR}/git" "${FLUX_DIR}/storage"
	kctl create namespace "${FLUX_NAMESPACE}" >/dev/null 2>&1 || true
	local c
	for c in "${FLUX_CONTROLLERS[@]}"; do
		kctl apply --server-side --force-conflicts -f "${FLUX_BIN_DIR}/crds-${c}.yaml" >/dev/null
	done
	kctl wait --for condition=established --timeout 60s crd/gitrepositories.source.toolkit.fluxcd.io \
		crd/kustomizations.kustomize.toolkit.fluxcd.io >/dev/null
	read -r storage metrics_s health_s metrics_k health_k git < <(free_ports 6)
	printf '127.0.0.1:%s\n' "${health_s}" >"${FLUX_DIR}/source-controller.health"
	printf '127.0.0.1:%s\n' "${health_k}" >"${FLUX_DIR}/kustomize-controller.health"
	printf 'http://127.0.0.1:%s\n' "${git}" >"${FLUX_DIR}/git-url"
	log "starting Flux ${FLUX_VERSION} and its git server on 127.0.0.1:${git} (logs: ${FLUX_DIR}) ..."
	flux_spawn git_http python3 "${CLUSTER_DIR}/kwok/git_http.py" --port "${git}" --root "${FLUX_DIR}/git"
	flux_spawn source-controller env KUBECONFIG="${KUBECONFIG_PATH}" RUNTIME_NAMESPACE="${FLUX_NAMESPACE}" \
		"${FLUX_BIN_DIR}/source-controller" --storage-path "${FLUX_DIR}/storage" \
		--storage-addr "127.0.0.1:${storage}" --storage-adv-addr "127.0.0.1:${storage}" \
		--metrics-addr "127.0.0.1:${metrics_s}" --health-addr "127.0.0.1:${health_s}" --log-level info
	flux_spawn kustomize-controller env KUBECONFIG="${KUBECONFIG_PATH}" RUNTIME_NAMESPACE="${FLUX_NAMESPACE}" \
		"${FLUX_BIN_DIR}/kustomize-controller" --no-remote-bases \
		--metrics-addr "127.0.0.1:${metrics_k}" --health-addr "127.0.0.1:${health_k}" --log-level info
	wait_for 120 "Flux's controllers and git server" flux_ready || die "Flux is not ready (logs: ${FLUX_DIR})"
}

# Idempotent: leaves running controllers alone; prints where tests put repositories and how the
# controllers reach them (JSON: git_root, git_url).
cmd_flux() {
	with_lock
	require_bins
	cluster_healthy || die "cluster not up; run: $0 up"
	[[ -x "${FLUX_BIN_DIR}/source-controller" && -x "${FLUX_BIN_DIR}/kustomize-controller" ]] ||
		die "Flux missing; run: $0 build"
	if ! flux_ready; then
		local start=${SECONDS}
		flux_stop
		flux_start
		log "Flux ready in $((SECONDS - start))s"
	fi
	printf '{"git_root": "%s", "git_url": "%s"}\n' "${FLUX_DIR}/git" "$(cat "${FLUX_DIR}/git-url")"
}
