"""Make ``ansible_collections.exchange.platform`` importable from this checkout.

The checkout is the collection: ``.collections/ansible_collections/exchange/platform``
links back to it (``make setup`` creates the same link, and ansible.cfg uses
``.collections`` as the collections path), and ``.collections`` goes on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
