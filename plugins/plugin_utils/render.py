# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The render action (exchange_router_render_dir set): write one manifest per object, like
`helm template`, touching no cluster; in check mode, only say what would change. The Secret's
file is written 0600 whatever was there (temporary file, then rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import yaml

from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue
from ansible_collections.exchange.platform.plugins.plugin_utils.result import Result
from ansible_collections.exchange.platform.plugins.plugin_utils.spec import Spec

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's, where PyYAML has it


def render(spec: Spec, check: bool) -> Result:
    out = Path(spec.render_dir)
    files, changed = [], False
    for obj in spec.objects + ([spec.secret] if spec.secret else []):
        path = out / f"{obj['kind'].lower()}.yaml"
        plain = json.loads(json.dumps(obj))  # templated values are str subclasses YAML refuses
        text = yaml.dump(plain, Dumper=DUMPER, sort_keys=False, default_flow_style=False)
        old = path.read_text() if path.exists() else None
        mode = 0o600 if catalogue.holds_secret_values(obj["kind"]) else 0o644
        differs = old != text or (path.exists() and path.stat().st_mode & 0o777 != mode)
        if differs and not check:
            out.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{path.name}.")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        files.append(str(path))
        changed = changed or differs
    verb = "would write" if check else "wrote"
    return Result(changed=changed, files=files, msg=f"{verb} {len(files)} manifests to {out}")
