# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exact Kubernetes resource quantities.

A pure-Python port of ``k8s.io/apimachinery/pkg/api/resource``: ``ParseQuantity``
(grammar, rounding, limits) and ``Quantity.CanonicalizeBytes``/``String()`` (the
form the API server stores). Standard library only; no Ansible imports.

Grammar (``ParseQuantity``)::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

Behaviour reproduced from the Go code (not only from its documentation):

* no whitespace is allowed; non-zero values are rounded away from zero to nano
  precision (``0.9n`` -> ``1n``, ``-0.0000000001`` -> ``-1n``);
* binary-suffixed values are silently capped in magnitude at 2**63 - 1;
* a decimal exponent must fit in int64 and is then truncated to int32
  (``1e4294967296`` is ``1``);
* Go's scanner takes a number part without any digit (``"-"``, ``"."``, ``"Mi"``)
  as zero, except where its slow path needs a digit (``"Pi"``, ``"Ei"``,
  ``"e-10"``), which it rejects;
* the canonical form keeps the parsed format: BinarySI when the value is an
  integer of magnitude >= 1024 (``1.5Gi`` -> ``1536Mi``), otherwise DecimalSI with
  the exponent lowered to a multiple of three (``0.1Ki`` -> ``102400m``);
  DecimalExponent keeps e-notation (``1e3``);
* ``String()`` keeps some non-canonical inputs verbatim (``1.500``, ``+1``):
  :func:`api_string` reproduces that, :func:`canonical` does not.

Go accepts, but this module rejects, decimal-SI multiples of 10**21: apimachinery
0.36 has no suffix beyond ``E`` and stores them without their power of ten
(``1000E`` is stored as ``1``); the error says so and names the e-notation to use.
``tests/differential`` checks all of this against apimachinery itself.

Limits of this implementation, where Go would accept the input (and hangs for
exponents near +-2**31): more than 512 significant digits, and non-zero values of
magnitude 10**10000 or more, or below 10**-10000, raise :class:`QuantityError`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from functools import total_ordering

__all__ = [
    "MAX_BINARY_VALUE",
    "Quantity",
    "QuantityError",
    "QuantityFormat",
    "api_string",
    "canonical",
    "parse_quantity",
]


class QuantityError(ValueError):
    """The value is not a valid Kubernetes quantity."""


class QuantityFormat(StrEnum):
    """How a quantity is serialised (``resource.Format`` in Go)."""

    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


NANO = Fraction(1, 10**9)
MAX_BINARY_VALUE = 2**63 - 1
"""Binary-suffixed quantities are capped at this magnitude, as in Go."""

# Limits of this implementation (see the module docstring).
_MAX_SIGNIFICANT_DIGITS = 512
_MAX_EXPONENT = 10_000
_INT64_DIGITS = 19  # digits of 2**63 - 1

# Go's error texts (quantity.go), so messages match what the API server says.
_GO_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_ERR_FORMAT = f"quantities must match the regular expression '{_GO_PATTERN}'"
_ERR_NUMERIC = "unable to parse numeric part of quantity"
_ERR_SUFFIX = "unable to parse quantity's suffix"

# Equivalent to Go's hand-written scanner (parseQuantityString): greedy, anchored.
_SCANNER = re.compile(
    r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?"
    r"(?P<suffix>[eEinumkKMGTP]*[+-]?[0-9]*)"
)
_EXPONENT_SUFFIX = re.compile(r"[eE](?P<sign>[+-]?)(?P<digits>[0-9]+)")

