"""The benchmark deploys the role's own rendering: bench/manifests.py turns `make render` into the
helm chart and the naive role's templates, which must give back exactly the rendered objects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import manifests  # noqa: E402  (bench/ is a directory of scripts, not a package)

NAMESPACE, IMAGE = "xr-bench-test", "example.invalid/exchange-router:bench-1"
HELM = sorted((Path.home() / ".cache/exchange-platform/bench-tools").glob("*/helm"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[manifests.Rendered, Path]:
    work = tmp_path_factory.mktemp("bench")
    rendered = manifests.render_role(work / "render")
    manifests.write_chart(rendered, work / "chart")
    manifests.write_naive_templates(rendered, work / "naive")
    return rendered, work


def expected(rendered: manifests.Rendered) -> list[dict[str, Any]]:
    return [manifests.with_placeholders(obj, NAMESPACE, IMAGE) for _name, obj in rendered]


def test_the_objects_are_the_roles_defaults_in_install_order(
    generated: tuple[manifests.Rendered, Path],
) -> None:
    rendered, _work = generated
    assert [obj["kind"] for _name, obj in rendered] == [
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
    ]
    assert manifests.image_of(rendered).startswith("jogeshwar01/exchange-router:")


def test_naive_templates_render_the_objects_through_ansible(
    generated: tuple[manifests.Rendered, Path],
) -> None:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    rendered, work = generated
    templar = Templar(
        loader=DataLoader(), variables={"naive_namespace": NAMESPACE, "naive_image": IMAGE}
    )
    got = [
        yaml.safe_load(
            templar.template(trust_as_template((work / "naive" / f"{name}.j2").read_text()))
        )
        for name, _obj in rendered
    ]
    assert got == expected(rendered)
    # bench/naive.yml has one task per object, each naming its template.
    playbook = (ROOT / "bench" / "naive.yml").read_text()
    for name, _obj in rendered:
        assert f"naive_templates ~ '/{name}.j2'" in playbook


def test_chart_templates_are_the_objects_with_two_helm_expressions(
    generated: tuple[manifests.Rendered, Path],
) -> None:
    rendered, work = generated
    values = yaml.safe_load((work / "chart" / "values.yaml").read_text())["image"]
    assert f"{values['repository']}:{values['tag']}" == manifests.image_of(rendered)
    repository, _colon, tag = IMAGE.rpartition(":")
    got = []
    for name, _obj in rendered:
        text = (work / "chart" / "templates" / name).read_text()
        text = text.replace("{{ .Release.Namespace }}", NAMESPACE)
        text = text.replace("{{ .Values.image.repository }}", repository)
        got.append(yaml.safe_load(text.replace("{{ .Values.image.tag }}", tag)))
    assert "{{" not in str(got)
    assert got == expected(rendered)


@pytest.mark.skipif(not HELM, reason="helm is fetched by bench/run.sh (make bench)")
def test_helm_template_renders_the_objects(generated: tuple[manifests.Rendered, Path]) -> None:
    rendered, work = generated
    repository, _colon, tag = IMAGE.rpartition(":")
    out = subprocess.run(
        [str(HELM[-1]), "template", "exchange-router", str(work / "chart"), "-n", NAMESPACE,
         "--set", f"image.repository={repository}", "--set", f"image.tag={tag}"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert [d for d in yaml.safe_load_all(out) if d] == expected(rendered)


def test_template_syntax_in_the_render_is_refused() -> None:
    obj = {"kind": "Service", "metadata": {"name": "s", "annotations": {"a": "{{ x }}"}}}
    with pytest.raises(RuntimeError, match=r"\.metadata\.annotations\.a"):
        manifests.template_text(obj, "ns", "image")


def test_no_hand_copy_of_the_roles_objects_is_left_in_bench() -> None:
    assert not (ROOT / "bench" / "templates").exists()
    assert not (ROOT / "bench" / "chart").exists()
