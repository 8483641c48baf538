#!/usr/bin/env bash
# Smoke test of the kind tier's edge, end to end, on this checkout's kind cluster (the one
# `kind.sh up` picked; inside `kind.sh with`, the held one). In a namespace and under host names
# of its own (a suffix per run, so two runs on one cluster never meet), removed when it passes and
# kept to look at when it fails: the stand-in behind Service exchange-router-service; three
# certificates from the CA ClusterIssuer (an Ingress of class traefik, the seed's nginx Ingress
# with its rewrite, a Gateway through cert-manager's Gateway shim with an HTTPRoute); a client pod
# (curl of the node's Debian image) trusting only the CA gets 200 through Traefik's Service for
# each, and so does the node through NodePort 30443 on 127.0.0.1; the same client also gets 200
# straight from the stand-in's pod. Then a NetworkPolicy that admits only the traefik namespace:
# the edge still answers and the same straight request is blocked (a timeout or a refusal, no
# other failure). Then the edge's metrics in Prometheus (namespace monitoring), with a control
# (metrics_smoke). `make test` runs it (tests/integration/test_kind_smoke.py, in the kind tier).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../kind.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/kind.sh"
# shellcheck disable=SC2034 # the log lines of lib.sh say it
LOG_PREFIX=kind-smoke
TMP=$(mktemp -d)
RUN_ID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
NAMESPACE="edge-smoke-${RUN_ID}"

pod_finished() {
	[[ "$(kctl -n "$1" get pod "$2" -o jsonpath='{.status.phase}')" =~ ^(Succeeded|Failed)$ ]]
}

edge_smoke() {
	local ns=$1 id=$2 start=${SECONDS} ip pod_ip node="${CLUSTER_NAME}-control-plane" c
	local ca="${TMP}/edge-ca.crt" edge="edge-${id}.kind.test" seed="seed-${id}.kind.test" gw="gw-${id}.kind.test"
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
      tls: [{hosts: [${edge}], secretName: edge-tls}]
      rules: [{host: ${edge}, http: {paths: [{path: /, pathType: Prefix,
        backend: {service: {name: exchange-router-service, port: {number: 80}}}}]}}]
  - apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: seed
      annotations: {nginx.ingress.kubernetes.io/rewrite-target: /\$2, cert-manager.io/cluster-issuer: ${EDGE_CA_ISSUER}}
    spec:
      ingressClassName: nginx
      tls: [{hosts: [${seed}], secretName: seed-tls}]
      rules: [{host: ${seed}, http: {paths: [{path: /backend(/|$)(.*), pathType: ImplementationSpecific,
        backend: {service: {name: exchange-router-service, port: {number: 80}}}}]}}]
  - apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: edge, annotations: {cert-manager.io/cluster-issuer: ${EDGE_CA_ISSUER}}}
    spec:
      gatewayClassName: traefik
      listeners: [{name: https, protocol: HTTPS, port: 8443, hostname: ${gw},
        tls: {mode: Terminate, certificateRefs: [{name: gw-tls}]}, allowedRoutes: {namespaces: {from: Same}}}]
  - apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: edge}
    spec:
      parentRefs: [{name: edge}]
      hostnames: [${gw}]
      rules: [{matches: [{path: {type: PathPrefix, value: /}}], backendRefs: [{name: exchange-router-service, port: 80}]}]
