"""meta/runtime.yml claims only the ansible-core versions the tests run with."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def requires_ansible() -> SpecifierSet:
    runtime = yaml.safe_load((ROOT / "meta/runtime.yml").read_text())
    return SpecifierSet(runtime["requires_ansible"])


def pinned_core() -> Version:
    """The ansible-core pinned in requirements.txt: the one every test runs with."""
    pins = re.findall(r"^ansible-core==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert len(pins) == 1, "requirements.txt must pin ansible-core exactly once"
    return Version(pins[0])


def test_the_tested_core_is_supported() -> None:
    assert pinned_core() in requires_ansible()


def test_no_core_below_the_tested_minor_is_claimed() -> None:
    core = pinned_core()
    lower = [s for s in requires_ansible() if s.operator in (">=", ">", "==", "~=")]
    assert lower, "requires_ansible needs a lower bound"
    for spec in lower:
        bound = Version(spec.version.removesuffix(".*"))
        assert bound.release[:2] >= core.release[:2], (
            f"requires_ansible {spec} admits ansible-core below {core.major}.{core.minor}, "
            "which no test runs"
        )
    assert Version(f"{core.major}.{core.minor - 1}.99") not in requires_ansible()


def test_no_untested_later_minor_is_claimed() -> None:
    core = pinned_core()
    assert Version(f"{core.major}.{core.minor + 1}.0") not in requires_ansible()
