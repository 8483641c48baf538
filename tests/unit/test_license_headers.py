"""Every file under plugins/ carries the collection's license header.

The header is the two comment lines below, at the top of the file: after a shebang
(plugins/modules/*.py) or a YAML document start (``---``, plugins/filter/*.yml) at most.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
HEADER = (
    "# Copyright: exchange.platform maintainers",
    "# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)",
)


def plugin_files() -> list[Path]:
    """Every file the collection ships from plugins/ (caches and dotfiles are not shipped)."""
    return sorted(
        path
        for path in PLUGINS.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not any(part.startswith(".") for part in path.relative_to(PLUGINS).parts)
        and path.suffix != ".pyc"
    )


def test_there_are_plugin_files() -> None:
    assert len(plugin_files()) > 10


@pytest.mark.parametrize("path", plugin_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugin_file_has_the_license_header(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if lines[start:] and (lines[start].startswith("#!") or lines[start] == "---"):
        start += 1
    assert tuple(lines[start : start + 2]) == HEADER, (
        f"{path.relative_to(ROOT)} must start with the license header"
        " (after a shebang or '---' at most):\n" + "\n".join(HEADER)
    )
