# shellcheck shell=bash
# The Sealed Secrets controller of cluster/kwok.sh (sourced): started beside kwokctl's components,
# its key and certificate kept with the cluster.

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
ss_pid() { daemon_pid "${SS_DIR}/controller.pid" "${SS_BIN_DIR}/controller "; }

ss_ready() { curl -fsS --max-time 2 "http://$(cat "${SS_DIR}/addr")/readyz" >/dev/null 2>&1; }

ss_has_key() { [[ -n "$(kctl -n "${SS_NAMESPACE}" get secret -l "${SS_KEY_LABEL}" -o name 2>/dev/null)" ]]; }

# Running, ready and serving this cluster (a recreated cluster has a new CA and an empty etcd).
ss_healthy() {
	ss_pid >/dev/null && cmp -s "${SS_DIR}/sa/ca.crt" "${CLUSTER_WORKDIR}/pki/ca.crt" && ss_ready
}

ss_stop() {
	local pid
	pid=$(ss_pid) || return 0
	kill -TERM "${pid}" 2>/dev/null || true
	await_exit "${pid}" 5
	rm -f "${SS_DIR}/controller.pid"
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
	read -r port metrics_port < <(free_ports 2)
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
	wait_for 120 "the Sealed Secrets controller" ss_ready || die "the Sealed Secrets controller is not ready (log: ${SS_DIR}/controller.log)"
	wait_for 60 "the Sealed Secrets key" ss_has_key || die "the Sealed Secrets controller made no key in ${SS_NAMESPACE} (log: ${SS_DIR}/controller.log)"
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
