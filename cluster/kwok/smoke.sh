#!/usr/bin/env bash
# Smoke test of the kwok tier (cluster/kwok.sh): brings the cluster up (idempotent) and checks
# Deployment/Service/EndpointSlice/HPA, PodSecurity admission, RBAC with a signed user
# kubeconfig, the never-ready fault injection, an apiserver outage and a restart after every
# component was killed (then again with its apiserver port taken). Every refusal it checks has
# its control: the same request succeeding where it should (a Ready pod beside the never-ready
# one, a compliant pod beside the refused one, the user allowed once bound, the apiserver back).
# Its namespaces are its own (a suffix per run) and removed at the end; the cluster stays up.
# KWOK_CLUSTER_NAME chooses the cluster. The outage stops that cluster's apiserver, so `make test`
# (`make smoke-kwok`) runs it as `cluster/kwok.sh throwaway cluster/kwok/smoke.sh`: on a cluster
# of its own, never the shared one another checkout's tests may be using.
set -euo pipefail

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "${CLUSTER_DIR}/lib.sh"
LOG_PREFIX=smoke
CLUSTER="${CLUSTER_DIR}/kwok.sh"
RUN_ID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
NS="smoke-test-${RUN_ID}"
NS_RESTRICTED="smoke-test-restricted-${RUN_ID}"
GROUP="smoke-testers-${RUN_ID}"
TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

passed=0
failed=0
ok() { printf 'ok   %s\n' "$*"; passed=$((passed + 1)); }
fail() { printf 'FAIL %s\n' "$*"; failed=$((failed + 1)); }
k() { "${CLUSTER}" kubectl "$@"; }

kubeconfig="$("${CLUSTER}" up | tail -n 1)"
if [[ -f "${kubeconfig}" ]]; then ok "up printed kubeconfig ${kubeconfig}"; else fail "up printed no kubeconfig path"; fi

k create namespace "${NS}" >/dev/null

# --- Deployment + Service + HPA ------------------------------------------
k -n "${NS}" apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        ports:
        - containerPort: 8080
        resources:
          requests: {cpu: 100m, memory: 64Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 70}
EOF
if k -n "${NS}" wait deployment/web --for=condition=Available --timeout=60s >/dev/null &&
	k -n "${NS}" rollout status deployment/web --timeout=60s >/dev/null; then
	ok "Deployment web Available and rolled out"
else
	fail "Deployment web not Available"
fi
ready=$(k -n "${NS}" get pods -l app=web -o jsonpath='{range .items[*]}{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}/{.spec.nodeName}{"\n"}{end}')
if [[ "$(grep -c '^Running/True/node-' <<<"${ready}")" -eq 2 ]]; then
	ok "2 pods Running+Ready on kwok nodes: $(tr '\n' ' ' <<<"${ready}")"
else
	fail "pods not Running+Ready on kwok nodes: ${ready}"
fi
endpoints_ready() {
	[[ "$(k -n "${NS}" get endpointslices -l kubernetes.io/service-name=web \
		-o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c '^true$')" -eq 2 ]]
}
if wait_for 30 "2 ready endpoints" endpoints_ready; then
	ok "EndpointSlice for Service web lists 2 ready endpoints"
else
	fail "EndpointSlice for Service web incomplete"
fi
if k -n "${NS}" get hpa web >/dev/null; then ok "HPA accepted"; else fail "HPA missing"; fi

# --- never-ready fault injection ------------------------------------------
k -n "${NS}" patch deployment web --type merge -p \
	'{"spec":{"progressDeadlineSeconds":10,"template":{"metadata":{"annotations":{"exchange-platform.test/never-ready":"true"}}}}}' >/dev/null
never_ready_pod_running() {
	k -n "${NS}" get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.annotations.exchange-platform\.test/never-ready}/{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
		grep -q '^true/Running/False$'
}
if wait_for 30 "the annotated pod Running/NotReady" never_ready_pod_running; then
	ok "annotated pod is Running but not Ready"
else
	fail "annotated pod did not reach Running/NotReady"
fi
if k -n "${NS}" rollout status deployment/web --timeout=40s >/dev/null 2>&1; then
	fail "rollout of never-ready pods unexpectedly succeeded"
else
	ok "rollout of never-ready pods fails (ProgressDeadlineExceeded)"
fi
k -n "${NS}" rollout undo deployment/web >/dev/null
if k -n "${NS}" rollout status deployment/web --timeout=60s >/dev/null; then
	ok "rollout undo recovers"
else
	fail "rollout undo did not recover"
fi

