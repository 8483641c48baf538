# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules no type can express for exchange_router_canary: weights that rise within 1-99
(canary_plan), thresholds within their ranges, at least one request per check, a known no-data
policy, a Prometheus HTTP API to read, and an HTTPRoute to split.

Pure Python. `problems` takes exchange_router_canary and exchange_router_httproute (filled with
their defaults, ints and floats typed by variables.typed) and returns one message per problem,
each naming the variable and its value; rules.check raises them at once, before anything is
written."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ansible_collections.exchange.platform.plugins.plugin_utils.canary_plan import STEP_WEIGHTS
from ansible_collections.exchange.platform.plugins.plugin_utils.problems import as_json, is_int
from ansible_collections.exchange.platform.plugins.plugin_utils.redact import redact
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P

V = P + "canary"
NO_DATA = ("fail", "wait", "pass")
STEP_FIELDS = ("weight", "pause")
API_PATH = "/api/v1"
# Whole numbers of the canary and the least each may be, with what it counts.
LEAST = (
    ("interval", 1, "a number of seconds (1 or more)"),
    ("window", 1, "a number of seconds (1 or more)"),
    ("latency_p99_max_ms", 1, "a number of milliseconds (1 or more)"),
    ("no_data_wait_max", 0, "a number of intervals (0 or more)"),
    ("threshold", 1, "a number of failed checks (1 or more)"),
)


def _whole(value: Any, least: int) -> bool:
    return is_int(value) and value >= least


def _weights(canary: dict[str, Any]) -> list[str]:
    """The steps given, or step_weight and max_weight when none are."""
    steps = canary["steps"]
    if not isinstance(steps, list):
        return [f"{V}.steps: {as_json(steps)} is not a list of steps ({{weight, pause}})"]
    if not steps:
        return _generated(canary["step_weight"], canary["max_weight"])
    found: list[str] = []
    before = 0
    for i, step in enumerate(steps):
        where = f"{V}.steps[{i}]"
        if not isinstance(step, dict):
            found.append(f"{where}: {as_json(step)} is not a mapping of weight and pause")
            continue
        unknown = [key for key in step if key not in STEP_FIELDS]
        if unknown:
            found.append(
                f"{where}: unknown field {as_json(unknown[0])} (expected weight and pause)"
            )
        weight, pause = step.get("weight"), step.get("pause")
        if not (is_int(weight) and weight in STEP_WEIGHTS):
            found.append(
                f"{where}.weight: {as_json(weight)} is not a weight of 1-99 (the promote after "
                "the last step sends 100%)"
            )
        elif weight <= before:
            found.append(
                f"{where}.weight: {weight} does not rise above the step before ({before}): the "
                "weights rise step by step toward 100"
            )
        else:
            before = weight
        if pause is not None and not _whole(pause, 0):
            found.append(
                f"{where}.pause: {as_json(pause)} is not a number of seconds (0 or more; 0 holds "
                "the step until playbooks/promote.yml)"
            )
    return found


def _generated(rise: Any, top: Any) -> list[str]:
    found = []
    for key, value in (("step_weight", rise), ("max_weight", top)):
        if not (is_int(value) and value in STEP_WEIGHTS):
            found.append(
                f"{V}.{key}: {as_json(value)} is not a weight of 1-99 (the promote after the "
                "last step sends 100%)"
            )
    if not found and top < rise:
        found.append(f"{V}.max_weight: {top} is below {V}.step_weight ({rise})")
    return found


def _shown(url: Any) -> str:
    """The URL for a message, through the one redactor (any user:password masked)."""
    return redact(as_json(url), ())


def _url(url: Any) -> list[str]:
    where = f"{V}.prometheus_url"
    if not url:
        return [
            f"{where}: {as_json(url)} is empty: the canary's checks read Traefik's request "
            "metrics through a Prometheus HTTP API (kube-prometheus-stack's, e.g. "
            "http://kube-prometheus-stack-prometheus.monitoring.svc:9090), reachable from where "
            "Ansible runs"
        ]
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{where}: {_shown(url)} is not an http:// or https:// URL"]
    if API_PATH in parts.path:
        return [
            f"{where}: {_shown(url)} names the API's path: give the base URL (the "
            f"checks add {API_PATH}/query)"
        ]
    return []


def _thresholds(canary: dict[str, Any]) -> list[str]:
    found = []
    rate = canary["success_rate_min"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 100:
        found.append(
            f"{V}.success_rate_min: {as_json(rate)} is not a percentage above 0 and at most 100"
        )
    for key, least, wanted in LEAST:
        if not _whole(canary[key], least):
            found.append(f"{V}.{key}: {as_json(canary[key])} is not {wanted}")
    least_requests = canary["min_requests"]
    if not _whole(least_requests, 1):
        found.append(
            f"{V}.min_requests: {as_json(least_requests)} is not 1 or more: a check judges at "
            f"least one request (fewer are no data, which {V}.no_data decides)"
        )
    if canary["no_data"] not in NO_DATA:
        found.append(
            f"{V}.no_data: {as_json(canary['no_data'])} is not one of {', '.join(NO_DATA)}"
        )
    return found


def problems(canary: dict[str, Any], route: dict[str, Any]) -> list[str]:
    """Every problem of an enabled canary's values, in the order of its variables."""
    found = []
    if not route.get("enabled"):
        found.append(
            f"{V}.enabled: true without exchange_router_httproute.enabled: the canary sends its "
            "share of requests by the weights of an HTTPRoute's backendRefs; enable "
            "exchange_router_httproute (an Ingress, exchange_router_ingress, has no standard "
            "weight: each controller has its own annotations or objects for it)"
        )
    return found + _weights(canary) + _url(canary["prometheus_url"]) + _thresholds(canary)
