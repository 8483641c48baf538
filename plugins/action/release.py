# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange.platform.release: the release engine's Ansible face (docs: plugins/modules/release.py).

Runs once per play batch (the role sets run_once) in the controller. It collects the release
each host of the batch described, hands them to the engine, and runs kubernetes.core.k8s for the
apply, with the connection the engine resolved (one identity for every request of a release).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Any

import yaml
from ansible.plugins.action import ActionBase

# Imported at module level on purpose: the linear strategy loads this class in the parent process
# before it forks a worker, so the kubernetes client is imported once per ansible-playbook run.
from ansible_collections.exchange.platform.plugins.plugin_utils import connection, engine
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec, SpecError

K8S = "kubernetes.core.k8s"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("fact", "batch"))

    def _update_module_args(
        self,
        module_name: str,
        module_args: dict[str, Any],
        task_vars: dict[str, Any],
        ignore_unknown_opts: bool = False,
    ) -> None:
        super()._update_module_args(module_name, module_args, task_vars, ignore_unknown_opts)
        # The apply may carry a plain-mode Secret: never log the module's arguments anywhere.
        module_args["_ansible_no_log"] = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        fact, batch = self._task.args["fact"], self._task.args["batch"]
        hostvars = task_vars["hostvars"]
        check = bool(self._task.check_mode)
        try:
            specs = [
                Spec.of(host, hostvars[host][fact])
                for host in task_vars.get("ansible_play_batch", [])
                if (hostvars[host].get(fact) or {}).get("batch") == batch
            ]
        except SpecError as error:
            return dict(result, failed=True, msg=str(error))
        releases = {s.host: render(s, check) for s in specs if s.state == "rendered"}
        holder = (
            f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"
        )

        def apply(options: dict[str, Any], objects: list[dict[str, Any]]) -> str:
            return self._apply(task_vars, options, objects)

        live = [s for s in specs if s.state != "rendered"]
        if live:
            outcomes = engine.run(live, apply, check, holder, self._environment())
            releases.update({host: vars(outcome) for host, outcome in outcomes.items()})
        return dict(result, changed=False, releases=releases)

    def _environment(self) -> dict[str, str]:
        """The environment the module runs in: the controller's and the task's `environment`."""
        env = dict(os.environ)
        entries = self._task.environment or []
        for entry in entries if isinstance(entries, list) else [entries]:
            if entry:
                env.update({str(k): str(v) for k, v in self._templar.template(entry).items()})
        return env

    def _apply(
        self, task_vars: dict[str, Any], options: dict[str, Any], objects: list[dict[str, Any]]
    ) -> str:
        args: dict[str, Any] = dict(
            connection.module_args(options),
            state="present",
            definition=objects,
            apply=True,
            server_side_apply={"field_manager": "exchange.platform", "force_conflicts": True},
        )
        done = self._execute_module(module_name=K8S, module_args=args, task_vars=task_vars)
        if not done.get("failed"):
            return ""
        reason = done.get("msg") or "failed"
        for key in ("reason", "error", "status"):
            if done.get(key) and str(done[key]) not in reason:
                reason += f" ({key}: {done[key]})"
        return f"kubernetes.core.k8s could not apply the release: {reason}"


def render(spec: Spec, check: bool) -> dict[str, Any]:
    """Write one manifest per object, like `helm template`; in check mode, only say what would
    change. The Secret's file is written 0600 whatever was there (temporary file, then rename)."""
    out = Path(spec.render_dir)
    written = []
    for obj in spec.objects + ([spec.secret] if spec.secret else []):
        path = out / f"{obj['kind'].lower()}.yaml"
        plain = json.loads(json.dumps(obj))  # templated values are str subclasses YAML refuses
        text = yaml.safe_dump(plain, sort_keys=False, default_flow_style=False)
        old = path.read_text() if path.exists() else None
        mode = 0o600 if obj["kind"] == "Secret" else 0o644
        changed = old != text or (path.exists() and path.stat().st_mode & 0o777 != mode)
        if changed and not check:
            out.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{path.name}.")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        written.append({"path": str(path), "changed": changed})
    verb = "would write" if check else "wrote"
    return {
        "changed": any(w["changed"] for w in written),
        "failed": False,
        "files": [w["path"] for w in written],
        "msg": f"{verb} {len(written)} manifests to {out}",
    }
