"""A continuous HTTPS client through the kind tier's edge, for the zero-failed-request tests.

A pod of the node's Debian image (kube-proxy's: bash and curl, never pulled) sends
`GET https://<host>/api/v1/health` through Traefik's Service every 20 ms, trusting only the kind
CA (cert-manager's ClusterIssuer exchange-platform-ca), and writes its cumulative counts to its log
once a second:

    counts <epoch seconds> sent=<n> failed=<n> streak=<n> [<why>=<n> ...]

where `why` is `http<code>` for an answer other than 200 and `curl<exit code>` when curl itself
failed (7: refused, 28: no answer within 15 s, 35/60: TLS). Each failure also gets a line of its own
(`failed <epoch> <why> <curl's message>`). A test takes `counts()` at its phase boundaries:

    with SteadyClient(kind, namespace, host) as steady:
        steady.wait_serving()
        before = steady.counts()
        ...  # a deploy, an eviction, a rollback
        phase = steady.counts() - before
        assert phase.failed == 0 and phase.sent > 100, phase

The edge helpers the one-shot clients of test_kind_edge.py use live here too.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

from conftest import ROOT, Cluster
from kubernetes import client

CA_ISSUER = "exchange-platform-ca"
KUBE_VERSION = next(
    line.split("=", 1)[1].strip()
    for line in (ROOT / "cluster/versions.env").read_text().splitlines()
    if line.startswith("KUBE_VERSION=")
)
# The node's Debian image: bash and curl, loaded in the node (never pulled).
CLIENT_IMAGE = f"registry.k8s.io/kube-proxy:{KUBE_VERSION}"
CA_CONFIGMAP = "edge-ca"


def edge_ip(kind: Cluster) -> str:
    """The ClusterIP of Traefik's Service (port 443 answers HTTPS for every route)."""
    return kind.core.read_namespaced_service("traefik", "traefik").spec.cluster_ip


def ca_configmap(kind: Cluster, namespace: str) -> None:
    """The ConfigMap edge-ca (ca.crt: the kind CA) in the namespace, unless it is there."""
    secret = kind.core.read_namespaced_secret(CA_ISSUER, "cert-manager")
    try:
        kind.core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=CA_CONFIGMAP),
                data={"ca.crt": base64.b64decode(secret.data["ca.crt"]).decode()},
            ),
        )
    except client.ApiException as error:
        if error.status != 409:
            raise


def client_pod(name: str, script: str, restart: str = "Never") -> dict[str, object]:
    """A pod running `script` with bash in the node's Debian image, the CA at /ca/ca.crt."""
    return {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "edge-client"}},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "volumes": [{"name": "ca", "configMap": {"name": CA_CONFIGMAP}}],
            "containers": [
                {
                    "name": "curl",
                    "image": CLIENT_IMAGE,
                    "imagePullPolicy": "Never",
                    "volumeMounts": [{"name": "ca", "mountPath": "/ca"}],
                    "command": ["bash", "-c", script],
                }
            ],
        },
    }


@dataclass(frozen=True)
class Counts:
    """Requests sent and failed (by why: http<code> or curl<exit code>) since the client began,
    or, as a difference of two, during a phase."""

    sent: int = 0
    failed: int = 0
    why: dict[str, int] = field(default_factory=dict)
    at: float = 0.0

    def __sub__(self, earlier: Counts) -> Counts:
        why = Counter(self.why)
        why.subtract(earlier.why)
        return Counts(
            self.sent - earlier.sent,
            self.failed - earlier.failed,
            {k: n for k, n in sorted(why.items()) if n},
            self.at,
        )

    def __str__(self) -> str:
        reasons = "".join(f" {k}={n}" for k, n in sorted(self.why.items()))
        return f"sent={self.sent} failed={self.failed}{reasons}"


# One request every INTERVAL seconds (plus curl's own time); a summary line once a second.
_SCRIPT = r"""
set -u
url='https://{host}{path}'
sent=0 failed=0 streak=0 last=$EPOCHSECONDS
declare -A why=()
report() {{
  local k s=''
  for k in "${{!why[@]}}"; do s+=" $k=${{why[$k]}}"; done
  echo "counts $EPOCHREALTIME sent=$sent failed=$failed streak=$streak$s"
}}
trap 'report; exit 0' TERM
while true; do
  code=$(curl -sS --connect-timeout {max_time} --max-time {max_time} --cacert /ca/ca.crt \
    --resolve '{host}:443:{ip}' -o /dev/null -w '%{{http_code}}' "$url" 2>/tmp/err)
  rc=$?
  sent=$((sent + 1))
  if [ "$rc" -eq 0 ] && [ "$code" = 200 ]; then
    streak=$((streak + 1))
  else
    failed=$((failed + 1)) streak=0
    if [ "$rc" -ne 0 ]; then k="curl$rc"; else k="http$code"; fi
    why[$k]=$(( ${{why[$k]:-0}} + 1 ))
    echo "failed $EPOCHREALTIME $k $(head -n 1 /tmp/err | head -c 200)"
  fi
  if [ "$EPOCHSECONDS" -ne "$last" ]; then last=$EPOCHSECONDS; report; fi
  sleep {interval}
done
"""
_COUNTS = re.compile(r"^counts (?P<at>[0-9.]+) sent=(\d+) failed=(\d+) streak=(\d+)(.*)$")


