"""pod_rules.py through rules.check: the chart values beyond the seed's (pull policy, security
contexts, pod labels, lifecycle and grace period, the Service's annotations and node port, the
ServiceAccount's annotations), every rule with its message, and the merged security contexts."""

from __future__ import annotations

from typing import Any

import pytest
from test_values import context, problems, v

from ansible_collections.exchange.platform.plugins.plugin_utils import pod_rules, rules

RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}

INVALID = {
    "pull policy": (
        {"image_pull_policy": "Sometimes"},
        'exchange_router_image_pull_policy: "Sometimes" is not one of Always, IfNotPresent, '
        "Never (or empty)",
    ),
    "pod security context not a mapping": (
        {"pod_security_context": ["runAsUser"]},
        'exchange_router_pod_security_context: ["runAsUser"] is not a mapping',
    ),
    "pod security context unknown key": (
        {"pod_security_context": {"run_as_user": 1000}},
        'exchange_router_pod_security_context: unknown field "run_as_user" (expected one of',
    ),
    "container security context unknown key": (
        {"container_security_context": {"readOnlyRootFileSystem": True}},
        'exchange_router_container_security_context: unknown field "readOnlyRootFileSystem"',
    ),
    "user id not a number": (
        {"container_security_context": {"runAsUser": "1000"}},
        'exchange_router_container_security_context.runAsUser: "1000" is not an ID '
        "(0 to 2147483647)",
    ),
    "negative group id": (
        {"pod_security_context": {"fsGroup": -1}},
        "exchange_router_pod_security_context.fsGroup: -1 is not an ID",
    ),
    "root under the restricted preset": (
        {"pod_security_level": "restricted", "container_security_context": {"runAsUser": 0}},
        "runAsUser 0 (root) with runAsNonRoot true (the restricted preset of "
        "exchange_router_pod_security_level, or yours)",
    ),
    "root with runAsNonRoot removed from the container only": (
        {
            "pod_security_level": "restricted",
            "container_security_context": {"runAsUser": 0, "runAsNonRoot": None},
        },
        "runAsUser 0 (root) with runAsNonRoot true",
    ),
    "root with the user's runAsNonRoot": (
        {"pod_security_context": {"runAsNonRoot": True, "runAsUser": 0}},
        "runAsUser 0 (root) with runAsNonRoot true (the baseline preset",
    ),
    "a pod group without a pod user": (
        {"pod_security_context": {"runAsGroup": 3000, "fsGroup": 2000}},
        "exchange_router_pod_security_context.runAsGroup: 3000 without a runAsUser for the pod's "
        'sandbox: containerd refuses to start it ("user group is specified without user")',
    ),
    "a container group without any user": (
        {"container_security_context": {"runAsGroup": 3000}},
        "exchange_router_container_security_context.runAsGroup: 3000 without a runAsUser for "
        "the container",
    ),
    "pod labels not a mapping": (
        {"pod_labels": "team=a"},
        'exchange_router_pod_labels: "team=a" is not a mapping',
    ),
    "pod label replaces the selector": (
        {"pod_labels": {"app": "other"}},
        'exchange_router_pod_labels["app"]: "other" would replace the release\'s own label app',
    ),
    "pod label replaces a release label": (
        {"pod_labels": {"app.kubernetes.io/instance": "x"}},
        "would replace the release's own label app.kubernetes.io/instance",
    ),
    "pod label key": (
        {"pod_labels": {"Bad_Prefix!/x": "a"}},
        'exchange_router_pod_labels["Bad_Prefix!/x"]: the key is not a label key',
    ),
    "pod label value": (
        {"pod_labels": {"team": "a" * 64}},
        'exchange_router_pod_labels["team"]: "' + "a" * 64 + '" is not a label value',
    ),
    "pod label value not a string": (
        {"pod_labels": {"tier": 1}},
        'exchange_router_pod_labels["tier"]: 1 is not a label value',
    ),
    "service annotation not a string": (
        {"service_annotations": {"lb/idle-timeout": 60}},
        'exchange_router_service_annotations["lb/idle-timeout"]: 60 is not a string (quote it)',
    ),
    "service annotations not a mapping": (
        {"service_annotations": ["a"]},
        'exchange_router_service_annotations: ["a"] is not a mapping',
    ),
    "service account annotation not a string": (
        {"service_account": {"create": True, "annotations": {"iam/role": True}}},
        'exchange_router_service_account.annotations["iam/role"]: true is not a string',
    ),
    "node port out of range": (
        {"service_type": "NodePort", "service_node_port": 8080},
        "exchange_router_service_node_port: 8080 is not a node port (30000-32767), or 0",
    ),
    "node port not a number": (
        {"service_type": "NodePort", "service_node_port": "3o080"},
        'exchange_router_service_node_port: "3o080" is not a node port',
    ),
    "node port on a ClusterIP Service": (
        {"service_node_port": 30080},
        "exchange_router_service_node_port: 30080 needs exchange_router_service_type NodePort "
        'or LoadBalancer (it is "ClusterIP")',
    ),
    "negative grace period": (
        {"termination_grace_period_seconds": -1},
        "exchange_router_termination_grace_period_seconds: -1 is not a number of seconds",
    ),
    "lifecycle not a mapping": (
        {"lifecycle": ["preStop"]},
        'exchange_router_lifecycle: ["preStop"] is not a mapping',
    ),
    "lifecycle unknown hook": (
        {"lifecycle": {"preStart": {"sleep": {"seconds": 1}}}},
        'exchange_router_lifecycle: unknown field "preStart"',
    ),
    "hook not a mapping": (
        {"lifecycle": {"preStop": "sleep 5"}},
        'exchange_router_lifecycle.preStop: "sleep 5" is not a mapping',
    ),
    "hook with two handlers": (
        {"lifecycle": {"preStop": {"sleep": {"seconds": 1}, "exec": {"command": ["true"]}}}},
        "exchange_router_lifecycle.preStop: ",
    ),
    "hook without a handler": (
        {"lifecycle": {"postStart": {"wait": 1}}},
        "must hold exactly one of exec, httpGet, tcpSocket, sleep",
    ),
    "sleep seconds": (
        {"lifecycle": {"preStop": {"sleep": {"seconds": "5"}}}},
        'exchange_router_lifecycle.preStop.sleep.seconds: "5" is not a number of seconds',
    ),
    "preStop sleep past the default grace period": (
        {"lifecycle": {"preStop": {"sleep": {"seconds": 30}}}},
        "exchange_router_lifecycle.preStop.sleep.seconds: 30 is not below "
        "exchange_router_termination_grace_period_seconds (30 by default)",
    ),
    "preStop sleep past the grace period given": (
        {
            "lifecycle": {"preStop": {"sleep": {"seconds": 10}}},
            "termination_grace_period_seconds": 10,
        },
        "exchange_router_lifecycle.preStop.sleep.seconds: 10 is not below "
        "exchange_router_termination_grace_period_seconds (10)",
    ),
}