EOF
	kctl -n "${ns}" rollout status deployment/exchange-router --timeout=180s >&2
	for c in edge-tls seed-tls gw-tls; do
		wait_for 120 "Certificate ${c}" kctl -n "${ns}" get certificate "${c}" ||
			die "cert-manager made no Certificate ${c} (log: kctl -n cert-manager logs deploy/cert-manager)"
	done
	kctl -n "${ns}" wait --for=condition=Ready --timeout=120s certificate/edge-tls certificate/seed-tls certificate/gw-tls >&2
	log "certificates issued $((SECONDS - start))s after the objects were applied"
	kctl -n "${ns}" get certificate >&2
	kctl -n cert-manager get secret "${EDGE_CA_ISSUER}" -o jsonpath='{.data.ca\.crt}' | base64 -d >"${ca}"
	kctl -n "${ns}" create configmap edge-ca --from-file=ca.crt="${ca}" >/dev/null
	ip=$(kctl -n traefik get service traefik -o jsonpath='{.spec.clusterIP}')
	pod_ip=$(kctl -n "${ns}" get pods -l app=exchange-router -o jsonpath='{.items[0].status.podIP}')
	edge_client "${ns}" before "${ip}" "${pod_ip}" "${edge}" "${seed}" "${gw}" ||
		die "the edge client failed (before the NetworkPolicy: the straight request is the control)"
	log "the node, through NodePort 30443 on 127.0.0.1:"
	# (not docker cp: the node's /tmp is a tmpfs that docker cp writes beneath)
	docker exec -i "${node}" sh -c "cat >/root/edge-ca-${id}.crt" <"${ca}"
	docker exec "${node}" curl -sS --fail --cacert "/root/edge-ca-${id}.crt" --resolve "${edge}:30443:127.0.0.1" \
		-w " %{http_code} https://${edge}:30443/api/v1/health\n" "https://${edge}:30443/api/v1/health" >&2 ||
		die "the node got no 200 through NodePort 30443"
	docker exec "${node}" rm -f "/root/edge-ca-${id}.crt"
	kctl -n "${ns}" apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: exchange-router}
spec:
  podSelector: {matchLabels: {app: exchange-router}}
  policyTypes: [Ingress]
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: traefik}}}], ports: [{port: 8080}]}]
EOF
	# kube-network-policies judges each new connection by the policies its informer has seen:
	# a moment for it to see this one.
	sleep 3
	edge_client "${ns}" after "${ip}" "${pod_ip}" "${edge}" "${seed}" "${gw}" ||
		die "the edge client failed (with the NetworkPolicy)"
	log "edge smoke test passed in $((SECONDS - start))s"
}

# curl_pod NS NAME < SCRIPT: a client pod NAME in NS (curl in the kube-proxy image, the kind CA
# at /ca/ca.crt) that runs SCRIPT with bash once.
curl_pod() {
	local ns=$1 name=$2 script
	script=$(sed 's/^/          /')
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
${script}
EOF
}

# edge_client NS PHASE TRAEFIK_IP POD_IP EDGE_HOST SEED_HOST GW_HOST: a pod of the node's Debian
# image (curl) trusting only the kind CA; 200 through Traefik for the three hosts; straight to the
# pod: 200 before the NetworkPolicy (the control: the same client, the same request), blocked
# after it: curl timed out (exit 28) or was refused (7); any other failure fails the check.
edge_client() {
	local ns=$1 phase=$2 ip=$3 pod_ip=$4 edge=$5 seed=$6 gw=$7 name="client-$2" expect=200
	[[ "${phase}" == after ]] && expect=blocked
	curl_pod "${ns}" "${name}" <<EOF
set -u
ok=0
for u in https://${edge}/api/v1/health https://${seed}/backend/api/v1/health https://${gw}/api/v1/health; do
  h=\${u#https://}; h=\${h%%/*}
  curl -sS --fail --max-time 10 --cacert /ca/ca.crt --resolve "\$h:443:${ip}" -w ' %{http_code} '"\$u"'\n' "\$u" || ok=1
done
code=\$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://${pod_ip}:8080/api/v1/health) || code="curl exit \$?"
case "\$code" in "curl exit 28") code=timeout ;; "curl exit 7") code=refused ;; esac
echo " straight to the pod: \$code"
case "${expect}:\$code" in 200:200 | blocked:timeout | blocked:refused) ;; *) ok=1 ;; esac
exit \$ok
EOF
	wait_for 90 "client pod ${name} to finish" pod_finished "${ns}" "${name}" || true
	log "client pod (${phase} the NetworkPolicy):"
	kctl -n "${ns}" logs "${name}" >&2 || true
	[[ "$(kctl -n "${ns}" get pod "${name}" -o jsonpath='{.status.phase}')" == Succeeded ]]
}

