"""Make ``ansible_collections.exchange.platform`` importable from this checkout.

The checkout is the collection: ``.collections/ansible_collections/exchange/platform``
links back to it (``make setup`` creates the same link, and ansible.cfg uses
``.collections`` as the collections path), and ``.collections`` goes on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".collections"
LINK = COLLECTIONS / "ansible_collections" / "exchange" / "platform"

if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    if LINK.is_symlink():  # dangling
        LINK.unlink()
    LINK.symlink_to(os.path.join("..", "..", ".."), target_is_directory=True)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

# The machine may be busy: judge properties by examples, not by wall-clock time.
settings.register_profile("unit", deadline=None, max_examples=150)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "unit"))


@pytest.fixture
def in_ansible() -> Callable[[str], Any]:
    """Run a Python script in a fresh interpreter with this checkout on Ansible's collections path
    (its argv[1]; init_plugin_loader changes the whole process) and return the JSON that its last
    line prints: plugins used as a playbook uses them, by their fully qualified names."""

    def run(script: str) -> Any:
        result = subprocess.run(
            [sys.executable, "-c", script, str(COLLECTIONS)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS)},
        )
        return json.loads(result.stdout.splitlines()[-1])

    return run
