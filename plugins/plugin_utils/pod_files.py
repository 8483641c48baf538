# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules on the pods' files: the release's ConfigMap (exchange_router_config_files, mounted
at exchange_router_config_mount_path) and the volumes given (exchange_router_volumes, mounted by
exchange_router_volume_mounts). Pure Python over one host's variables; every message names the
variable and its value."""

from __future__ import annotations

from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import names
from ansible_collections.exchange.platform.plugins.plugin_utils.problems import as_json
from ansible_collections.exchange.platform.plugins.plugin_utils.variables import P

# The pods' volume of the release's ConfigMap (deployment.yaml.j2 names it so).
CONFIG_VOLUME = "config"


def _config_problems(v: dict[str, Any]) -> list[str]:
    files = v.get(P + "config_files") or {}
    found = []
    for key, content in files.items():
        if not names.is_config_map_key(key):
            found.append(
                f"{P}config_files: {as_json(key)} is not a ConfigMap key (a file name of "
                'letters, digits, "-", "_" and ".", at most 253 characters, not starting with "..")'
            )
        elif not isinstance(content, str):
            found.append(
                f"{P}config_files.{key}: {as_json(content)} is not a string "
                "(give the file's content as text)"
            )
    path = v.get(P + "config_mount_path")
    if files and (not isinstance(path, str) or not path.startswith("/") or path == "/"):
        found.append(
            f"{P}config_mount_path: {as_json(path)} is not an absolute path "
            "below / (where the files of exchange_router_config_files are mounted)"
        )
    return found


def _volume_problems(v: dict[str, Any]) -> tuple[list[str], set[str]]:
    """The problems of exchange_router_volumes, and the names of the pods' volumes."""
    found, names_seen = [], {CONFIG_VOLUME} if v.get(P + "config_files") else set()
    for i, volume in enumerate(v.get(P + "volumes") or []):
        name = volume.get("name") if isinstance(volume, dict) else None
        where = f"{P}volumes[{i}]"
        if not names.is_dns1123_label(name):
            found.append(f"{where}: {as_json(volume)} has no name that is a DNS-1123 label")
        elif name in names_seen:
            taken = " (the release's files, exchange_router_config_files)"
            found.append(
                f"{where}.name: {as_json(name)} is taken"
                + (taken if name == CONFIG_VOLUME else " by an earlier volume")
            )
        names_seen.add(name)
    return found, names_seen


def _mount_problems(v: dict[str, Any], volumes: set[str]) -> list[str]:
    found = []
    paths = {v.get(P + "config_mount_path")} if v.get(P + "config_files") else set()
    for i, mount in enumerate(v.get(P + "volume_mounts") or []):
        where = f"{P}volume_mounts[{i}]"
        if not isinstance(mount, dict):
            found.append(f"{where}: {as_json(mount)} is not a mapping of name and mountPath")
            continue
        name, path = mount.get("name"), mount.get("mountPath")
        if name not in volumes:
            known = ", ".join(sorted(volumes)) or "none"
            found.append(
                f"{where}.name: {as_json(name)} names no volume of the pods ({P}volumes"
                f" and the release's files; they have: {known})"
            )
        if not isinstance(path, str) or not path.startswith("/"):
            found.append(f"{where}.mountPath: {as_json(path)} is not an absolute path")
        elif path in paths:
            found.append(f"{where}.mountPath: {as_json(path)} is mounted already")
        paths.add(path)
    return found


def problems(v: dict[str, Any]) -> list[str]:
    """Every problem of the pods' files, in the order of the variables."""
    volume_problems, volumes = _volume_problems(v)
    return _config_problems(v) + volume_problems + _mount_problems(v, volumes)
