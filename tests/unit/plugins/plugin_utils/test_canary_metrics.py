"""plugins/plugin_utils/canary_metrics.py: the `service` label Traefik gives a release's backends
(by both of its namings, on names taken from Traefik's own tests), one PromQL query for a fleet,
and the Prometheus HTTP API's answer read into a Sample per backend."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.exchange.platform.plugins.plugin_utils.canary_analysis import Sample
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_metrics import (
    Backend,
    MetricsError,
    backend_pattern,
    fetch,
    fleet_query,
    normalize,
    query_url,
    samples,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_plan import (
    CANARY,
    STABLE,
)

STABLE_BACKEND = Backend("default", "xr-route", "xr-service", 80, STABLE)
CANARY_BACKEND = Backend("default", "xr-route", "xr-canary", 80, CANARY)
FLEET = {("xr", "stable"): STABLE_BACKEND, ("xr", "canary"): CANARY_BACKEND}


def router(
    route: str, gateway: str, entry_point: str, rule: str, namespace: str = "default"
) -> str:
    """A router's name as Traefik v3.7.6+ builds it (httproute.go, makeRouterName)."""
    digest = hashlib.sha256(rule.encode()).hexdigest()[:20]
    return (
        normalize(f"httproute-{namespace}-{route}-gw-{gateway}-ep-{entry_point}-0") + "-" + digest
    )


ROUTER = router("xr-route", "traefik-edge", "websecure", "PathPrefix(`/`)")
STABLE_LABEL = f"{ROUTER}-svc-default-xr-service-0@kubernetesgateway"
CANARY_LABEL = f"{ROUTER}-svc-default-xr-canary-1@kubernetesgateway"


def matches(backend: Backend, label: str) -> bool:
    return re.fullmatch(backend_pattern(backend), label) is not None


@pytest.mark.parametrize(
    ("backend", "label"),
    [
        # Traefik v3.7.9's own expectations (kubernetes_test.go; integration/testdata)
        (
            Backend("default", "http-app-1", "whoami", 80, 0),
            "httproute-default-http-app-1-gw-default-my-gateway-ep-web-0-af329269dd38031b03e3"
            "-svc-default-whoami-0@kubernetesgateway",
        ),
        (
            Backend("default", "http-app-1", "whoami", 80, 0),
            "httproute-default-http-app-1-gw-default-my-https-gateway-ep-websecure-0"
            "-af329269dd38031b03e3-svc-default-whoami-0@kubernetesgateway",
        ),
        # Traefik v3.2 to v3.7.5 (v3.6.24's kubernetes_test.go)
        (
            Backend("default", "http-app-1", "whoami", 80, 0),
            "default-whoami-http-80@kubernetesgateway",
        ),
        (STABLE_BACKEND, STABLE_LABEL),
        (CANARY_BACKEND, CANARY_LABEL),
        (
            CANARY_BACKEND,
            router("xr-route", "gw", "web", "Host(`a`)").replace("-0-", "-3-", 1)
            + "-svc-default-xr-canary-1@kubernetesgateway",
        ),
    ],
)
def test_the_pattern_matches_traefiks_names_of_the_backend(backend: Backend, label: str) -> None:
    assert matches(backend, label)


@pytest.mark.parametrize(
    "label",
    [
        CANARY_LABEL,  # the other backend of the rule
        STABLE_LABEL.replace("-svc-default-xr-service-0", "-svc-default-xr-service-1"),
        STABLE_LABEL.replace("@kubernetesgateway", "@kubernetescrd"),
        STABLE_LABEL.replace("httproute-default-xr-route-", "httproute-default-xr-route-2-"),
        STABLE_LABEL.replace("httproute-default-", "httproute-other-"),
        STABLE_LABEL.removesuffix("@kubernetesgateway"),
        STABLE_LABEL.replace(ROUTER[-20:], ROUTER[-20:-1]),  # not a rule's hash
        "default-xr-service-http-8080@kubernetesgateway",  # another port
        "default-xr-service-80@kubernetesgateway",  # v3.0/v3.1's name: not matched
        f"x{STABLE_LABEL}",
        "httproute-default-xr-route-gw-g-ep-e-0-af329269dd38031b03e3-wrr@kubernetesgateway",
    ],
)
def test_the_pattern_matches_nothing_else(label: str) -> None:
    assert not matches(STABLE_BACKEND, label)


