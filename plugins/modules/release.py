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
  - Runs in the controller, once per play batch (use C(run_once)). Each host of the batch is one
    release, described by its C(exchange_router_*) variables as that host's own task sees them
    (the role's defaults, play, inventory, facts, extra vars). It checks them (every problem names
    the variable and its value; a host that fails writes nothing) and renders the role's templates
    over them once per host, in this one process, then releases them. Its connection is
    resolved as M(kubernetes.core.k8s) resolves its own (the same options, K8S_AUTH_* variables
    and precedence) and handed to the apply, so every request reaches one cluster as one user.
    Releases with the same connection share one M(kubernetes.core.k8s) run for their apply; when
    that run fails, each release is applied on its own so only the one the cluster rejects fails.
  - Per release it takes a Lease lock (renewed until history is written), reads the Secret and
    the history, server-side dry-runs every object (nothing is written unless all is accepted),
    applies what changes, waits for a rollout this run started (failing fast on crash loops,
    with the reason), restores the whole previous revision when it fails (the rollback action,
    the same code as state C(rollback)), and records the revision in the Secret
    C(exchange-platform.release.<name>).
  - With state C(absent) it deletes what the history says the release created; C(rollback)
    returns to a stored revision; C(history) lists revisions; C(rendered) writes manifests.
  - The role M(exchange.platform.release_report) turns the result into each host's own.
  - This is an action plugin of the role C(exchange.platform.exchange_router).
options:
  require_state:
    description: >-
      The only C(exchange_router_state) this run may have (the role's C(diff) entry point gives
      C(diff), which writes nothing). Any other, as the host the task runs on sees it (an extra
      var is the one way past the play's and is the same for every host), fails the task before
      anything is templated or requested, naming the state given.
    type: str
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
