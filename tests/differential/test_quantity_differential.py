"""The quantity filters against k8s.io/apimachinery v0.36.3 itself, on generated inputs.

``main.go`` (built through the Go module proxy, cached in ~/.cache/exchange-platform/bin)
answers what ``resource.ParseQuantity`` and ``String()`` make of each string, and what
``Quantity.UnmarshalJSON`` makes of each number's JSON text. ``k8s_quantity`` must give the
same string or fail with the same error, ``k8s_quantity_canonical`` the same
``CanonicalizeBytes`` form, for every input.

Where the filters answer differently on purpose, the input's class is checked, counted and
named here (EXCLUDED). Classes never generated, and why:

* exponents whose int32 truncation is beyond +-20000 (``1e2147483647``, and
  ``1e-922337203685775807``, which apimachinery truncates to ``1e-2147483647``): it spends
  minutes on each (quantity_inputs.slow_for_apimachinery); the filters reject them quickly as
  beyond 10**+-10000;
* JSON strings with spaces: ``UnmarshalJSON`` trims spaces that ``ParseQuantity`` (and so
  the filters) reject; only numbers go through the JSON path, strings are compared with
  ``ParseQuantity``, whitespace included.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import quantity_inputs as inputs
from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.platform.plugins.filter.exchange_router import FilterModule
from ansible_collections.exchange.platform.plugins.plugin_utils.quantity import parse_quantity

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("EXCHANGE_PLATFORM_CACHE", Path.home() / ".cache/exchange-platform"))
SEED = int(os.environ.get("DIFFERENTIAL_SEED", "20260511"))
STRING_INPUTS = 24_000
NUMBER_INPUTS = 6_000
FILTERS = FilterModule().filters()

# Inputs apimachinery accepts and the filters reject on purpose: class -> (the filters'
# error says, why).
EXCLUDED = {
    "stored wrongly": (
        "the API server would store it as",
        "String() drops the power of ten of decimal-SI multiples of 10**21 ('1000E' -> '1'); "
        "every such input must also be one that main.go finds not to round-trip",
    ),
    "exponent beyond 10**+-10000": (
        "exponent out of the supported range",
        "quantity.py's limit: exact values up to 10**(2**31) would take minutes and gigabytes "
        "(apimachinery spends as long on them); no resource is that large or small",
    ),
    "more than 512 significant digits": (
        "significant digits",
        "quantity.py's limit against pathological input (Python's int() refuses 4300 digits); "
        "no resource needs 512 significant digits",
    ),
}


def go_binary() -> Path:
    """Build main.go once per content; later runs reuse the cached binary."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((HERE / name).read_bytes())
    binary = CACHE / "bin" / "differential" / f"quantity-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    env = {
        **os.environ,
        "GOWORK": "off",
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "GOMODCACHE": str(CACHE / "go" / "mod"),
        "GOCACHE": str(CACHE / "go" / "cache"),
    }
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(f"{binary.name}.tmp{os.getpid()}")
    subprocess.run(
        [go, "build", "-trimpath", "-o", str(partial), "."], cwd=HERE, env=env, check=True
    )
    partial.rename(binary)
    return binary


def ask_apimachinery(requests: list[tuple[str, str]]) -> list[dict[str, Any]]:
    lines = "".join(json.dumps(request) + "\n" for request in requests)
    result = subprocess.run(
        [str(go_binary())], input=lines, capture_output=True, text=True, check=True, timeout=600
    )
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(requests), result.stderr
    return answers


def ask_filter(name: str, value: object) -> tuple[bool, str]:
    try:
        return True, FILTERS[name](value)
    except AnsibleFilterError as exc:
        return False, str(exc)


def excluded_class(message: str) -> str | None:
    return next((name for name, (says, _why) in EXCLUDED.items() if says in message), None)


