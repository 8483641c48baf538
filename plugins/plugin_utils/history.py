# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history action (state history): a release's revisions, and the table
`playbooks/history.yml` prints, one aligned line per revision as `helm history` does, and under a
canary's revision one line per check: step, weight, requests, success rate, p99 latency,
decision and why."""

from __future__ import annotations

from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.canary import check_line
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Action
from ansible_collections.exchange.platform.plugins.plugin_utils.store import (
    HISTORY_COLUMNS,
    History,
)


class ListHistory(Action):
    def steps(self) -> None:
        records = History.read(self.cfg.store).records
        rows = [r.summary() for r in records]
        for row, record in zip(rows, records, strict=True):
            if record.canary:
                row["canary"] = [check_line(c) for c in record.canary]
        self.result.history = rows
        self.result.msg = (
            "\n".join(table(rows))
            if rows
            else f"Release {self.spec.name} has no history in namespace {self.spec.namespace}"
        )


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The aligned table, each canary's checks under its revision, one line each."""
    lines = _aligned(rows)
    out = lines[:1]
    for row, line in zip(rows, lines[1:], strict=True):
        out += [line] + [f"    {check}" for check in row.get("canary") or []]
    return out


def _aligned(rows: list[dict[str, Any]]) -> list[str]:
    cells = [[c.upper() for c in HISTORY_COLUMNS]]
    cells += [
        [str(row.get(c) if row.get(c) is not None else "") for c in HISTORY_COLUMNS] for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HISTORY_COLUMNS))]
    return [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
