# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules on the pods' files: the release's ConfigMap (exchange_router_config_files, mounted
at exchange_router_config_mount_path). Pure Python over one host's variables; every message
names the variable and its value."""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import names
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P


def _config_problems(v: dict[str, Any]) -> list[str]:
    files = v.get(P + "config_files") or {}
    found = []
    for key, content in files.items():
        if not names.is_config_map_key(key):
            found.append(
                f"{P}config_files: {json.dumps(key)} is not a ConfigMap key (a file name of "
                'letters, digits, "-", "_" and ".", at most 253 characters, not starting with "..")'
            )
        elif not isinstance(content, str):
            found.append(
                f"{P}config_files.{key}: {json.dumps(content, default=str)} is not a string "
                "(give the file's content as text)"
            )
    path = v.get(P + "config_mount_path")
    if files and (not isinstance(path, str) or not path.startswith("/") or path == "/"):
        found.append(
            f"{P}config_mount_path: {json.dumps(path, default=str)} is not an absolute path "
            "below / (where the files of exchange_router_config_files are mounted)"
        )
    return found


def problems(v: dict[str, Any]) -> list[str]:
    """Every problem of the pods' files, in the order of the variables."""
    return _config_problems(v)
