# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange.platform.release_report: one host's part of a release engine run, as that host's
own result (changed, failed, message, diff, warnings); or, with `releases`, the whole batch's
part in one summary (the drift report's fleet summary). Docs: plugins/modules/release_report.py."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

SHOWN = ("changed", "failed", "msg", "diff", "revision", "rolled_back_to", "history", "files")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("release", "releases"))
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        if "releases" in self._task.args:
            return dict(result, **self._fleet(self._task.args["releases"] or {}, task_vars))
        host = task_vars.get("inventory_hostname")
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

    def _fleet(self, releases: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """The batch's releases in one result, run once: each release's message, its first line
        after its host's name (one line per release) and the rest below (drift's field lines are
        indented). Its status is its own host's, the batch's first (a run-once task counts on
        that host in the recap): changed when that release changed, never failed (that would
        fail every host). `hosts` lists the others whose status the recap still needs - changed,
        failed or without a revision (nothing to compare) - and the first host if its release
        failed: playbooks/diff.yml's second play reports them."""
        me = task_vars.get("inventory_hostname")
        batch = task_vars.get("ansible_play_batch") or []
        hosts = [h for h in batch if h in releases] + [h for h in releases if h not in batch]
        lines: list[str] = []
        for host in hosts:
            outcome = releases[host] or {}
            first, *rest = str(outcome.get("msg") or "(no message)").splitlines()
            lines += [f"{host}: {first}", *rest]
            for warning in outcome.get("warnings") or []:
                self._display.warning(f"{host}: {warning}")

        def where(test: Any) -> list[str]:
            return [h for h in hosts if test(releases[h] or {})]

        changed, failed = where(lambda o: o.get("changed")), where(lambda o: o.get("failed"))
        no_revision = where(
            lambda o: not (o.get("changed") or o.get("failed") or o.get("revision"))
        )
        return {
            "changed": me in changed,
            "msg": lines or ["no release in the engine run"],
            "changed_hosts": changed,
            "failed_hosts": failed,
            "no_revision_hosts": no_revision,
            "hosts": [h for h in hosts if h in failed or (h != me and h in changed + no_revision)],
            "_ansible_verbose_always": True,
        }
