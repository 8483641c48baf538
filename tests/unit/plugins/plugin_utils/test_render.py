"""The render action: a directory per release that a GitOps controller can own (issue 25)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ansible_collections.exchange.platform.plugins.plugin_utils.render import MARK, render
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import spec
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.test_actions import (
    plain,
    sealed,
)

DEFAULT_FILES = [
    "deployment.yaml",
    "horizontalpodautoscaler.yaml",
    "kustomization.yaml",
    "service.yaml",
]
INGRESS = {"ingress": {"enabled": True, "class_name": "traefik", "hosts": [{"host": "a.test"}]}}


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_each_release_gets_its_own_directory_with_a_kustomization_in_apply_order(
    tmp_path: Path,
) -> None:
    for namespace in ("alpha", "beta"):  # two releases, one render_dir: neither overwrites
        result = render(spec(render_dir=str(tmp_path), namespace=namespace), check=False)
        assert not result.failed and result.changed, result.msg
    for namespace in ("alpha", "beta"):
        out = tmp_path / namespace / "exchange-router"
        assert files(out) == DEFAULT_FILES
        assert f"namespace: {namespace}" in (out / "service.yaml").read_text()
        kustomization = (out / "kustomization.yaml").read_text()
        assert kustomization.startswith(MARK)
        assert yaml.safe_load(kustomization)["resources"] == [
            "service.yaml",
            "deployment.yaml",
            "horizontalpodautoscaler.yaml",
        ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha", "beta"]


def test_the_same_values_render_the_same_bytes_and_report_no_change(tmp_path: Path) -> None:
    s = spec(render_dir=str(tmp_path), **INGRESS)
    assert render(s, check=False).changed
    out = tmp_path / "ns" / "exchange-router"
    before = {name: (out / name).read_bytes() for name in files(out)}
    again = render(spec(render_dir=str(tmp_path), **INGRESS), check=False)
    assert not again.changed, again.msg
    assert {name: (out / name).read_bytes() for name in files(out)} == before


def test_an_object_turned_off_loses_its_file_and_a_file_of_the_user_s_stays(
    tmp_path: Path,
) -> None:
    assert render(spec(render_dir=str(tmp_path), **INGRESS), check=False).changed
    out = tmp_path / "ns" / "exchange-router"
    assert "ingress.yaml" in files(out)
    (out / "notes.md").write_text("mine\n")
    (out / "extra.yaml").write_text("kind: ConfigMap\n")

    check = render(spec(render_dir=str(tmp_path)), check=True)
    assert check.changed and "would remove what it no longer renders: ingress.yaml" in check.msg
    assert "ingress.yaml" in files(out)  # check mode writes and removes nothing

    result = render(spec(render_dir=str(tmp_path)), check=False)
    assert result.changed and "removed what it no longer renders: ingress.yaml" in result.msg
    assert files(out) == sorted([*DEFAULT_FILES, "extra.yaml", "notes.md"])
    assert "ingress.yaml" not in (out / "kustomization.yaml").read_text()


def test_a_kustomization_render_did_not_write_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ns" / "exchange-router"
    out.mkdir(parents=True)
    (out / "kustomization.yaml").write_text("resources: [mine.yaml]\n")
    result = render(spec(render_dir=str(tmp_path)), check=False)
    assert result.failed
    assert f"{out}/kustomization.yaml was not written by this collection's render" in result.msg
    assert files(out) == ["kustomization.yaml"]


def test_check_mode_writes_nothing_and_a_secret_file_is_0600_whatever_was_there(
    tmp_path: Path,
) -> None:
    s = spec(render_dir=str(tmp_path), **plain("x"))
    out = tmp_path / "ns" / "exchange-router"
    result = render(s, check=True)
    assert result.changed and not tmp_path.joinpath("ns").exists()
    out.mkdir(parents=True)
    (out / "secret.yaml").write_text("old\n")
    (out / "secret.yaml").chmod(0o644)
    assert render(s, check=False).changed
    assert (out / "secret.yaml").stat().st_mode & 0o777 == 0o600
    assert (out / "service.yaml").stat().st_mode & 0o777 == 0o644
    (out / "secret.yaml").chmod(0o644)  # only the mode differs: still a change, and fixed
    assert render(s, check=False).changed
    assert (out / "secret.yaml").stat().st_mode & 0o777 == 0o600
    assert not render(s, check=False).changed


def _git_work_tree(tmp_path: Path) -> Path:
    repo = tmp_path / "ops"
    (repo / ".git").mkdir(parents=True)
    return repo / "clusters" / "prod"


def test_a_plain_secret_inside_a_git_work_tree_is_refused_unless_the_user_opts_in(
    tmp_path: Path,
) -> None:
    target = _git_work_tree(tmp_path)
    outside = render(spec(render_dir=str(tmp_path / "elsewhere"), **plain("x")), check=False)
    assert not outside.failed and outside.changed  # the control: the same values, outside git

    refused = render(spec(render_dir=str(target), **plain("x")), check=False)
    assert refused.failed
    assert f"{target}/ns/exchange-router is inside the git work tree {tmp_path / 'ops'}" in (
        refused.msg
    )
    assert "exchange_router_render_secret_in_git: true" in refused.msg
    assert "x-value" not in refused.msg
    assert not target.exists()  # nothing written

    allowed = render(
        spec(render_dir=str(target), render_secret_in_git=True, **plain("x")), check=False
    )
    assert not allowed.failed and "secret.yaml" in files(target / "ns" / "exchange-router")


def test_sealed_mode_in_a_git_work_tree_writes_only_the_sealed_secret(tmp_path: Path) -> None:
    target = _git_work_tree(tmp_path)
    result = render(spec(render_dir=str(target), **sealed("x")), check=False)
    assert not result.failed, result.msg
    out = target / "ns" / "exchange-router"
    assert files(out) == sorted([*DEFAULT_FILES, "sealedsecret.yaml"])


def test_argo_cd_sync_waves_follow_the_apply_order_when_asked_for(tmp_path: Path) -> None:
    def waves(**values: Any) -> dict[str, str | None]:
        render(spec(render_dir=str(tmp_path), **INGRESS, **values), check=False)
        out = tmp_path / "ns" / "exchange-router"
        found = {}
        for name in ("service.yaml", "deployment.yaml", "ingress.yaml"):
            annotations = yaml.safe_load((out / name).read_text())["metadata"].get("annotations")
            found[name] = (annotations or {}).get("argocd.argoproj.io/sync-wave")
        return found

    assert set(waves().values()) == {None}
    found = waves(render_sync_waves=True)
    service, deployment, ingress = (
        int(found[f"{k}.yaml"]) for k in ("service", "deployment", "ingress")
    )
    assert service < deployment < ingress
