"""Argo Rollouts' canary on kind (issue 26), side by side with ours (test_kind_canary.py): the same
stand-in pods (the release's own pod template, read from a plain deploy of it), the same bad
version (ERROR_RATE=0.05: every 20th request fails) and good one (a harmless env change), the
same steps (20% for 25 s, 50% for 25 s), the same continuous HTTPS client through Traefik and the
same success-rate bound (99%) on the same Traefik metrics through the tier's Prometheus. Argo's
own traffic routing for Traefik: an IngressRoute to a weighted TraefikService whose stable and
canary Services' weights the controller (cluster/kind/manifests/argo-rollouts.yaml) sets; its
analysis is a background AnalysisRun of a prometheus AnalysisTemplate, which runs every 5 s from
20 s after the canary starts (ours checks at the end of each step's pause). Prints time to abort,
the client's failed requests and time to promote, the figures BENCHMARKS.md compares with ours
(run both files in one pytest run for one cluster's figures)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Cluster, poll
from kubernetes import client
from steady_client import CA_ISSUER, Counts, SteadyClient
from test_kind_canary import STEPS, CanaryRelease, canary_values

pytestmark = pytest.mark.kind

ARGO = ("argoproj.io", "v1alpha1")
TRAEFIK = ("traefik.io", "v1alpha1")
NAME, STABLE, CANARY = "argo-router", "argo-stable", "argo-canary"
# The tier's Prometheus as a pod reaches it (the controller runs the analysis in the cluster).
PROMETHEUS = "http://prometheus.monitoring.svc:9090"
WINDOW = 20
MIN_REQUESTS = 10


def _create(kind: Cluster, namespace: str, api: tuple[str, str], plural: str, body: Any) -> None:
    kind.custom.create_namespaced_custom_object(*api, namespace, plural, body)


def _get(kind: Cluster, namespace: str, api: tuple[str, str], plural: str, name: str) -> Any:
    return kind.custom.get_namespaced_custom_object(*api, namespace, plural, name)


def analysis_template(namespace: str) -> dict[str, Any]:
    """Our analysis' bound, as Argo's: the canary Service's share of non-5xx requests over the
    last WINDOW seconds, at least 99%; fewer than MIN_REQUESTS is no result (an error, which Argo
    retries, never a pass); one failed measurement fails the run."""
    requests = f'traefik_service_requests_total{{service=~"{namespace}-{CANARY}-.+@kubernetescrd"'
    query = (
        f'sum(increase({requests},code!~"5.."}}[{WINDOW}s])) / '
        f"(sum(increase({requests}}}[{WINDOW}s])) >= {MIN_REQUESTS})"
    )
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "success-rate"},
        "spec": {
            "metrics": [
                {
                    "name": "success-rate",
                    "initialDelay": f"{WINDOW}s",
                    "interval": "5s",
                    "failureLimit": 0,
                    "successCondition": "result[0] >= 0.99",
                    "provider": {"prometheus": {"address": PROMETHEUS, "query": query}},
                }
            ]
        },
    }


def edge_objects(namespace: str, host: str, port: int) -> list[tuple[tuple[str, str], str, Any]]:
    """Certificate (the kind CA's), weighted TraefikService (stable 100, canary 0) and the
    IngressRoute to it on websecure."""
    return [
        (
            ("cert-manager.io", "v1"),
            "certificates",
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": "argo-tls"},
                "spec": {
                    "secretName": "argo-tls",
                    "dnsNames": [host],
                    "issuerRef": {"kind": "ClusterIssuer", "name": CA_ISSUER},
                },
            },
        ),
        (
            TRAEFIK,
            "traefikservices",
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "TraefikService",
                "metadata": {"name": NAME},
                "spec": {
                    "weighted": {
                        "services": [
                            {"name": STABLE, "port": port, "weight": 100},
                            {"name": CANARY, "port": port, "weight": 0},
                        ]
                    }
                },
            },
        ),
        (
            TRAEFIK,
            "ingressroutes",
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "IngressRoute",
                "metadata": {"name": NAME},
                "spec": {
                    "entryPoints": ["websecure"],
                    "routes": [
                        {
                            "kind": "Rule",
                            "match": f"Host(`{host}`)",
                            "services": [{"name": NAME, "kind": "TraefikService"}],
                        }
                    ],
                    "tls": {"secretName": "argo-tls"},
                },
            },
        ),
    ]


def rollout(namespace: str, template: dict[str, Any]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for step in STEPS:
        steps += [{"setWeight": step["weight"]}, {"pause": {"duration": f"{step['pause']}s"}}]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": NAME},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": NAME}},
            "template": template,
            "strategy": {
                "canary": {
                    "stableService": STABLE,
                    "canaryService": CANARY,
                    "trafficRouting": {"traefik": {"weightedTraefikServiceName": NAME}},
                    "analysis": {"templates": [{"templateName": "success-rate"}]},
                    "steps": steps,
                }
            },
        },
    }


def release_template(kind: Cluster, namespace: str, host: str) -> tuple[dict[str, Any], int]:
    """Our release's pod template (a plain deploy of test_kind_canary's values: 2 pods of 100m,
    preStop 5 s), labelled for the Rollout, and its Service's port; the release is then scaled to
    0 so only Argo's pods serve."""
    values = canary_values(kind, namespace, host)
    values.pop("exchange_router_canary")
    first = CanaryRelease(kind, namespace, values).deploy()
    assert first.ok, first.output
    deployment = kind.apps.read_namespaced_deployment("exchange-router-deployment", namespace)
    template = kind.api.sanitize_for_serialization(deployment.spec.template)
    template["metadata"] = {"labels": {"app": NAME}}
    kind.apps.patch_namespaced_deployment_scale(
        "exchange-router-deployment", namespace, {"spec": {"replicas": 0}}
    )
    service = kind.core.read_namespaced_service("exchange-router-service", namespace)
    return template, service.spec.ports[0].port


