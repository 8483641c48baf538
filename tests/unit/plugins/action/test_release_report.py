"""The release_report action plugin run in-process, as ansible-core's own unit tests run action
plugins: one host's part of the engine's result (registered by the role's first task) becomes
that host's own result."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader
from ansible.template import Templar

from ansible_collections.exchange.platform.plugins.action.release_report import ActionModule

DEPLOYED = {
    "changed": True,
    "failed": False,
    "msg": "exchange-router revision 2 deployed to ns",
    "diff": [{"before": "image: a", "after": "image: b"}],
    "warnings": ["no metrics server: the HPA cannot scale", "Deployment short of replicas"],
    "revision": 2,
    "rolled_back_to": None,
    "history": [],
    "files": [],
}


def report(
    args: dict[str, Any],
    host: str = "h1",
    check: bool = False,
    display: Any = None,
    batch: list[str] | None = None,
) -> dict[str, Any]:
    """The role's report task for `host`, with these arguments (and this display, if given)."""
    loader = DataLoader()
    task = Task.load(
        {"action": "exchange.platform.release_report", "args": args, "check_mode": check},
        loader=loader,
    )
    context = PlayContext()
    connection = connection_loader.get("local", context, "/dev/null")
    action = ActionModule(task, connection, context, loader, Templar(loader=loader), None)
    action._display = display or action._display
    return action.run(task_vars={"inventory_hostname": host, "ansible_play_batch": batch or [host]})


def test_a_deploy_is_reported_with_what_changed_its_warnings_and_no_empty_field() -> None:
    display = mock.Mock()
    result = report({"release": DEPLOYED}, display=display)
    assert result == {
        "changed": True,
        "failed": False,
        "msg": "exchange-router revision 2 deployed to ns",
        "diff": DEPLOYED["diff"],
        "revision": 2,
        "_ansible_verbose_always": True,  # shown without -v, as helm's NOTES
    }
    assert display.warning.call_args_list == [
        mock.call("h1: no metrics server: the HPA cannot scale"),
        mock.call("h1: Deployment short of replicas"),
    ]


def test_an_outcome_without_changed_or_diff_reports_unchanged_and_no_diff() -> None:
    outcome = {"msg": "wrote 3 manifests to out", "files": ["out/a.yaml"], "diff": []}
    result = report({"release": outcome}, check=True)
    assert result == {
        "changed": False,
        "msg": "wrote 3 manifests to out",
        "files": ["out/a.yaml"],
        "_ansible_verbose_always": True,
    }


def test_a_message_of_several_lines_is_reported_one_line_per_item() -> None:
    table = "REVISION  STATUS\n1         superseded\n2         deployed"
    outcome = {"msg": table, "history": [{"revision": 1}, {"revision": 2}]}
    result = report({"release": outcome})
    assert result["msg"] == ["REVISION  STATUS", "1         superseded", "2         deployed"]
    assert result["history"] == outcome["history"]
    failed = {"failed": True, "msg": "Rollout failed: Crash\n  condition Available=False"}
    result = report({"release": failed})
    assert result["msg"] == failed["msg"]  # a failure's msg stays searchable as one string


@pytest.mark.parametrize(
    "args",
    [{"release": {}}, {"release": None}, {}],
)
def test_a_host_without_a_release_in_the_engine_run_is_skipped(args: dict[str, Any]) -> None:
    result = report(args)
    assert result == {"skipped": True, "msg": "this host had no release in the engine run"}


def test_an_unknown_argument_is_refused() -> None:
    with pytest.raises(AnsibleActionFail, match=r"Invalid options for \S+: result"):
        report({"result": {}})


CLEAN = {"changed": False, "msg": "r in namespace a: no drift from revision 1", "revision": 1}
DRIFTED = {
    "changed": True,
    "msg": 'r in namespace b: 1 field drifted from revision 2\n  D b/r img: "x" -> "y" live',
    "revision": 2,
}
NEW = {"changed": False, "msg": "r in namespace c: no deployed revision in its history"}
DOWN = {"failed": True, "msg": "Cannot reach the API server: refused", "warnings": ["slow"]}


def test_the_fleet_summary_has_one_line_per_release_in_the_batch_s_order() -> None:
    display = mock.Mock()
    releases = {"down": DOWN, "new": NEW, "drifted": DRIFTED, "clean": CLEAN}
    batch = ["clean", "drifted", "new", "down"]
    result = report({"releases": releases}, "clean", display=display, batch=batch)
    assert result == {
        "changed": False,  # the first host's own release did not drift
        "msg": [
            "clean: r in namespace a: no drift from revision 1",
            "drifted: r in namespace b: 1 field drifted from revision 2",
            '  D b/r img: "x" -> "y" live',
            "new: r in namespace c: no deployed revision in its history",
            "down: Cannot reach the API server: refused",
        ],
        "changed_hosts": ["drifted"],
        "failed_hosts": ["down"],
        "no_revision_hosts": ["new"],
        "hosts": ["drifted", "new", "down"],  # each reports its own status (second play)
        "_ansible_verbose_always": True,
    }
    assert display.warning.call_args_list == [mock.call("down: slow")]


def test_the_first_host_s_status_is_the_summary_s_unless_its_release_failed() -> None:
    drifted = report({"releases": {"h1": DRIFTED, "h2": CLEAN}}, batch=["h1", "h2"])
    assert drifted["changed"] and drifted["hosts"] == []  # the recap counts h1's change here
    new = report({"releases": {"h1": NEW}})
    assert not new["changed"] and new["hosts"] == []  # h1 is in the recap already
    down = report({"releases": {"h1": DOWN, "h2": DRIFTED}}, batch=["h1", "h2"])
    assert not down.get("failed") and not down["changed"]  # failing it would fail every host
    assert down["hosts"] == ["h1", "h2"]


def test_a_release_outside_the_batch_is_still_summarised_and_none_is_one_line() -> None:
    result = report({"releases": {"other": {"msg": ""}, "h1": CLEAN}})
    assert result["msg"] == ["h1: " + CLEAN["msg"], "other: (no message)"]
    assert result["hosts"] == ["other"]  # no revision: nothing compared
    assert report({"releases": None})["msg"] == ["no release in the engine run"]
