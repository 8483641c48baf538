# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The O(lock) option of the modules that take part in a deploy's lock."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  lock:
    description:
      - The release's deploy lock, a Lease (see M(exchange.platform.k8s_lock)).
    type: dict
    suboptions:
      name:
        description: Name of the Lease.
        type: str
        required: true
      holder:
        description: Identity of this run.
        type: str
        required: true
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
"""