def services(kind: Cluster, namespace: str, port: int, target: Any) -> None:
    for name in (STABLE, CANARY):
        kind.core.create_namespaced_service(
            namespace,
            client.V1Service(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1ServiceSpec(
                    selector={"app": NAME},
                    ports=[client.V1ServicePort(name="http", port=port, target_port=target)],
                ),
            ),
        )


def weights(kind: Cluster, namespace: str) -> dict[str, int]:
    found = _get(kind, namespace, TRAEFIK, "traefikservices", NAME)
    return {s["name"]: s.get("weight", 1) for s in found["spec"]["weighted"]["services"]}


def status(kind: Cluster, namespace: str) -> dict[str, Any]:
    return _get(kind, namespace, ARGO, "rollouts", NAME).get("status", {})


def aborted(kind: Cluster, namespace: str) -> bool:
    return bool(status(kind, namespace).get("abort")) and weights(kind, namespace)[CANARY] == 0


def promoted(kind: Cluster, namespace: str) -> bool:
    found = status(kind, namespace)
    return (
        found.get("phase") == "Healthy"
        and found.get("stableRS") == found.get("currentPodHash")
        and weights(kind, namespace) == {STABLE: 100, CANARY: 0}
    )


def set_env(kind: Cluster, namespace: str, template: dict[str, Any], name: str, value: str) -> None:
    """A new revision of the Rollout: the release's template with one env var more."""
    container = dict(template["spec"]["containers"][0])
    container["env"] = [*(container.get("env") or []), {"name": name, "value": value}]
    kind.custom.patch_namespaced_custom_object(
        *ARGO,
        namespace,
        "rollouts",
        NAME,
        {"spec": {"template": {"spec": {"containers": [container]}}}},
    )


