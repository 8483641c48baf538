"""`make render`: defaults reproduce the seed; every invalid value stops it and writes nothing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SEED = list(yaml.safe_load_all((ROOT / "tests/fixtures/seed.yaml").read_text()))


def _load_seed_filter() -> Any:
    path = ROOT / "molecule/shared/filter_plugins/seed_subset.py"
    spec = importlib.util.spec_from_file_location("seed_subset", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed_subset = _load_seed_filter()


# Where render writes the release of the role's defaults: <render_dir>/<namespace>/<name>/.
RELEASE = Path("default/exchange-router")


def manifests(out: Path) -> dict[str, dict[str, Any]]:
    """The release's manifests render wrote under `out`, by file name (its kustomization.yaml
    apart)."""
    files = sorted((out / RELEASE).glob("*.yaml"))
    return {p.name: yaml.safe_load(p.read_text()) for p in files if p.name != "kustomization.yaml"}


def render(out: Path, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    command = ["make", "--no-print-directory", "-C", str(ROOT), "render", f"OUT={out}"]
    if values is not None:
        vars_file = out.parent / "vars.yml"
        vars_file.write_text(yaml.safe_dump(values))
        command.append(f"VARS={vars_file}")
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("render") / "out"
    result = render(out)
    assert result.returncode == 0, result.stdout + result.stderr
    return manifests(out)


def test_defaults_render_one_file_per_object(rendered: dict[str, dict[str, Any]]) -> None:
    assert sorted(rendered) == ["deployment.yaml", "horizontalpodautoscaler.yaml", "service.yaml"]


@pytest.mark.parametrize("seed_object", SEED, ids=lambda o: o["kind"])
def test_defaults_carry_every_field_of_the_seed(
    rendered: dict[str, dict[str, Any]], seed_object: dict[str, Any]
) -> None:
    obj = rendered[f"{seed_object['kind'].lower()}.yaml"]
    # spec.replicas is left out while the HPA scales the Deployment; the API server defaults it
    # to the seed's 1 on creation (molecule's verify checks the stored value).
    skip = ("spec.replicas",) if seed_object["kind"] == "Deployment" else ()
    assert seed_subset.seed_differences(seed_object, obj, skip=skip) == []


def test_deployment_leaves_replicas_to_the_hpa(rendered: dict[str, dict[str, Any]]) -> None:
    assert "replicas" not in rendered["deployment.yaml"]["spec"]


def test_quantities_are_canonical(rendered: dict[str, dict[str, Any]]) -> None:
    container = rendered["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "300m"}, "limits": {"cpu": "2"}}


def test_pods_keep_the_seed_selector_and_add_standard_labels(
    rendered: dict[str, dict[str, Any]],
) -> None:
    deployment = rendered["deployment.yaml"]
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "exchange-router"}}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app"] == "exchange-router"
    assert labels["app.kubernetes.io/name"] == "exchange-router"
    assert labels["app.kubernetes.io/instance"] == "exchange-router"
    assert rendered["service.yaml"]["spec"]["selector"] == {"app": "exchange-router"}


def test_replicas_apply_when_autoscaling_is_off(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = render(
        out, {"exchange_router_autoscaling": {"enabled": False}, "exchange_router_replicas": 3}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(manifests(out)) == ["deployment.yaml", "service.yaml"]
    assert yaml.safe_load((out / RELEASE / "deployment.yaml").read_text())["spec"]["replicas"] == 3


def test_config_files_render_a_config_map_mounted_read_only_with_a_checksum(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = {"app.yaml": "level: info\n", "motd": "hello"}
    result = render(out, {"exchange_router_config_files": files})
    assert result.returncode == 0, result.stdout + result.stderr
    names = ["configmap.yaml", "deployment.yaml", "horizontalpodautoscaler.yaml", "service.yaml"]
    assert sorted(manifests(out)) == names
    config = yaml.safe_load((out / RELEASE / "configmap.yaml").read_text())
    assert config["metadata"]["name"] == "exchange-router-config" and config["data"] == files
    pod = yaml.safe_load((out / RELEASE / "deployment.yaml").read_text())["spec"]["template"]
    assert pod["spec"]["volumes"] == [
        {"name": "config", "configMap": {"name": "exchange-router-config"}}
    ]
    mount = {"name": "config", "mountPath": "/etc/exchange-router", "readOnly": True}
    assert pod["spec"]["containers"][0]["volumeMounts"] == [mount]
    assert len(pod["metadata"]["annotations"]["exchange.platform/config-checksum"]) == 64


INVALID = {
    "cpu request above limit": (
        {"exchange_router_resources": {"requests": {"cpu": "3"}, "limits": {"cpu": "2000m"}}},
        ["exchange_router_resources", "cpu", "3", "2"],
    ),
    "malformed quantity": (
        {"exchange_router_resources": {"requests": {"cpu": "300x"}, "limits": {"cpu": "2"}}},
        ["exchange_router_resources.requests.cpu", "300x"],
    ),
    "unknown resources key": (
        {"exchange_router_resources": {"request": {"cpu": "300m"}, "limits": {"cpu": "2"}}},
        ["exchange_router_resources", "request"],
    ),
    "min above max replicas": (
        {"exchange_router_autoscaling": {"min_replicas": 3, "max_replicas": 2}},
        ["exchange_router_autoscaling", "maxReplicas", "3", "2"],
    ),
    "utilization 0": (
        {"exchange_router_autoscaling": {"target_cpu_utilization": 0}},
        ["exchange_router_autoscaling.target_cpu_utilization", "0"],
    ),
    "a memory target without a memory request": (
        {"exchange_router_autoscaling": {"target_memory_utilization": 80}},
        [
            "exchange_router_autoscaling.target_memory_utilization",
            "exchange_router_resources.requests.memory is not set",
        ],
    ),
    "a pull policy of no kind": (
        {"exchange_router_image_pull_policy": "Sometimes"},
        ["value of exchange_router_image_pull_policy must be one of", "got: Sometimes"],
    ),
    "a pod label over the selector": (
        {"exchange_router_pod_labels": {"app": "other"}},
        ['exchange_router_pod_labels["app"]: "other" would replace the release\'s own label app'],
    ),
    "a node port on a ClusterIP Service": (
        {"exchange_router_service_node_port": 30080},
        ["exchange_router_service_node_port: 30080 needs exchange_router_service_type NodePort"],
    ),
    "a preStop sleep past the grace period": (
        {
            "exchange_router_lifecycle": {"preStop": {"sleep": {"seconds": 20}}},
            "exchange_router_termination_grace_period_seconds": 10,
        },
        ["exchange_router_lifecycle.preStop.sleep.seconds: 20", "(10)"],
    ),
    "container port 70000": (
        {"exchange_router_container_port": 70000},
        ["exchange_router_container_port", "70000"],
    ),
    "service port 0": (
        {"exchange_router_service_port": 0},
        ["exchange_router_service_port", "0"],
    ),
    "name not DNS-1123": (
        {"exchange_router_name": "Exchange_Router"},
        ["exchange_router_name", "Exchange_Router", "DNS-1123"],
    ),
    "cpu autoscaling without a cpu request": (
        {"exchange_router_resources": {"requests": {"memory": "128Mi"}}},
        ["exchange_router_autoscaling", "cpu", "request"],
    ),
    "plain secret without the needed keys": (
        {
            "exchange_router_secret_mode": "plain",
            "exchange_router_secret_data": {"server_addr": "0.0.0.0:8080"},
        },
        ["exchange_router_secret_data", "database_url", "redis_url"],
    ),
    "a config file name with a slash": (
        {"exchange_router_config_files": {"conf/app.yaml": "x"}},
        ["exchange_router_config_files", "conf/app.yaml", "is not a ConfigMap key"],
    ),
    "a relative config mount path": (
        {"exchange_router_config_files": {"a": "x"}, "exchange_router_config_mount_path": "etc"},
        ["exchange_router_config_mount_path", '"etc" is not an absolute path'],
    ),
    "a volume mount of no volume": (
        {"exchange_router_volume_mounts": [{"name": "scratch", "mountPath": "/scratch"}]},
        ["exchange_router_volume_mounts[0].name", '"scratch" names no volume of the pods'],
    ),
    "wrong type": (
        {"exchange_router_replicas": "many"},
        ["exchange_router_replicas", "many"],
    ),
    "two exposures": (
        {
            "exchange_router_ingress": {"enabled": True, "hosts": [{"host": "a.example"}]},
            "exchange_router_httproute": {"enabled": True, "parent_refs": [{"name": "gw"}]},
        },
        ["exchange_router_ingress and exchange_router_httproute are both enabled"],
    ),
    "a PDB that blocks every eviction": (
        {"exchange_router_pdb": {"enabled": True, "min_available": 2}},
        ["exchange_router_pdb.min_available: 2", "exchange_router_autoscaling.min_replicas 1"],
    ),
    "a network policy that lets nobody in": (
        {"exchange_router_network_policy": {"enabled": True}},
        ["exchange_router_network_policy: nobody may reach the router"],
    ),
    "an ingress host that is no DNS name": (
        {"exchange_router_ingress": {"enabled": True, "hosts": [{"host": "Exchange!"}]}},
        ["exchange_router_ingress.hosts[0].host", "Exchange!"],
    ),
    "a canary without an HTTPRoute": (
        {"exchange_router_canary": {"enabled": True, "prometheus_url": "http://prometheus:9090"}},
        [
            "exchange_router_canary.enabled: true without exchange_router_httproute.enabled",
            "an Ingress, exchange_router_ingress, has no standard weight",
        ],
    ),
    "canary weights that fall": (
        {
            "exchange_router_httproute": {"enabled": True, "parent_refs": [{"name": "edge"}]},
            "exchange_router_canary": {
                "enabled": True,
                "prometheus_url": "http://prometheus:9090",
                "steps": [{"weight": 50}, {"weight": 20, "pause": 0}],
            },
        },
        ["exchange_router_canary.steps[1].weight: 20 does not rise above the step before (50)"],
    ),
    "an ingress path given as a string": (
        {
            "exchange_router_ingress": {
                "enabled": True,
                "hosts": [{"host": "exchange.example.com", "paths": ["/"]}],
            }
        },
        ['exchange_router_ingress.hosts[0].paths[0]: "/" is not a mapping of path and path_type'],
    ),
}


@pytest.mark.parametrize(("values", "expected"), INVALID.values(), ids=INVALID.keys())
def test_invalid_values_stop_render_and_write_nothing(
    tmp_path: Path, values: dict[str, Any], expected: list[str]
) -> None:
    out = tmp_path / "out"
    result = render(out, values)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for word in expected:
        assert word in output, f"{word!r} not in:\n{output}"
    assert not out.exists() or not any(out.iterdir())


CHART = yaml.safe_load((ROOT / "tests/fixtures/chart-values.yml").read_text())


def test_every_chart_value_renders_where_kubernetes_reads_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = render(out, CHART)
    assert result.returncode == 0, result.stdout + result.stderr
    files = manifests(out)
    pod = files["deployment.yaml"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    # the restricted preset, then the user's keys (null removed seccompProfile)
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 1000,
        "runAsGroup": 3000,
        "fsGroup": 2000,
    }
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    assert pod["metadata"]["labels"]["team"] == "trading"
    assert pod["metadata"]["labels"]["app"] == "exchange-router"
    assert "team" not in files["deployment.yaml"]["metadata"]["labels"]
    assert files["deployment.yaml"]["spec"]["selector"] == {
        "matchLabels": {"app": "exchange-router"}
    }
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    assert pod["spec"]["terminationGracePeriodSeconds"] == 45
    account = files["serviceaccount.yaml"]["metadata"]["annotations"]
    assert account == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/router"}
    service = files["service.yaml"]
    assert service["metadata"]["annotations"] == {"example.com/lb": "internal"}
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30080
    hpa = files["horizontalpodautoscaler.yaml"]["spec"]
    assert hpa["metrics"][1] == {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
    assert hpa["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 600}}


EDGE = yaml.safe_load((ROOT / "tests/fixtures/edge-values.yml").read_text())


def test_the_production_edge_renders_one_file_per_object_as_the_seed_s_ops_repo_has_it(
    tmp_path: Path,
) -> None:
    """The seed's own ingress (jogeshwar01/exchange-ops ingress/ingress.yml): class nginx, the
    /backend rewrite, a cert-manager ClusterIssuer; plus PDB, NetworkPolicy, ServiceAccount."""
    out = tmp_path / "out"
    result = render(out, EDGE)
    assert result.returncode == 0, result.stdout + result.stderr
    files = manifests(out)
    assert sorted(files) == [
        "certificate.yaml",
        "deployment.yaml",
        "horizontalpodautoscaler.yaml",
        "ingress.yaml",
        "networkpolicy.yaml",
        "poddisruptionbudget.yaml",
        "service.yaml",
        "serviceaccount.yaml",
    ]
    ingress = files["ingress.yaml"]
    # The release's own Certificate issues the TLS secret (no ingress-shim annotation).
    assert ingress["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
    }
    assert ingress["spec"]["tls"] == [
        {"hosts": ["exchange.example.com"], "secretName": "exchange-router-tls"}
    ]
    assert files["certificate.yaml"]["metadata"]["name"] == "exchange-router-tls"
    assert files["certificate.yaml"]["spec"] == {
        "secretName": "exchange-router-tls",
        "dnsNames": ["exchange.example.com"],
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"]["service"] == {"name": "exchange-router-service", "port": {"number": 80}}
    assert files["poddisruptionbudget.yaml"]["spec"]["maxUnavailable"] == 1
    peers = files["networkpolicy.yaml"]["spec"]["ingress"][0]["from"]
    assert peers == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert files["networkpolicy.yaml"]["spec"]["policyTypes"] == ["Ingress"]  # egress open
    pod = files["deployment.yaml"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "exchange-router"
    assert pod["automountServiceAccountToken"] is False
    assert files["serviceaccount.yaml"]["automountServiceAccountToken"] is False
    assert pod["containers"][0]["envFrom"] == EDGE["exchange_router_env_from"]


def playbook(*extra_vars: str) -> subprocess.CompletedProcess[str]:
    """playbooks/render.yml with `-e` given as on a command line."""
    command = ["ansible-playbook", "playbooks/render.yml"]
    for given in extra_vars:
        command += ["-e", given]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )


def test_a_mapping_given_as_a_json_string_with_e(tmp_path: Path) -> None:
    """`-e 'exchange_router_autoscaling={"enabled":false}'` hands the role a string: it once
    failed with "'_AnsibleTaggedStr' object is not a mapping"; it is read as the argument spec
    reads it, strings within typed."""
    out = tmp_path / "out"
    result = playbook(
        f"exchange_router_render_dir={out}", 'exchange_router_autoscaling={"enabled":"false"}'
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "horizontalpodautoscaler.yaml" not in manifests(out)


def test_canary_values_given_with_e_are_checked_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = playbook(
        f"exchange_router_render_dir={out}",
        'exchange_router_httproute={"enabled":true,"parent_refs":[{"name":"edge"}]}',
        'exchange_router_canary={"enabled":"true","min_requests":"0",'
        '"prometheus_url":"http://prometheus:9090"}',
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "exchange_router_canary.min_requests: 0 is not 1 or more" in output
    assert "Traceback" not in output and "object is not" not in output
    assert not out.exists()


def test_render_without_a_directory_stops_and_never_deploys(tmp_path: Path) -> None:
    """playbooks/render.yml without exchange_router_render_dir must not fall through to a deploy:
    no cluster is configured here, so a deploy would fail differently."""
    result = subprocess.run(
        ["ansible-playbook", "playbooks/render.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "KUBECONFIG": str(tmp_path / "none")},
    )
    assert result.returncode != 0
    assert "Set exchange_router_render_dir (for example" in result.stdout + result.stderr
