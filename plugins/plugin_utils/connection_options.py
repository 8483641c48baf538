# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options of a release, with no imports: the role's variables, the Spec and the
connection resolver (plugins/plugin_utils/connection.py) read this one table.

It is kubernetes.core.k8s's whole connection table (its AUTH_ARG_SPEC: the options of
AUTH_ARG_MAP and the impersonation headers); tests/unit/plugins/plugin_utils/
test_connection_options.py fails when kubernetes.core has an option, a name or a type this
table lacks."""

from __future__ import annotations

# A Spec's connection options (each the role variable exchange_router_<option>), each with the other
# name kubernetes.core accepts for it: its K8S_AUTH_* variable's other name and, where the two
# differ, the kubernetes client Configuration's attribute (plugins/plugin_utils/connection.py).
CONNECTION_OPTIONS: dict[str, str] = {
    "kubeconfig": "kubeconfig",
    "context": "context",
    "host": "host",
    "api_key": "api_key",
    "username": "username",
    "password": "password",
    "validate_certs": "verify_ssl",
    "ca_cert": "ssl_ca_cert",
    "client_cert": "cert_file",
    "client_key": "key_file",
    "proxy": "proxy",
    "no_proxy": "no_proxy",
    "proxy_headers": "proxy_headers",
    "persist_config": "persist_config",
    "impersonate_user": "impersonate_user",
    "impersonate_groups": "impersonate_groups",
}
# How a K8S_AUTH_* variable's text is read for the options that are no string: booleans as
# kubernetes.core reads them, a comma-separated list, and a mapping whose keys each have a
# variable of their own (K8S_AUTH_PROXY_HEADERS_<KEY>).
BOOLEANS = frozenset({"validate_certs", "persist_config"})
LISTS = frozenset({"impersonate_groups"})
MAPPINGS: dict[str, tuple[str, ...]] = {
    "proxy_headers": ("proxy_basic_auth", "basic_auth", "user_agent"),
}
