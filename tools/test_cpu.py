"""The report of tools/test_cpu.sh: CPU seconds of a run from its directory of /proc/stat lines,
BSD process accounting (dump-acct) and kind node cgroup readings. Standard library only."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

# A part of make test: the process of one of these with everything it started.
PARTS = {"pytest", "coverage", "molecule", "ansible-lint", "ansible-test", "antsibull-docs"}
HZ = 100  # /proc/stat and acct ticks per second


def busy_idle(run: Path) -> tuple[float, float]:
    before, after = (
        [int(x) for x in (run / f).read_text().split()[1:]] for f in ("stat0", "stat1")
    )
    ticks = [b - a for a, b in zip(before, after, strict=True)]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / HZ, idle / HZ


def processes(run: Path) -> list[dict]:
    dump = subprocess.run(
        ["dump-acct", str(run / "pacct")], capture_output=True, text=True, check=True
    )
    rows = []
    for line in dump.stdout.splitlines():
        f = [x.strip() for x in line.split("|")]
        start = datetime.strptime(f[14], "%a %b %d %H:%M:%S %Y").timestamp()
        cpu = (float(f[2]) + float(f[3])) / HZ
        rows.append(
            dict(
                comm=f[0],
                cpu=cpu,
                secs=float(f[4]) / HZ,
                pid=int(f[9]),
                ppid=int(f[10]),
                start=start,
            )
        )
    return rows


PLAYBOOK = "ansible-playboo"  # acct keeps 15 characters of a command's name


def parents(rows: list[dict]) -> list[int | None]:
    """Each record's parent: the record of its ppid that was alive when it started (a pid may be
    reused during the run)."""
    by_pid = defaultdict(list)
    for i, r in enumerate(rows):
        by_pid[r["pid"]].append(i)

    def parent(i: int) -> int | None:
        r = rows[i]
        alive = [
            j
            for j in by_pid.get(r["ppid"], [])
            if rows[j]["start"] <= r["start"] + 1 <= rows[j]["start"] + rows[j]["secs"] + 3
        ]
        return alive[-1] if alive else None

    return [parent(i) for i in range(len(rows))]


def owners(rows: list[dict], up: list[int | None], owns: Callable[[int], bool]) -> list[int | None]:
    """Each record's nearest ancestor (itself included) for which owns(index) holds, or None."""
    found: list[int | None] = []
    for i in range(len(rows)):
        j, hops = i, 0
        while j is not None and not owns(j) and hops < 64:
            j, hops = up[j], hops + 1
        found.append(j if j is not None and owns(j) else None)
    return found


def _part_name(p: dict) -> str:
    began = datetime.fromtimestamp(p["start"]).strftime("%H:%M:%S")
    return f"{p['comm']} from {began} for {p['secs']:.0f} s"


OUTSIDE = "(outside the parts: clusters, make, shells)"


def parts(rows: list[dict]) -> Counter:
    """CPU per part: each process counts for the part that started it, at any depth."""
    up = parents(rows)
    total = Counter()
    for r, j in zip(rows, owners(rows, up, lambda i: rows[i]["comm"] in PARTS), strict=True):
        total[OUTSIDE if j is None else _part_name(rows[j])] += r["cpu"]
    return total


def playbook_runs(rows: list[dict]) -> dict[str, tuple[int, float]]:
    """Per part: how many ansible-playbook runs it started (a forked worker is not a run) and the
    CPU of those runs with everything they started (workers, modules)."""
    up = parents(rows)

    def is_run(i: int) -> bool:
        return rows[i]["comm"] == PLAYBOOK and (up[i] is None or rows[up[i]]["comm"] != PLAYBOOK)

    run_of = owners(rows, up, is_run)
    part_of = owners(rows, up, lambda i: rows[i]["comm"] in PARTS)
    runs, cpu = Counter(), Counter()
    for i, r in enumerate(rows):
        if run_of[i] is None:
            continue
        part = part_of[run_of[i]]
        name = OUTSIDE if part is None else _part_name(rows[part])
        cpu[name] += r["cpu"]
        runs[name] += i == run_of[i]
    return {name: (runs[name], total) for name, total in cpu.most_common()}


def main(run: Path) -> None:
    busy, idle = busy_idle(run)
    rows = processes(run)
    print(f"machine: {busy:.0f} CPU-s busy, {idle:.0f} idle")
    print(f"exited processes: {sum(r['cpu'] for r in rows):.0f} CPU-s in {len(rows)}")
    print("\nparts (each with what it started):")
    for name, cpu in parts(rows).most_common(16):
        print(f"  {cpu:8.1f}  {name}")
    print("\nansible-playbook runs (a forked worker is not a run) by the part that started them:")
    for name, (n, cpu) in playbook_runs(rows).items():
        print(f"  {cpu:8.1f}  {n:4d} runs  {name}")
    print("\ncommands:")
    commands, count = Counter(), Counter()
    for r in rows:
        commands[r["comm"]] += r["cpu"]
        count[r["comm"]] += 1
    for name, cpu in commands.most_common(12):
        print(f"  {cpu:8.1f}  {name} ({count[name]} runs)")
    print("\nkind node containers (cgroup, still running):")
    before = dict(line.split() for line in (run / "nodes0").read_text().splitlines())
    for line in (run / "nodes1").read_text().splitlines():
        name, ns = line.split()
        print(f"  {(int(ns) - int(before.get(name, 0))) / 1e9:8.1f}  {name.lstrip('/')}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