def test_names_are_normalized_as_traefik_does() -> None:
    assert (
        normalize("httproute-a--b-gw-x.y-ep-web_secure-0") == "httproute-a-b-gw-x-y-ep-web-secure-0"
    )
    assert normalize("-edge-") == "edge"
    doubled = Backend("team--a", "xr-route", "xr-service", 80, 0)
    label = "httproute-team-a-xr-route-gw-g-ep-e-0-af329269dd38031b03e3-svc-team--a-xr-service-0"
    assert matches(doubled, f"{label}@kubernetesgateway")
    assert matches(doubled, "team-a-xr-service-http-80@kubernetesgateway")


@pytest.mark.parametrize("name", ["Default", "a.b", "", "x" * 64, "a|b"])
def test_a_backend_takes_dns_labels_only(name: str) -> None:
    with pytest.raises(ValueError, match=r"a backend's names are DNS-1123 labels, not"):
        Backend(name, "xr-route", "xr-service", 80, 0)


def test_one_query_for_the_fleet_with_counts_by_class_and_the_p99() -> None:
    query = fleet_query([CANARY_BACKEND, STABLE_BACKEND, STABLE_BACKEND], 60)
    alternatives = f"{backend_pattern(CANARY_BACKEND)}|{backend_pattern(STABLE_BACKEND)}"
    selector = '{service=~"' + alternatives + '"}[60s]'
    assert query == (
        "label_replace(sum by (service, class) (label_replace(increase("
        f"traefik_service_requests_total{selector}), "
        '"class", "${1}xx", "code", "([0-9])[0-9][0-9]")), "measure", "requests", "", "") or '
        "label_replace(histogram_quantile(0.99, sum by (service, le) (rate("
        f'traefik_service_request_duration_seconds_bucket{selector}))), "measure", "p99", "", "")'
    )
    assert '"' not in alternatives and "\\" not in alternatives  # nothing to escape in PromQL


def test_the_query_is_the_same_whatever_the_order_of_the_backends() -> None:
    assert fleet_query([STABLE_BACKEND, CANARY_BACKEND], 30) == fleet_query(
        [CANARY_BACKEND, STABLE_BACKEND], 30
    )


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (0, "a window is 1 second or more, not 0"),
        (True, "a window is a whole number of seconds, not True"),
        (1.5, "a window is a whole number of seconds, not 1.5"),
    ],
)
def test_a_window_is_whole_seconds(window: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        fleet_query([STABLE_BACKEND], window)


def test_a_query_needs_a_backend() -> None:
    with pytest.raises(ValueError, match="a query needs at least one backend"):
        fleet_query([], 60)


def test_the_query_url_on_the_api() -> None:
    url = query_url("http://prometheus.monitoring:9090/", "up", at=1767225600.5)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "http://prometheus.monitoring:9090/api/v1/query"
    )
    assert parse_qs(parts.query) == {"query": ["up"], "time": ["1767225600.500"]}
    assert "time=" not in query_url("https://p.example/prom", "up")
    assert query_url("https://p.example/prom", "up").startswith("https://p.example/prom/api/v1/")


def series(service: str, measure: str, value: str, **labels: str) -> dict[str, Any]:
    return {"metric": {"service": service, "measure": measure, **labels}, "value": [1.7e9, value]}


