# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history action (state history): a release's revisions, and the table
`playbooks/history.yml` prints, one aligned line per revision as `helm history` does."""

from __future__ import annotations

from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.configuration import Configuration
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Result
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.store import (
    HISTORY_COLUMNS,
    History,
)


class ListHistory:
    def __init__(self, cfg: Configuration, spec: Spec) -> None:
        self.cfg, self.spec = cfg, spec

    def run(self) -> Result:
        try:
            records = History.read(self.cfg.store).records
        except KubeError as error:
            return Result(failed=True, msg=self.cfg.redact(str(error)))
        rows = [r.summary() for r in records]
        if not rows:
            msg = f"Release {self.spec.name} has no history in namespace {self.spec.namespace}"
            return Result(msg=msg)
        return Result(msg="\n".join(table(rows)), history=rows)


def table(rows: list[dict[str, Any]]) -> list[str]:
    cells = [[c.upper() for c in HISTORY_COLUMNS]]
    cells += [
        [str(row.get(c) if row.get(c) is not None else "") for c in HISTORY_COLUMNS] for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HISTORY_COLUMNS))]
    return [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