@pytest.mark.parametrize(("given", "message"), INVALID.values(), ids=INVALID.keys())
def test_each_rule_names_the_variable_and_its_value(given: dict[str, Any], message: str) -> None:
    text = problems(**given)
    assert text.startswith(rules.INVALID)
    assert message in text


VALID = {
    "pull policies": [{"image_pull_policy": p} for p in ("", "Always", "IfNotPresent", "Never")],
    "root at baseline": [{"container_security_context": {"runAsUser": 0}}],
    "root once runAsNonRoot is removed from both": [
        {
            "pod_security_level": "restricted",
            "pod_security_context": {"runAsNonRoot": None},
            "container_security_context": {"runAsUser": 0, "runAsNonRoot": None},
        }
    ],
    "groups with users": [
        {"pod_security_context": {"runAsUser": 1000, "runAsGroup": 3000}},
        {"pod_security_level": "restricted", "container_security_context": {"runAsGroup": 3000}},
        {
            "pod_security_context": {"runAsUser": 1000},
            "container_security_context": {"runAsGroup": 1},
        },
    ],
    "pod labels": [{"pod_labels": {"team": "trading", "example.com/tier": "", "v": "1.2_a-b"}}],
    "node ports": [
        {"service_type": "NodePort", "service_node_port": 30080},
        {"service_type": "LoadBalancer", "service_node_port": 32767},
        {"service_node_port": 0},
    ],
    "grace periods and hooks": [
        {"termination_grace_period_seconds": 45},
        {"termination_grace_period_seconds": 0},
        {
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}, "postStart": {"exec": {}}},
            "termination_grace_period_seconds": 6,
        },
        {"lifecycle": {"stopSignal": "SIGTERM", "preStop": {"httpGet": {"port": 8080}}}},
    ],
}


@pytest.mark.parametrize("given", [g for gs in VALID.values() for g in gs])
def test_valid_values_pass(given: dict[str, Any]) -> None:
    rules.check(v(**given))


def test_the_users_keys_win_over_the_presets_and_null_removes_one() -> None:
    c = context(
        pod_security_level="restricted",
        run_as_user=1000,
        pod_security_context={"fsGroup": 2000, "seccompProfile": None},
        container_security_context={"readOnlyRootFilesystem": True, "capabilities": None},
    )["__exchange_router_security_contexts"]
    assert c["pod"] == {"runAsNonRoot": True, "fsGroup": 2000}
    assert c["container"] == {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
        "readOnlyRootFilesystem": True,
    }
    baseline = context(container_security_context={"allowPrivilegeEscalation": True})
    container = baseline["__exchange_router_security_contexts"]["container"]
    assert container == {
        "allowPrivilegeEscalation": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    presets = pod_rules.presets(v())
    assert presets["restricted"]["pod"] == RESTRICTED_POD
    assert presets["baseline"]["pod"] == {}


def test_pod_labels_go_between_the_release_labels_and_the_selector() -> None:
    c = context(labels={"team": "a"}, pod_labels={"team": "b", "tier": "api"})
    assert c["__exchange_router_pod_labels"]["team"] == "b"
    assert c["__exchange_router_pod_labels"]["tier"] == "api"
    assert c["__exchange_router_pod_labels"]["app"] == "exchange-router"
    assert "tier" not in c["__exchange_router_labels"]  # the pods' only


def test_annotations_per_object_and_the_grace_period_as_a_number() -> None:
    c = context(
        annotations={"a": "1", "b": "1"},
        service_annotations={"b": "2"},
        service_account={"create": True, "annotations": {"eks.amazonaws.com/role-arn": "arn"}},
        termination_grace_period_seconds=45,
    )
    assert c["__exchange_router_service_annotations"] == {"a": "1", "b": "2"}
    assert c["__exchange_router_service_account_annotations"] == {
        "a": "1",
        "b": "1",
        "eks.amazonaws.com/role-arn": "arn",
    }
    assert c["__exchange_router_termination_grace_period_seconds"] == 45
    assert context()["__exchange_router_termination_grace_period_seconds"] is None
    # null (YAML's ~) is empty, as {} is
    unset = context(
        service_annotations=None, service_account={"annotations": None}, pod_labels=None
    )
    assert unset["__exchange_router_service_annotations"] == {}
    assert unset["__exchange_router_service_account_annotations"] == {}
