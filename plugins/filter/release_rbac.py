# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter release_rbac_rules: the Role rules playbooks/rbac.yml grants for the release's kinds.

A thin wrapper over plugins/plugin_utils/catalogue.py's rbac_rules, so a kind added to the
catalogue is granted without an edit of the playbook. Documentation lives in the sidecar file
release_rbac_rules.yml.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.platform.plugins.plugin_utils import catalogue


def release_rbac_rules(verbs: Any) -> list[dict[str, Any]]:
    """Role rules granting `verbs` on every release kind that is not granted by name."""
    if not isinstance(verbs, list) or not verbs or not all(isinstance(v, str) for v in verbs):
        raise AnsibleFilterError(
            f"release_rbac_rules: the input must be a non-empty list of verbs, not {verbs!r}"
        )
    return catalogue.rbac_rules(verbs)


class FilterModule:
    """exchange.platform RBAC filter."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"release_rbac_rules": release_rbac_rules}
