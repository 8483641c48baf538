# shellcheck shell=bash
# What cluster/kind.sh up installs into a cluster it creates (sourced): CoreDNS without an
# upstream, metrics-server, the Sealed Secrets controller, then the edge (Traefik, cert-manager
# with its CA ClusterIssuer, the Gateway API CRDs, kube-network-policies), Prometheus and Argo
# Rollouts' controller. The images are the
# ones kind/build.sh and kind/edge-build.sh built and `up` loaded: nothing is pulled.

# The CA ClusterIssuer install_edge makes (its CA certificate: Secret ${EDGE_CA_ISSUER} in
# cert-manager, key ca.crt).
EDGE_CA_ISSUER=exchange-platform-ca

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
	wait_for 180 "metrics.k8s.io" kctl get --raw /apis/metrics.k8s.io/v1beta1/nodes || die "metrics.k8s.io does not answer"
}

# The edge: CRDs (the Gateway API's, cert-manager's, Traefik's), cert-manager, Traefik (NodePorts
# 30080/30443), the CA ClusterIssuer (Ready), kube-network-policies.
install_edge() {
	local start=${SECONDS} m="${KIND_DIR}/manifests"
	kctl apply --server-side -f "$(edge_bin gateway-api "${GATEWAY_API_VERSION}")/crds.yaml" \
		-f "$(edge_bin cert-manager "${CERT_MANAGER_VERSION}")/crds.yaml" \
		-f "$(edge_bin traefik "${TRAEFIK_VERSION}")/crds.yaml" >/dev/null
	kctl wait --for=condition=Established --timeout=60s crd/gateways.gateway.networking.k8s.io \
		crd/httproutes.gateway.networking.k8s.io crd/certificates.cert-manager.io crd/clusterissuers.cert-manager.io \
		crd/ingressroutes.traefik.io crd/traefikservices.traefik.io >/dev/null
	sed -e "s|@CM_IMAGE@|${CM_IMAGE}|" "${m}/cert-manager.yaml" | kctl apply -f - >/dev/null
	sed -e "s|@TRAEFIK_IMAGE@|${TRAEFIK_IMAGE}|" "${m}/traefik.yaml" | kctl apply -f - >/dev/null
	sed -e "s|@KNP_IMAGE@|${KNP_IMAGE}|" "${m}/kube-network-policies.yaml" | kctl apply -f - >/dev/null
	kctl -n cert-manager rollout status deployment/cert-manager --timeout=180s >&2
	kctl apply -f "${m}/cert-manager-ca.yaml" >/dev/null
	kctl -n traefik rollout status deployment/traefik --timeout=180s >&2
	kctl -n kube-system rollout status daemonset/kube-network-policies --timeout=180s >&2
	kctl wait --for=condition=Ready --timeout=120s "clusterissuer/${EDGE_CA_ISSUER}" >/dev/null ||
		die "ClusterIssuer ${EDGE_CA_ISSUER} is not Ready: $(kctl get clusterissuer "${EDGE_CA_ISSUER}" \
			-o jsonpath='{.status.conditions[0].message}')"
	log "edge installed in $((SECONDS - start))s (Traefik, cert-manager, ClusterIssuer ${EDGE_CA_ISSUER}, kube-network-policies)"
}

# Prometheus in namespace monitoring, scraping Traefik every 5 s (kind/manifests/prometheus.yaml);
# its API: Service monitoring/prometheus port web, from the host through the API server's
# service proxy (prometheus_api). Waits until it has scraped Traefik once.
install_monitoring() {
	local start=${SECONDS}
	sed -e "s|@PROMETHEUS_IMAGE@|${PROMETHEUS_IMAGE}|" "${KIND_DIR}/manifests/prometheus.yaml" | kctl apply -f - >/dev/null
	kctl -n monitoring rollout status deployment/prometheus --timeout=180s >&2
	wait_for 60 "Prometheus to scrape Traefik" traefik_scraped ||
		die "Prometheus has not scraped Traefik (targets: $(prometheus_api targets | jq -c '.data.activeTargets[]? | {scrapeUrl, health, lastError}'))"
	log "monitoring installed in $((SECONDS - start))s (Prometheus ${PROMETHEUS_RELEASE}, scraping Traefik)"
}

# prometheus_api PATH: GET Prometheus's /api/v1/PATH (query string included) through the API
# server's service proxy; prints the JSON answer.
prometheus_api() {
	kctl get --raw "/api/v1/namespaces/monitoring/services/prometheus:web/proxy/api/v1/$1"
}

traefik_scraped() {
	[[ "$(prometheus_api 'query?query=up%7Bjob%3D%22traefik%22%7D' | jq -r '.data.result[0].value[1]')" == 1 ]]
}

# Argo Rollouts' controller in namespace argo-rollouts (kind/manifests/argo-rollouts.yaml), its CRDs
# first: the other canary, side by side with the engine's (issue 26). Traefik's CRDs are the edge's.
install_rollouts() {
	local start=${SECONDS}
	kctl apply --server-side -f "$(edge_bin argo-rollouts "${ARGO_ROLLOUTS_VERSION}")/crds.yaml" >/dev/null
	kctl wait --for=condition=Established --timeout=60s crd/rollouts.argoproj.io crd/analysistemplates.argoproj.io \
		crd/analysisruns.argoproj.io crd/clusteranalysistemplates.argoproj.io crd/experiments.argoproj.io >/dev/null
	sed -e "s|@ROLLOUTS_IMAGE@|${ROLLOUTS_IMAGE}|" "${KIND_DIR}/manifests/argo-rollouts.yaml" | kctl apply -f - >/dev/null
	kctl -n argo-rollouts rollout status deployment/argo-rollouts --timeout=180s >&2
	log "Argo Rollouts ${ARGO_ROLLOUTS_VERSION} installed in $((SECONDS - start))s"
}
