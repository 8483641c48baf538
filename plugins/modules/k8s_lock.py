#!/usr/bin/python
# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take or release a release's deploy lock (a coordination.k8s.io Lease)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_lock
short_description: Take or release a deploy lock held in a Lease
version_added: 1.0.0
author: exchange.platform maintainers (@exchange)
description:
  - Serialises deploys of one release, like Helm's "another operation is in progress", but
    waiting instead of failing, and without leaving a stuck release behind a run that died.
  - O(state=acquired) creates the Lease; while another run holds it, waits up to O(wait)
    seconds for it to be released or to expire (its holder stopped renewing it), then takes it
    over with optimistic concurrency, as client-go's leader election does.
  - O(state=released) deletes the Lease if, and only if, O(holder) still holds it.
  - The lock is bookkeeping, not a change to the release, so the module never reports changed.
options:
  name:
    description: Name of the Lease.
    type: str
    required: true
  namespace:
    description: Namespace of the Lease.
    type: str
    required: true
  holder:
    description: Identity of this run.
    type: str
    required: true
  state:
    description: Take or release the lock.
    type: str
    choices: [acquired, released]
    default: acquired
  duration:
    description: Seconds after its last renewal that the lock expires.
    type: int
    default: 30
  wait:
    description: Seconds to wait for a lock another run holds.
    type: int
    default: 330
  labels:
    description: Labels for the Lease.
    type: dict
    default: {}
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the lock is neither taken nor released.
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Take the deploy lock
  exchange.platform.k8s_lock:
    name: exchange-router-deploy-lock
    namespace: default
    holder: "{{ run_id }}"

- name: Release it
  exchange.platform.k8s_lock:
    name: exchange-router-deploy-lock
    namespace: default
    holder: "{{ run_id }}"
    state: released
"""

RETURN = r"""
waited:
  description: Whether another run held the lock and this one waited for it.
  returned: success and O(state=acquired)
  type: bool
released:
  description: Whether the Lease was deleted.
  returned: success and O(state=released)
  type: bool
"""

from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.exchange.platform.plugins.module_utils.k8s_runner import (
    api_client,
    execute,
)
from ansible_collections.exchange.platform.plugins.module_utils.lease import Lock


def run(module: AnsibleK8SModule) -> None:
    params = module.params
    if module.check_mode:
        module.exit_json(changed=False)
    lock = Lock.for_client(
        api_client(module),
        name=params["name"],
        namespace=params["namespace"],
        holder=params["holder"],
        duration=params["duration"],
    )
    if params["state"] == "released":
        module.exit_json(changed=False, released=lock.release())
    waited = lock.acquire(params["wait"], labels=params["labels"])
    module.exit_json(changed=False, waited=waited)


def main() -> None:
    execute(
        dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            holder=dict(type="str", required=True),
            state=dict(type="str", choices=["acquired", "released"], default="acquired"),
            duration=dict(type="int", default=30),
            wait=dict(type="int", default=330),
            labels=dict(type="dict", default={}),
        ),
        run,
    )


if __name__ == "__main__":
    main()