def compare(value: object, go: dict[str, Any]) -> Iterator[str]:
    """Yield 'match', an EXCLUDED class name, or a description of a mismatch."""
    ok, answer = ask_filter("k8s_quantity", value)
    canonical_ok, canonical = ask_filter("k8s_quantity_canonical", value)
    if ok != canonical_ok:
        yield f"k8s_quantity and k8s_quantity_canonical disagree: {answer!r} {canonical!r}"
    elif go["ok"] and ok:
        fmt = parse_quantity(value).format  # type: ignore[arg-type]
        if (answer, canonical, fmt) != (go["string"], go["canonical"], go["format"]):
            yield (
                f"apimachinery {go['string']!r}/{go['canonical']!r}/{go['format']}, "
                f"filters {answer!r}/{canonical!r}/{fmt}"
            )
        else:
            yield "match"
    elif not go["ok"] and not ok:
        # A boolean is refused by type, before any text exists to match Go's error.
        same = go["error"] in answer or (isinstance(value, bool) and "boolean" in answer)
        yield "match" if same else f"errors: {go['error']!r} vs {answer!r}"
    elif go["ok"]:
        name = excluded_class(answer)
        if name is None:
            yield f"apimachinery accepts ({go['string']!r}), filter: {answer!r}"
        elif name == "stored wrongly" and go["faithful"]:
            yield f"rejected as stored wrongly, but apimachinery stores {go['string']!r} faithfully"
        else:
            yield name
    else:
        yield f"apimachinery rejects ({go['error']!r}), filter returns {answer!r}"
    if go["ok"] and not go["faithful"] and ok:
        yield f"apimachinery stores {go['string']!r}, which is not its value; the filter accepts"


@pytest.fixture(scope="module")
def cases() -> list[tuple[object, dict[str, Any]]]:
    rng = random.Random(SEED)
    texts = inputs.strings(rng, STRING_INPUTS)
    numbers = inputs.numbers(rng, NUMBER_INPUTS)
    requests = [("parse", text) for text in texts] + [
        ("json", json.dumps(number)) for number in numbers
    ]
    return list(zip([*texts, *numbers], ask_apimachinery(requests), strict=True))


def run(cases: list[tuple[object, dict[str, Any]]], keep: Callable[[object], bool]) -> None:
    outcomes: collections.Counter[str] = collections.Counter()
    mismatches = []
    for value, go in cases:
        if not keep(value):
            continue
        for outcome in compare(value, go):
            if outcome == "match" or outcome in EXCLUDED:
                outcomes[outcome] += 1
            else:
                mismatches.append(f"{value!r}: {outcome}")
    accepted = sum(1 for value, go in cases if keep(value) and go["ok"])
    print(f"\n{sum(outcomes.values())} inputs ({accepted} accepted by apimachinery): {outcomes}")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:40])


def test_strings_match_parse_quantity(cases: list[tuple[object, dict[str, Any]]]) -> None:
    run(cases, lambda value: isinstance(value, str))


def test_numbers_match_unmarshal_json(cases: list[tuple[object, dict[str, Any]]]) -> None:
    run(cases, lambda value: not isinstance(value, str))


def test_the_generator_covers_every_class(cases: list[tuple[object, dict[str, Any]]]) -> None:
    """At least 20,000 inputs, and each kind of answer occurs often enough to mean something."""
    assert len(cases) >= 20_000
    kinds: collections.Counter[str] = collections.Counter()
    for value, go in cases:
        ok, answer = ask_filter("k8s_quantity", value)
        kinds["accepted" if go["ok"] else go["error"].split(" '")[0]] += 1
        kinds["kept verbatim"] += ok and go["string"] != go["canonical"]
        kinds[excluded_class(answer) or "other"] += not ok and go["ok"]
    print(f"\n{kinds}")
    for kind in (
        "accepted",
        "kept verbatim",
        "quantities must match the regular expression",
        "unable to parse quantity's suffix",
        "unable to parse numeric part of quantity",
        *EXCLUDED,
    ):
        assert kinds[kind] >= 20, (kind, kinds)