def answer(*result: dict[str, Any]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": list(result)}}


OTHER_GATEWAY = STABLE_LABEL.replace("traefik-edge", "traefik-internal")
ANSWER = answer(
    series(STABLE_LABEL, "requests", "380.0000001", **{"class": "2xx"}),
    series(OTHER_GATEWAY, "requests", "20", **{"class": "4xx"}),
    series(STABLE_LABEL, "p99", "0.12"),
    series(OTHER_GATEWAY, "p99", "0.25"),
    series(CANARY_LABEL, "requests", "95.9", **{"class": "2xx"}),
    series(CANARY_LABEL, "requests", "4.1", **{"class": "5xx"}),
    series(CANARY_LABEL, "requests", "1"),  # a code of no class: a request, not a 5xx
    series(CANARY_LABEL, "p99", "0.8"),
    series("default-unrelated-http-80@kubernetesgateway", "requests", "1000", **{"class": "5xx"}),
)


def test_the_answer_read_into_a_sample_per_backend() -> None:
    assert samples(ANSWER, FLEET) == {
        ("xr", "stable"): Sample(requests=400, successes=400, p99_seconds=0.25),
        ("xr", "canary"): Sample(requests=101, successes=97, p99_seconds=0.8),
    }


def test_a_backend_without_series_has_no_requests_and_no_p99() -> None:
    quiet = Backend("default", "xr-route", "xr-quiet", 80, 1)
    assert samples(ANSWER, {"quiet": quiet}) == {"quiet": Sample(0, 0, None)}
    assert samples(answer(), FLEET)[("xr", "canary")] == Sample(0, 0, None)


def test_nan_is_no_value_and_inf_a_p99_above_every_bucket() -> None:
    given = answer(
        series(CANARY_LABEL, "requests", "NaN", **{"class": "2xx"}),
        series(CANARY_LABEL, "p99", "NaN"),
        series(STABLE_LABEL, "requests", "30", **{"class": "2xx"}),
        series(STABLE_LABEL, "p99", "+Inf"),
        series(OTHER_GATEWAY, "p99", "0.1"),
        series(STABLE_LABEL, "other", "7"),  # not a measure of the query: ignored
    )
    read = samples(given, FLEET)
    assert read[("xr", "canary")] == Sample(0, 0, None)
    assert read[("xr", "stable")].requests == 30
    assert math.isinf(read[("xr", "stable")].p99_seconds or 0)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"},
            "the Prometheus HTTP API answered bad_data: parse error at char 3",
        ),
        ({"status": "error"}, "the Prometheus HTTP API answered no errorType: no error"),
        (
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            "the Prometheus HTTP API answered a matrix, not a vector",
        ),
        ({"status": "success"}, "the Prometheus HTTP API answered a None, not a vector"),
        (
            {"status": "success", "data": {"resultType": "vector"}},
            "the Prometheus HTTP API answered a vector, not a vector",
        ),
        (["not", "a", "mapping"], "the Prometheus HTTP API answered list, not JSON"),
        (answer({"metric": {"service": CANARY_LABEL}}), "a series without a value"),
        (answer(series(CANARY_LABEL, "p99", "fast")), "a series without a value"),
    ],
)
def test_an_answer_that_is_no_vector_is_an_error(response: Any, message: str) -> None:
    with pytest.raises(MetricsError, match=re.escape(message)):
        samples(response, FLEET)


def test_fetch_asks_once_for_the_whole_fleet() -> None:
    asked: list[str] = []

    def get(url: str) -> Any:
        asked.append(url)
        return ANSWER

    fleet = {
        f"r{i}": Backend("default", f"r{i}-route", f"r{i}-canary", 80, CANARY) for i in range(10)
    }
    read = fetch(get, "http://prometheus:9090", {**fleet, **FLEET}, 60, at=1.0)
    assert len(asked) == 1
    query = parse_qs(urlsplit(asked[0]).query)["query"][0]
    assert query == fleet_query([*fleet.values(), *FLEET.values()], 60)
    assert read[("xr", "canary")] == Sample(101, 97, 0.8)
    assert read["r3"] == Sample(0, 0, None)
