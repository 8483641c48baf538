# shellcheck shell=bash
# The kind tier's production edge (issue 16), sourced after build.sh: Traefik (Ingress, the
# ingress-nginx annotations and the Gateway API), cert-manager's controller with a self-signed
# CA ClusterIssuer, the Gateway API CRDs and kube-network-policies (NetworkPolicy enforcement),
# each built from Go modules, cached under ${CACHE_ROOT} and rebuilt only when its inputs change,
# and imported as a one-binary image (nothing is pulled). See cluster/README-kind.md, "The edge".
#
# Functions for kind.sh: build_edge (after build_app_images), edge_images (names to load into
# the node), install_edge (after the add-ons). Standalone, for a cluster kind.sh made:
#   cluster/kind/edge.sh build | load | install | up (all three) | smoke (end-to-end proof)

# Traefik v3.7 is the first with ingress-nginx's rewrite-target (the seed's /backend rewrite).
TRAEFIK_VERSION=v3.7.13
# The last release whose cmd/controller is in the root module the proxy serves.
CERT_MANAGER_VERSION=v1.11.5
# The Gateway API version Traefik ${TRAEFIK_VERSION} is built against (build_gateway_api checks).
GATEWAY_API_VERSION=v1.6.1
KNP_VERSION=v0.8.0
TRAEFIK_IMAGE="exchange-platform/traefik:${TRAEFIK_VERSION}"
CM_IMAGE="exchange-platform/cert-manager-controller:${CERT_MANAGER_VERSION}"
KNP_IMAGE="exchange-platform/kube-network-policies:${KNP_VERSION}"
# The CA ClusterIssuer install_edge makes (its CA certificate: Secret ${EDGE_CA_ISSUER} in
# cert-manager, key ca.crt).
EDGE_CA_ISSUER=exchange-platform-ca

edge_bin() { printf '%s' "${CACHE_ROOT}/bin/$1/$2"; }

# Traefik's module source, copied so that Traefik is the main module (its own replace
# directives apply), with what the module zip lacks or the proxy refuses:
# - pkg/config/dynamic/ext, a nested module (empty extension points) left out of the zip;
# - webui/static, the built web UI (not in the zip): a placeholder if it is missing;
# - lego's registry of ACME DNS-01 providers: several of their SDKs are refused by the proxy
#   (403), so the DNS challenge is left out (HTTP-01/TLS-ALPN-01 stay; cert-manager issues here);
# - github.com/containous/go-http-auth (basic/digest auth), whose pinned fork commit the proxy
#   refuses: the fork's 2020 commit Traefik v3.5/v3.6 used.
traefik_source() {
	local b="${CLUSTER_DIR}/builders/traefik" v=${TRAEFIK_VERSION} src dir hash
	src="${CACHE_ROOT}/src/traefik-${v}"
	hash=$(inputs_hash "${b}/go.mod" "${b}/go.sum" "$(declare -f traefik_source)")
	if [[ -f "${src}/.prepared" && "$(<"${src}/.prepared")" == "${hash}" ]]; then printf '%s' "${src}"; return 0; fi
	dir=$(cd "${b}" && "${GO}" mod download -json github.com/traefik/traefik/v3 | jq -r .Dir)
	[[ -d "${dir}" ]] || die "go mod download of github.com/traefik/traefik/v3 ${v} failed"
	rm -rf "${src}"
	mkdir -p "${src%/*}"
	cp -r "${dir}" "${src}"
	chmod -R u+w "${src}"
	mkdir -p "${src}/webui/static" "${src}/pkg/config/dynamic/ext"
	[[ -n "$(ls -A "${src}/webui/static")" ]] || printf 'web UI not built\n' >"${src}/webui/static/README.md"
	printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' >"${src}/pkg/config/dynamic/ext/go.mod"
	printf '%s\n' '// Package ext holds the (empty) extension points of dynamic.HTTP and dynamic.Router.' \
		'package ext' '' '// HTTP extends dynamic.HTTP.' 'type HTTP struct{}' '' '// Router extends dynamic.Router.' \
		'type Router struct{}' >"${src}/pkg/config/dynamic/ext/ext.go"
	local acme="${src}/pkg/provider/acme/provider.go"
	grep -q '"github.com/go-acme/lego/v5/providers/dns"' "${acme}" || die "Traefik's ACME provider changed shape"
	sed -i -e '\|^\t"github.com/go-acme/lego/v5/providers/dns"$|d' \
		-e 's|dns\.NewDNSChallengeProviderByName(|noDNSChallengeProvider(|' "${acme}"
	cat >"${src}/pkg/provider/acme/zz_no_dns_providers.go" <<'EOF'
package acme

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// noDNSChallengeProvider stands in for lego's DNS provider registry, left out of this build.
func noDNSChallengeProvider(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("ACME DNS challenge provider %q is not built into this Traefik", name)
}
EOF
	(cd "${src}" && "${GO}" mod edit \
		-replace github.com/abbot/go-http-auth=github.com/containous/go-http-auth@v0.4.1-0.20200324110947-a37a7636d23e) ||
		die "go mod edit of Traefik's source failed"
	# go.sum gets the replacement's sums now, not during the build (go_build's stamp hashes it).
	(cd "${src}" && "${GO}" list -deps ./cmd/traefik >/dev/null) || die "Traefik's source does not load"
	rm -f "$(edge_bin traefik "${v}")/.inputs-traefik-${v}"
	printf '%s\n' "${hash}" >"${src}/.prepared"
	printf '%s' "${src}"
}

