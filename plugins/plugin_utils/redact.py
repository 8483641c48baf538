# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one redactor: every message that can carry a Secret value (API errors, the apply's
failure, container logs, rollout diagnoses) goes through `redact` before anyone sees it."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

MASK = "********"
MIN_LENGTH = 3
USERINFO = re.compile(r"(://)[^/@\s]+@")


def values_of(data: dict[str, str] | None) -> list[str]:
    """The values of a Secret's base64 `data`, decoded, and the encoded form as well (an error
    that echoes a request body quotes it)."""
    out = []
    for encoded in (data or {}).values():
        out += [encoded, base64.b64decode(encoded).decode("utf-8", "replace")]
    return out


def redact(text: str, secrets: Iterable[str]) -> str:
    """Every secret value (of 3 characters or more) and any URL's user:password replaced by
    ********, longest value first: with values `abc` and `abcdef`, nothing of either is left."""
    for value in sorted({s for s in secrets if len(s) >= MIN_LENGTH}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return USERINFO.sub(r"\1" + MASK + "@", text)


class Redactor:
    """The secret values one release run has seen: every message it gives goes through it."""

    def __init__(self) -> None:
        self.secrets: list[str] = []

    def remember(self, data: dict[str, str] | None) -> None:
        """Secret data (base64) whose values must never be quoted in a message."""
        self.secrets += values_of(data)

    def __call__(self, text: str) -> str:
        return redact(text, self.secrets)
