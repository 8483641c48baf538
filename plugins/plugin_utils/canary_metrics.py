# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a canary's clients saw, from the edge's own metrics: Traefik's per-service request counter
(`traefik_service_requests_total`, by `code`) and latency histogram
(`traefik_service_request_duration_seconds_bucket`), read through a Prometheus HTTP API
(`/api/v1/query`) with ONE query per check for a whole fleet, parsed into a `Sample` per backend.

How Traefik names a backend (its metrics' `service` label), read in traefik/traefik
`pkg/provider/kubernetes/gateway/httproute.go` (and `kubernetes.go`'s `makeRouterName`):
- v3.7.6 and later (commit 8aada7a7d5, "Avoid collisions for Gateway API services names"; the
  kind tier runs v3.7.13): each backendRef of a rule is its own service,
  `<router>-svc-<backend namespace>-<backend name>-<index in the rule>`, where `<router>` is
  `Normalize("httproute-<route ns>-<route>-gw-<gateway ns>-<gateway>-ep-<entry point>-<rule
  index>")` followed by "-" and the first 10 bytes, in hex, of the SHA-256 of the router's rule
  (its hosts and match). One series per Gateway, listener and match of the rule.
- v3.2 to v3.7.5: `Normalize("<backend namespace>-<backend name>-http-<port>")`, whatever the
  route (v3.0 and v3.1 had no "-http").
Either way with the provider's suffix `@kubernetesgateway` (pkg/server/service/service.go
records a load balancer's requests under `provider.GetQualifiedName`); the weighted service of
the rule (`<router>-wrr`) records none. `backend_pattern` matches both names: the entry point
and the rule's hash are Traefik's, not the release's, so they are matched, not computed.

Pure Python: `fetch` takes the HTTP GET as a function, so nothing here opens a connection."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from ansible_collections.exchange.platform.plugins.plugin_utils.canary_analysis import Sample
from ansible_collections.exchange.platform.plugins.plugin_utils.names import is_dns1123_label

K = TypeVar("K")
REQUESTS = "traefik_service_requests_total"
DURATION = "traefik_service_request_duration_seconds_bucket"
PROVIDER = "kubernetesgateway"
QUERY_PATH = "/api/v1/query"
# The label the fleet's query puts on each series: which of its two parts it comes from.
MEASURE, COUNTS, P99 = "measure", "requests", "p99"
_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")


class MetricsError(ValueError):
    """The Prometheus HTTP API answered something other than a vector of the query's series."""


@dataclass(frozen=True)
class Backend:
    """One backendRef of a release's HTTPRoute rule: the route, and the Service (in the route's
    namespace) at `index` in the rule (canary_plan.STABLE or CANARY)."""

    namespace: str
    route: str
    service: str
    port: int
    index: int

    def __post_init__(self) -> None:
        # DNS labels: nothing in a pattern or a PromQL string needs escaping.
        for name in (self.namespace, self.route, self.service):
            if not is_dns1123_label(name):
                raise ValueError(f"a backend's names are DNS-1123 labels, not {name!r}")


def normalize(name: str) -> str:
    """Traefik's provider.Normalize: every run of characters other than letters and digits
    becomes one "-", none left at either end."""
    return "-".join(part for part in _SEPARATORS.split(name) if part)


def backend_pattern(backend: Backend) -> str:
    """A regular expression (RE2 as PromQL reads it, and Python's) matching exactly the `service`
    labels Traefik gives the backend's requests, by either naming."""
    router = (
        f"httproute-{normalize(backend.namespace)}-{normalize(backend.route)}"
        "-gw-[0-9A-Za-z-]+-ep-[0-9A-Za-z-]+-[0-9]+-[0-9a-f]{20}"
    )
    current = f"{router}-svc-{backend.namespace}-{backend.service}-{backend.index}"
    before = normalize(f"{backend.namespace}-{backend.service}-http-{backend.port}")
    return f"(?:{current}|{before})@{PROVIDER}"


def fleet_query(backends: Iterable[Backend], window_seconds: int) -> str:
    """ONE PromQL query for every backend of a fleet: each backend's requests in the window by
    code class (`class`: 2xx, 5xx, ...) and its p99 latency, each series labelled `measure`
    (requests or p99). Releases with the same window share the query."""
    if isinstance(window_seconds, bool) or not isinstance(window_seconds, int):
        raise ValueError(f"a window is a whole number of seconds, not {window_seconds!r}")
    if window_seconds < 1:
        raise ValueError(f"a window is 1 second or more, not {window_seconds}")
    patterns = sorted({backend_pattern(b) for b in backends})
    if not patterns:
        raise ValueError("a query needs at least one backend")
    selector = '{service=~"' + "|".join(patterns) + '"}'
    window = f"[{window_seconds}s]"
    counts = (
        f"sum by (service, class) (label_replace(increase({REQUESTS}{selector}{window}), "
        '"class", "${1}xx", "code", "([0-9])[0-9][0-9]"))'
    )
    p99 = f"histogram_quantile(0.99, sum by (service, le) (rate({DURATION}{selector}{window})))"
    return (
        f'label_replace({counts}, "{MEASURE}", "{COUNTS}", "", "") or '
        f'label_replace({p99}, "{MEASURE}", "{P99}", "", "")'
    )


def query_url(base_url: str, query: str, at: float | None = None) -> str:
    """The instant query's URL on the API at `base_url` (evaluated at `at`, Unix seconds, or
    now)."""
    params: dict[str, Any] = {"query": query}
    if at is not None:
        params["time"] = f"{at:.3f}"
    return f"{base_url.rstrip('/')}{QUERY_PATH}?{urlencode(params)}"


def _vector(response: Any) -> list[dict[str, Any]]:
    if not isinstance(response, Mapping):
        raise MetricsError(f"the Prometheus HTTP API answered {type(response).__name__}, not JSON")
    if response.get("status") != "success":
        kind, error = response.get("errorType", "no errorType"), response.get("error", "no error")
        raise MetricsError(f"the Prometheus HTTP API answered {kind}: {error}")
    data = response.get("data")
    kind = data.get("resultType") if isinstance(data, Mapping) else None
    if kind != "vector" or not isinstance(data.get("result"), list):
        raise MetricsError(f"the Prometheus HTTP API answered a {kind}, not a vector")
    return data["result"]


def _value(series: Mapping[str, Any]) -> float:
    """A series' value: Prometheus writes it as a string ("NaN" and "+Inf" included)."""
    try:
        return float(series["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        raise MetricsError(f"a series without a value: {series!r}") from None


def samples(response: Any, backends: Mapping[K, Backend]) -> dict[K, Sample]:
    """A Sample per backend key from the fleet query's answer: its requests (the counts of every
    series of it, rounded: increase() extrapolates), those not answered with a 5xx, and the
    highest p99 of its series (one per Gateway, listener and match: the highest is a bound on
    the p99 of all of them). A backend no series names has no requests and no p99."""
    patterns = {key: re.compile(backend_pattern(b)) for key, b in backends.items()}
    requests = dict.fromkeys(backends, 0.0)
    errors = dict.fromkeys(backends, 0.0)
    p99: dict[K, float | None] = dict.fromkeys(backends)
    for series in _vector(response):
        labels = series.get("metric") or {}
        value = _value(series)
        keys = [k for k, p in patterns.items() if p.fullmatch(str(labels.get("service", "")))]
        for key in keys:
            if labels.get(MEASURE) == COUNTS and not math.isnan(value):
                requests[key] += value
                if labels.get("class") == "5xx":
                    errors[key] += value
            elif labels.get(MEASURE) == P99 and not math.isnan(value):
                p99[key] = value if p99[key] is None else max(p99[key], value)
    out = {}
    for key in backends:
        total, failed = round(requests[key]), round(errors[key])
        out[key] = Sample(total, max(total - failed, 0), p99[key])
    return out


def fetch(
    get: Callable[[str], Any],
    base_url: str,
    backends: Mapping[K, Backend],
    window_seconds: int,
    at: float | None = None,
) -> dict[K, Sample]:
    """A Sample per backend key, with one query: `get(url)` is the HTTP GET, returning the
    answer's JSON."""
    url = query_url(base_url, fleet_query(backends.values(), window_seconds), at)
    return samples(get(url), backends)