build_traefik() {
	local v=${TRAEFIK_VERSION} src
	check_pin "${CLUSTER_DIR}/builders/traefik/go.mod" "^require github.com/traefik/traefik/v3 ${v}\$"
	src=$(traefik_source)
	go_build "traefik-${v}" "${src}" "$(edge_bin traefik "${v}")" \
		"-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${v}" "" ./cmd/traefik
}

# cert-manager's controller only: no webhook and no cainjector (see the README: every object
# cert-manager serves is v1 only, so no conversion is needed; what is lost is admission
# validation and defaulting of cert-manager's own objects). Its CRDs come from the module's
# deploy/crds, Helm's label templates replaced by fixed labels.
build_cert_manager() {
	local b="${CLUSTER_DIR}/builders/cert-manager" v=${CERT_MANAGER_VERSION} out dir hash
	out=$(edge_bin cert-manager "${v}")
	check_pin "${b}/go.mod" "^require github.com/cert-manager/cert-manager ${v}\$"
	go_build "cert-manager-${v}" "${b}" "${out}" \
		"-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=${v}" "" \
		github.com/cert-manager/cert-manager/cmd/controller
	hash=$(inputs_hash "${b}/go.sum" "$(declare -f build_cert_manager)")
	[[ -f "${out}/crds.yaml" && "$(cat "${out}/crds.yaml.inputs" 2>/dev/null)" == "${hash}" ]] && return 0
	dir=$(cd "${b}" && "${GO}" list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)
	local f
	for f in "${dir}"/deploy/crds/crd-*.yaml; do
		printf -- '---\n'
		sed -e '/# Generated labels {{/d' -e "s|'{{ template \"cert-manager.name\" . }}'|cert-manager|" \
			-e "s|'{{ .Release.Name }}'|cert-manager|" "${f}"
	done >"${out}/crds.yaml.tmp"
	! grep -q '{{' "${out}/crds.yaml.tmp" || die "cert-manager's CRDs still hold Helm templates"
	mv "${out}/crds.yaml.tmp" "${out}/crds.yaml"
	printf '%s\n' "${hash}" >"${out}/crds.yaml.inputs"
}

