# shellcheck shell=bash
# Which kind cluster a run uses, and holding it while it runs (sourced by cluster/kind.sh).
#
# Every checkout on this machine shares one dockerd, so two checkouts may want a cluster of the
# same name (KIND_CLUSTER_NAME, "the base") at the same time. A run holds the cluster it uses
# (`kind.sh with CMD...`: a shared flock on its in-use.lock until CMD ends), and a held cluster
# is never given to another run: not recreated, not reloaded, not shared either (its one node
# has room for one run's pods: two runs' tests on it were refused for "Insufficient cpu").
# What a cluster is made from is its fingerprint (the kind configuration, the node image, the
# installed manifests); what it holds is its image stamp (the workload images loaded, the
# stand-in's and the deployer's named by their content). `up` picks, under ${CACHE_ROOT}/kind.lock,
# among the clusters no run holds:
#   1. the base, or an extra <base>-<hash of fingerprint and stamp>[-N], made from this content
#      and holding these images: nothing to do;
#   2. else the base, its images loaded or, if made from other content, recreated;
#   3. else (the base is held) the first extra no run holds, made for this content.
# The `up`s inside CMD (pytest's fixture, molecule's create) use the held cluster as it is. An
# extra no run holds or has used for 30 minutes is deleted by the next `up` of its base; the base
# stays, as the kwok tier's shared cluster does.

kind_clusters_dir() { printf '%s' "${CACHE_ROOT}/kind/clusters"; }

# use_cluster NAME: point CLUSTER_NAME, STATE_DIR and KUBECONFIG_PATH at cluster NAME.
use_cluster() {
	CLUSTER_NAME=$1
	STATE_DIR="$(kind_clusters_dir)/${CLUSTER_NAME}"
	# shellcheck disable=SC2034 # lib.sh's kctl reads it
	KUBECONFIG_PATH="${STATE_DIR}/kubeconfig"
	mkdir -p "${STATE_DIR}"
}

# held NAME: true while a `kind.sh with` holds cluster NAME (its shared lock blocks ours).
held() {
	local lock
	lock="$(kind_clusters_dir)/$1/in-use.lock"
	[[ -f "${lock}" ]] && ! flock -n -x "${lock}" true 8>&- 9>&-
}

# made_for_this NAME: cluster NAME exists, made from this fingerprint and holding these images.
made_for_this() {
	local state
	state="$(kind_clusters_dir)/$1"
	grep -qx "$1" <<<"${KIND_CLUSTERS}" &&
		[[ "$(cat "${state}/fingerprint" 2>/dev/null)" == "${FINGERPRINT}" &&
			"$(cat "${state}/images" 2>/dev/null)" == "${IMAGES}" ]]
}