_DECIMAL_SUFFIXES = {
    **{"n": -9, "u": -6, "m": -3, "": 0},
    **{"k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18},
}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX_BY_EXPONENT = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIX_BY_POWER = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
# Binary suffixes for which Go parses a digit-less number on its fast path (as 0);
# for Pi and Ei its precision estimate is negative and the slow path rejects it.
_DIGITLESS_BINARY_FAST_PATH = frozenset({"Ki", "Mi", "Gi", "Ti"})


@total_ordering
@dataclass(frozen=True, eq=False, repr=False)
class Quantity:
    """An exact quantity: ``value`` (a multiple of 1n) and the ``format`` it keeps.

    Equality, hashing and ordering use the exact value only, as ``Quantity.Cmp``
    does: ``parse_quantity("1Ki") == parse_quantity("1024")``.
    """

    value: Fraction
    format: QuantityFormat = QuantityFormat.DECIMAL_SI
    verbatim: str | None = field(default=None, repr=False)
    """The input spelling Go's parser keeps as the ``String()`` form, if any."""

    def __post_init__(self) -> None:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | Fraction):
            raise QuantityError(f"quantity value must be an int or Fraction, got {value!r}")
        value = Fraction(value)
        if (value / NANO).denominator != 1:
            raise QuantityError(f"quantity value {value} is finer than nano precision")
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "format", QuantityFormat(self.format))

    @classmethod
    def from_value(
        cls, value: Fraction | int, fmt: QuantityFormat = QuantityFormat.DECIMAL_SI
    ) -> Quantity:
        """Build a quantity from any exact value, rounding as ``ParseQuantity`` does."""
        value = Fraction(value)
        magnitude = _round_up_to_nano(abs(value))
        return cls(-magnitude if value < 0 else magnitude, fmt)

    @property
    def canonical(self) -> str:
        """The canonical string (``Quantity.CanonicalizeBytes``)."""
        return _render(self.value, self.format)

    @property
    def api_string(self) -> str:
        """What the API server stores and returns (``String()``); usually ``canonical``."""
        return self.verbatim or self.canonical

    @property
    def sign(self) -> int:
        """-1, 0 or 1."""
        return (self.value > 0) - (self.value < 0)

    def __str__(self) -> str:
        return self.canonical

    def __repr__(self) -> str:
        return f"Quantity({self.canonical!r}, {self.format.value})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value == other.value
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value < other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)


def parse_quantity(value: str | int | float | Quantity) -> Quantity:
    """Parse ``value`` exactly as the API server's ``resource.ParseQuantity`` does.

    Strings are parsed as written (no whitespace trimming, like ``ParseQuantity``);
    ints via ``str``; floats via ``repr`` (``0.1`` -> ``"0.1"``); booleans are rejected.
    """
    if isinstance(value, Quantity):
        return value
    return _parse_text(_to_text(value))


def canonical(value: str | int | float | Quantity) -> str:
    """Return the canonical string for ``value`` (``Quantity.CanonicalizeBytes``).

    The API server stores exactly this string when it is sent this string.
    """
    return parse_quantity(value).canonical


def api_string(value: str | int | float | Quantity) -> str:
    """Return what the API server stores when sent ``value`` as written (``String()``).

    Identical to :func:`canonical` except for the spellings Go's parser keeps
    verbatim (``1.500``, ``+1``, ``01``, ``1E3``; kubernetes/kubernetes#138165).
    """
    return parse_quantity(value).api_string


def _to_text(value: object) -> str:
    if isinstance(value, bool):
        raise QuantityError(f"invalid quantity {value!r}: a boolean is not a quantity")
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, also for str subclasses
    if isinstance(value, int):
        try:
            return str(int(value))
        except ValueError as exc:  # beyond sys.get_int_max_str_digits()
            raise QuantityError("invalid quantity: integer has too many digits") from exc
    if isinstance(value, float):
        return repr(float(value))
    raise QuantityError(
        f"invalid quantity {value!r}: expected a string or a number, got {type(value).__name__}"
    )


def _error(text: str, reason: str) -> QuantityError:
    return QuantityError(f"invalid quantity {text!r}: {reason}")


def _wrap_int32(value: int) -> int:
    """Go's ``int32(value)`` conversion: keep the low 32 bits, two's complement."""
    return (value + 2**31) % 2**32 - 2**31


