# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history action (state history): a release's revisions, and the table
`playbooks/history.yml` prints, one aligned line per revision as `helm history` does."""

from __future__ import annotations

from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.result import Action
from ansible_collections.exchange.platform.plugins.plugin_utils.store import (
    HISTORY_COLUMNS,
    History,
)


class ListHistory(Action):
    def steps(self) -> None:
        rows = [r.summary() for r in History.read(self.cfg.store).records]
        self.result.history = rows
        self.result.msg = (
            "\n".join(table(rows))
            if rows
            else f"Release {self.spec.name} has no history in namespace {self.spec.namespace}"
        )


def table(rows: list[dict[str, Any]]) -> list[str]:
    cells = [[c.upper() for c in HISTORY_COLUMNS]]
    cells += [
        [str(row.get(c) if row.get(c) is not None else "") for c in HISTORY_COLUMNS] for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HISTORY_COLUMNS))]
    return [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
