#!/usr/bin/python
# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the exchange.platform.release_report action
(plugins/action/release_report.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: release_report
short_description: One host's part of a release engine run, as that host's result
version_added: 2.0.0
author: exchange.platform maintainers (@exchange)
description:
  - Reports what M(exchange.platform.release) did for this host - changed, failed with the
    reason, the diff, warnings, the revision - so the recap counts each release on its host.
options:
  release:
    description: >-
      This host's part of the registered result of M(exchange.platform.release), its
      C(releases[inventory_hostname]): only that part is templated for each host, not the
      whole batch's result (a fleet of N hosts would template N results N times).
    type: dict
    required: true
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
"""

RETURN = r"""
msg:
  description: >-
    What happened. A message of several lines that is not a failure (history's table) is a list
    of its lines, so Ansible's default callback prints one line each; a failure's is one string.
  returned: always
  type: raw
revision:
  description: The revision this run recorded.
  returned: when a revision was recorded
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
"""
