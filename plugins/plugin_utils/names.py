# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names the Kubernetes API server accepts: DNS-1123 labels and subdomains, DNS-1035 labels.

The one definition of these rules in the collection, as k8s.io/apimachinery's
pkg/util/validation does them (IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label):

- a DNS-1123 label (a namespace, a container name): lowercase letters, digits and '-', starting
  and ending with a letter or digit, at most 63 characters;
- a DNS-1123 subdomain (most object names, a Secret's): DNS-1123 labels joined by '.', at most
  253 characters;
- a DNS-1035 label (a Service's name): a DNS-1123 label that starts with a letter;
- a ConfigMap key (IsConfigMapKey; a file name when the ConfigMap is mounted): letters, digits,
  '-', '_' and '.', at most 253 characters, neither '.' nor '..' nor starting with '..'.

Pure Python, standard library only. The predicates take any value and are false for anything
that is not a string, so a Jinja test (plugins/test/names.py) can use them as they are.
"""

from __future__ import annotations

import re

__all__ = [
    "CONFIG_MAP_KEY",
    "DNS1035_LABEL",
    "DNS1123_LABEL",
    "DNS1123_SUBDOMAIN",
    "LABEL_MAX_LENGTH",
    "SUBDOMAIN_MAX_LENGTH",
    "is_config_map_key",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
]

LABEL_MAX_LENGTH = 63
SUBDOMAIN_MAX_LENGTH = 253

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
# Whole-string patterns: use them with fullmatch (the predicates below also check the length).
DNS1123_LABEL = re.compile(_LABEL)
DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
CONFIG_MAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def is_dns1123_label(value: object) -> bool:
    """A DNS-1123 label: what a namespace or a container may be named."""
    return (
        isinstance(value, str)
        and len(value) <= LABEL_MAX_LENGTH
        and DNS1123_LABEL.fullmatch(value) is not None
    )


def is_dns1123_subdomain(value: object) -> bool:
    """A DNS-1123 subdomain: what most objects (a Secret, a Deployment) may be named."""
    return (
        isinstance(value, str)
        and len(value) <= SUBDOMAIN_MAX_LENGTH
        and DNS1123_SUBDOMAIN.fullmatch(value) is not None
    )


def is_dns1035_label(value: object) -> bool:
    """A DNS-1035 label: a DNS-1123 label starting with a letter, what a Service may be named."""
    return (
        isinstance(value, str)
        and len(value) <= LABEL_MAX_LENGTH
        and DNS1035_LABEL.fullmatch(value) is not None
    )


def is_config_map_key(value: object) -> bool:
    """A ConfigMap or Secret key: what a file of a mounted ConfigMap may be named."""
    return (
        isinstance(value, str)
        and len(value) <= SUBDOMAIN_MAX_LENGTH
        and CONFIG_MAP_KEY.fullmatch(value) is not None
        and value not in (".", "..")
        and not value.startswith("..")
    )
