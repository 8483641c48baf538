# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release engine: it groups the releases of a play batch by cluster identity, locks each,
and runs each one's action side by side. The actions own everything else.

Per identity (plugins/plugin_utils/connection.py): one client, one rollout watch per namespace
(follow.py), and one kubernetes.core.k8s run shared by the deploys (shared_apply.py). Each
writer's Lease is taken before its action runs and renewed by one thread until it ends.
"""

from __future__ import annotations

import contextlib
import functools
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import canary, connection
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_query import (
    Checks,
    Get,
    http_get,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.configuration import Configuration
from ansible_collections.exchange.platform.plugins.plugin_utils.drift import Drift, Live
from ansible_collections.exchange.platform.plugins.plugin_utils.follow import Follower
from ansible_collections.exchange.platform.plugins.plugin_utils.history import ListHistory
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import (
    Lease,
    LockError,
    NamespaceMissing,
    Renewer,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Result
from ansible_collections.exchange.platform.plugins.plugin_utils.rollback import Rollback
from ansible_collections.exchange.platform.plugins.plugin_utils.shared_apply import (
    ApplyObjects,
    SharedApply,
    direct,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import SecretStore, Store
from ansible_collections.exchange.platform.plugins.plugin_utils.uninstall import Uninstall
from ansible_collections.exchange.platform.plugins.plugin_utils.upgrade import Upgrade
from ansible_collections.exchange.platform.plugins.plugin_utils.wait import Waiter

# (resolved connection, objects) -> '' or why the apply failed
Apply = Callable[[dict[str, Any], list[dict[str, Any]]], str]
Connect = Callable[[dict[str, Any], str], Client]
METRICS_API = "metrics.k8s.io/v1beta1"
WRITERS = ("present", "rollback", "absent", "abort")
READERS = 8  # threads for a batch that only reads (see _side_by_side)
LABELS = {"app.kubernetes.io/managed-by": "exchange.platform"}


def run(
    specs: list[Spec],
    apply: Apply,
    check: bool,
    holder: str,
    env: Mapping[str, str],
    connect: Connect = connection.connect,
) -> dict[str, Result]:
    """Every release of the batch, one cluster identity after the other; host -> its result."""
    clusters: dict[str, list[Spec]] = defaultdict(list)
    resolved: dict[str, dict[str, Any]] = {}
    for spec in specs:
        options = connection.resolve(spec.connection, env)
        key = connection.identity(options)
        clusters[key].append(spec)
        resolved[key] = options
    results: dict[str, Result] = {}
    for key, group in clusters.items():
        options = resolved[key]
        try:
            client = connect(options, group[0].field_manager)
        except KubeError as error:
            results.update({s.host: Result(failed=True, msg=str(error)) for s in group})
            continue
        results |= run_on_cluster(
            group, client, functools.partial(apply, options), check, holder, Waiter()
        )
    return results


def run_on_cluster(
    specs: list[Spec],
    client: Client,
    apply: ApplyObjects,
    check: bool,
    holder: str,
    waiter: Waiter,
    stores: Callable[[Client, Spec], Store] = lambda client, spec: SecretStore(
        client, spec.namespace, spec.name
    ),
    metrics: Get = http_get,
) -> dict[str, Result]:
    """The releases of one cluster identity, side by side (`stores`: each one's history;
    `metrics`: the Prometheus HTTP API's GET, which the batch's canaries share, one query per
    check)."""
    deployer = functools.cache(client.whoami)
    deploys = [s for s in specs if s.state == "present"]
    shared = SharedApply(apply, 0 if check else len(deploys))
    canaries = [s for s in deploys if s.canary.get("enabled") and not check]
    checks = Checks(metrics, len(canaries))
    follower = Follower(client, sleep=waiter.sleep)
    leases = {s.host: _lease(client, s, holder, waiter) for s in specs}
    # A batch's drift reports read the live objects kind by kind, not one by one.
    selector = ",".join(f"{k}={v}" for k, v in LABELS.items())
    live = Live(client, selector) if sum(s.state == "diff" for s in specs) > 1 else None

    def one(spec: Spec) -> Result:
        member = shared.member() if spec.state == "present" and not check else None
        query = checks.member() if spec in canaries else None
        lease = leases[spec.host]
        cfg = Configuration(
            client,
            stores(client, spec),
            member or direct(apply),
            waiter,
            check=check,
            deployer=deployer,
            lock_lost=lambda: lease.lost,
            follow=follower.pace,
            metrics=metrics,
            checks=query,
            live=live,
        )
        try:
            return _locked(cfg, spec, lease)
        finally:
            if member is not None:
                member.leave()
            if query is not None:
                query.leave()
            if not check:
                with contextlib.suppress(KubeError):  # else it expires by itself
                    lease.release()

    interval = min(s.lock_seconds for s in specs) / 3
    try:
        with Renewer(list(leases.values()), interval):
            results = _side_by_side(one, specs)
    finally:
        follower.close()
    _warn_without_metrics(client, specs, results)
    return results


def _lease(client: Client, spec: Spec, holder: str, waiter: Waiter) -> Lease:
    labels = dict(LABELS, **{"exchange.platform/release": spec.name})
    name = f"{spec.name}-deploy-lock"
    return Lease(client, spec.namespace, name, holder, spec.lock_seconds, labels, waiter)


def _locked(cfg: Configuration, spec: Spec, lease: Lease) -> Result:
    """Take the release's lock (a writer outside check mode), then run its action."""
    try:
        if spec.state == "abort":  # the deploy holding the lock aborts its canary, then ends
            canary.signal_abort(cfg, spec)
        if not cfg.check and spec.state in WRITERS:
            lease.take(wait=spec.timeout + 30)
    except NamespaceMissing as error:
        return Result(failed=True, msg=f"exchange_router_namespace: {error}")
    except (KubeError, LockError) as error:
        return Result(failed=True, msg=cfg.redact(str(error)))
    if spec.state == "present":
        return Upgrade(cfg, spec).run()
    if spec.state == "rollback":
        return Rollback(cfg, spec, spec.revision).run()
    if spec.state == "absent":
        return Uninstall(cfg, spec).run()
    if spec.state == "diff":
        return Drift(cfg, spec).run()
    if spec.state == "promote":
        return canary.Promote(cfg, spec).run()
    if spec.state == "abort":
        return canary.Abort(cfg, spec).run()
    return ListHistory(cfg, spec).run()  # a rendered release never reaches the engine


