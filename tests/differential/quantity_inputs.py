"""Seeded, grammar-aware inputs for the differential quantity test.

``strings(rng, n)`` follows ParseQuantity's grammar (sign, digits, dot, fraction, then a
decimal, binary or exponent suffix) and breaks it on purpose: whitespace, stray characters,
doubled signs and suffixes, Unicode digits, deleted or swapped characters, and short random
strings over the scanner's own alphabet. ``numbers(rng, n)`` yields what a YAML or JSON
value can be: ints of every size, floats (their ``repr`` is their JSON text), booleans.

Exponents stay where apimachinery answers quickly: it spends minutes on exponents whose
int32 truncation is large (``1e-922337203685775807`` is ``1e-2147483647`` to it), so
:func:`slow_for_apimachinery` inputs are drawn again.
"""

from __future__ import annotations

import random
import re
import string

DECIMAL_SUFFIXES = ("", "n", "u", "m", "k", "M", "G", "T", "P", "E")
BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
# Exponents at the edges of strconv.ParseInt(s, 10, 64) and of the int32 truncation.
EDGE_EXPONENTS = (
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "10000000000000000000",
    "99999999999999999999",
    "4294967296",
    "4294967299",
    "8589934589",
    "0000000000000000000003",
)
# Characters that break the grammar: whitespace (ASCII and Unicode), separators,
# look-alike digits and letters, the scanner's own alphabet in the wrong place.
NOISE = " \t\n\r\v\f\u00a0\u2009\u3000.,_+-eEiIKkMmuµ\u0661\uff11xXb\x00/#'\""
SCANNER_ALPHABET = "0123456789.+-eEinumkKMGTP "
_EXPONENT_FORM = re.compile(r"[+-]?[0-9]*(?:\.[0-9]*)?[eE]([+-]?[0-9]+)")
_SLOW_EXPONENT = 20_000


def slow_for_apimachinery(text: str) -> bool:
    """An exponent that ParseQuantity takes and truncates to int32 far beyond +-20000."""
    match = _EXPONENT_FORM.fullmatch(text)
    if match is None:
        return False
    exponent = int(match[1])
    if not -(2**63) <= exponent < 2**63:
        return False  # strconv.ParseInt rejects it at once
    return abs((exponent + 2**31) % 2**32 - 2**31) > _SLOW_EXPONENT


def digits(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        return ""
    if roll > 0.995:  # beyond this module's 512 significant digits, or just below
        return "".join(rng.choice(string.digits) for _position in range(rng.randint(500, 530)))
    if roll < 0.5:
        size = rng.randint(1, 3)
    elif roll < 0.8:
        size = rng.randint(4, 12)
    elif roll < 0.95:
        size = rng.randint(13, 25)
    else:
        size = rng.randint(26, 40)
    text = "".join(rng.choice(string.digits) for _position in range(size))
    if rng.random() < 0.2:
        text = "0" * rng.randint(1, 3) + text
    if rng.random() < 0.25:
        text += "0" * rng.randint(1, 24)
    return text


def number(rng: random.Random) -> str:
    form = rng.random()
    if form < 0.45:
        return digits(rng)
    if form < 0.8:
        return f"{digits(rng)}.{digits(rng)}"
    if form < 0.9:
        return f"{digits(rng)}."
    return f".{digits(rng)}"


def exponent_digits(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return str(rng.randint(0, 40))
    if roll < 0.7:
        return str(3 * rng.randint(0, 30))
    if roll < 0.8:
        return str(rng.randint(0, 400))
    if roll < 0.85:  # int32 truncation lands on a small exponent
        return str(2**32 * rng.randint(1, 4) + rng.randint(0, 30))
    if roll < 0.9:
        return rng.choice(EDGE_EXPONENTS)
    if roll < 0.95:  # far beyond int64 (20 to 30 digits)
        return str(rng.randint(1, 9)) + "".join(
            rng.choice(string.digits) for _position in range(rng.randint(19, 29))
        )
    return str(rng.randint(9_990, 10_030))  # around this module's supported range


def suffix(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(DECIMAL_SUFFIXES)
    if roll < 0.7:
        return rng.choice(BINARY_SUFFIXES)
    return rng.choice("eE") + rng.choice(("", "", "+", "-")) + exponent_digits(rng)


def well_formed(rng: random.Random) -> str:
    sign = rng.choice(("", "", "", "+", "-"))
    return sign + number(rng) + suffix(rng)


def mutated(rng: random.Random) -> str:
    text = well_formed(rng)
    operation = rng.randrange(6)
    position = rng.randint(0, len(text))
    if operation == 0:  # insert noise
        return text[:position] + rng.choice(NOISE) + text[position:]
    if operation == 1 and text:  # delete a character
        position = min(position, len(text) - 1)
        return text[:position] + text[position + 1 :]
    if operation == 2:  # surround with whitespace
        return rng.choice(" \t\n") + text if rng.random() < 0.5 else text + rng.choice(" \t\n")
    if operation == 3:  # double a suffix or a sign
        return rng.choice(("+", "-")) + text + rng.choice(("", *DECIMAL_SUFFIXES, *BINARY_SUFFIXES))
    if operation == 4:  # swap the case
        return text.swapcase()
    return text + rng.choice(NOISE)


def scrambled(rng: random.Random) -> str:
    return "".join(rng.choice(SCANNER_ALPHABET) for _position in range(rng.randint(0, 8)))


def strings(rng: random.Random, count: int) -> list[str]:
    makers = (well_formed,) * 5 + (mutated,) * 3 + (scrambled,) * 2
    texts: list[str] = []
    while len(texts) < count:
        text = rng.choice(makers)(rng)
        if not slow_for_apimachinery(text):
            texts.append(text)
    return texts


SPECIAL_NUMBERS: tuple[object, ...] = (
    0,
    -0.0,
    1e18,
    1e21,
    10**21,
    -(10**21),
    1000 * 10**18,
    1234 * 10**21,
    2**63 - 1,
    2**63,
    -(2**63),
    0.1,
    1e-10,
    5e-324,
    1.7976931348623157e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
    False,
)


def numbers(rng: random.Random, count: int) -> list[object]:
    values: list[object] = list(SPECIAL_NUMBERS)
    while len(values) < count:
        roll = rng.random()
        if roll < 0.4:
            value: object = rng.randint(-(10 ** rng.randint(1, 30)), 10 ** rng.randint(1, 30))
        elif roll < 0.5:
            value = rng.randint(1, 999) * 10 ** rng.randint(0, 30)
        elif roll < 0.9:
            value = rng.uniform(-10, 10) * 10 ** rng.randint(-30, 30)
        else:
            value = round(rng.uniform(0, 100), rng.randint(0, 6))
        values.append(value)
    return values[:count]