def analysis_runs(kind: Cluster, namespace: str) -> list[tuple[str, list[str]]]:
    """Each AnalysisRun's phase and measured success rates, oldest first."""
    runs = kind.custom.list_namespaced_custom_object(*ARGO, namespace, "analysisruns")["items"]
    runs.sort(key=lambda r: r["metadata"]["creationTimestamp"])
    return [
        (
            r.get("status", {}).get("phase", ""),
            [
                f"{m.get('phase')}:{m.get('value', '')}"
                for result in r.get("status", {}).get("metricResults", [])
                for m in result.get("measurements", [])
            ],
        )
        for r in runs
    ]


def timed_until(
    kind: Cluster, namespace: str, done: Callable[[Cluster, str], bool], seconds: float = 240
) -> float:
    """Seconds until done(kind, namespace), polled twice a second (conftest.poll)."""
    start = time.monotonic()
    assert poll(lambda: done(kind, namespace), bool, int(seconds * 2), 0.5), (
        f"not {done.__name__} after {seconds} s: {status(kind, namespace)}"
    )
    return time.monotonic() - start


def test_argo_rollouts_aborts_the_bad_version_and_promotes_the_good_one_on_the_same_edge(
    kind: Cluster, kind_namespace: str
) -> None:
    namespace = kind_namespace
    host = f"argo-{namespace}.kind.test"
    template, port = release_template(kind, namespace, f"canary-{namespace}.kind.test")
    target = template["spec"]["containers"][0]["ports"][0]["containerPort"]
    services(kind, namespace, port, target)
    for api, plural, body in edge_objects(namespace, host, port):
        _create(kind, namespace, api, plural, body)
    _create(kind, namespace, ARGO, "analysistemplates", analysis_template(namespace))
    _create(kind, namespace, ARGO, "rollouts", rollout(namespace, template))
    # The first revision has no stable one: Argo scales it up at once, no steps.
    timed_until(kind, namespace, promoted, 180)

    with SteadyClient(kind, namespace, host) as steady:
        steady.wait_serving()

        before = steady.counts()
        set_env(kind, namespace, template, "ERROR_RATE", "0.05")
        to_abort = timed_until(kind, namespace, aborted)
        seen: Counts = steady.counts() - before
        found = status(kind, namespace)
        print(f"Argo Rollouts, bad canary: aborted in {to_abort:.0f} s; the client saw {seen}")
        print(f"  {found.get('message')}")
        assert found.get("phase") == "Degraded" and "aborted" in found.get("message", ""), found
        runs = analysis_runs(kind, namespace)
        print(f"  analysis: {runs}")
        assert [phase for phase, _values in runs] == ["Failed"], runs
        assert weights(kind, namespace) == {STABLE: 100, CANARY: 0}
        # As ours: 20% of the requests to a canary failing 5% of them, about 1% of all while
        # it lasted; twice that is the bound.
        assert seen.sent >= 200, seen
        assert seen.failed <= 2 * seen.sent * STEPS[0]["weight"] / 100 * 0.05 + 2, seen

        before = steady.counts()
        set_env(kind, namespace, template, "CANARY_RELEASE", "good")
        to_promote = timed_until(kind, namespace, promoted)
        seen = steady.counts() - before
        print(f"Argo Rollouts, good canary: promoted in {to_promote:.0f} s; the client saw {seen}")
        assert seen.sent >= 200 and seen.failed == 0, (seen, steady.failures(before.at))
        runs = analysis_runs(kind, namespace)
        print(f"  analysis: {runs[1:]}")
        assert to_promote >= sum(step["pause"] for step in STEPS)
        assert runs[1][0] == "Successful" and not [v for v in runs[1][1] if "Failed" in v], runs
        stable = status(kind, namespace)["stableRS"]
        pods = kind.core.list_namespaced_pod(
            namespace, label_selector=f"app={NAME},rollouts-pod-template-hash={stable}"
        ).items
        assert pods and all(
            any(e.name == "CANARY_RELEASE" for e in p.spec.containers[0].env or []) for p in pods
        )
