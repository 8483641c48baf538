"""Offline stand-in for ansible-test's pip bootstrap script (get-pip-<version>.py).

ansible-test creates each sanity test's virtualenv without pip, then downloads a get-pip
script from a host this machine cannot reach. tools/sanity.sh copies this file to
~/.ansible/test/cache/get_pip_<version>.py (where ansible-test looks first) when no real
one is cached. It does what get-pip does: put pip into the running interpreter (here with
the standard library's ensurepip) and then `pip install` the arguments ansible-test passes,
i.e. the pinned pip/setuptools/wheel versions, from the configured package index.
"""

from __future__ import annotations

import subprocess
import sys

# Options that only get-pip understands; pip install itself rejects them.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    """Bootstrap pip, then install what ansible-test asked for."""
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.run(
        [sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL
    )
    return subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
