"""Ints and bools from the command line: `-e key=value` gives strings (and quoted YAML in a vars
file does too), which the role's argument spec checks but hands on unconverted. Each works as
documented, and one that does not convert stops before anything is written."""

from __future__ import annotations

from conftest import Cluster
from kubernetes import client

DEPLOYMENT = "exchange-router-deployment"
# autoscaling.enabled as quoted YAML gives the string "false", which is true as a string
NO_AUTOSCALING = 'exchange_router_autoscaling: {enabled: "false"}\n'


def _e(**values: str) -> list[str]:
    """`-e exchange_router_<key>=<value>` for each value, as a user types them."""
    return [
        arg for key, value in values.items() for arg in ("-e", f"exchange_router_{key}={value}")
    ]


def _image(cluster: Cluster, namespace: str) -> str:
    deployment = cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace)
    return deployment.spec.template.spec.containers[0].image


def _hpas(cluster: Cluster, namespace: str) -> list[str]:
    autoscaling = client.AutoscalingV2Api(cluster.api)
    hpas = autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace).items
    return [h.metadata.name for h in hpas]


def test_a_rollback_to_a_revision_given_as_an_e_string(cluster: Cluster, namespace: str) -> None:
    """The command playbooks/rollback.yml documents; it once failed with "no revision 1 of
    release exchange-router to roll back to (revisions: 1, 2)"."""
    for tag, wait in (("1", "true"), ("2", "false")):
        run = cluster.deploy({}, *_e(namespace=namespace, image=f"example/router:{tag}", wait=wait))
        assert run.ok, run.output
    rollback = cluster.playbook("rollback", {}, *_e(namespace=namespace, rollback_revision="1"))
    assert rollback.ok, rollback.output
    history = cluster.history(namespace)
    assert [r["revision"] for r in history] == [1, 2, 3]
    assert history[-1]["description"] == "rollback to revision 1"
    assert _image(cluster, namespace) == "example/router:1"


def test_history_max_given_as_an_e_string_bounds_the_history(
    cluster: Cluster, namespace: str
) -> None:
    """-e exchange_router_history_max=3 once failed every deploy with a Python error ("'>' not
    supported between instances of 'int' and '_AnsibleTaggedStr'")."""
    for tag in ("1", "2", "3", "4"):
        run = cluster.deploy(
            {}, *_e(namespace=namespace, image=f"example/router:{tag}", history_max="3")
        )
        assert run.ok, run.output
    assert [r["revision"] for r in cluster.history(namespace)] == [2, 3, 4]
    assert _image(cluster, namespace) == "example/router:4"


def test_a_value_that_is_no_integer_is_named_and_writes_nothing(
    cluster: Cluster, namespace: str
) -> None:
    control = cluster.deploy({}, *_e(namespace=namespace, replicas="3"), vars_text=NO_AUTOSCALING)
    assert control.ok, control.output
    assert cluster.apps.read_namespaced_deployment(DEPLOYMENT, namespace).spec.replicas == 3
    assert _hpas(cluster, namespace) == []
    before, history = cluster.resource_versions(namespace), cluster.history(namespace)
    for bad, value in (("replicas", "two"), ("wait", "maybe")):
        given = _e(namespace=namespace, **{"replicas": "3", bad: value})
        run = cluster.deploy({}, *given, vars_text=NO_AUTOSCALING)
        assert not run.ok
        assert f"exchange_router_{bad}" in run.output and f"'{value}'" in run.output
        assert not [e for e in ("Traceback", "TypeError", "ValueError") if e in run.output]
        assert cluster.resource_versions(namespace) == before
        assert cluster.history(namespace) == history
