"""The release_rbac_rules filter (playbooks/rbac.yml's grants of the release's kinds), through
FilterModule().filters() as Ansible calls it: every kind of the catalogue is granted, but the two
granted by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.platform.plugins.filter.release_rbac import FilterModule
from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue

ROOT = Path(__file__).resolve().parents[4]
rules = FilterModule().filters()["release_rbac_rules"]
VERBS = ["get", "create", "patch", "delete"]


def granted(found: list[dict]) -> set[tuple[str, str]]:
    return {(r["apiGroups"][0], plural) for r in found for plural in r["resources"]}


def test_every_release_kind_is_granted_once_but_those_granted_by_name() -> None:
    found = rules(VERBS)
    assert all(r["verbs"] == VERBS and len(r["apiGroups"]) == 1 for r in found)
    kinds = {
        (k.api_version.rpartition("/")[0], k.plural)
        for k in catalogue.RELEASE_KINDS
        if not k.rbac_by_name
    }
    assert granted(found) == kinds
    assert len({r["apiGroups"][0] for r in found}) == len(found)  # one rule per group
    assert ("apps", "deployments") in kinds and ("networking.k8s.io", "ingresses") in kinds
    assert not granted(found) & {("", "secrets"), ("", "serviceaccounts")}


@pytest.mark.parametrize("verbs", [[], "get", [1], None])
def test_anything_but_a_list_of_verbs_is_refused_naming_it(verbs: object) -> None:
    with pytest.raises(AnsibleFilterError, match=r"release_rbac_rules: the input must be"):
        rules(verbs)


def test_the_rbac_playbook_takes_the_release_kinds_from_the_filter() -> None:
    (play,) = yaml.safe_load((ROOT / "playbooks/rbac.yml").read_text())
    role = play["tasks"][0]["kubernetes.core.k8s"]["definition"][1]
    assert role["kind"] == "Role"
    assert "exchange.platform.release_rbac_rules" in role["rules"]
    writes = [r for r in play["vars"]["other_rules"] if {"create", "patch"} & set(r["verbs"])]
    assert not granted(writes) & granted(rules(VERBS))  # no release kind written by hand
