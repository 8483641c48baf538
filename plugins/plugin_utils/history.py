# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history action: a release's revisions, and the table `playbooks/history.yml` prints,
one aligned line per revision as `helm history` does."""

from __future__ import annotations

from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.release import Release
from ansible_collections.exchange.platform.plugins.plugin_utils.store import summary

COLUMNS = ("revision", "time", "status", "deployer", "image", "description")


def run(rel: Release) -> None:
    rel.outcome.history = [summary(r) for r in rel.history.records]
    rel.outcome.msg = (
        "\n".join(table(rel.outcome.history))
        if rel.outcome.history
        else (f"Release {rel.spec.name} has no history in namespace {rel.spec.namespace}")
    )


def table(rows: list[dict[str, Any]]) -> list[str]:
    cells = [[c.upper() for c in COLUMNS]]
    cells += [[str(row.get(c) if row.get(c) is not None else "") for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
