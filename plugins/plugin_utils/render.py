# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The render action (exchange_router_render_dir set): write one manifest per object, like
`helm template`, touching no cluster, into a directory a GitOps controller can own.

Each release gets `<render_dir>/<namespace>/<name>/`: one file per object and a
`kustomization.yaml` listing them (Argo CD, Flux and `kubectl apply -k` read it as is). The
kustomization is also the record of what render wrote: a file it listed and no longer renders is
removed, and only such a file, so a file a user put there stays. Output is byte-stable. A plain
Secret is refused inside a git work tree unless the user opts in (it would be committed with its
values in the clear); its file is written 0600 whatever was there (temporary file, then rename).
In check mode, only say what would change."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Failed, Result
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's, where PyYAML has it
KUSTOMIZATION = "kustomization.yaml"
MARK = "# Written by exchange.platform's render (playbooks/render.yml); do not edit.\n"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"


def release_dir(spec: Spec) -> Path:
    return Path(spec.render_dir) / spec.namespace / spec.name


def render(spec: Spec, check: bool) -> Result:
    try:
        return _render(spec, check)
    except Failed as error:
        return Result(failed=True, msg=str(error))


def _render(spec: Spec, check: bool) -> Result:
    out = release_dir(spec)
    previous = _written_before(out)
    if spec.secret and not spec.render_secret_in_git:
        _refuse_secret_in_git(out)
    texts = {_file_name(o): _dump(_with_wave(spec, o)) for o in _objects(spec)}
    texts[KUSTOMIZATION] = MARK + _dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": list(texts),
        }
    )
    changed = [n for n, text in texts.items() if _differs(out / n, text, _mode(n, spec))]
    stale = [name for name in previous if name not in texts and (out / name).exists()]
    if not check:
        for name in changed:
            _write(out / name, texts[name], _mode(name, spec))
        for name in stale:
            (out / name).unlink()
    verb = "would write" if check else "wrote"
    msg = f"{verb} {len(texts) - 1} manifests and {KUSTOMIZATION} to {out}"
    if stale:
        msg += f"; {'would remove' if check else 'removed'} what it no longer renders: " + (
            ", ".join(stale)
        )
    return Result(changed=bool(changed or stale), files=[str(out / n) for n in texts], msg=msg)


def _objects(spec: Spec) -> list[dict[str, Any]]:
    # templated values are str subclasses YAML refuses: plain types, once
    return json.loads(json.dumps(spec.objects + ([spec.secret] if spec.secret else [])))


def _file_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}.yaml"  # a release has at most one object of each kind


def _mode(name: str, spec: Spec) -> int:
    secret = spec.secret is not None and name == _file_name(spec.secret)
    return 0o600 if secret else 0o644


def _with_wave(spec: Spec, obj: dict[str, Any]) -> dict[str, Any]:
    """Argo CD's sync wave: the apply order (exchange_router_render_sync_waves)."""
    if spec.render_sync_waves:
        annotations = obj["metadata"].setdefault("annotations", {})
        annotations[SYNC_WAVE] = str(catalogue.apply_order(obj))
    return obj


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=DUMPER, sort_keys=False, default_flow_style=False)


def _written_before(out: Path) -> list[str]:
    """The files render listed in the release directory's kustomization.yaml; refuses a
    kustomization.yaml it did not write (it would be overwritten)."""
    path = out / KUSTOMIZATION
    if not path.exists():
        return []
    text = path.read_text()
    if not text.startswith(MARK):
        raise Failed(
            f"exchange_router_render_dir: {path} was not written by this collection's render, "
            "which owns that directory; move that file or choose another render directory"
        )
    resources = (yaml.safe_load(text) or {}).get("resources") or []
    return [r for r in resources if isinstance(r, str) and "/" not in r]


def _refuse_secret_in_git(out: Path) -> None:
    for folder in [out, *out.parents]:
        if (folder / ".git").exists():
            raise Failed(
                f"exchange_router_render_dir: {out} is inside the git work tree {folder}, and "
                "exchange_router_secret_mode plain writes a Secret with its values in the clear, "
                "which a commit would publish. Use exchange_router_secret_mode: sealed (only the "
                "SealedSecret is written), render outside the work tree, or set "
                "exchange_router_render_secret_in_git: true if this repository may hold it."
            )


def _differs(path: Path, text: str, mode: int) -> bool:
    if not path.exists():
        return True
    return path.read_text() != text or path.stat().st_mode & 0o777 != mode


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
