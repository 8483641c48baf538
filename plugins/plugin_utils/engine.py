# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release engine: every release of a play batch, grouped by cluster identity.

Per identity (plugins/plugin_utils/connection.py): one client; each release locked, its history
read and its action run side by side (threads). Deploys share ONE apply of everything that
changes (the caller's kubernetes.core.k8s run); when that apply fails, each release is applied
on its own, so a release the cluster rejects fails alone. Locks are renewed by one thread from
before the first write until history is written.
"""

from __future__ import annotations

import contextlib
import functools
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import (
    connection,
    history,
    rollback,
    uninstall,
    upgrade,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.client import Client, KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.follow import Follower
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import (
    LockError,
    NamespaceMissing,
    Renewer,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.release import Release
from ansible_collections.exchange.platform.plugins.plugin_utils.revision import Plan, prepare
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Outcome, Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import History, SecretStore

# (resolved connection, objects) -> '' or why the apply failed
Apply = Callable[[dict[str, Any], list[dict[str, Any]]], str]
Connect = Callable[[dict[str, Any], str], Client]
METRICS_API = "metrics.k8s.io/v1beta1"
# Releases of one cluster handled side by side: mostly waiting on the API server (the client's
# connection pool is as large, plugins/plugin_utils/connection.py).
WORKERS = 32
WRITERS = ("present", "rollback", "absent")
SHARED_APPLY_FAILED = (
    "the batch's shared kubernetes.core.k8s run failed, so each release of the batch on this "
    "cluster was applied on its own"
)


def _each(function: Callable[[Release], Any], releases: list[Release]) -> None:
    if len(releases) <= 1:
        for rel in releases:
            function(rel)
        return
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(releases))) as pool:
        list(pool.map(function, releases))


def run(
    specs: list[Spec],
    apply: Apply,
    check: bool,
    holder: str,
    env: Mapping[str, str],
    connect: Connect = connection.connect,
) -> dict[str, Outcome]:
    clusters: dict[str, list[Spec]] = defaultdict(list)
    resolved: dict[str, dict[str, Any]] = {}
    for spec in specs:
        options = connection.resolve(spec.connection, env)
        key = connection.identity(options)
        clusters[key].append(spec)
        resolved[key] = options
    outcomes: dict[str, Outcome] = {}
    for key, group in clusters.items():
        options = resolved[key]
        try:
            kube = connect(options, group[0].field_manager)
        except KubeError as error:
            outcomes.update({s.host: Outcome(failed=True, msg=str(error)) for s in group})
            continue
        writing = not check and any(s.state in WRITERS for s in group)
        deployer = functools.cache(kube.whoami) if writing else ""

        def release_apply(objects: list[dict[str, Any]], options: dict[str, Any] = options) -> str:
            return apply(options, objects)

        follower = Follower(kube)
        releases = [
            Release(
                spec,
                kube,
                SecretStore(kube, spec.namespace, spec.name),
                release_apply,
                check,
                deployer,
                holder,
                follower,
            )
            for spec in group
        ]
        try:
            cluster(releases)
        finally:
            follower.close()
        _warn_without_metrics(kube, releases)
        outcomes.update({r.spec.host: r.outcome for r in releases})
    return outcomes


def cluster(releases: list[Release]) -> None:
    """Every release of one cluster identity, locked for the whole run."""
    interval = min(r.spec.lock_seconds for r in releases) / 3
    with Renewer([r.lease for r in releases], interval):
        try:
            _each(_open, releases)
            ready = [r for r in releases if not r.outcome.failed]
            _deploy([r for r in ready if r.spec.state == "present"])
            _each(_other, [r for r in ready if r.spec.state != "present"])
        finally:
            for r in releases:
                if not r.check:
                    with contextlib.suppress(KubeError):  # else it expires by itself
                        r.lease.release()


def _open(rel: Release) -> None:
    """Lock (writers, outside check mode), then read the history."""
    try:
        if not rel.check and rel.spec.state in WRITERS:
            rel.lease.take(wait=rel.spec.timeout + 30)
        rel.history = History.read(rel.store)
    except NamespaceMissing as error:
        rel.fail(f"exchange_router_namespace: {error}")
    except (KubeError, LockError) as error:
        rel.fail(str(error))


def _other(rel: Release) -> None:
    try:
        if rel.spec.state == "rollback":
            error = rollback.run(rel, rel.spec.revision)
            if error:
                rel.fail(error)
            elif not rel.check:
                rel.outcome.msg = (
                    f"Release {rel.spec.name} rolled back to revision "
                    f"{rel.outcome.rolled_back_to} (recorded as revision {rel.outcome.revision})"
                )
        elif rel.spec.state == "absent":
            uninstall.run(rel)
        else:  # history (a rendered release never reaches the engine)
            history.run(rel)
    except (KubeError, LockError) as error:
        rel.fail(str(error))


def _deploy(releases: list[Release]) -> None:
    plans: dict[int, Plan] = {}

    def plan(rel: Release) -> None:
        try:
            found = upgrade.plan(rel)
        except KubeError as error:
            rel.fail(str(error))
            return
        if found is not None:
            plans[id(rel)] = found

    _each(plan, releases)
    planned = [r for r in releases if id(r) in plans]
    errors: dict[int, str] = {}
    writing = [r for r in planned if plans[id(r)].modified and not r.check]

    def before(rel: Release) -> None:
        error = prepare(rel, plans[id(rel)])
        if error:
            errors[id(rel)] = error

    _each(before, writing)
    errors.update(_apply([r for r in writing if id(r) not in errors], plans))

    def finish(rel: Release) -> None:
        try:
            upgrade.finish(rel, plans[id(rel)], rel.redact(errors.get(id(rel), "")))
        except (KubeError, LockError) as error:
            rel.fail(str(error))

    _each(finish, [r for r in planned if not r.check])


def _apply(releases: list[Release], plans: dict[int, Plan]) -> dict[int, str]:
    """One apply for every release; if it fails, one per release. Release id -> its error."""
    objects = [obj for r in releases for obj in plans[id(r)].writes()]
    if not objects:
        return {}
    error = releases[0].apply(objects)
    if not error:
        return {}
    if len(releases) == 1:
        return {id(releases[0]): error}
    errors = {}
    for rel in releases:
        rel.warn(SHARED_APPLY_FAILED)
        writes = plans[id(rel)].writes()
        own = rel.apply(writes) if writes else ""
        if own:
            errors[id(rel)] = own
    return errors


def _warn_without_metrics(kube: Client, releases: list[Release]) -> None:
    # Said when the HPA is written (a no-op deploy does not ask again).
    scaling = [r for r in releases if r.spec.state == "present" and r.spec.autoscaling]
    written = any(r.outcome.changed and not r.outcome.failed for r in scaling)
    if written and not kube.serves(METRICS_API):
        for r in scaling:
            r.warn(
                f"autoscaling is enabled but the cluster serves no {METRICS_API} "
                "(no metrics-server): the HorizontalPodAutoscaler cannot act"
            )
