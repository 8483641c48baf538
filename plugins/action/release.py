# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange.platform.release: the release engine's Ansible face (docs: plugins/modules/release.py).

Runs once per play batch (the role sets run_once) in the controller. It collects the release
each host of the batch described, hands them to the engine, and runs kubernetes.core.k8s once
per cluster for the apply. Every other request is made from this process.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import yaml
from ansible.plugins.action import ActionBase

# Imported at module level on purpose: the linear strategy loads this class in the parent process
# before it forks a worker, so the kubernetes client is imported once per ansible-playbook run.
from ansible_collections.exchange.platform.plugins.plugin_utils import engine
from ansible_collections.exchange.platform.plugins.plugin_utils.release import Spec

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
        specs = []
        for host in task_vars.get("ansible_play_batch", []):
            values = hostvars[host].get(fact)
            if isinstance(values, dict) and values.get("batch") == batch:
                specs.append(Spec.of(host, values))
        rendered = [s for s in specs if s.state == "rendered"]
        releases = {s.host: self._render(s, values_of(hostvars, s.host, fact)) for s in rendered}
        holder = (
            f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"
        )

        def apply(kubeconfig: str, context: str, objects: list[dict[str, Any]]) -> str:
            return self._apply(task_vars, kubeconfig, context, objects)

        live = [s for s in specs if s.state != "rendered"]
        outcomes = engine.run(live, apply, bool(self._task.check_mode), holder) if live else {}
        releases.update({host: vars(outcome) for host, outcome in outcomes.items()})
        return dict(result, changed=False, releases=releases)

    def _apply(
        self,
        task_vars: dict[str, Any],
        kubeconfig: str,
        context: str,
        objects: list[dict[str, Any]],
    ) -> str:
        args: dict[str, Any] = {
            "state": "present",
            "definition": objects,
            "apply": True,
            "server_side_apply": {"field_manager": "exchange.platform", "force_conflicts": True},
        }
        if kubeconfig:
            args["kubeconfig"] = kubeconfig
        if context:
            args["context"] = context
        done = self._execute_module(module_name=K8S, module_args=args, task_vars=task_vars)
        if done.get("failed"):
            return f"kubernetes.core.k8s could not apply the release: {done.get('msg', 'failed')}"
        return ""

    @staticmethod
    def _render(spec: Spec, values: dict[str, Any]) -> dict[str, Any]:
        """Write one manifest per object, like `helm template` (the Secret's file is 0600)."""
        out = Path(values["render_dir"])
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for obj in spec.objects + ([spec.secret] if spec.secret else []):
            path = out / f"{obj['kind'].lower()}.yaml"
            plain = json.loads(json.dumps(obj))  # templated values are str subclasses YAML refuses
            text = yaml.safe_dump(plain, sort_keys=False, default_flow_style=False)
            old = path.read_text() if path.exists() else None
            path.touch(mode=0o600 if obj["kind"] == "Secret" else 0o644)
            path.write_text(text)
            written.append({"path": str(path), "changed": old != text})
        return {
            "changed": any(w["changed"] for w in written),
            "failed": False,
            "files": [w["path"] for w in written],
            "msg": f"wrote {len(written)} manifests to {out}",
        }


def values_of(hostvars: Any, host: str, fact: str) -> dict[str, Any]:
    return hostvars[host].get(fact)