def _interpret_suffix(text: str, suffix: str) -> tuple[int, int, QuantityFormat]:
    """Return (base, exponent, format) for a suffix, as Go's ``suffixer.interpret``.

    A decimal exponent must fit in an int64 (``strconv.ParseInt``) and is then
    narrowed to int32 as Go does, so ``1e4294967296`` means ``1e0``.
    """
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], QuantityFormat.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], QuantityFormat.BINARY_SI
    match = _EXPONENT_SUFFIX.fullmatch(suffix)
    if match is None:
        raise _error(text, _ERR_SUFFIX)
    digits = match["digits"].lstrip("0") or "0"
    if len(digits) > _INT64_DIGITS:  # far beyond int64, whatever the sign
        raise _error(text, _ERR_SUFFIX)
    exponent = -int(digits) if match["sign"] == "-" else int(digits)
    if not -(2**63) <= exponent < 2**63:  # strconv.ParseInt(s, 10, 64) fails
        raise _error(text, _ERR_SUFFIX)
    return 10, _wrap_int32(exponent), QuantityFormat.DECIMAL_EXPONENT


def _parse_text(text: str) -> Quantity:
    if not text:
        raise QuantityError(f"invalid quantity '': {_ERR_FORMAT}")
    match = _SCANNER.fullmatch(text)
    if match is None:
        raise _error(text, _ERR_FORMAT)
    suffix = match["suffix"]
    base, exponent, fmt = _interpret_suffix(text, suffix)
    int_digits, frac_digits = match["int"], match["frac"] or ""
    negative = match["sign"] == "-"

    if not int_digits and not frac_digits:
        # Go's fast path yields 0; its slow path (inf.Dec.SetString) needs a digit.
        if (base == 10 and exponent < -9) or (
            base == 2 and suffix not in _DIGITLESS_BINARY_FAST_PATH
        ):
            raise _error(text, _ERR_NUMERIC)
        return Quantity(Fraction(0), fmt)

    digits = (int_digits + frac_digits).lstrip("0")
    significant = digits.rstrip("0")
    if not significant:  # zero is exact whatever its exponent
        return Quantity(Fraction(0), fmt)
    if len(significant) > _MAX_SIGNIFICANT_DIGITS:
        raise _error(text, f"more than {_MAX_SIGNIFICANT_DIGITS} significant digits")
    mantissa = int(significant)
    # |value| = mantissa * 10**exp10 (times 2**exponent for a binary suffix)
    exp10 = len(digits) - len(significant) - len(frac_digits)
    if base == 10:
        exp10 += exponent
    leading = exp10 + len(significant)  # 10**(leading-1) <= mantissa * 10**exp10 < 10**leading
    if leading < -_MAX_EXPONENT or (base == 10 and leading > _MAX_EXPONENT):
        raise _error(text, f"exponent out of the supported range (10**+-{_MAX_EXPONENT})")

    if base == 10:
        magnitude = _round_up_to_nano_decimal(mantissa, exp10)
    elif leading > _INT64_DIGITS:  # >= 10**19 * 1024: above the cap
        magnitude = Fraction(MAX_BINARY_VALUE)
    else:
        magnitude = min(
            _round_up_to_nano_decimal(mantissa << exponent, exp10),
            Fraction(MAX_BINARY_VALUE),
        )
        if magnitude < 1:  # Go: "this avoids rounding and hopefully confusion, too"
            fmt = QuantityFormat.DECIMAL_SI
    verbatim = _verbatim(text, base, exponent, int_digits, frac_digits)
    quantity = Quantity(-magnitude if negative else magnitude, fmt, verbatim)
    if verbatim is None:
        _check_stored_faithfully(text, quantity)
    return quantity


