"""Requests per second of each kube-controller-manager controller in the namespaces whose name
starts with a prefix, from the local cluster's audit log (bench/apicount.py has the log's shape).

A controller whose requests stay flat at its client limit (kube-controller-manager's
--kube-api-qps, cluster/kwokctl.yaml.in) for a whole fleet rollout is what paces the rollout.

Usage: python bench/controller_rate.py --kubeconfig KUBECONFIG PREFIX
(after `make bench`: PREFIX xr-bench-<run id>-s-50; or any play over several namespaces).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from datetime import datetime

from apicount import audit_log_path

MANAGER = "kube-controller-manager/"


def _seconds(event: dict) -> float:
    stamp = event["requestReceivedTimestamp"].replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def rates(lines: list[str], prefix: str) -> tuple[float, dict[str, Counter[int]]]:
    """The first matching event's time and, per controller, its requests in each whole second
    after it."""
    events = []
    for line in lines:
        if prefix not in line:
            continue
        event = json.loads(line)
        if (event.get("objectRef") or {}).get("namespace", "").startswith(prefix):
            events.append(event)
    if not events:
        return 0.0, {}
    start = min(_seconds(e) for e in events)
    per: dict[str, Counter[int]] = defaultdict(Counter)
    for event in events:
        agent = event.get("userAgent", "")
        if agent.startswith(MANAGER):
            per[agent.rsplit("/", 1)[-1]][int(_seconds(event) - start)] += 1
    return start, per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("prefix", help="namespace name prefix")
    args = parser.parse_args()
    lines = audit_log_path(args.kubeconfig).read_text().splitlines()
    start, per = rates(lines, args.prefix)
    print(f"from {datetime.fromtimestamp(start).isoformat(timespec='seconds')}")
    for controller, counts in sorted(per.items(), key=lambda kv: -sum(kv[1].values())):
        busy = [counts[s] for s in range(max(counts) + 1)]
        print(f"{controller:34} {sum(busy):5} requests, per second: {' '.join(map(str, busy))}")


if __name__ == "__main__":
    main()
