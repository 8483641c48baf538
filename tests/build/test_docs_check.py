"""`tools/docs.sh --check` (make docs-check) passes on docs/ as `tools/docs.sh` (make docs)
wrote it, fails once a plugin's documentation changes and docs/ was not regenerated, naming the
stale pages, and passes again after `tools/docs.sh`.

The test works on a copy of the checkout (the files `git ls-files` lists, tracked and
untracked), never on the checkout itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = "plugins/modules/release_report.py"
CHANGED = "Changed by the docs check test so that docs are stale"  # no RST-escaped characters


def copy_checkout(dest: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is listed too
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def docs_sh(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # DOCS_LINT=0: the sources are linted by make docs-check itself; this tests the staleness check.
    env = {**os.environ, "VENV_BIN": str(Path(sys.executable).parent), "DOCS_LINT": "0"}
    return subprocess.run(
        ["bash", str(checkout / "tools" / "docs.sh"), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def stale_files(stderr: str) -> set[str]:
    """The files the STALE report lists, from lines like '  docs/x.rst (differs)'."""
    return set(re.findall(r"^  (docs/\S+) \(", stderr, flags=re.MULTILINE))


def test_a_changed_description_is_stale_until_make_docs(tmp_path: Path) -> None:
    checkout = copy_checkout(tmp_path)
    # First bring the copy's docs/ up to date: whether the checkout's own docs/ is, is what
    # make docs-check checks, and other work in progress may have changed the sources.
    first = docs_sh(checkout)
    assert first.returncode == 0, first.stdout + first.stderr
    unchanged = docs_sh(checkout, "--check")
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "docs: docs/ matches the sources" in unchanged.stdout

    module = checkout / MODULE
    text, count = re.subn(
        r"^short_description: .*$",
        f"short_description: {CHANGED}",
        module.read_text(encoding="utf-8"),
        count=1,
        flags=re.MULTILINE,
    )
    assert count == 1, f"{MODULE} has no short_description line to change"
    module.write_text(text, encoding="utf-8")

    check = docs_sh(checkout, "--check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "docs/ is STALE" in check.stderr
    # the module's page and the index, which lists each plugin's short description
    assert stale_files(check.stderr) == {"docs/release_report_module.rst", "docs/README.rst"}
    assert CHANGED in check.stderr  # the diff shows what changed

    write = docs_sh(checkout)
    assert write.returncode == 0, write.stdout + write.stderr
    assert CHANGED in (checkout / "docs" / "release_report_module.rst").read_text()
    assert docs_sh(checkout, "--check").returncode == 0
    # the checkout itself was not touched
    assert CHANGED not in (ROOT / "docs" / "release_report_module.rst").read_text()