# promql QUERY: the result vector of a Prometheus instant query, one line per series:
# {labels as JSON} value. Nothing when the query matches no series.
promql() {
	local q
	q=$(jq -rn --arg q "$1" '$q | @uri')
	prometheus_api "query?query=${q}" | jq -r '.data.result[] | "\(.metric | tojson) \(.value[1])"'
}

# code_count SERVICE_REGEX CODE: traefik_service_requests_total summed over method and protocol
# for the Traefik services matching SERVICE_REGEX with that code; empty when there is none.
code_count() {
	promql "sum(traefik_service_requests_total{service=~\"$1\",code=\"$2\"})" | awk '{print $NF}'
}

# metrics_smoke NS ID: Prometheus (namespace monitoring) counts the edge's requests per backend.
# A second backend, the stand-in with ERROR_RATE=${SMOKE_ERROR_RATE} (every 20th request a 500),
# behind an HTTPRoute on the smoke's Gateway (requests with header x-smoke-backend: faulty).
# Control: before a request reaches it, the query for it is empty while the same query for this
# namespace's other backend (exchange-router-service, which edge_smoke called) has code 200
# counts, so the empty answer is Prometheus's, not a broken query or proxy. Then a client pod
# sends requests until the backend has answered ${SMOKE_REQUESTS} (200 or 500; until Traefik has
# the new route's endpoints it answers 503 itself, which is not the backend's, and the cold CI run
# saw 10 such); Prometheus must count those answers, the 500s in the share ERROR_RATE makes (the
# stand-in fails exactly every 1/ERROR_RATE-th request; within one).
SMOKE_ERROR_RATE=0.05
SMOKE_REQUESTS=200
metrics_smoke() {
	local ns=$1 id=$2 start=${SECONDS} ip gw svc ok200 want500 series n200 n500
	gw="gw-${id}.kind.test"
	kctl -n "${ns}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: List
items:
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: faulty},
     spec: {selector: {matchLabels: {app: faulty}}, template: {metadata: {labels: {app: faulty}},
       spec: {containers: [{name: app, image: "${STANDIN_IMAGE}", imagePullPolicy: Never,
         env: [{name: SERVER_ADDR, value: "0.0.0.0:8080"}, {name: DATABASE_URL, value: "postgres://postgres:5432/db"},
               {name: REDIS_URL, value: "redis://redis:6379"}, {name: ERROR_RATE, value: "${SMOKE_ERROR_RATE}"}],
         ports: [{containerPort: 8080}], readinessProbe: {httpGet: {path: /api/v1/health, port: 8080}, periodSeconds: 1}}]}}}}
  - {apiVersion: v1, kind: Service, metadata: {name: faulty},
     spec: {selector: {app: faulty}, ports: [{port: 80, targetPort: 8080}]}}
  - apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: faulty}
    spec:
      parentRefs: [{name: edge}]
      hostnames: [${gw}]
      rules: [{matches: [{headers: [{name: x-smoke-backend, value: faulty}]}], backendRefs: [{name: faulty, port: 80}]}]
