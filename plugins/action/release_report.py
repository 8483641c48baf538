# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange.platform.release_report: one host's part of a release engine run, as that host's
own result (changed, failed, message, diff, warnings). Docs: plugins/modules/release_report.py."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

SHOWN = ("changed", "failed", "msg", "diff", "revision", "rolled_back_to", "history", "files")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("release",))
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        host = (task_vars or {}).get("inventory_hostname")
        outcome = self._task.args.get("release")
        if not outcome:
            return dict(result, skipped=True, msg="this host had no release in the engine run")
        for warning in outcome.get("warnings") or []:
            self._display.warning(f"{host}: {warning}")
        result.update({k: outcome[k] for k in SHOWN if outcome.get(k) not in (None, [], "")})
        result.setdefault("changed", False)
        # A message of several lines (history's table) as a list of them: Ansible's default
        # callback prints a list one line per item, a string as one line with its newlines
        # escaped. A failure's message stays one string, as Ansible's own modules give it (a
        # playbook searches a registered failure's msg).
        if not result.get("failed") and "\n" in result.get("msg", ""):
            result["msg"] = result["msg"].splitlines()
        # Like helm's NOTES: what was deployed and where it answers, without -v.
        result["_ansible_verbose_always"] = True
        if not result.get("diff"):
            result.pop("diff", None)
        return result
