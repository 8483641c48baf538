#!/usr/bin/python
# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the exchange.platform.release_report action
(plugins/action/release_report.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: release_report
short_description: One host's part of a release engine run as its result, or a fleet summary
version_added: 2.0.0
author: exchange.platform maintainers (@exchange)
description:
  - Reports what M(exchange.platform.release) did for this host - changed, failed with the
    reason, the diff, warnings, the revision - so the recap counts each release on its host.
  - >-
    With O(releases) instead, run once, it reports the whole batch in one result - the drift
    report's fleet summary (C(playbooks/diff.yml)), one line per release, without a task on
    each host.
options:
  release:
    description: >-
      This host's part of the registered result of M(exchange.platform.release), its
      C(releases[inventory_hostname]): only that part is templated for each host, not the
      whole batch's result (a fleet of N hosts would template N results N times).
      One of O(release) and O(releases) is given.
    type: dict
  releases:
    description: >-
      The whole batch's part, C(releases) of the registered result, for a task run once: its
      message has one line per release (C(host: first line of its message)), the other lines
      of a message below it, in the batch's order. Its status is the status of the host it runs
      on (the batch's first, on which Ansible's recap counts a run-once task): C(changed) when
      that host's release changed, never failed, since a failed run-once task fails every host.
      RV(hosts) names the hosts whose status still needs a task of their own.
    type: dict
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode).
    support: full
"""

EXAMPLES = r"""
- name: Report the release
  exchange.platform.release_report:
    release: "{{ engine.releases[inventory_hostname] | default({}) }}"

- name: Report the fleet's drift, one line per release
  exchange.platform.release_report:
    releases: "{{ engine.releases }}"
  run_once: true
  register: fleet
"""

RETURN = r"""
msg:
  description: >-
    What happened. A message of several lines that is not a failure (history's table) is a list
    of its lines, so Ansible's default callback prints one line each; a failure's is one string.
  returned: always
  type: raw
revision:
  description: The revision this run recorded (state C(diff) - the revision it compared against).
  returned: when a revision was recorded or compared against
  type: int
rolled_back_to:
  description: The revision a failed rollout was rolled back to.
  returned: when rolled back
  type: int
history:
  description: >-
    The revisions (revision, time, image, status, deployer, description), with state history.
  returned: with state history
  type: list
  elements: dict
changed_hosts:
  description: With O(releases), the hosts whose release changed (drifted).
  returned: with O(releases)
  type: list
  elements: str
failed_hosts:
  description: With O(releases), the hosts whose release failed (could not be read).
  returned: with O(releases)
  type: list
  elements: str
no_revision_hosts:
  description: >-
    With O(releases), the hosts whose release neither changed nor failed and has no revision
    (for C(diff): never deployed there, or its namespace is gone - nothing to compare).
  returned: with O(releases)
  type: list
  elements: str
hosts:
  description: >-
    With O(releases), the hosts whose status the recap still needs: every one of
    RV(changed_hosts), RV(failed_hosts) and RV(no_revision_hosts) but the host the task ran on,
    which is in the recap already with the summary's status, unless its release failed.
  returned: with O(releases)
  type: list
  elements: str
"""
