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


def test_a_playbook_run_counts_once_with_its_workers_and_modules_for_the_part_that_started_it() -> (
    None
):
    playbook = test_cpu.PLAYBOOK
    rows = [
        proc("make", 10, 1, 0, 100, 0.5),
        proc("pytest", 20, 10, 1, 50, 2.0),
        proc(playbook, 30, 20, 5, 20, 1.5),  # a run
        proc(playbook, 31, 30, 6, 10, 0.5),  # its forked worker: not a run
        proc("python3", 32, 31, 7, 2, 1.0),  # the module the worker ran
        proc(playbook, 33, 20, 30, 5, 0.75),  # a second run of the same pytest
        proc(playbook, 40, 10, 60, 5, 0.25),  # make's own run: outside the parts
        proc("kubectl", 41, 20, 8, 1, 3.0),  # the pytest's, not a playbook's
    ]
    runs = test_cpu.playbook_runs(rows)
    by_length = {name.rsplit(" for ", 1)[-1]: value for name, value in runs.items()}
    assert by_length == {"50 s": (2, 3.75), test_cpu.OUTSIDE: (1, 0.25)}
