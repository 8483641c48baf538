"""API counting: exact per-tool requests from bench/apiproxy.py, and apiserver_request_total
deltas (all clients, the controllers included) read before and after a timed run."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from apiproxy import Request

# Resources whose apiserver_request_total counters are read: the ones a deploy touches or causes.
METRIC_RESOURCES = {
    "deployments", "replicasets", "pods", "services", "horizontalpodautoscalers", "secrets",
    "leases", "events", "configmaps",
}  # fmt: skip
WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"}
READ_VERBS = {"GET", "LIST", "WATCH", "WATCHLIST"}
DISCOVERY_RE = re.compile(
    r"^/(?:api|apis|version|api/v1|apis/[^/]+|apis/[^/]+/[^/]+|openapi/.*)/?$"
)


def classify_metrics(
    before: dict[tuple[str, ...], float] | None, after: dict[tuple[str, ...], float] | None
) -> dict[str, Any]:
    """Deltas of apiserver_request_total, all clients (controllers included)."""
    if before is None or after is None:
        return {"reset": True}
    out: dict[str, Any] = {"reads": 0, "writes": 0, "dry_run_writes": 0, "discovery": 0}
    by_resource: dict[str, dict[str, int]] = defaultdict(lambda: {"reads": 0, "writes": 0})
    for key, value in after.items():
        delta = value - before.get(key, 0.0)
        if delta < 0:
            return {"reset": True}
        if not delta:
            continue
        verb, resource, sub, dry_run, _code = key
        n = int(delta)
        if not resource and (sub in ("api", "apis") or sub.startswith("openapi")):
            out["discovery"] += n
        elif resource in METRIC_RESOURCES:
            if verb in WRITE_VERBS:
                if dry_run:
                    out["dry_run_writes"] += n
                else:
                    out["writes"] += n
                    by_resource[resource]["writes"] += n
            elif verb in READ_VERBS:
                out["reads"] += n
                by_resource[resource]["reads"] += n
    out["by_resource"] = dict(by_resource)
    return out


def resource_of(path: str) -> tuple[str, str | None]:
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "api":
        rest = parts[2:]
    elif parts and parts[0] == "apis":
        rest = parts[3:]
    else:
        return ("(other)", None)
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return ("(other)", None)
    return (rest[0] + ("/" + rest[2] if len(rest) > 2 else ""), rest[1] if len(rest) > 1 else None)


def classify_requests(reqs: list[Request]) -> dict[str, Any]:
    """Exact counts of one tool's requests, from the counting proxy."""
    out: dict[str, Any] = {
        "total": len(reqs),
        "reads": 0,
        "writes": 0,
        "dry_run_writes": 0,
        "discovery": 0,
        "watches": 0,
    }
    discovery: Counter[str] = Counter()
    writes_by_resource: Counter[str] = Counter()
    reads_by_resource: Counter[str] = Counter()
    agents: Counter[str] = Counter()
    for r in reqs:
        agents[r.agent.split(" ")[0]] += 1
        if r.method == "GET" and DISCOVERY_RE.match(r.path):
            out["discovery"] += 1
            discovery[r.path] += 1
            continue
        resource, _name = resource_of(r.path)
        if r.method in WRITE_VERBS:
            if "dryRun=All" in r.query:
                out["dry_run_writes"] += 1
            else:
                out["writes"] += 1
                writes_by_resource[resource] += 1
        else:
            out["reads"] += 1
            reads_by_resource[resource] += 1
            if "watch=" in r.query and "watch=false" not in r.query:
                out["watches"] += 1
    out["discovery_paths"] = dict(discovery)
    out["repeated_discovery"] = {p: n for p, n in discovery.items() if n > 1}
    out["writes_by_resource"] = dict(writes_by_resource)
    out["reads_by_resource"] = dict(reads_by_resource)
    out["max_writes_per_object"] = max(writes_by_resource.values(), default=0)
    out["agents"] = dict(agents)
    out["requests"] = [
        f"{r.method} {r.path}{'?' + r.query if r.query else ''} -> {r.status}" for r in reqs
    ]
    return out