EOF
	kctl -n "${ns}" rollout status deployment/faulty --timeout=180s >&2
	# Traefik names an HTTPRoute's backend httproute-<ns>-<route>-gw-<gateway's ns>-<gateway>-ep-
	# <entry point>-<rule>-<hash>-svc-<ns>-<Service>-<n>@kubernetesgateway.
	svc="httproute-${ns}-faulty-gw-${ns}-edge-ep-.*-svc-${ns}-faulty-.*@kubernetesgateway"
	ok200=$(code_count "httproute-${ns}-edge-gw-${ns}-edge-ep-.*-svc-${ns}-exchange-router-service-.*@kubernetesgateway" 200)
	log "Prometheus, before any request to the faulty backend (the control):"
	log "  HTTPRoute edge's backend exchange-router-service (called by the edge smoke), code 200: ${ok200:-none}"
	log "  HTTPRoute faulty's backend (service=~\"${svc}\"): $(promql "traefik_service_requests_total{service=~\"${svc}\"}" | wc -l) series"
	((${ok200:-0} >= 1)) ||
		die "control: Prometheus has no code 200 count for HTTPRoute edge's backend, which edge_smoke called"
	[[ -z "$(promql "traefik_service_requests_total{service=~\"${svc}\"}")" ]] ||
		die "control: Prometheus counts requests of the faulty backend before any was sent"
	ip=$(kctl -n traefik get service traefik -o jsonpath='{.spec.clusterIP}')
	curl_pod "${ns}" client-faulty <<EOF
answered=0 sent=0
while [ \$answered -lt ${SMOKE_REQUESTS} ] && [ \$sent -lt $((SMOKE_REQUESTS + 100)) ]; do
  code=\$(curl -sS -o /dev/null --max-time 10 --cacert /ca/ca.crt --resolve ${gw}:443:${ip} \\
    -H 'x-smoke-backend: faulty' -w '%{http_code}' https://${gw}/api/v1/health)
  sent=\$((sent + 1))
  echo "\$code"
  case "\$code" in 200|500) answered=\$((answered + 1)) ;; esac
done | sort | uniq -c | sed 's/^/ client saw /'
EOF
	wait_for 120 "client pod client-faulty to finish" pod_finished "${ns}" client-faulty || true
	kctl -n "${ns}" logs client-faulty >&2 || true
	want500=$(awk -v n="${SMOKE_REQUESTS}" -v r="${SMOKE_ERROR_RATE}" 'BEGIN {print int(n * r)}')
	# Traefik counts at once; Prometheus has the counts after its next scrape (every 5 s).
	wait_for 60 "Prometheus to count the ${SMOKE_REQUESTS} requests" all_counted "${svc}" || true
	series=$(promql "traefik_service_requests_total{service=~\"${svc}\"}")
	log "Prometheus, after ${SMOKE_REQUESTS} requests through the edge to the faulty backend (ERROR_RATE=${SMOKE_ERROR_RATE}):"
	printf '  %s\n' "${series//$'\n'/$'\n'  }" >&2
	n200=$(code_count "${svc}" 200)
	n500=$(code_count "${svc}" 500)
	log "  code 200: ${n200:-none}, code 500: ${n500:-none} (want ${want500} 500s of ${SMOKE_REQUESTS})"
	[[ -n "${n200}" && -n "${n500}" ]] || die "Prometheus has no code 200 or no code 500 count for the faulty backend"
	((n200 + n500 == SMOKE_REQUESTS)) || die "Prometheus counts $((n200 + n500)) requests, not ${SMOKE_REQUESTS}"
	((n500 >= want500 - 1 && n500 <= want500 + 1)) ||
		die "Prometheus counts ${n500} 500s, not about ${want500} (ERROR_RATE=${SMOKE_ERROR_RATE} of ${SMOKE_REQUESTS})"
	log "metrics smoke test passed in $((SECONDS - start))s"
}

# all_counted SERVICE_REGEX: Prometheus's code 200 and 500 counts add up to SMOKE_REQUESTS.
all_counted() {
	local n200 n500
	n200=$(code_count "$1" 200)
	n500=$(code_count "$1" 500)
	((${n200:-0} + ${n500:-0} >= SMOKE_REQUESTS))
}

# Keep what a failed run made, to look at; remove what a passed one made.
finish() {
	local status=$?
	rm -rf "${TMP}"
	if ((status == 0)); then
		kctl delete namespace "${NAMESPACE}" --wait=false >/dev/null 2>&1 || true
	else
		log "FAILED; namespace ${NAMESPACE} is kept to look at (kubectl --kubeconfig ${KUBECONFIG_PATH} delete namespace ${NAMESPACE})"
	fi
}

go_env
ensure_docker
use_checkout_cluster
[[ -f "${KUBECONFIG_PATH}" ]] || die "no kind cluster ${CLUSTER_NAME} (run cluster/kind.sh up first)"
trap finish EXIT
edge_smoke "${NAMESPACE}" "${RUN_ID}"
metrics_smoke "${NAMESPACE}" "${RUN_ID}"
