# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exchange.platform.release: the release engine's Ansible face (docs: plugins/modules/release.py).

Runs once per play batch (the role sets run_once) in the controller. For each host of the batch
it reads the role's variables, checks them (plugins/plugin_utils/rules.py), renders the role's
templates over them with Ansible's template lookup, hands the releases to the engine, and runs
kubernetes.core.k8s for the apply, with the connection the engine resolved (one identity for
every request of a release). One templating pass per host, in one process: per-host tasks cost
more than the work they would do.
"""

from __future__ import annotations

import gc
import getpass
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.exchange.platform.plugins.plugin_utils import template_context
from ansible_collections.exchange.platform.plugins.plugin_utils.render import render
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Result
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import FIELD_MANAGER, Spec
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import (
    DEPLOY_ONLY,
    RENDER_DIR_NEEDED,
    P,
)

K8S = "kubernetes.core.k8s"
# One kubernetes.core.k8s run at a time: ActionBase._execute_module writes the module, its
# arguments inside, to one path of the task's temporary directory (AnsiballZ_k8s.py), so the
# applies of releases running side by side after the batch's shared one (a fleet's canary
# promotes, rollbacks) overwrote each other's file and ran another release's objects: the
# benchmark's canary row found 7 of 10 promoted releases still on the old image, each reported
# deployed.
_MODULE_RUN = threading.Lock()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("require_state",))
    _requires_connection = False
    _render: Callable[[str, dict[str, Any]], str] | None = None  # set by the first _template

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
        # This worker is a fork of ansible-playbook and ends with this task: the heap it was born
        # with is never garbage, so the collector need not scan it again while the kubernetes
        # client loads (thousands of classes) and the batch is templated.
        gc.freeze()
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        refused = self._refused_state(task_vars)
        if refused:
            return dict(result, failed=True, changed=False, msg=refused)
        check = bool(self._task.check_mode)
        self._render = None
        specs, releases = [], {}
        for host in task_vars.get("ansible_play_batch", []):
            try:
                specs.append(self._spec(host, task_vars))
            except (ValueError, AnsibleError) as error:
                # Nothing of this release is written: not a Secret, not an object.
                releases[host] = vars(Result(failed=True, msg=str(error)))
        releases.update({s.host: vars(render(s, check)) for s in specs if s.state == "rendered"})
        live = [s for s in specs if s.state != "rendered"]
        if live:
            releases.update(self._release(live, task_vars, check))
        return dict(result, changed=False, releases=releases)

    def _refused_state(self, task_vars: dict[str, Any]) -> str:
        """With require_state (playbooks/diff.yml's `diff`): why this run must not start, or ''.
        Asked of the host the task runs on, once: the play sets the state for every host, and an
        extra var, the one way past it, is the same for every host. In this task rather than a
        task of its own before it: one task less for the fleet."""
        wanted = self._task.args.get("require_state")
        if not wanted:
            return ""
        state = self._templar.copy_with_new_env(available_variables=task_vars).template(
            task_vars.get(f"{P}state", "present")
        )
        if state == wanted:
            return ""
        return (
            f"this play only reports and writes nothing, so exchange_router_state must be "
            f"{wanted}, not {json.dumps(state, default=str)} (an extra var given with -e "
            "overrides the playbook's)."
        )

    def _spec(self, host: str, task_vars: dict[str, Any]) -> Spec:
        """One host's release: its variables templated once, checked, its objects rendered."""
        own = self._host_vars(host, task_vars)
        templar = self._templar.copy_with_new_env(available_variables=own)
        state = templar.template(own.get(f"{P}state", "present"))
        names = [k for k in own if k.startswith(P)]
        if state != "present":  # removal, rollback and history read no Secret value
            names = [k for k in names if k not in DEPLOY_ONLY]
        v = templar.template({k: own[k] for k in names})
        if own.get("__exchange_router_render_only") and not v.get(f"{P}render_dir"):
            raise ValueError(RENDER_DIR_NEEDED)  # playbooks/render.yml never deploys
        search_path = task_vars.get("ansible_search_path", [])  # the role's templates/

        def render(name: str, context: dict[str, Any]) -> str:
            return self._template(name, dict(context, ansible_search_path=search_path))

        return template_context.spec_of(host, v, render)

    def _host_vars(self, host: str, task_vars: dict[str, Any]) -> dict[str, Any]:
        """A host's variables as its own task would see them (role defaults, play and role vars,
        inventory, facts, extra vars), computed as the strategy computes them."""
        if host == task_vars.get("inventory_hostname"):
            return task_vars
        manager = self._task.get_variable_manager()
        return manager.get_vars(
            play=self._task.get_play(),
            host=manager._inventory.get_host(host),  # no public accessor
            task=self._task,
            _hosts=task_vars.get("ansible_play_batch"),
            _hosts_all=task_vars.get("ansible_play_hosts_all"),
        )

    def _template(self, name: str, context: dict[str, Any]) -> str:
        """The role's template `name` over `context`, as ansible.builtin.template renders it. One
        renderer for the whole batch: its environment compiles each template file once."""
        if self._render is None:
            folder = os.path.dirname(self._find_needle("templates", "objects.yaml.j2"))
            self._render = template_context.renderer(self._templar, folder)
        return self._render(name, context)

    def _release(
        self, specs: list[Spec], task_vars: dict[str, Any], check: bool
    ) -> dict[str, dict[str, Any]]:
        # Imported here: a render never reaches a cluster, and the kubernetes client costs a
        # quarter of a second to import.
        from ansible_collections.exchange.platform.plugins.plugin_utils import (
            connection,
            engine,
        )

        holder = (
            f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"
        )

        def apply(options: dict[str, Any], objects: list[dict[str, Any]]) -> str:
            return self._apply(task_vars, dict(connection.module_args(options), definition=objects))

        outcomes = engine.run(specs, apply, check, holder, self._environment())
        return {host: vars(outcome) for host, outcome in outcomes.items()}

    def _environment(self) -> dict[str, str]:
        """The environment the module runs in: the controller's and the task's `environment`."""
        env = dict(os.environ)
        entries = self._task.environment or []
        for entry in entries if isinstance(entries, list) else [entries]:
            if entry:
                env.update({str(k): str(v) for k, v in self._templar.template(entry).items()})
        return env

    def _apply(self, task_vars: dict[str, Any], target: dict[str, Any]) -> str:
        """Server-side apply with kubernetes.core.k8s: `target` is the connection and objects."""
        args: dict[str, Any] = dict(
            target,
            state="present",
            apply=True,
            server_side_apply={"field_manager": FIELD_MANAGER, "force_conflicts": True},
        )
        with _MODULE_RUN:
            done = self._execute_module(module_name=K8S, module_args=args, task_vars=task_vars)
        if not done.get("failed"):
            return ""
        reason = done.get("msg") or "failed"
        for key in ("reason", "error", "status"):
            if done.get(key) and str(done[key]) not in reason:
                reason += f" ({key}: {done[key]})"
        return f"kubernetes.core.k8s could not apply the release: {reason}"
