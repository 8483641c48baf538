"""The README's feature table (under "The production edge") credits each feature to tests by
their pytest node ids, and every id it names exists: pytest's own collection of the files the
table names (kind-marked and integration tests included; collecting runs none of them and needs
no cluster). A cell with no test says "not tested", or "pending" while a test is being written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLUMN = "proven by"
NO_TEST = ("not tested", "pending")


def proven_by_cells(readme: str) -> dict[str, str]:
    """feature -> its "proven by" cell, from the one table that has that column."""
    lines = readme.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("|") and COLUMN in line]
    assert len(starts) == 1, f'README.md has {len(starts)} tables with a "{COLUMN}" column'
    header = [cell.strip() for cell in lines[starts[0]].strip("|").split("|")]
    column = header.index(COLUMN)
    cells = {}
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        row = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        assert len(row) == len(header), f"a row with {len(row)} cells, not {len(header)}: {line}"
        cells[row[0]] = row[column]
    return cells


def named_ids(cell: str) -> list[str]:
    return [span for span in re.findall(r"`([^`]+)`", cell) if "::" in span]


def collected(files: set[str]) -> set[str]:
    """Every node id pytest collects from these files, parametrized ones with and without their
    brackets (`path::test` selects all of its cases). One run per folder of tests/: each has a
    conftest.py of its own, which its tests import by that name."""
    ids: set[str] = set()
    for folder in sorted({Path(f).parts[1] for f in files}):
        ids |= _collect(sorted(f for f in files if Path(f).parts[1] == folder))
    return ids | {node.split("[", 1)[0] for node in ids}


def _collect(files: list[str]) -> set[str]:
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts="]
    run = subprocess.run(
        [*pytest, "--collect-only", "-q", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {line.strip() for line in run.stdout.splitlines() if "::" in line}


def missing_ids(readme: str) -> list[str]:
    """The ids the table names that pytest does not collect, each with its row."""
    wanted = {(f, node) for f, cell in proven_by_cells(readme).items() for node in named_ids(cell)}
    files = {node.split("::", 1)[0] for _feature, node in wanted}
    absent = sorted(f for f in files if not (ROOT / f).is_file())
    known = collected(files - set(absent))
    return [f"{feature}: {node}" for feature, node in sorted(wanted) if node not in known]


def cells_without_ids(readme: str) -> list[str]:
    """The rows whose cell names a test file or folder (no node id: `test_edge.py`,
    `tests/render`), or names no node id and does not say it has none."""
    wrong = []
    for feature, cell in proven_by_cells(readme).items():
        spans = re.findall(r"`([^`]+)`", cell)
        files = [s for s in spans if "::" not in s and re.match(r"tests/|test_\w*\.py", s)]
        if files or not (named_ids(cell) or any(word in cell for word in NO_TEST)):
            wrong.append(f"{feature}: {cell}")
    return wrong


def test_every_cell_names_node_ids_or_says_it_has_none() -> None:
    wrong = cells_without_ids((ROOT / "README.md").read_text())
    assert wrong == [], "cells that name no node ids (nor say 'not tested'/'pending'):\n" + (
        "\n".join(wrong)
    )


def test_every_node_id_the_table_names_is_collected() -> None:
    missing = missing_ids((ROOT / "README.md").read_text())
    assert missing == [], "the feature table names tests pytest does not collect:\n" + (
        "\n".join(missing)
    )


TABLE = "| feature | here | proven by |\n| --- | --- | --- |\n"
GOOD_ROW = "| a | `x` | `tests/render/test_render.py::test_quantities_are_canonical` |\n"


def test_a_wrong_id_is_found() -> None:
    """The control: the same check passes a collected id (also one of a parametrized test's
    cases), and finds an id that does not exist, a case that does not, and an absent file."""
    readme = (
        TABLE
        + GOOD_ROW
        + "| b | `y` | `tests/render/test_render.py::test_defaults_carry_every_field_of_the_seed"
        "[Service]`; `tests/render/test_render.py::test_defaults_carry_every_field_of_the_seed`"
        " |\n"
        "| c | `z` | `tests/render/test_render.py::test_no_such_test`, "
        "`tests/render/test_render.py::test_defaults_carry_every_field_of_the_seed[Pod]`, "
        "`tests/render/test_none.py::test_x` |\n"
    )
    assert missing_ids(readme) == [
        "c: tests/render/test_none.py::test_x",
        "c: tests/render/test_render.py::test_defaults_carry_every_field_of_the_seed[Pod]",
        "c: tests/render/test_render.py::test_no_such_test",
    ]


def test_a_cell_naming_a_file_or_nothing_is_found() -> None:
    """The control: node ids and "not tested" pass; a file, a folder or prose alone do not."""
    readme = (
        TABLE + GOOD_ROW + "| b | `y` | not tested |\n"
        "| c | `z` | `tests/render`, `test_edge.py` (Traefik) |\n"
        "| d | `w` | the kind tier |\n"
    )
    assert cells_without_ids(readme) == [
        "c: `tests/render`, `test_edge.py` (Traefik)",
        "d: the kind tier",
    ]
