# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release engine: every release of a play batch, grouped by cluster.

Per cluster: one client, the releases prepared side by side (each with its own lock, history and
dry-run), ONE apply of everything that changes (the caller runs kubernetes.core.k8s), then the
rollouts followed side by side. Locks are renewed by one thread from before the first write
until history is written.
"""

from __future__ import annotations

import contextlib
import functools
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.kube import KubeError, connect
from ansible_collections.exchange.platform.plugins.plugin_utils.lock import Renewer
from ansible_collections.exchange.platform.plugins.plugin_utils.release import (
    Outcome,
    Release,
    Spec,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.rollout import redact

# (kubeconfig, context, objects) -> '' or the apply's error message
Apply = Callable[[str, str, list[dict[str, Any]]], str]
METRICS_API = "metrics.k8s.io/v1beta1"


def _each(function: Callable[[Release], None], releases: list[Release]) -> None:
    if len(releases) == 1:
        function(releases[0])
        return
    with ThreadPoolExecutor(max_workers=min(8, len(releases))) as pool:
        list(pool.map(function, releases))


def run(specs: list[Spec], apply: Apply, check: bool, holder: str) -> dict[str, Outcome]:
    clusters: dict[tuple[str, str], list[Spec]] = defaultdict(list)
    for spec in specs:
        clusters[(spec.kubeconfig, spec.context)].append(spec)
    outcomes: dict[str, Outcome] = {}
    for (kubeconfig, context), group in clusters.items():
        try:
            kube = connect(kubeconfig, context, group[0].field_manager)
        except KubeError as error:
            outcomes.update({s.host: Outcome(failed=True, msg=str(error)) for s in group})
            continue
        writing = not check and any(s.state in ("present", "rollback") for s in group)
        deployer = kube.whoami() if writing else ""
        releases = [Release(kube, spec, holder, check, deployer) for spec in group]
        _cluster(releases, functools.partial(apply, kubeconfig, context), check)
        _warn_without_metrics(kube, releases)
        outcomes.update({r.spec.host: r.outcome for r in releases})
    return outcomes


def _warn_without_metrics(kube: Any, releases: list[Release]) -> None:
    scaling = [r for r in releases if r.spec.state == "present" and r.spec.autoscaling]
    if any(not r.outcome.failed for r in scaling) and not kube.serves(METRICS_API):
        for r in scaling:
            r.outcome.warnings.append(
                f"autoscaling is enabled but the cluster serves no {METRICS_API} "
                "(no metrics-server): the HorizontalPodAutoscaler cannot act"
            )


def _cluster(
    releases: list[Release], apply: Callable[[list[dict[str, Any]]], str], check: bool
) -> None:
    interval = min(r.spec.lock_seconds for r in releases) / 3
    with Renewer([r.lease for r in releases], interval):
        try:
            _each(Release.prepare, releases)
            writing = [r for r in releases if r.ready]
            error = ""
            if writing:
                try:
                    _each(Release.before_apply, writing)  # hand-offs, unsealing: side by side
                    objects = [obj for r in writing for obj in r.writes()]
                    error = apply(objects) if objects else ""
                except KubeError as failure:
                    error = f"the apply failed: {failure}"
            if error:
                values = [v for r in writing for v in r.secret_values]
                error = redact([error], values)[0]
            _each(lambda r: r.finish(error if r.ready else ""), releases)
        finally:
            if not check:
                for r in releases:
                    with contextlib.suppress(KubeError):  # else it expires by itself
                        r.lease.release()
