# shellcheck shell=bash
# The Docker engine of cluster/kind.sh (sourced): the user's when one answers, else the project's
# own dockerd, started once and found again by its socket; and the kind binary run against it.

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
	# Without fds 7 to 9: the locks kind.sh holds must not outlive it in the daemon. At nice 0
	# whatever the caller's (a `nice -n 19 kind.sh build` once started it, and every kind node ran
	# below the tests beside it).
	(
		cd / || exit 1
		exec nice -n "$((-$(nice)))" setsid dockerd --host "${OWN_DOCKER_HOST}" --data-root "${DOCKER_DIR}/data" \
			--exec-root "${DOCKER_DIR}/exec" --pidfile "${DOCKER_DIR}/dockerd.pid" \
			--config-file "${DOCKER_DIR}/daemon.json" --iptables=false --ip-masq=false \
			--ip=127.0.0.1 --add-runtime "exchange-platform-runc=${runc}" \
			--default-runtime exchange-platform-runc
	) >>"${LOG_DIR}/dockerd.log" 2>&1 </dev/null 7>&- 8>&- 9>&- &
	if ! wait_for 60 "dockerd to answer" docker_answers; then
		tail -n 20 "${LOG_DIR}/dockerd.log" >&2
		die "dockerd did not answer within 60s (log: ${LOG_DIR}/dockerd.log)"
	fi
}

# kind runs `docker`: give it Debian's CLI (the one that matches the engine), and none of the
# locks kind.sh holds.
kind_() {
	local link="${CACHE_ROOT}/kind/path/docker" cli
	cli=$(if [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker; else command -v docker; fi)
	if [[ "$(readlink "${link}" 2>/dev/null)" != "${cli}" ]]; then
		mkdir -p "${link%/*}"
		ln -sfn "${cli}" "${link}.$$" && mv -Tf "${link}.$$" "${link}"
	fi
	PATH="${link%/*}:${PATH}" "${KIND_BIN_DIR}/kind" "$@" 7>&- 8>&- 9>&-
}