def _side_by_side(one: Callable[[Spec], Result], specs: list[Spec]) -> dict[str, Result]:
    """One thread per release, mostly waiting on the API server: every deploy of the batch must
    reach the shared apply, and every writer may wait for its lock, so none may wait for a free
    thread (a pool smaller than the batch would leave the first releases waiting at the apply
    for ones that never start). A batch of readers only (drift, history) waits on nothing: a
    few threads keep a few connections busy, where one per release opens one TLS connection
    each and contends for the interpreter."""
    if len(specs) <= 1:
        return {s.host: one(s) for s in specs}
    readers = not any(s.state in WRITERS for s in specs)
    with ThreadPoolExecutor(
        max_workers=min(len(specs), READERS) if readers else len(specs)
    ) as pool:
        return dict(zip([s.host for s in specs], pool.map(one, specs), strict=True))


def _warn_without_metrics(client: Client, specs: list[Spec], results: dict[str, Result]) -> None:
    # Said when the HPA is written (a no-op deploy does not ask again).
    scaling = [s for s in specs if s.state == "present" and s.autoscaling]
    written = any(results[s.host].changed and not results[s.host].failed for s in scaling)
    if written and not client.serves(METRICS_API):
        for s in scaling:
            results[s.host].warnings.append(
                f"autoscaling is enabled but the cluster serves no {METRICS_API} "
                "(no metrics-server): the HorizontalPodAutoscaler cannot act"
            )
