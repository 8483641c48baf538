"""The Kubernetes name tests (plugins/test/names.py), used as Ansible does: through
TestModule().tests() and, by their fully qualified names, through the templar; and the one
definition behind them (plugins/plugin_utils/names.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible._internal._datatag._tags import Origin
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.exchange.platform.plugins.plugin_utils import names
from ansible_collections.exchange.platform.plugins.test.names import TestModule as NameTests

TESTS = NameTests().tests()
ROOT = Path(__file__).resolve().parents[4]
ORIGIN = Origin(path="/tmp/vars.yml", line_num=1)


def test_exports_exactly_three_tests() -> None:
    assert sorted(TESTS) == ["dns1035_label", "dns1123_label", "dns1123_subdomain"]


# value: (dns1123_label, dns1123_subdomain, dns1035_label), as k8s.io/apimachinery's
# IsDNS1123Label, IsDNS1123Subdomain and IsDNS1035Label answer.
CASES = {
    "exchange-router": (True, True, True),
    "a": (True, True, True),
    "0": (True, True, False),
    "1st-team": (True, True, False),
    "a1": (True, True, True),
    "a" * 63: (True, True, True),
    "a" * 64: (False, True, False),
    ".".join(["a" * 63] * 3) + "." + "a" * 61: (False, True, False),  # 253
    ".".join(["a" * 63] * 3) + "." + "a" * 62: (False, False, False),  # 254
    "tls.exchange.example": (False, True, False),
    "Exchange": (False, False, False),
    "exchange_router": (False, False, False),
    "-exchange": (False, False, False),
    "exchange-": (False, False, False),
    "exchange..router": (False, False, False),
    ".exchange": (False, False, False),
    "exchange.": (False, False, False),
    "exchange\n": (False, False, False),  # re.match('...$') would let the newline through
    " exchange": (False, False, False),
    "exchänge": (False, False, False),
    "": (False, False, False),
}


@pytest.mark.parametrize(("value", "expected"), CASES.items(), ids=lambda v: repr(v)[:30])
def test_each_test_answers_as_the_api_server(value: str, expected: tuple[bool, ...]) -> None:
    got = tuple(TESTS[n](value) for n in ("dns1123_label", "dns1123_subdomain", "dns1035_label"))
    assert got == expected
    # Values from a variables file arrive tagged (a str subclass): the same answers.
    tagged = ORIGIN.tag(value)
    assert (
        tuple(TESTS[n](tagged) for n in ("dns1123_label", "dns1123_subdomain", "dns1035_label"))
        == got
    )


@pytest.mark.parametrize("value", [None, 1, 1.5, True, ["a"], {"a": 1}, b"abc"], ids=repr)
def test_anything_but_a_string_is_no_name(value: object) -> None:
    assert not any(test(value) for test in TESTS.values())


LABEL_TEXT = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


@given(st.text(alphabet="abcxyz019-.A_", max_size=70))
def test_a_dns1035_label_is_a_dns1123_label_is_a_subdomain(value: str) -> None:
    if TESTS["dns1035_label"](value):
        assert TESTS["dns1123_label"](value)
    if TESTS["dns1123_label"](value):
        assert TESTS["dns1123_subdomain"](value)
        assert TESTS["dns1035_label"](value) == value[0].isalpha()


@given(st.lists(LABEL_TEXT, min_size=1, max_size=5))
def test_labels_joined_by_dots_are_a_subdomain_up_to_253(labels: list[str]) -> None:
    value = ".".join(labels)
    assert all(TESTS["dns1123_label"](label) for label in labels)
    assert TESTS["dns1123_subdomain"](value) == (len(value) <= 253)


TEMPLATING = """
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.template import Templar, trust_as_template as t

templar = Templar(loader=DataLoader(), variables={"ns": "1st-team", "svc": "1st-team"})
print(json.dumps([
    templar.template(t("{{ ns is exchange.platform.dns1123_label }}")),
    templar.template(t("{{ svc is exchange.platform.dns1035_label }}")),
    templar.template(t("{{ 'tls.example' is exchange.platform.dns1123_subdomain }}")),
    templar.template(t("{{ 'tls.example' is not exchange.platform.dns1123_label }}")),
]))
"""


def test_the_tests_resolve_by_their_fully_qualified_names(
    in_ansible: Callable[[str], Any],
) -> None:
    assert in_ansible(TEMPLATING) == [True, False, True, True]


# The pattern of a DNS-1123 label, as it was written in three places before names.py.
LABEL_PATTERN = re.compile(re.escape("[-a-z0-9]*[a-z0-9]"))


def test_names_py_is_the_only_definition() -> None:
    """No other plugin file or role task spells out a DNS-1123/1035 pattern of its own."""
    sources = [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "roles").rglob("*.yml")]
    defining = sorted(
        str(path.relative_to(ROOT))
        for path in sources
        if LABEL_PATTERN.search(path.read_text(encoding="utf-8"))
    )
    assert defining == ["plugins/plugin_utils/names.py"]
    assert names.DNS1123_SUBDOMAIN.pattern.startswith(names.DNS1123_LABEL.pattern)
