#!/usr/bin/python
# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the exchange.platform.release action (plugins/action/release.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: release
short_description: The release engine - lock, dry-run, apply, rollout, history, rollback, removal
version_added: 2.0.0
author: exchange.platform maintainers (@exchange)
description:
  - Runs in the controller, once per play batch (use C(run_once)). Each host of the batch that
    set the fact named O(fact) with the matching O(batch) is one release. Its connection is
    resolved as M(kubernetes.core.k8s) resolves its own (the same options, K8S_AUTH_* variables
    and precedence) and handed to the apply, so every request reaches one cluster as one user.
    Releases with the same connection share one M(kubernetes.core.k8s) run for their apply; when
    that run fails, each release is applied on its own so only the one the cluster rejects fails.
  - Per release it takes a Lease lock (renewed until history is written), reads the Secret and
    the history, server-side dry-runs every object (nothing is written unless all is accepted),
    applies what changes, waits for a rollout this run started (failing fast on crash loops,
    with the reason), restores the whole previous revision when it fails (the rollback action,
    the same code as O(fact) state C(rollback)), and records the revision in the Secret
    C(exchange-platform.release.<name>).
  - With state C(absent) it deletes what the history says the release created; C(rollback)
    returns to a stored revision; C(history) lists revisions; C(rendered) writes manifests.
  - The role M(exchange.platform.release_report) turns the result into each host's own.
  - This is an action plugin; the fact's format is the role's C(__exchange_router_release_spec).
options:
  fact:
    description: Name of the host fact holding each host's release.
    type: str
    required: true
  batch:
    description: Identifier of this batch; facts left by another run of the role are ignored.
    type: str
    required: true
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Dry-runs only; no lock, no write.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode).
    support: full
    details: Reported by M(exchange.platform.release_report); Secret values are masked.
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Release the batch
  exchange.platform.release:
    fact: __exchange_router_release
    batch: "{{ __exchange_router_batch }}"
  run_once: true
  register: engine
"""

RETURN = r"""
releases:
  description: >-
    Each host's outcome (changed, failed, msg, diff, warnings, revision, rolled_back_to,
    history).
  returned: always
  type: dict
"""
