#!/usr/bin/python
# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check or apply a Secret without its values ever reaching the output."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_secret
short_description: Check or apply a Secret without ever showing its values
version_added: 1.0.0
author: exchange.platform maintainers (@exchange)
description:
  - Without O(data), reads an existing Secret and fails, naming them, when the Secret or any of
    O(required_keys) is missing.
  - With O(data), server-side applies a Secret holding exactly those keys, with the metadata and
    type of O(definition). Nothing is written when the stored Secret already holds them.
  - The values are a C(no_log) option, so Ansible masks them in every result; the module
    returns key names only, and its error messages never include the Secret's content. That is
    why the role uses this module, not C(kubernetes.core.k8s) with C(no_log), whose failures
    would be hidden altogether.
  - With O(lock), takes the deploy lock once the Secret checks out and before anything is
    written, which saves a module run; if the Secret then cannot be applied, it releases it.
options:
  name:
    description: Name of the Secret.
    type: str
    required: true
  namespace:
    description: Namespace of the Secret.
    type: str
    required: true
  required_keys:
    description: Keys the Secret must have.
    type: list
    elements: str
    default: []
  data:
    description: Key -> plain value; when given, the Secret is applied with exactly these keys.
    type: dict
  definition:
    description:
      - The Secret manifest to apply without its C(data) (metadata labels and annotations, type).
      - Only used with O(data).
    type: dict
    default: {}
  field_manager:
    description: Field manager for server-side apply.
    type: str
    default: exchange.platform
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - exchange.platform.deploy_lock
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Check the Secret that exchange-router reads exists with every key
  exchange.platform.k8s_secret:
    name: exchange-router-secret
    namespace: default
    required_keys: [server_addr, database_url, redis_url]

- name: Apply the Secret from vaulted values
  exchange.platform.k8s_secret:
    name: exchange-router-secret
    namespace: default
    required_keys: [server_addr, database_url, redis_url]
    data: "{{ vaulted_values }}"
"""

RETURN = r"""
keys:
  description: The Secret's key names (never the values).
  returned: success
  type: list
  elements: str
  sample: [database_url, redis_url, server_addr]
"""

import base64
from typing import Any

from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.exchange.platform.plugins.module_utils.k8s_runner import (
    api_client,
    api_error,
    execute,
)
from ansible_collections.exchange.platform.plugins.module_utils.lease import LOCK_SPEC, Lock

try:
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException
except ImportError:  # reported by AnsibleK8SModule
    pass


def encode(data: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64encode(str(value).encode()).decode() for key, value in data.items()}


def desired_secret(params: dict[str, Any]) -> dict[str, Any]:
    definition = dict(params["definition"] or {})
    metadata = dict(definition.get("metadata") or {})
    metadata.update(name=params["name"], namespace=params["namespace"])
    definition.update(apiVersion="v1", kind="Secret", metadata=metadata)
    definition["data"] = encode(params["data"])
    definition.pop("stringData", None)
    definition.setdefault("type", "Opaque")
    return definition


def up_to_date(stored: Any, desired: dict[str, Any]) -> bool:
    """The stored Secret already holds the desired data, type, labels and annotations."""
    meta = desired["metadata"]

    def holds(stored_map: dict[str, str] | None, wanted: dict[str, str] | None) -> bool:
        return all((stored_map or {}).get(k) == v for k, v in (wanted or {}).items())

    return (
        (stored.data or {}) == desired["data"]
        and stored.type == desired["type"]
        and holds(stored.metadata.labels, meta.get("labels"))
        and holds(stored.metadata.annotations, meta.get("annotations"))
    )


def take_lock(module: AnsibleK8SModule, client: Any) -> Lock | None:
    options = module.params["lock"]
    if not options or module.check_mode:
        return None
    lock = Lock.for_client(
        client,
        namespace=module.params["namespace"],
        name=options["name"],
        holder=options["holder"],
        duration=options["duration"],
    )
    lock.acquire(options["wait"], labels=options["labels"])
    return lock


def run(module: AnsibleK8SModule) -> None:
    params = module.params
    where = f"Secret {params['namespace']}/{params['name']}"
    client = api_client(module)
    api = CoreV1Api(client)
    try:
        stored = api.read_namespaced_secret(params["name"], params["namespace"])
    except ApiException as error:
        if error.status != 404:
            module.fail_json(msg=api_error(error, f"Cannot read {where}"))
        stored = None

    if params["data"] is None:
        if stored is None:
            module.fail_json(
                msg=f"{where} does not exist; exchange_router_secret_mode is existing, so create "
                "it first (or use secret mode plain or sealed)"
            )
        keys = sorted(stored.data or {})
        missing = sorted(set(params["required_keys"]) - set(keys))
        if missing:
            module.fail_json(
                msg=f"{where} lacks the keys {', '.join(missing)} that "
                "exchange_router_secret_env needs",
                keys=keys,
            )
        take_lock(module, client)
        module.exit_json(changed=False, keys=keys)

    missing = sorted(set(params["required_keys"]) - set(params["data"]))
    if missing:
        module.fail_json(msg=f"The data for {where} lacks the keys {', '.join(missing)}")
    desired = desired_secret(params)
    keys = sorted(desired["data"])
    lock = take_lock(module, client)
    if stored is not None and up_to_date(stored, desired):
        module.exit_json(changed=False, keys=keys)
    query = [("fieldManager", params["field_manager"]), ("force", "true")]
    if module.check_mode:
        query.append(("dryRun", "All"))
    try:
        # Server-side apply; the generated client has no apply method for core objects.
        api.api_client.call_api(
            f"/api/v1/namespaces/{params['namespace']}/secrets/{params['name']}",
            "PATCH",
            query_params=query,
            header_params={
                "Content-Type": "application/apply-patch+yaml",
                "Accept": "application/json",
            },
            body=desired,
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
        )
    except ApiException as error:
        if lock:
            lock.release()
        module.fail_json(msg=api_error(error, f"Cannot apply {where}"))
    module.exit_json(changed=True, keys=keys)


def main() -> None:
    execute(
        dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            required_keys=dict(type="list", elements="str", default=[], no_log=False),
            data=dict(type="dict", no_log=True),
            definition=dict(type="dict", default={}),
            field_manager=dict(type="str", default="exchange.platform"),
            lock=LOCK_SPEC,
        ),
        run,
    )


if __name__ == "__main__":
    main()
