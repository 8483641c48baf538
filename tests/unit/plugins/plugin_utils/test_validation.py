"""plugin_utils.validation: every rule, and one error listing every problem."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.validation import (
    ValidationError,
    validate_resources,
    validate_scaling,
)

FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def problems(excinfo: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    lines = str(excinfo.value).splitlines()
    assert list(excinfo.value.problems) == lines
    return lines


def resource_metric(name: str = "cpu", **target: Any) -> dict[str, Any]:
    target = target or {"type": "Utilization", "averageUtilization": 80}
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def hpa(*metrics: dict[str, Any], **fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"minReplicas": 2, "maxReplicas": 10, **fields}
    if metrics:
        spec["metrics"] = list(metrics)
    return spec


# --- validate_resources -------------------------------------------------------------


def test_resources_are_canonicalised() -> None:
    given = {
        "requests": {"cpu": 0.5, "memory": "1024Mi", "nvidia.com/gpu": 1},
        "limits": {
            "cpu": "2000m",
            "memory": "1.5Gi",
            "ephemeral-storage": "1e9",
            "nvidia.com/gpu": 1,
        },
        "claims": [{"name": "gpu"}],
    }
    before = copy.deepcopy(given)
    assert validate_resources(given) == {
        "requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
        "limits": {
            "cpu": "2",
            "memory": "1536Mi",
            "ephemeral-storage": "1e9",
            "nvidia.com/gpu": "1",
        },
        "claims": [{"name": "gpu"}],
    }
    assert given == before


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(None, {}, id="none"),
        pytest.param({}, {}, id="empty"),
        pytest.param({"limits": {"cpu": 1}}, {"limits": {"cpu": "1"}}, id="limits-only"),
        pytest.param({"requests": None}, {"requests": None}, id="null-section"),
        pytest.param({"requests": {"cpu": "1"}, "limits": {"cpu": "1000m"}},
                     {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}, id="request-equals-limit"),
        pytest.param({"requests": {"memory": 0}}, {"requests": {"memory": "0"}}, id="zero"),
    ],
)  # fmt: skip
def test_resources_valid(given: object, expected: dict[str, Any]) -> None:
    assert validate_resources(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({"request": {}}, "resources.request: unknown field 'request' "
                     "(did you mean 'requests'?)", id="typo-request"),
        pytest.param({"Limits": {}}, "resources.Limits: unknown field 'Limits' "
                     "(did you mean 'limits'?)", id="typo-case"),
        pytest.param({"cpu": 1}, "resources.cpu: unknown field 'cpu' "
                     "(expected one of requests, limits, claims)", id="unknown-field"),
        pytest.param([], "resources: must be a mapping (ResourceRequirements), got a list",
                     id="not-a-mapping"),
        pytest.param({"requests": "1"}, "resources.requests: must be a mapping of resource "
                     "name to quantity, got '1'", id="section-not-a-mapping"),
        pytest.param({"limits": {"memory": "1GB"}}, "resources.limits.memory: invalid quantity "
                     f"'1GB': {FORMAT_ERROR}", id="invalid-quantity"),
        pytest.param({"limits": {"memory": "2ki"}}, "resources.limits.memory: invalid quantity "
                     "'2ki': unable to parse quantity's suffix", id="invalid-suffix"),
        pytest.param({"limits": {"cpu": None}}, "resources.limits.cpu: invalid quantity None: "
                     "expected a string or a number, got NoneType", id="null-quantity"),
        pytest.param({"limits": {"cpu": True}}, "resources.limits.cpu: invalid quantity True: "
                     "a boolean is not a quantity", id="boolean-quantity"),
        pytest.param({"requests": {"cpu": "-1"}}, "resources.requests.cpu: invalid value '-1': "
                     "must be greater than or equal to 0", id="negative"),
        pytest.param({"requests": {"cpu": -0.5}}, "resources.requests.cpu: invalid value -0.5: "
                     "must be greater than or equal to 0", id="negative-float"),
        pytest.param({"requests": {"": 1}}, "resources.requests['']: resource name must be a "
                     "non-empty string, got ''", id="empty-name"),
        pytest.param({"requests": {"cpu": 3}, "limits": {"cpu": 2}},
                     "resources.requests.cpu: request 3 is above limits.cpu 2", id="above-limit"),
        pytest.param({"requests": {"memory": "2Gi"}, "limits": {"memory": "2000Mi"}},
                     "resources.requests.memory: request 2Gi is above limits.memory 2000Mi",
                     id="above-limit-binary"),
        pytest.param({"requests": {"cpu": "1001m"}, "limits": {"cpu": 1}},
                     "resources.requests.cpu: request 1001m is above limits.cpu 1",
                     id="above-limit-by-one-milli"),
        pytest.param({"requests": {"cpu": "3000m"}, "limits": {"cpu": 2.0}},
                     "resources.requests.cpu: request 3000m (= 3) is above limits.cpu 2.0 (= 2)",
                     id="above-limit-shows-canonical"),
        pytest.param({"requests": {"example.com/gpu": 2}, "limits": {"example.com/gpu": 1}},
                     "resources.requests['example.com/gpu']: request 2 must be equal to "
                     "limits['example.com/gpu'] 1: example.com/gpu cannot be overcommitted",
                     id="extended-resource"),
    ],
)  # fmt: skip
def test_resources_invalid(given: object, expected: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_resources(given)
    assert problems(excinfo) == [expected]


def test_resources_report_every_problem_at_once() -> None:
    given = {
        "request": {"cpu": 1},
        "requests": {"cpu": "3", "memory": "2x", "ephemeral-storage": "1Gi"},
        "limits": {"cpu": 2, "memory": "-1Gi", "ephemeral-storage": "2Gi"},
    }
    with pytest.raises(ValidationError) as excinfo:
        validate_resources(given, path="exchange_router_resources")
    assert problems(excinfo) == [
        "exchange_router_resources.request: unknown field 'request' (did you mean 'requests'?)",
        f"exchange_router_resources.requests.memory: invalid quantity '2x': {FORMAT_ERROR}",
        "exchange_router_resources.limits.memory: invalid value '-1Gi': must be greater than "
        "or equal to 0",
        "exchange_router_resources.requests.cpu: request 3 is above limits.cpu 2",
    ]


def test_resources_return_plain_values() -> None:
    class Str(str):
        __slots__ = ()

    class Dict(dict):  # type: ignore[type-arg]
        pass

    result = validate_resources(Dict(requests=Dict({Str("cpu"): Str("500m")}), claims=[Str("x")]))
    assert type(result) is dict
    assert type(result["requests"]) is dict
    assert [type(key) for key in result["requests"]] == [str]
    assert type(result["claims"]) is list
    assert type(result["claims"][0]) is str


def test_validation_error_is_a_value_error() -> None:
    error = ValidationError(["a: b", "c: d"])
    assert isinstance(error, ValueError)
    assert str(error) == "a: b\nc: d"
    assert error.problems == ("a: b", "c: d")


# --- validate_scaling: the API server's rules ---------------------------------------


def test_scaling_valid_spec_is_returned_as_a_copy() -> None:
    spec = hpa(
        resource_metric(),
        resource_metric("memory", type="AverageValue", averageValue="1Gi"),
        {"type": "ContainerResource", "containerResource": {
            "name": "cpu", "container": "router",
            "target": {"type": "Utilization", "averageUtilization": 60}}},
        {"type": "Pods", "pods": {"metric": {"name": "rps"},
                                  "target": {"type": "AverageValue", "averageValue": "100"}}},
        {"type": "Object", "object": {
            "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "router"},
            "metric": {"name": "hits", "selector": {"matchLabels": {"a": "b"}}},
            "target": {"type": "Value", "value": "10k"}}},
        {"type": "External", "external": {"metric": {"name": "queue"},
                                          "target": {"type": "AverageValue", "averageValue": 30}}},
        scaleTargetRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "router"},
        behavior={"scaleDown": {"stabilizationWindowSeconds": 300}},
    )  # fmt: skip
    result = validate_scaling(spec, resources={"requests": {"cpu": "500m", "memory": "1Gi"}})
    assert result == spec
    assert result is not spec
    assert result["metrics"] is not spec["metrics"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(hpa(minReplicas=0), ["spec.minReplicas: invalid value 0: must be greater "
                     "than or equal to 1"], id="min-zero"),
        pytest.param(hpa(minReplicas="2"), ["spec.minReplicas: invalid value '2': must be an "
                     "integer"], id="min-string"),
        pytest.param(hpa(maxReplicas=True), ["spec.maxReplicas: invalid value True: must be an "
                     "integer"], id="max-boolean"),
        pytest.param({"minReplicas": 1}, ["spec.maxReplicas: required value: must be greater "
                     "than 0"], id="max-missing"),
        pytest.param(hpa(maxReplicas=0), ["spec.maxReplicas: invalid value 0: must be greater "
                     "than or equal to 1"], id="max-zero"),
        pytest.param(hpa(minReplicas=5, maxReplicas=3), ["spec.maxReplicas: invalid value 3: "
                     "must be greater than or equal to minReplicas (5)"], id="max-below-min"),
        pytest.param({"maxReplicas": 2**31}, ["spec.maxReplicas: invalid value 2147483648: "
                     "must fit in a 32-bit integer"], id="max-int32"),
        pytest.param(hpa(maxReplica=3), ["spec.maxReplica: unknown field 'maxReplica' "
                     "(did you mean 'maxReplicas'?)"], id="typo"),
        pytest.param(hpa(scaleTargetRef={"kind": "Deployment"}),
                     ["spec.scaleTargetRef.name: required value"], id="target-ref-name"),
        pytest.param(hpa(scaleTargetRef={"kind": "a/b", "name": ".."}),
                     ["spec.scaleTargetRef.kind: invalid value 'a/b': may not contain '/' or '%'",
                      "spec.scaleTargetRef.name: invalid value '..': may not be '.' or '..'"],
                     id="target-ref-path-segments"),
        pytest.param(hpa(behavior=[]), ["spec.behavior: must be a mapping, got a list"],
                     id="behavior-not-a-mapping"),
        pytest.param(hpa(metrics={}), ["spec.metrics: must be a list of metrics, got a dict"],
                     id="metrics-not-a-list"),
        pytest.param(hpa("cpu"), ["spec.metrics[0]: must be a mapping (MetricSpec), got 'cpu'"],
                     id="metric-not-a-mapping"),
        pytest.param(hpa({"resource": {}}), [
            "spec.metrics[0].type: required value: must specify a metric source type",
            "spec.metrics[0].resource.name: required value: must specify a resource name",
            "spec.metrics[0].resource.target: required value: must specify a metric target",
        ], id="type-missing"),
        pytest.param(hpa({"type": "Cpu"}), [
            "spec.metrics[0].type: unsupported value 'Cpu': supported values: "
            "'ContainerResource', 'External', 'Object', 'Pods', 'Resource'"], id="type-unknown"),
        pytest.param(hpa({"type": "Resource"}), [
            "spec.metrics[0].resource: required value: must populate information for the given "
            "metric source (type Resource)"], id="source-missing"),
        pytest.param(hpa({**resource_metric(), "pods": {}}), [
            "spec.metrics[0].pods: forbidden: must populate the given metric source only "
            "(type Resource)"], id="second-source"),
        pytest.param(hpa({**resource_metric(), "target": {}}), [
            "spec.metrics[0].target: unknown field 'target' (expected one of type, object, "
            "pods, resource, containerResource, external)"], id="target-misplaced"),
        pytest.param(hpa(resource_metric(name="")), [
            "spec.metrics[0].resource.name: required value: must specify a resource name"],
            id="resource-name-missing"),
        pytest.param(hpa({"type": "Resource", "resource": {"name": "cpu"}}), [
            "spec.metrics[0].resource.target: required value: must specify a metric target"],
            id="target-missing"),
        pytest.param(hpa(resource_metric(averageUtilization=80)), [
            "spec.metrics[0].resource.target.type: required value: must specify a metric "
            "target type"], id="target-type-missing"),
        pytest.param(hpa(resource_metric(type="Percent", averageUtilization=80)), [
            "spec.metrics[0].resource.target.type: invalid value 'Percent': must be either "
            "Utilization, Value, or AverageValue"], id="target-type-unknown"),
        pytest.param(hpa(resource_metric(type="Utilization", averageUtilization=0)), [
            "spec.metrics[0].resource.target.averageUtilization: invalid value 0: must be "
            "greater than 0"], id="utilization-zero"),
        pytest.param(hpa(resource_metric(type="Utilization", averageUtilization="80%")), [
            "spec.metrics[0].resource.target.averageUtilization: invalid value '80%': must be "
            "an integer percentage"], id="utilization-string"),
        pytest.param(hpa(resource_metric(type="Utilization")), [
            "spec.metrics[0].resource.target.averageUtilization: required value: must set "
            "either a target raw value or a target utilization"], id="utilization-missing"),
        pytest.param(hpa(resource_metric(type="AverageValue", averageValue="0")), [
            "spec.metrics[0].resource.target.averageValue: invalid value '0': must be "
            "positive"], id="average-value-zero"),
        pytest.param(hpa(resource_metric(type="AverageValue", averageValue="1 Gi")), [
            "spec.metrics[0].resource.target.averageValue: invalid quantity '1 Gi': "
            f"{FORMAT_ERROR}"],
            id="average-value-invalid"),
        pytest.param(hpa(resource_metric(type="Utilization", averageUtilization=80,
                                         averageValue="1")), [
            "spec.metrics[0].resource.target.averageValue: forbidden: may not set both a "
            "target raw value and a target utilization"], id="utilization-and-value"),
        pytest.param(hpa({"type": "Pods", "pods": {"metric": {"name": "rps"},
                                                   "target": {"type": "AverageValue"}}}), [
            "spec.metrics[0].pods.target.averageValue: required value: must specify a positive "
            "target averageValue"], id="pods-average-value-missing"),
        pytest.param(hpa({"type": "Pods", "pods": {"target": {"type": "AverageValue",
                                                              "averageValue": 1}}}), [
            "spec.metrics[0].pods.metric: required value: must specify a metric"],
            id="pods-metric-missing"),
        pytest.param(hpa({"type": "Object", "object": {"metric": {"name": ""},
                                                       "target": {"type": "Value", "value": 1}}}), [
            "spec.metrics[0].object.metric.name: required value: must specify a metric name",
            "spec.metrics[0].object.describedObject: required value"], id="object-incomplete"),
        pytest.param(hpa({"type": "Object", "object": {
            "describedObject": {"kind": "Service", "name": "s"}, "metric": {"name": "m"},
            "target": {"type": "Value"}}}), [
            "spec.metrics[0].object.target.averageValue: required value: must set either a "
            "target value or averageValue"], id="object-value-missing"),
        pytest.param(hpa({"type": "External", "external": {"metric": {"name": "q"}, "target": {
            "type": "Value", "value": 1, "averageValue": 1}}}), [
            "spec.metrics[0].external.target.value: forbidden: may not set both a target value "
            "for metric and a per-pod target"], id="external-both"),
        pytest.param(hpa({"type": "ContainerResource", "containerResource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}), [
            "spec.metrics[0].containerResource.container: required value: must specify a "
            "container"], id="container-missing"),
        pytest.param(hpa({"type": "ContainerResource", "containerResource": {
            "name": "cpu", "container": "Router_1",
            "target": {"type": "Utilization", "averageUtilization": 50}}}), [
            "spec.metrics[0].containerResource.container: invalid value 'Router_1': must be a "
            "DNS-1123 label (lowercase alphanumerics and '-', starting and ending alphanumeric, "
            "at most 63 characters)"], id="container-invalid"),
        pytest.param("spec", ["spec: must be a mapping (HorizontalPodAutoscalerSpec), got 'spec'"],
                     id="spec-not-a-mapping"),
        pytest.param(hpa(scaleTargetRef="router"),
                     ["spec.scaleTargetRef: must be a mapping, got 'router'"],
                     id="target-ref-not-a-mapping"),
        pytest.param(hpa(scaleTargetRef={"kind": "Deployment", "name": 7}),
                     ["spec.scaleTargetRef.name: invalid value 7: must be a string"],
                     id="target-ref-name-not-a-string"),
        pytest.param(hpa({"type": "Resource", "resource": "cpu"}),
                     ["spec.metrics[0].resource: must be a mapping, got 'cpu'"],
                     id="source-not-a-mapping"),
        pytest.param(hpa(resource_metric(name=5)),
                     ["spec.metrics[0].resource.name: invalid value 5: must be a string"],
                     id="resource-name-not-a-string"),
        pytest.param(hpa({"type": "Pods", "pods": {
            "metric": "rps", "target": {"type": "AverageValue", "averageValue": "1"}}}), [
            "spec.metrics[0].pods.metric: must be a mapping (MetricIdentifier), got 'rps'"],
            id="metric-identifier-not-a-mapping"),
        pytest.param(hpa({"type": "Resource", "resource": {"name": "cpu", "target": 80}}),
                     ["spec.metrics[0].resource.target: must be a mapping (MetricTarget), got 80"],
                     id="target-not-a-mapping"),
    ],
)  # fmt: skip
def test_scaling_api_server_rules(spec: object, expected: list[str]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(spec)
    assert problems(excinfo) == expected


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        pytest.param(resource_metric(type="Value", value="100m"), [
            "spec.metrics[0].resource.target.averageUtilization: required value: must set "
            "either a target raw value or a target utilization",
            "spec.metrics[0].resource.target.type: unsupported value 'Value' for a Resource "
            "metric: supported values: 'Utilization', 'AverageValue'",
            "spec.metrics[0].resource.target.value: forbidden: not used by Resource metrics "
            "(target type Value is not supported there)",
        ], id="value-on-resource"),
        pytest.param(resource_metric(type="Utilization", averageValue="500m"), [
            "spec.metrics[0].resource.target.averageUtilization: required value: target type "
            "'Utilization' needs averageUtilization"], id="type-does-not-match-field"),
        pytest.param(resource_metric(type="AverageValue", averageUtilization=50), [
            "spec.metrics[0].resource.target.averageValue: required value: target type "
            "'AverageValue' needs averageValue"], id="average-value-type-with-utilization"),
        pytest.param({"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {
            "type": "Utilization", "averageUtilization": 50, "averageValue": 1}}}, [
            "spec.metrics[0].pods.target.type: unsupported value 'Utilization' for a Pods "
            "metric: supported values: 'AverageValue'",
            "spec.metrics[0].pods.target.averageUtilization: forbidden: not used by Pods "
            "metrics (target type Utilization is not supported there)",
        ], id="utilization-on-pods"),
    ],
)  # fmt: skip
def test_scaling_target_type_rules(metric: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(hpa(metric))
    assert problems(excinfo) == expected


# --- validate_scaling: against the pods' resources and replicas ---------------------


@pytest.mark.parametrize(
    ("utilization", "resources"),
    [
        pytest.param(80, {"requests": {"cpu": "500m"}}, id="no-limit"),
        pytest.param(150, {"requests": {"cpu": "500m"}, "limits": {"cpu": "1"}}, id="below-limit"),
        pytest.param(90, {"limits": {"cpu": "1"}}, id="request-defaults-to-limit"),
        pytest.param(80, {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}, id="guaranteed"),
        pytest.param(95, {"requests": {"cpu": "300m"}, "limits": {"cpu": "2000m"}}, id="defaults"),
        pytest.param(90, {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}, id="100/90>1.1"),
        pytest.param(109, {"requests": {"cpu": "1"}, "limits": {"cpu": "1200m"}}, id="120/109"),
        pytest.param(80, {"requests": {"cpu": "500m", "memory": "x"}}, id="other-resource-broken"),
    ],
)  # fmt: skip
def test_scaling_reachable_utilization(utilization: int, resources: dict[str, Any]) -> None:
    metric = resource_metric(type="Utilization", averageUtilization=utilization)
    try:
        validate_scaling(hpa(metric), resources=resources)
    except ValidationError as error:  # only the broken memory quantity may be reported
        assert all(line.startswith("resources.requests.memory") for line in error.problems)


@pytest.mark.parametrize(
    ("metric", "resources", "expected"),
    [
        pytest.param(resource_metric(), {"requests": {"memory": "1Gi"}},
                     "spec.metrics[0].resource.target.averageUtilization: Resource metric cpu "
                     "targets 80% utilization, but resources.requests.cpu is not set: the HPA "
                     "cannot compute utilization without a request", id="no-request"),
        pytest.param(resource_metric(), {"requests": {"cpu": 0}},
                     "spec.metrics[0].resource.target.averageUtilization: Resource metric cpu "
                     "targets 80% utilization, but resources.requests.cpu is 0: the HPA cannot "
                     "compute utilization of a zero request", id="zero-request"),
        # issue 11: request = limit at 95% -- 100/95 = 1.05 is inside the 10% tolerance
        pytest.param(resource_metric(type="Utilization", averageUtilization=95),
                     {"requests": {"cpu": "2"}, "limits": {"cpu": "2000m"}},
                     "spec.metrics[0].resource.target.averageUtilization: Resource metric cpu "
                     "targets 95% utilization of resources.requests.cpu 2, but a pod's usage "
                     "stops at resources.limits.cpu 2: at most 100% (100 * limit // request, in "
                     "millis), and 100/95 = 1.053 is within the HPA controller's default 10% "
                     "tolerance (the controller scales up only above 1.1), so the HPA can never "
                     "scale up: raise resources.limits.cpu to at least 2100m or lower the "
                     "target to 90%", id="request-equals-limit-at-95"),
    ],
)  # fmt: skip
def test_scaling_unreachable_utilization(
    metric: dict[str, Any], resources: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(hpa(metric), resources=resources)
    assert problems(excinfo) == [expected]


@pytest.mark.parametrize(
    ("metric", "resources", "expected"),
    [
        pytest.param(resource_metric(type="Utilization", averageUtilization=150),
                     {"requests": {"cpu": "500m"}, "limits": {"cpu": "600m"}},
                     ["at most 120%", "120/150 = 0.800", "at least 830m", "target to 109%"],
                     id="above-limit"),
        pytest.param(resource_metric(type="Utilization", averageUtilization=110),
                     {"requests": {"cpu": "1"}, "limits": {"cpu": "1210m"}},
                     ["at most 121%", "121/110 = 1.100", "at least 1220m", "target to 109%"],
                     id="float64-boundary-121/110"),
        pytest.param(resource_metric(type="Utilization", averageUtilization=91),
                     {"limits": {"cpu": "1"}},
                     ["resources.requests.cpu (defaulted from resources.limits.cpu) 1",
                      "at most 100%", "100/91 = 1.099", "target to 90%"],
                     id="defaulted-request"),
        pytest.param(resource_metric("memory", type="Utilization", averageUtilization=120),
                     {"requests": {"memory": "1Gi"}, "limits": {"memory": "1200Mi"}},
                     ["Resource metric memory", "at most 117%", "117/120 = 0.975",
                      "target to 106%"], id="memory"),
        pytest.param({"type": "ContainerResource",
                      "containerResource": {
                          "name": "cpu", "container": "router",
                          "target": {"type": "Utilization", "averageUtilization": 120}}},
                     {"requests": {"cpu": 1}, "limits": {"cpu": "1200m"}},
                     ["spec.metrics[0].containerResource.target.averageUtilization: "
                      "ContainerResource metric cpu", "at most 120%", "at least 1330m"],
                     id="container-resource"),
    ],
)  # fmt: skip
def test_scaling_unreachable_names_the_arithmetic(
    metric: dict[str, Any], resources: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(hpa(metric), resources=resources)
    [line] = problems(excinfo)
    assert "so the HPA can never scale up" in line
    for part in expected:
        assert part in line, line


def test_scaling_honours_a_configured_scale_up_tolerance() -> None:
    metric = resource_metric(type="Utilization", averageUtilization=95)
    resources = {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}
    spec = hpa(metric, behavior={"scaleUp": {"tolerance": "0.05"}})
    assert validate_scaling(spec, resources=resources) == spec  # 100/95 > 1.05
    spec = hpa(metric, behavior={"scaleUp": {"tolerance": "60m"}})
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(spec, resources=resources)
    assert (
        "is within spec.behavior.scaleUp.tolerance 60m (the controller scales up only "
        "above 1.06)" in str(excinfo.value)
    )
    spec = hpa(metric, behavior={"scaleUp": {"tolerance": "-1"}})
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(spec, resources=resources)
    assert problems(excinfo)[0] == (
        "spec.behavior.scaleUp.tolerance: invalid value '-1': must be greater than or equal to 0"
    )


def test_scaling_default_metric_needs_a_cpu_request() -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling({"maxReplicas": 3}, resources={"requests": {"memory": "1Gi"}})
    assert problems(excinfo) == [
        "spec.metrics: the default metric (cpu at 80%, used when metrics is empty) targets 80% "
        "utilization, but resources.requests.cpu is not set: the HPA cannot compute "
        "utilization without a request"
    ]
    assert validate_scaling({"maxReplicas": 3, "metrics": []}, resources={"limits": {"cpu": 1}})


def test_scaling_average_value_targets_need_no_request() -> None:
    metric = resource_metric(type="AverageValue", averageValue="800m")
    assert validate_scaling(hpa(metric), resources={"limits": {"memory": "1Gi"}})


def test_scaling_invalid_resources_are_reported_once() -> None:
    resources = {"requests": {"cpu": "lots"}, "limits": {"cpu": "1"}}
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(hpa(resource_metric()), resources=resources, resources_path="res")
    assert problems(excinfo) == [f"res.requests.cpu: invalid quantity 'lots': {FORMAT_ERROR}"]


@pytest.mark.parametrize(
    ("spec", "replicas", "expected"),
    [
        pytest.param(hpa(), 2, [], id="at-min"),
        pytest.param(hpa(), 10, [], id="at-max"),
        pytest.param({"maxReplicas": 4}, 1, [], id="default-min"),
        pytest.param(hpa(), 1, ["replicas: 1 is below spec.minReplicas 2 (must lie within "
                                "[2, 10])"], id="below"),
        pytest.param(hpa(), 11, ["replicas: 11 is above spec.maxReplicas 10 (must lie within "
                                 "[2, 10])"], id="above"),
        pytest.param(hpa(minReplicas=0), 11, [
            "spec.minReplicas: invalid value 0: must be greater than or equal to 1",
            "replicas: 11 is above spec.maxReplicas 10"], id="above-with-invalid-min"),
        pytest.param(hpa(), "3", ["replicas: invalid value '3': must be an integer"],
                     id="string"),
        pytest.param(hpa(), True, ["replicas: invalid value True: must be an integer"],
                     id="boolean"),
    ],
)  # fmt: skip
def test_scaling_replicas(spec: dict[str, Any], replicas: object, expected: list[str]) -> None:
    if not expected:
        assert validate_scaling(spec, replicas=replicas) == spec
        return
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(spec, replicas=replicas)
    assert problems(excinfo) == expected


def test_scaling_reports_every_problem_at_once() -> None:
    spec = {
        "minReplicas": 0,
        "maxReplicas": 5,
        "metrics": [
            resource_metric(type="Utilization", averageUtilization=150),
            resource_metric("memory", type="Utilization", averageUtilization=0),
            {"type": "Pods"},
        ],
        "behaviour": {},
    }
    resources = {"requests": {"cpu": "500m"}, "limits": {"cpu": "600m", "memory": "-1"}}
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(spec, resources=resources, replicas=7, path="hpa")
    assert problems(excinfo) == [
        "hpa.behaviour: unknown field 'behaviour' (did you mean 'behavior'?)",
        "hpa.minReplicas: invalid value 0: must be greater than or equal to 1",
        "hpa.metrics[1].resource.target.averageUtilization: invalid value 0: must be greater "
        "than 0",
        "hpa.metrics[2].pods: required value: must populate information for the given metric "
        "source (type Pods)",
        "resources.limits.memory: invalid value '-1': must be greater than or equal to 0",
        "hpa.metrics[0].resource.target.averageUtilization: Resource metric cpu targets 150% "
        "utilization of resources.requests.cpu 500m, but a pod's usage stops at "
        "resources.limits.cpu 600m: at most 120% (100 * limit // request, in millis), and "
        "120/150 = 0.800 is within the HPA controller's default 10% tolerance (the controller "
        "scales up only above 1.1), so the HPA can never scale up: raise resources.limits.cpu to "
        "at least 830m or lower the target to 109%",
        "replicas: 7 is above hpa.maxReplicas 5",
    ]


# --- resource names and the rules for extended resources and huge pages ---------------

ACCEPTED = "the API server accepts cpu, memory, ephemeral-storage, hugepages-<page size> and "


@pytest.mark.parametrize(
    "given",
    [
        pytest.param({"requests": {"cpu": 1, "memory": "1Gi", "ephemeral-storage": "1Gi"}},
                     id="standard"),
        pytest.param({"limits": {"memory": "1Gi", "hugepages-2Mi": "4Mi"}}, id="hugepages"),
        pytest.param({"requests": {"cpu": 1, "hugepages-1Gi": "2Gi"},
                      "limits": {"hugepages-1Gi": "2Gi"}}, id="hugepages-request-equals-limit"),
        pytest.param({"requests": {"example.com/gpu": 2}, "limits": {"example.com/gpu": "2"}},
                     id="extended"),
        pytest.param({"limits": {"nvidia.com/gpu": 1}}, id="extended-limit-only"),
        pytest.param({"limits": {"example.kubernetes.io/thing": "500m"}},
                     id="kubernetes.io-names-need-only-be-qualified"),
        pytest.param({"limits": {"a.b/C_d.e-f": 1}}, id="qualified-name-characters"),
    ],
)  # fmt: skip
def test_resource_names_the_api_server_accepts(given: dict[str, Any]) -> None:
    validate_resources(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({"requests": {"cpuu": 1}}, "resources.requests.cpuu: unknown resource name "
                     f"'cpuu': did you mean 'cpu'? ({ACCEPTED}extended resources qualified by a "
                     "domain (example.com/gpu))", id="cpuu"),
        pytest.param({"limits": {"memroy": "1Gi"}}, "resources.limits.memroy: unknown resource "
                     f"name 'memroy': did you mean 'memory'? ({ACCEPTED}extended resources "
                     "qualified by a domain (example.com/gpu))", id="memroy"),
        pytest.param({"limits": {"CPU": 1}}, "resources.limits.CPU: unknown resource name 'CPU': "
                     f"did you mean 'cpu'? ({ACCEPTED}extended resources qualified by a domain "
                     "(example.com/gpu))", id="capitals"),
        pytest.param({"limits": {"gpu": 1}}, "resources.limits.gpu: unknown resource name "
                     f"'gpu' ({ACCEPTED}extended resources qualified by a domain "
                     "(example.com/gpu))", id="unqualified-extended"),
        pytest.param({"limits": {"pods": 1}}, "resources.limits.pods: unknown resource name "
                     f"'pods' ({ACCEPTED}extended resources qualified by a domain "
                     "(example.com/gpu))", id="quota-name-not-for-containers"),
        pytest.param({"limits": {"Example.com/gpu": 1}}, "resources.limits['Example.com/gpu']: "
                     "invalid resource name 'Example.com/gpu': the prefix 'Example.com' must be a "
                     "DNS-1123 subdomain (lowercase, at most 253)", id="prefix-case"),
        pytest.param({"limits": {"/gpu": 1}}, "resources.limits['/gpu']: invalid resource name "
                     "'/gpu': the prefix before '/' must be non-empty", id="empty-prefix"),
        pytest.param({"limits": {"a/b/c": 1}}, "resources.limits['a/b/c']: invalid resource "
                     "name 'a/b/c': a qualified name has at most one '/'", id="two-slashes"),
        pytest.param({"limits": {"example.com/": 1}}, "resources.limits['example.com/']: invalid "
                     "resource name 'example.com/': the name part must be non-empty",
                     id="empty-name-part"),
        pytest.param({"limits": {"example.com/-gpu": 1}}, "resources.limits['example.com/-gpu']: "
                     "invalid resource name 'example.com/-gpu': the name part must consist of "
                     "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                     "alphanumeric character", id="name-part-start"),
        pytest.param({"limits": {"example.com/" + "g" * 64: 1}},
                     f"resources.limits['example.com/{'g' * 64}']: invalid resource name "
                     f"'example.com/{'g' * 64}': the name part must be no more than 63 "
                     "characters", id="name-part-length"),
        pytest.param({"limits": {"requests.example.com/gpu": 1}},
                     "resources.limits['requests.example.com/gpu']: invalid resource name "
                     "'requests.example.com/gpu': an extended resource may not start with "
                     "'requests.'", id="requests-prefix"),
        pytest.param({"limits": {"example.com/gpu": "500m"}},
                     "resources.limits['example.com/gpu']: invalid value 500m: an extended "
                     "resource must be a whole number", id="extended-fraction"),
        pytest.param({"requests": {"example.com/gpu": 1}},
                     "resources.limits['example.com/gpu']: required value: example.com/gpu "
                     "cannot be overcommitted, so a request needs a limit (equal to it)",
                     id="extended-request-without-limit"),
        pytest.param({"requests": {"example.com/gpu": 1}, "limits": {"example.com/gpu": 2}},
                     "resources.requests['example.com/gpu']: request 1 must be equal to "
                     "limits['example.com/gpu'] 2: example.com/gpu cannot be overcommitted",
                     id="extended-request-below-limit"),
        pytest.param({"limits": {"memory": "1Gi", "hugepages-2Mi": "3Mi"}},
                     "resources.limits.hugepages-2Mi: invalid value 3Mi: not a whole number of "
                     "2Mi pages", id="hugepages-not-whole-pages"),
        pytest.param({"limits": {"memory": "1Gi", "hugepages-big": "2Mi"}},
                     "resources.limits.hugepages-big: invalid resource name 'hugepages-big': the "
                     "page size must be a positive whole quantity (hugepages-2Mi, hugepages-1Gi)",
                     id="hugepages-bad-size"),
        pytest.param({"limits": {"hugepages-2Mi": "2Mi"}},
                     "resources: forbidden: huge pages require a cpu or memory request or limit",
                     id="hugepages-alone"),
    ],
)  # fmt: skip
def test_resource_names_the_api_server_rejects(given: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_resources(given)
    assert problems(excinfo) == [expected]


def test_resources_return_what_the_api_server_stores() -> None:
    given = {"requests": {"cpu": "1.500", "memory": "+1Gi"}, "limits": {"cpu": "2000m"}}
    assert validate_resources(given) == {
        "requests": {"cpu": "1.500", "memory": "+1Gi"},
        "limits": {"cpu": "2"},
    }


# --- behavior (hpa.check_behavior) --------------------------------------------------

SCALE_DOWN = {
    "stabilizationWindowSeconds": 600,
    "selectPolicy": "Min",
    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
}


def test_scaling_behavior_that_the_api_server_accepts_is_returned() -> None:
    behavior = {"scaleDown": SCALE_DOWN, "scaleUp": {"policies": [], "selectPolicy": "Disabled"}}
    assert validate_scaling(hpa(behavior=behavior))["behavior"] == behavior


@pytest.mark.parametrize(
    ("behavior", "expected"),
    [
        pytest.param({"scaledown": {}}, ["spec.behavior.scaledown: unknown field 'scaledown' "
                     "(did you mean 'scaleDown'?)"], id="unknown-direction"),
        pytest.param({"scaleDown": 600}, ["spec.behavior.scaleDown: must be a mapping "
                     "(HPAScalingRules), got 600"], id="rules-not-a-mapping"),
        pytest.param({"scaleDown": {"stabilizationWindow": 60}}, [
            "spec.behavior.scaleDown.stabilizationWindow: unknown field 'stabilizationWindow' "
            "(did you mean 'stabilizationWindowSeconds'?)"], id="unknown-rule"),
        pytest.param({"scaleDown": {"stabilizationWindowSeconds": 3601}}, [
            "spec.behavior.scaleDown.stabilizationWindowSeconds: invalid value 3601: must be a "
            "whole number from 0 to 3600"], id="window-too-long"),
        pytest.param({"scaleUp": {"stabilizationWindowSeconds": "60"}}, [
            "spec.behavior.scaleUp.stabilizationWindowSeconds: invalid value '60': must be a "
            "whole number from 0 to 3600"], id="window-not-a-number"),
        pytest.param({"scaleUp": {"selectPolicy": "max"}}, [
            "spec.behavior.scaleUp.selectPolicy: unsupported value 'max': supported values: "
            "Max, Min, Disabled"], id="select-policy"),
        pytest.param({"scaleUp": {"policies": {"type": "Pods"}}}, [
            "spec.behavior.scaleUp.policies: must be a list of policies, got a dict"],
            id="policies-not-a-list"),
        pytest.param({"scaleUp": {"policies": ["Pods"]}}, [
            "spec.behavior.scaleUp.policies[0]: must be a mapping (HPAScalingPolicy), got 'Pods'"],
            id="policy-not-a-mapping"),
        pytest.param({"scaleUp": {"policies": [{"type": "Replicas", "value": 0, "periods": 1}]}}, [
            "spec.behavior.scaleUp.policies[0].periods: unknown field 'periods' (did you mean "
            "'periodSeconds'?)",
            "spec.behavior.scaleUp.policies[0].type: unsupported value 'Replicas': supported "
            "values: Pods, Percent",
            "spec.behavior.scaleUp.policies[0].value: invalid value 0: must be greater than 0",
            "spec.behavior.scaleUp.policies[0].periodSeconds: invalid value None: must be a "
            "whole number from 1 to 1800"], id="policy-fields"),
        pytest.param({"scaleUp": {"policies": [{"type": "Pods", "value": 4,
                                                "periodSeconds": 1801}]}}, [
            "spec.behavior.scaleUp.policies[0].periodSeconds: invalid value 1801: must be a "
            "whole number from 1 to 1800"], id="period-too-long"),
    ],
)  # fmt: skip
def test_scaling_behavior_rules(behavior: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_scaling(hpa(behavior=behavior))
    assert problems(excinfo) == expected