# --- PodSecurity admission ------------------------------------------------
k create namespace "${NS_RESTRICTED}" >/dev/null
k label namespace "${NS_RESTRICTED}" pod-security.kubernetes.io/enforce=restricted >/dev/null
# The control first: the same pod with the restricted level's settings is admitted.
restricted='{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"x","image":"registry.invalid/x:1","securityContext":{"allowPrivilegeEscalation":false,
  "capabilities":{"drop":["ALL"]}}}]}}'
if out=$(k -n "${NS_RESTRICTED}" run good --image=registry.invalid/x:1 --restart=Never --overrides="${restricted}" 2>&1); then
	ok "restricted namespace admits a compliant pod"
else
	fail "compliant pod refused in restricted namespace: ${out}"
fi
if out=$(k -n "${NS_RESTRICTED}" run bad --image=registry.invalid/x:1 --restart=Never 2>&1); then
	fail "non-compliant pod admitted in restricted namespace"
else
	if grep -q 'violates PodSecurity' <<<"${out}"; then
		ok "restricted namespace rejects non-compliant pod"
	else
		fail "unexpected error: ${out}"
	fi
fi

# --- user kubeconfig + RBAC -----------------------------------------------
"${CLUSTER}" user-kubeconfig alice "${GROUP}" "${TMP}/alice.yaml" 2>/dev/null
ku() { "${CLUSTER}" kubectl --kubeconfig "${TMP}/alice.yaml" "$@"; }
if out=$(ku -n "${NS}" get pods 2>&1); then
	fail "user alice could list pods without RBAC"
else
	if grep -q 'Forbidden' <<<"${out}"; then ok "user alice Forbidden without RBAC"; else fail "unexpected: ${out}"; fi
fi
k -n "${NS}" create rolebinding smoke-view --clusterrole=view --group="${GROUP}" >/dev/null
if wait_for 10 "the RoleBinding to apply" ku -n "${NS}" get pods; then
	ok "user alice allowed after binding group ${GROUP} to view"
else
	fail "user alice still denied after RoleBinding"
fi
whoami=$(ku auth whoami -o jsonpath='{.status.userInfo.username}/{.status.userInfo.groups}')
if [[ "${whoami}" == alice/* && "${whoami}" == *"${GROUP}"* ]]; then ok "whoami: ${whoami}"; else fail "whoami: ${whoami}"; fi

# --- apiserver outage -----------------------------------------------------
"${CLUSTER}" stop-apiserver 2>/dev/null
if k get --raw /readyz >/dev/null 2>&1; then fail "apiserver still answers after stop"; else ok "apiserver down after stop-apiserver"; fi
etcd_pid=$(cat "$(dirname "${kubeconfig}")/pids/etcd.pid")
if kill -0 "${etcd_pid}"; then ok "etcd still running during outage"; else fail "etcd stopped"; fi
"${CLUSTER}" start-apiserver 2>/dev/null
if k get --raw /readyz >/dev/null 2>&1 && k -n "${NS}" get deployment web >/dev/null; then
	ok "apiserver back after start-apiserver; state preserved"
else
	fail "apiserver not back"
fi

# --- a stopped cluster; one whose port another process took while it was stopped ------------
pids_dir="$(dirname "${kubeconfig}")/pids"
apiserver_down() { ! k get --raw /readyz >/dev/null 2>&1; }
# As a stopped machine leaves it: every component killed, its pid files left behind.
kill_all() {
	local f
	for f in "${pids_dir}"/*.pid; do kill -KILL "$(<"${f}")" 2>/dev/null || true; done
	wait_for 30 "the apiserver to go" apiserver_down
}
kill_all
if out=$("${CLUSTER}" up 2>&1) && grep -q 'up (restart)' <<<"${out}" && k -n "${NS}" get deployment web >/dev/null; then
	ok "up restarts a killed cluster; state preserved"
else
	fail "up after a kill: ${out}"
fi
k delete namespace "${NS}" "${NS_RESTRICTED}" --wait=false >/dev/null
kill_all
port=$(sed -nE 's/^  kubeApiserverPort: ([0-9]+)$/\1/p' "$(dirname "${kubeconfig}")/kwok.yaml")
python3 -c 'import socket, sys, time
s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
time.sleep(600)' "${port}" &
squatter=$!
squatting() { (exec 3<>"/dev/tcp/127.0.0.1/${port}"); }
wait_for 10 "a listener on port ${port}" squatting
if out=$("${CLUSTER}" up 2>&1) && grep -q "port ${port} of stopped cluster" <<<"${out}" && k get --raw /readyz >/dev/null; then
	ok "up recreates a stopped cluster whose apiserver port ${port} another process took"
else
	fail "up with port ${port} taken: ${out}"
fi
kill "${squatter}"

printf '%d passed, %d failed\n' "${passed}" "${failed}"
((failed == 0))