# pick_cluster: use_cluster the cluster this run should use (the rules above). Inside `kind.sh
# with`, the cluster it holds (EXCHANGE_PLATFORM_KIND_HELD=<base>=<name>). Sets FINGERPRINT and
# IMAGES (this checkout's, after cmd_build) for ensure_cluster.
pick_cluster() {
	local extra name free=()
	FINGERPRINT=$(fingerprint)
	IMAGES=$(images_stamp)
	if [[ "${EXCHANGE_PLATFORM_KIND_HELD:-}" == "${BASE_NAME}="* ]]; then
		use_cluster "${EXCHANGE_PLATFORM_KIND_HELD#*=}"
		return 0
	fi
	KIND_CLUSTERS=$(kind_ get clusters 2>/dev/null || true)
	extra="${BASE_NAME}-$(inputs_hash "${FINGERPRINT}" "${IMAGES}" | cut -c1-8)"
	for name in "${BASE_NAME}" "${extra}" "${extra}-2" "${extra}-3"; do
		if ! held "${name}"; then free+=("${name}"); fi
	done
	((${#free[@]})) || die "${BASE_NAME} and its extras are all held by other runs; try again when one ends"
	for name in "${free[@]}"; do
		if made_for_this "${name}"; then
			use_cluster "${name}"
			return 0
		fi
	done
	if [[ "${free[0]}" != "${BASE_NAME}" ]]; then log "cluster ${BASE_NAME} is held by another run; using ${free[0]}"; fi
	use_cluster "${free[0]}"
}

# remove_unheld_extras: delete this base's extra clusters other than the one in use that no run
# holds and none has used for 30 minutes (a checkout whose runs alternate with another's finds
# its extra again instead of waiting 2-3 min for a new one).
remove_unheld_extras() {
	local name used
	for name in ${KIND_CLUSTERS:-}; do
		[[ "${name}" =~ ^${BASE_NAME}-[0-9a-f]{8}(-[0-9])?$ && "${name}" != "${CLUSTER_NAME}" ]] || continue
		used="$(kind_clusters_dir)/${name}/last-used"
		if held "${name}" || [[ -n "$(find "${used}" -mmin -30 2>/dev/null)" ]]; then continue; fi
		log "deleting cluster ${name} (an extra no run has held for 30 minutes)"
		kind_ delete cluster --name "${name}" >&2
		forget_cluster "${name}"
	done
}

# mark_used: the picked cluster was used now (by `up`, and by `with` when its command ends).
mark_used() { touch "${STATE_DIR}/last-used"; }

# forget_cluster NAME: drop what kind.sh recorded of a deleted cluster (its lock file stays:
# a `with` waiting for it may have it open).
forget_cluster() {
	find "$(kind_clusters_dir)/$1" -mindepth 1 ! -name in-use.lock -delete 2>/dev/null || true
}

# The cluster this checkout's last `up` picked: the one `kubeconfig`, `docker-env`, `load-images`
# and kind/smoke.sh mean (the held one inside `kind.sh with`; the base if `up` never ran here).
checkout_record() { printf '%s' "${CACHE_ROOT}/kind/checkouts/$(inputs_hash "${ROOT_DIR}")-${BASE_NAME}"; }

record_checkout_cluster() {
	mkdir -p "${CACHE_ROOT}/kind/checkouts"
	printf '%s\n' "${CLUSTER_NAME}" >"$(checkout_record)"
}

use_checkout_cluster() {
	if [[ "${EXCHANGE_PLATFORM_KIND_HELD:-}" == "${BASE_NAME}="* ]]; then
		use_cluster "${EXCHANGE_PLATFORM_KIND_HELD#*=}"
	else
		use_cluster "$(cat "$(checkout_record)" 2>/dev/null || printf '%s' "${BASE_NAME}")"
	fi
}

# Serialise picking, creating, loading and deleting clusters (fd 9 stays open until the script
# exits or unlock_kind; kind_ and the daemons close it).
lock_kind() {
	[[ -n "${KIND_LOCKED:-}" ]] && return 0
	mkdir -p "${CACHE_ROOT}"
	exec 9>"${CACHE_ROOT}/kind.lock"
	flock -w 1800 9 || die "could not lock ${CACHE_ROOT}/kind.lock"
	KIND_LOCKED=1
}

unlock_kind() {
	exec 9>&-
	KIND_LOCKED=
}

# held_cluster_ready: inside `kind.sh with`, the held cluster answers. `with` built this checkout's
# content and made the cluster ready for it before it ran its command, so the `up`s inside use it
# as it is: no build and no lock to wait for (another checkout may be building or creating).
held_cluster_ready() {
	[[ "${EXCHANGE_PLATFORM_KIND_HELD:-}" == "${BASE_NAME}="* ]] || return 1
	use_cluster "${EXCHANGE_PLATFORM_KIND_HELD#*=}"
	cluster_healthy
}

# hold_cluster: take the picked cluster's in-use lock (shared, on fd 8) for as long as this
# script runs; it is released when the script exits, however it exits.
hold_cluster() {
	exec 8>>"${STATE_DIR}/in-use.lock"
	flock -s 8
}