def _check_stored_faithfully(text: str, quantity: Quantity) -> None:
    """Reject what ``String()`` would corrupt: decimal-SI multiples of 10**21.

    apimachinery 0.36 has no suffix beyond ``E`` (10**18) and writes the number
    without any suffix: ``1000E`` is stored as ``1``.
    """
    if quantity.format is not QuantityFormat.DECIMAL_SI or quantity.sign == 0:
        return
    number, exponent = _decimal_parts(abs(quantity.value))
    if exponent in _DECIMAL_SUFFIX_BY_EXPONENT:
        return
    sign = "-" if quantity.sign < 0 else ""
    raise _error(
        text,
        f"the API server would store it as '{sign}{number}': k8s.io/apimachinery 0.36 writes "
        "decimal-SI multiples of 10**21 without their power of ten (it has no suffix beyond E); "
        f"write {sign}{number}e{exponent} instead",
    )


def _verbatim(text: str, base: int, exponent: int, int_digits: str, frac_digits: str) -> str | None:
    """The input text if Go's fast path caches it as the String() form, else None.

    ``ParseQuantity`` keeps the input spelling when it guesses the input is
    canonical, and ``String()`` (so the API server) then emits it verbatim:
    ``1.500``, ``+1``, ``01``, ``1E3``, ``1e0`` (kubernetes/kubernetes#138165).
    """
    num = int_digits.lstrip("0") or "0"
    if base == 2:
        precision = 15 - len(num) - exponent * 3 // 10 - 1
        if frac_digits or precision < 0:
            return None
        return text if int(num) & 0x07 else None
    scale = exponent - len(frac_digits)
    shifted = num + frac_digits
    if len(shifted) > _INT64_DIGITS - 1 or scale < -9:
        return None
    if scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
        return text
    return None


def _round_up_to_nano(magnitude: Fraction) -> Fraction:
    """Round a non-negative value up (away from zero) to a multiple of 1n."""
    return Fraction(math.ceil(magnitude / NANO)) * NANO


def _round_up_to_nano_decimal(mantissa: int, exp10: int) -> Fraction:
    """``_round_up_to_nano(mantissa * 10**exp10)`` for mantissa > 0, cheap for tiny values."""
    if exp10 >= 0:
        return Fraction(mantissa * 10**exp10)
    if exp10 >= -9:
        return Fraction(mantissa, 10**-exp10)
    shift = -9 - exp10
    # mantissa < 10**digits_bound; 0.30103 > log10(2)
    digits_bound = mantissa.bit_length() * 30103 // 100000 + 1
    nanos = 1 if shift > digits_bound else -(-mantissa // 10**shift)
    return nanos * NANO


def _render(value: Fraction, fmt: QuantityFormat) -> str:
    """``Quantity.CanonicalizeBytes``: mantissa plus suffix, no fractional digits."""
    if value == 0:
        return "0"
    if fmt is QuantityFormat.BINARY_SI and value.denominator == 1 and abs(value) >= 1024:
        number, power = value.numerator, 0
        while number % 1024 == 0 and power < len(_BINARY_SUFFIX_BY_POWER) - 1:
            number //= 1024
            power += 1
        return f"{number}{_BINARY_SUFFIX_BY_POWER[power]}"
    # BinarySI below 1024 or with a fraction is shown as DecimalSI (no rounding).
    number, exponent = _decimal_parts(value)
    if fmt is not QuantityFormat.DECIMAL_EXPONENT and exponent in _DECIMAL_SUFFIX_BY_EXPONENT:
        return f"{number}{_DECIMAL_SUFFIX_BY_EXPONENT[exponent]}"
    return f"{number}e{exponent}" if exponent else str(number)


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """Go's ``AsCanonicalBytes``: ``value == number * 10**exponent``, exponent a multiple of 3."""
    number, exponent = _strip_zeros(int(value / NANO), -9)
    shift = exponent % 3
    return number * 10**shift, exponent - shift


def _strip_zeros(number: int, exponent: int) -> tuple[int, int]:
    """Move the factors of ten of a non-zero ``number`` into ``exponent``."""
    for step in (10**16, 10):
        digits = len(str(step)) - 1
        while number % step == 0:
            number //= step
            exponent += digits
    return number, exponent
