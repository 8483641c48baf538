"""No tracked file keeps a merge's conflict markers (a README row once shipped inside one)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_tracked_file_has_conflict_markers() -> None:
    found = subprocess.run(
        ["git", "grep", "-n", "-I", "-E", "^(<{7}|>{7}) "],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 1, f"conflict markers left by a merge:\n{found.stdout}"