# The Gateway API's standard channel CRDs, at the version Traefik is built against.
build_gateway_api() {
	local b="${CLUSTER_DIR}/builders/gateway-api" v=${GATEWAY_API_VERSION} out dir hash f
	out=$(edge_bin gateway-api "${v}")
	check_pin "${b}/go.mod" "^require sigs.k8s.io/gateway-api ${v}\$"
	grep -Eq "^\s*sigs.k8s.io/gateway-api ${v}\$" "$(traefik_source)/go.mod" ||
		die "Traefik ${TRAEFIK_VERSION} is not built against the Gateway API ${v}"
	hash=$(inputs_hash "${b}/go.sum" "$(declare -f build_gateway_api)")
	[[ -f "${out}/crds.yaml" && "$(cat "${out}/crds.yaml.inputs" 2>/dev/null)" == "${hash}" ]] && return 0
	dir=$(cd "${b}" && "${GO}" mod download -json sigs.k8s.io/gateway-api | jq -r .Dir)
	[[ -d "${dir}/config/crd/standard" ]] || die "sigs.k8s.io/gateway-api ${v} has no config/crd/standard"
	mkdir -p "${out}"
	for f in "${dir}"/config/crd/standard/*.yaml; do printf -- '---\n'; cat "${f}"; done >"${out}/crds.yaml"
	printf '%s\n' "${hash}" >"${out}/crds.yaml.inputs"
}

# kube-network-policies' module source, built as the main module with one change: this host's
# kernel has no nftables `queue` expression (CONFIG_NFT_QUEUE is not set; adding a rule with
# `queue num 98` fails with ENOENT, and so did every sync of the unpatched controller), but it has
# nft_compat and xtables' NFQUEUE target (iptables-nft's -j NFQUEUE works in the node). So the
# rules that send a packet to the controller's queue use that target (revision 3, through
# nft_compat) instead of nftables' queue expression: same queue number, same bypass flag.
knp_source() {
	local b="${CLUSTER_DIR}/builders/kube-network-policies" v=${KNP_VERSION} src dir hash
	src="${CACHE_ROOT}/src/kube-network-policies-${v}"
	hash=$(inputs_hash "${b}/go.mod" "${b}/go.sum" "$(declare -f knp_source)")
	if [[ -f "${src}/.prepared" && "$(<"${src}/.prepared")" == "${hash}" ]]; then printf '%s' "${src}"; return 0; fi
	dir=$(cd "${b}" && "${GO}" mod download -json sigs.k8s.io/kube-network-policies | jq -r .Dir)
	[[ -d "${dir}" ]] || die "sigs.k8s.io/kube-network-policies ${v} is not downloaded"
	rm -rf "${src}"
	mkdir -p "${src%/*}"
	cp -r "${dir}" "${src}"
	chmod -R u+w "${src}"
	local np="${src}/pkg/networkpolicy"
	[[ "$(grep -c 'queue := &expr.Queue{Num: uint16(c.config.QueueID)}' "${np}/controller.go")" == 2 &&
		"$(grep -c '&expr.Queue{Num: uint16(n.nfQueueID), Flag: expr.QueueFlagBypass}' "${np}/dnsagent.go")" == 1 ]] ||
		die "kube-network-policies' queue rules changed shape"
	perl -0pi -e 's/queue := &expr\.Queue\{Num: uint16\(c\.config\.QueueID\)\}\n\tif c\.config\.FailOpen \{\n\t\tqueue\.Flag = expr\.QueueFlagBypass\n\t\}/queue := nfQueueTarget(uint16(c.config.QueueID), c.config.FailOpen)/g' "${np}/controller.go"
	sed -i 's|&expr.Queue{Num: uint16(n.nfQueueID), Flag: expr.QueueFlagBypass}|nfQueueTarget(uint16(n.nfQueueID), true)|' "${np}/dnsagent.go"
	! grep -q 'expr.Queue' "${np}/controller.go" "${np}/dnsagent.go" || die "kube-network-policies still uses nftables' queue"
	cat >"${np}/zz_nfqueue_target.go" <<'EOF'
package networkpolicy

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// nfQueueTarget sends the packet to NFQUEUE queue num through xtables' NFQUEUE target (revision 3,
// struct xt_NFQ_info_v3: queuenum, queues_total, flags; flag 1 = bypass when nobody listens),
// for kernels with nft_compat but without nftables' queue expression.
func nfQueueTarget(num uint16, bypass bool) expr.Any {
	info := make([]byte, 6)
	binary.NativeEndian.PutUint16(info[0:], num)
	binary.NativeEndian.PutUint16(info[2:], 1)
	if bypass {
		binary.NativeEndian.PutUint16(info[4:], 1)
	}
	raw := xt.Unknown(info)
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &raw}
}
EOF
	rm -f "$(edge_bin kube-network-policies "${v}")/.inputs-kube-network-policies-${v}"
	printf '%s\n' "${hash}" >"${src}/.prepared"
	printf '%s' "${src}"
}

# kube-network-policies: its main package is ./cmd (binary "cmd").
build_kube_network_policies() {
	local b="${CLUSTER_DIR}/builders/kube-network-policies" v=${KNP_VERSION} src
	check_pin "${b}/go.mod" "^require sigs.k8s.io/kube-network-policies ${v}\$"
	src=$(knp_source)
	go_build "kube-network-policies-${v}" "${src}" "$(edge_bin kube-network-policies "${v}")" "-s -w" "" ./cmd
}

edge_images() { printf '%s\n' "${TRAEFIK_IMAGE}" "${CM_IMAGE}" "${KNP_IMAGE}"; }

build_edge() {
	local start=${SECONDS}
	build_traefik
	build_cert_manager
	build_gateway_api
	build_kube_network_policies
	import_cached "${TRAEFIK_IMAGE}" '["/traefik"]' "traefik=$(edge_bin traefik "${TRAEFIK_VERSION}")/traefik"
	import_cached "${CM_IMAGE}" '["/controller"]' \
		"controller=$(edge_bin cert-manager "${CERT_MANAGER_VERSION}")/controller"
	import_cached "${KNP_IMAGE}" '["/bin/netpol"]' "bin/netpol=$(edge_bin kube-network-policies "${KNP_VERSION}")/cmd"
	if ((SECONDS - start > 2)); then log "edge built in $((SECONDS - start))s"; fi
}

# wait_for TRIES CMD...: run CMD every 2 s until it succeeds.
wait_for() {
	local n=$1
	shift
	for _ in $(seq 1 "${n}"); do "$@" >/dev/null 2>&1 && return 0; sleep 2; done
	return 1
}

# The edge in the cluster: CRDs, cert-manager, Traefik (NodePorts 30080/30443), the CA
# ClusterIssuer (Ready), kube-network-policies.
install_edge() {
	local start=${SECONDS} m="${KIND_DIR}/manifests"
	kctl apply --server-side -f "$(edge_bin gateway-api "${GATEWAY_API_VERSION}")/crds.yaml" \
		-f "$(edge_bin cert-manager "${CERT_MANAGER_VERSION}")/crds.yaml" >/dev/null
	kctl wait --for=condition=Established --timeout=60s crd/gateways.gateway.networking.k8s.io \
		crd/httproutes.gateway.networking.k8s.io crd/certificates.cert-manager.io crd/clusterissuers.cert-manager.io >/dev/null
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

edge_load_images() {
	local img
	for img in $(edge_images); do
		kind_ load docker-image --name "${CLUSTER_NAME}" "${img}" >/dev/null 2>&1 || die "kind load docker-image ${img} failed"
	done
}

# edge_smoke: the edge end to end in namespace edge-smoke (left in place to look at; deleted
# and made again on each run). The stand-in behind Service exchange-router-service; three
# certificates from the CA ClusterIssuer (an Ingress of class traefik, the seed's nginx Ingress
# with its rewrite, a Gateway through cert-manager's Gateway shim with an HTTPRoute); a client
# pod (curl of the node's Debian image) trusting only the CA gets 200 through Traefik's Service
# for each, and so does the node through NodePort 30443 on 127.0.0.1; then a NetworkPolicy that
# admits only the traefik namespace: the edge still answers, a pod going straight to the
# stand-in is refused.
edge_smoke() {
	local ns=edge-smoke start=${SECONDS} ip pod_ip node="${CLUSTER_NAME}-control-plane"
	kctl delete namespace "${ns}" --ignore-not-found --wait=true >/dev/null
	kctl create namespace "${ns}" >/dev/null
	kctl -n "${ns}" apply -f "${KIND_DIR}/manifests/backends.yaml" >/dev/null
	kctl -n "${ns}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: List
items:
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: exchange-router},
     spec: {selector: {matchLabels: {app: exchange-router}}, template: {metadata: {labels: {app: exchange-router}},
       spec: {containers: [{name: app, image: "${STANDIN_IMAGE}", imagePullPolicy: Never,
         env: [{name: SERVER_ADDR, value: "0.0.0.0:8080"}, {name: DATABASE_URL, value: "postgres://postgres:5432/db"},
               {name: REDIS_URL, value: "redis://redis:6379"}],
         ports: [{containerPort: 8080}], readinessProbe: {httpGet: {path: /api/v1/health, port: 8080}, periodSeconds: 1}}]}}}}
  - {apiVersion: v1, kind: Service, metadata: {name: exchange-router-service},
     spec: {selector: {app: exchange-router}, ports: [{port: 80, targetPort: 8080}]}}
  - apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: edge, annotations: {cert-manager.io/cluster-issuer: ${EDGE_CA_ISSUER}}}
    spec:
      ingressClassName: traefik
      tls: [{hosts: [edge.kind.test], secretName: edge-tls}]
      rules: [{host: edge.kind.test, http: {paths: [{path: /, pathType: Prefix,
        backend: {service: {name: exchange-router-service, port: {number: 80}}}}]}}]
  - apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: seed
      annotations: {nginx.ingress.kubernetes.io/rewrite-target: /\$2, cert-manager.io/cluster-issuer: ${EDGE_CA_ISSUER}}
    spec:
      ingressClassName: nginx
      tls: [{hosts: [seed.kind.test], secretName: seed-tls}]
      rules: [{host: seed.kind.test, http: {paths: [{path: /backend(/|$)(.*), pathType: ImplementationSpecific,
        backend: {service: {name: exchange-router-service, port: {number: 80}}}}]}}]
  - apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: edge, annotations: {cert-manager.io/cluster-issuer: ${EDGE_CA_ISSUER}}}
    spec:
      gatewayClassName: traefik
      listeners: [{name: https, protocol: HTTPS, port: 8443, hostname: gw.kind.test,
        tls: {mode: Terminate, certificateRefs: [{name: gw-tls}]}, allowedRoutes: {namespaces: {from: Same}}}]
  - apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: edge}
    spec:
      parentRefs: [{name: edge}]
      hostnames: [gw.kind.test]
      rules: [{matches: [{path: {type: PathPrefix, value: /}}], backendRefs: [{name: exchange-router-service, port: 80}]}]
EOF
	kctl -n "${ns}" rollout status deployment/exchange-router --timeout=180s >&2
	local c
	for c in edge-tls seed-tls gw-tls; do
		wait_for 60 kctl -n "${ns}" get certificate "${c}" ||
			die "cert-manager made no Certificate ${c} (log: kctl -n cert-manager logs deploy/cert-manager)"
	done
	kctl -n "${ns}" wait --for=condition=Ready --timeout=120s certificate/edge-tls certificate/seed-tls certificate/gw-tls >&2
	log "certificates issued $((SECONDS - start))s after the objects were applied"
	kctl -n "${ns}" get certificate >&2
	kctl -n cert-manager get secret "${EDGE_CA_ISSUER}" -o jsonpath='{.data.ca\.crt}' | base64 -d >"${STATE_DIR}/edge-ca.crt"
	kctl -n "${ns}" create configmap edge-ca --from-file=ca.crt="${STATE_DIR}/edge-ca.crt" >/dev/null
	ip=$(kctl -n traefik get service traefik -o jsonpath='{.spec.clusterIP}')
	pod_ip=$(kctl -n "${ns}" get pods -l app=exchange-router -o jsonpath='{.items[0].status.podIP}')
	edge_client "${ns}" before "${ip}" "${pod_ip}" || die "the edge client failed (before the NetworkPolicy)"
	log "the node, through NodePort 30443 on 127.0.0.1:"
	# (not docker cp: the node's /tmp is a tmpfs that docker cp writes beneath)
	docker exec -i "${node}" sh -c 'cat >/root/edge-ca.crt' <"${STATE_DIR}/edge-ca.crt"
	docker exec "${node}" curl -sS --fail --cacert /root/edge-ca.crt --resolve edge.kind.test:30443:127.0.0.1 \
		-w ' %{http_code} https://edge.kind.test:30443/api/v1/health\n' https://edge.kind.test:30443/api/v1/health >&2 ||
		die "the node got no 200 through NodePort 30443"
	kctl -n "${ns}" apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: exchange-router}
spec:
  podSelector: {matchLabels: {app: exchange-router}}
  policyTypes: [Ingress]
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: traefik}}}], ports: [{port: 8080}]}]
EOF
	sleep 3
	edge_client "${ns}" after "${ip}" "${pod_ip}" || die "the edge client failed (with the NetworkPolicy)"
	log "edge smoke test passed in $((SECONDS - start))s"
}

# edge_client NS PHASE TRAEFIK_IP POD_IP: a pod of the node's Debian image (curl) trusting only
# the kind CA; 200 through Traefik for the three hosts; straight to the pod: 200 before the
# NetworkPolicy, refused after it.
edge_client() {
	local ns=$1 phase=$2 ip=$3 pod_ip=$4 name="client-$2" expect=200 phase_out
	[[ "${phase}" == after ]] && expect=refused
	kctl -n "${ns}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: edge-client}}
spec:
  restartPolicy: Never
  volumes: [{name: ca, configMap: {name: edge-ca}}]
  containers:
    - name: curl
      image: registry.k8s.io/kube-proxy:${KUBE_VERSION}
      imagePullPolicy: Never
      volumeMounts: [{name: ca, mountPath: /ca}]
      command:
        - bash
        - -c
        - |
          set -u
          ok=0
          for u in https://edge.kind.test/api/v1/health https://seed.kind.test/backend/api/v1/health https://gw.kind.test/api/v1/health; do
            h=\${u#https://}; h=\${h%%/*}
            curl -sS --fail --max-time 10 --cacert /ca/ca.crt --resolve "\$h:443:${ip}" -w ' %{http_code} '"\$u"'\n' "\$u" || ok=1
          done
          if curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://${pod_ip}:8080/api/v1/health; then
            echo " straight to the pod: 200"; [ "${expect}" = 200 ] || ok=1
          else
            echo " straight to the pod: refused"; [ "${expect}" = refused ] || ok=1
          fi
          exit \$ok
EOF
	for _ in $(seq 1 90); do
		phase_out=$(kctl -n "${ns}" get pod "${name}" -o jsonpath='{.status.phase}')
		[[ "${phase_out}" == Succeeded || "${phase_out}" == Failed ]] && break
		sleep 1
	done
	log "client pod (${phase} the NetworkPolicy):"
	kctl -n "${ns}" logs "${name}" >&2
	[[ "${phase_out}" == Succeeded ]]
}

# Run edge.sh directly: kind.sh's functions and settings (sourced with `help`, which only prints
# its usage), then one of the steps above.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -euo pipefail
	# shellcheck source=../kind.sh
	source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/kind.sh" help 2>/dev/null
	go_env
	case "${1:-}" in
	build) ensure_docker; build_edge ;;
	load) ensure_docker; edge_load_images ;;
	install) install_edge ;;
	up) ensure_docker; build_edge; edge_load_images; install_edge ;;
	smoke) ensure_docker; edge_smoke ;;
	*) printf 'usage: %s build|load|install|up|smoke\n' "$0" >&2; exit 2 ;;
	esac
fi
