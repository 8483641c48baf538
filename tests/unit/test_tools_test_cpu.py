"""tools/test_cpu.py: each process's CPU goes to the part (pytest, molecule, ...) that started it,
through any depth of children, and a reused pid is told apart by when each process lived."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("test_cpu", ROOT / "tools/test_cpu.py")
test_cpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_cpu)


def proc(comm: str, pid: int, ppid: int, start: float, secs: float, cpu: float) -> dict:
    return dict(comm=comm, pid=pid, ppid=ppid, start=start, secs=secs, cpu=cpu)


def test_children_count_for_the_part_that_started_them_and_a_reused_pid_does_not_mislead() -> None:
    rows = [
        proc("make", 10, 1, 0, 100, 0.5),
        proc("pytest", 20, 10, 1, 50, 2.0),  # a part, lives 1..51
        proc("ansible-playboo", 30, 20, 5, 3, 1.5),
        proc("python3", 31, 30, 6, 1, 1.0),  # grandchild of the pytest
        proc("pytest", 20, 10, 60, 10, 0.25),  # pid 20 again, later, another part
        proc("ansible-playboo", 32, 20, 62, 2, 4.0),  # child of the second pytest 20
        proc("curl", 40, 10, 70, 1, 0.75),  # make's own child: no part
    ]
    parts = test_cpu.parts(rows)
    by_length = {name.rsplit(" for ", 1)[-1]: cpu for name, cpu in parts.items()}
    assert by_length == {
        "50 s": 4.5,
        "10 s": 4.25,
        "(outside the parts: clusters, make, shells)": 1.25,
    }
