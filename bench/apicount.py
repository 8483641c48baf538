"""API counting: exact per-tool requests from the kube-apiserver's audit log, and
apiserver_request_total deltas (all clients, the controllers included) read before and after a
timed run.

The local cluster's apiserver writes an audit log (cluster/audit-policy.yaml: every request at
level Metadata, stage RequestReceived omitted; kwokctl's `kubeAuditPolicy`, so the file is
<cluster workdir>/logs/audit.log beside the kubeconfig). The counted runs use a client
certificate of their own (user xr-bench-<run id>, group system:masters), so the requests of the
tool under count are exactly the events of that user between two positions of the log, whatever
else (integration tests, controllers) talks to the apiserver meanwhile; each tool talks to the
apiserver directly, HTTP/2 where its client uses it. Each event gives the verb, the resource,
the URI, the user agent and the response code.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cluster import Cluster

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
# The HTTP method behind an audit verb (a non-resource request's verb is its method, lowercase).
METHOD_OF_VERB = {
    "get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT",
    "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE",
}  # fmt: skip


@dataclass
class Request:
    """One request as the audit log records it."""

    method: str
    path: str
    query: str
    agent: str
    status: int
    verb: str  # the audit verb: get, list, watch, create, update, patch, delete, ...
    resource: str  # "deployments", "deployments/status"; "" for a non-resource URL

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        path, _q, query = event.get("requestURI", "").partition("?")
        verb = event.get("verb", "")
        ref = event.get("objectRef") or {}
        resource = ref.get("resource", "")
        if resource and ref.get("subresource"):
            resource += "/" + ref["subresource"]
        return cls(
            method=METHOD_OF_VERB.get(verb, verb.upper()),
            path=path,
            query=query,
            agent=event.get("userAgent", ""),
            status=int((event.get("responseStatus") or {}).get("code") or 0),
            verb=verb,
            resource=resource,
        )


class AuditLog:
    """The apiserver's audit log, read from a position on: `mark()` before a tool runs,
    `since(mark)` after it, as the requests of `user` in between (each request once: a watch
    has a ResponseStarted and a ResponseComplete event). Follows the log across a rotation
    (kube-apiserver --audit-log-maxsize renames it to audit-<time>.log)."""

    def __init__(self, path: Path, user: str) -> None:
        self.path, self.user = path, user
        self.seen: set[str] = set()
        if not path.exists():
            raise RuntimeError(
                f"no audit log at {path}: the local cluster was created before its audit policy "
                "(cluster/audit-policy.yaml); recreate it, losing what is deployed on it, with "
                "`cluster/kwok.sh up --recreate`"
            )

    def mark(self) -> tuple[int, int]:
        st = self.path.stat()
        return (st.st_ino, st.st_size)

    def _rotated(self, inode: int) -> Path | None:
        for candidate in self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"):
            if candidate.stat().st_ino == inode:
                return candidate
        return None

    def _lines(self, mark: tuple[int, int]) -> list[bytes]:
        inode, offset = mark
        chunks = []
        if self.path.stat().st_ino != inode:
            old = self._rotated(inode)
            if old is not None:
                with old.open("rb") as f:
                    f.seek(offset)
                    chunks.append(f.read())
            offset = 0
        with self.path.open("rb") as f:
            f.seek(offset)
            chunks.append(f.read())
        # A partial line at the start belongs to a request before the mark; one at the end is
        # still being written (flush() waits for the events that matter).
        return b"".join(chunks).splitlines()

    def events(self, mark: tuple[int, int]) -> list[dict[str, Any]]:
        out = []
        for line in self._lines(mark):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                out.append(event)
        return out

    def since(self, mark: tuple[int, int]) -> list[Request]:
        reqs = []
        for event in self.events(mark):
            audit_id = event.get("auditID", "")
            if (event.get("user") or {}).get("username") != self.user or audit_id in self.seen:
                continue
            self.seen.add(audit_id)
            reqs.append(Request.from_event(event))
        return reqs

    def flush(self, cluster: Cluster, mark: tuple[int, int], timeout: float = 30) -> None:
        """Wait until the log holds every request made so far: the apiserver writes an event
        when the request's handler returns, about when the client has its answer. A request
        the benchmark makes now (as admin, not counted) is logged after all of them."""
        token = secrets.token_hex(8)
        try:
            cluster.get(f"/version?xr-bench-audit-flush={token}")
        except (OSError, RuntimeError, http.client.HTTPException):
            time.sleep(1)
            return
        deadline = time.monotonic() + timeout
        needle = token.encode()
        while time.monotonic() < deadline:
            if any(needle in line for line in self._lines(mark)):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the audit log {self.path} did not record a request within {timeout}s")


def audit_log_path(kubeconfig: str) -> Path:
    """kwokctl writes the audit log into the cluster's workdir, beside the kubeconfig."""
    return Path(os.path.dirname(os.path.abspath(kubeconfig))) / "logs" / "audit.log"


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
    """Exact counts of one tool's requests: reads, writes, server-side dry-run writes and
    discovery (the same classes the earlier counting proxy used, from the URI), and every
    request by audit verb and resource."""
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
    by_verb_resource: Counter[str] = Counter()
    agents: Counter[str] = Counter()
    for r in reqs:
        agents[r.agent.split(" ")[0]] += 1
        if r.method == "GET" and DISCOVERY_RE.match(r.path):
            out["discovery"] += 1
            discovery[r.path] += 1
            by_verb_resource["get (discovery)"] += 1
            continue
        by_verb_resource[f"{r.verb} {r.resource or r.path}"] += 1
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
            if r.verb == "watch":
                out["watches"] += 1
    out["discovery_paths"] = dict(discovery)
    out["repeated_discovery"] = {p: n for p, n in discovery.items() if n > 1}
    out["writes_by_resource"] = dict(writes_by_resource)
    out["reads_by_resource"] = dict(reads_by_resource)
    out["by_verb_resource"] = dict(sorted(by_verb_resource.items()))
    out["max_writes_per_object"] = max(writes_by_resource.values(), default=0)
    out["agents"] = dict(agents)
    out["requests"] = [
        f"{r.method} {r.path}{'?' + r.query if r.query else ''} -> {r.status}" for r in reqs
    ]
    return out