def _parse(line: str) -> tuple[Counts, int] | None:
    """A summary line's counts and its streak (requests answered 200 in a row), else None."""
    found = _COUNTS.match(line.strip())
    if not found:
        return None
    at, sent, failed, streak, rest = found.groups()
    why = {k: int(n) for k, n in (item.split("=") for item in rest.split())}
    return Counts(int(sent), int(failed), why, float(at)), int(streak)


class SteadyClient:
    """The client pod, from `with` to its end (then deleted); `counts()` at any moment."""

    def __init__(
        self,
        kind: Cluster,
        namespace: str,
        host: str,
        *,
        path: str = "/api/v1/health",
        interval: float = 0.02,
        max_time: float = 15,
    ) -> None:
        self.kind, self.namespace, self.host = kind, namespace, host
        self.name = f"steady-{uuid.uuid4().hex[:6]}"
        self._script = _SCRIPT.format(
            host=host, path=path, ip=edge_ip(kind), interval=interval, max_time=max_time
        )

    def __enter__(self) -> SteadyClient:
        ca_configmap(self.kind, self.namespace)
        self.kind.core.create_namespaced_pod(self.namespace, client_pod(self.name, self._script))
        for _attempt in range(120):
            pod = self.kind.core.read_namespaced_pod(self.name, self.namespace)
            if pod.status.phase == "Running":
                return self
            if pod.status.phase in ("Succeeded", "Failed"):
                break
            time.sleep(1)
        raise AssertionError(f"the steady client {self.name} is not running:\n{self.log()}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.kind.core.delete_namespaced_pod(self.name, self.namespace, grace_period_seconds=0)

    def log(self, tail: int | None = None) -> str:
        try:
            return self.kind.core.read_namespaced_pod_log(
                self.name, self.namespace, tail_lines=tail
            )
        except client.ApiException as error:
            return f"(no log: {error.status} {error.reason})"

    def _latest(self, after: float, timeout: float) -> tuple[Counts, int]:
        """The newest summary written at or after `after` (epoch seconds), waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log(tail=40).splitlines()
            parsed = [found for line in lines if (found := _parse(line))]
            if parsed and parsed[-1][0].at >= after:
                return parsed[-1]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the steady client {self.name} wrote no counts for {timeout}s:\n"
                    + self.log(tail=40)
                )
            time.sleep(0.5)

    def counts(self) -> Counts:
        """Everything sent and failed up to now (the summary written after this call)."""
        return self._latest(time.time(), timeout=30)[0]

    def wait_serving(self, in_a_row: int = 25, timeout: float = 180) -> Counts:
        """Wait until the last `in_a_row` requests were answered 200 (Traefik builds its route a
        moment after the rollout is done); the counts then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts, streak = self._latest(0, timeout=30)
            if streak >= in_a_row:
                return counts
            time.sleep(0.5)
        raise AssertionError(
            f"https://{self.host}/ never answered {in_a_row} times in a row in {timeout}s:\n"
            + self.log(tail=40)
        )

    def failures(self, since: float = 0.0) -> list[str]:
        """The failed requests' own lines (when, why, curl's message) since `since`."""
        return [
            line
            for line in self.log().splitlines()
            if line.startswith("failed ") and float(line.split()[1]) >= since
        ]


# A phase lasts 10 s or more: a client that stalled sends far fewer.
MIN_SENT = 25


class Phases:
    """What one client saw, phase by phase: `end(name)` closes a phase, prints its counts (and
    its first failures) and returns them; `failures()` lists the phases that lost a request or
    sent fewer than `min_sent` (a client that stalled)."""

    def __init__(self, steady: SteadyClient) -> None:
        self.steady = steady
        self.mark = steady.counts()
        self.counted: list[tuple[str, Counts]] = []

    def end(self, name: str) -> Counts:
        now = self.steady.counts()
        phase, since, self.mark = now - self.mark, self.mark.at, now
        self.counted.append((name, phase))
        print(f"{name}: {phase} in {now.at - since:.0f} s")
        for line in (self.steady.failures(since) if phase.failed else [])[:10]:
            print(f"  {line}")
        return phase

    def failures(self, min_sent: int = MIN_SENT) -> list[str]:
        return [
            f"{name}: {counts}"
            for name, counts in self.counted
            if counts.failed or counts.sent < min_sent
        ]
