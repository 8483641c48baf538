# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests dns1123_label, dns1123_subdomain and dns1035_label: the names the API server accepts.

Thin wrappers over plugins/plugin_utils/names.py, the collection's one definition of these
rules (the seal filter and the validation rules use it too). Documentation lives in the sidecar
files named after each test (dns1123_label.yml, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils import names


def dns1123_label(value: Any) -> bool:
    """A DNS-1123 label (a namespace): lowercase letters, digits and '-', at most 63 characters."""
    return names.is_dns1123_label(value)


def dns1123_subdomain(value: Any) -> bool:
    """A DNS-1123 subdomain (most object names): labels joined by '.', at most 253 characters."""
    return names.is_dns1123_subdomain(value)


def dns1035_label(value: Any) -> bool:
    """A DNS-1035 label (a Service name): a DNS-1123 label that starts with a letter."""
    return names.is_dns1035_label(value)


class TestModule:
    """exchange.platform Kubernetes name tests."""

    def tests(self) -> dict[str, Callable[[Any], bool]]:
        return {
            "dns1123_label": dns1123_label,
            "dns1123_subdomain": dns1123_subdomain,
            "dns1035_label": dns1035_label,
        }
