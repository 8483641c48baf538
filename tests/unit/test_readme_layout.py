"""The README's Layout table names every top-level entry and every folder of plugins/ and tests/,
and only paths that exist: it stays complete as the code changes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def layout_paths() -> set[str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {p.rstrip("/") for cell in first_cells for p in re.findall(r"`([^`]+)`", cell)}


def tracked() -> list[str]:
    return subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()


def test_every_top_level_entry_and_plugin_or_test_folder_has_a_row() -> None:
    files = tracked()
    wanted = {f.split("/")[0] for f in files if not f.startswith(".") or f.startswith(".ci/")}
    wanted |= {"/".join(f.split("/")[:2]) for f in files if f.startswith(("plugins/", "tests/"))}
    wanted -= {f for f in wanted if f.startswith("tests/") and "." in f.split("/")[1]}
    wanted.discard("tests")
    listed = layout_paths()
    covered = {
        w
        for w in wanted
        if w in listed or any(w.startswith(p + "/") or p.startswith(w + "/") for p in listed)
    }
    assert wanted - covered == set(), f"README Layout lacks rows for {sorted(wanted - covered)}"


def test_every_row_names_paths_that_exist() -> None:
    missing = [p for p in layout_paths() if "*" not in p and not (ROOT / p).exists()]
    assert missing == [], f"README Layout names paths that do not exist: {missing}"
