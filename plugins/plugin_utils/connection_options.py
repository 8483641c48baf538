# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options of a release, with no imports: the role's variables, the Spec and the
connection resolver (plugins/plugin_utils/connection.py) read this one table."""

from __future__ import annotations

# A Spec's connection options (each the role variable exchange_router_<option>), each with the other
# name kubernetes.core accepts for its K8S_AUTH_* variable (plugins/plugin_utils/connection.py)
CONNECTION_OPTIONS: dict[str, str] = {
    "kubeconfig": "kubeconfig",
    "context": "context",
    "host": "host",
    "api_key": "api_key",
    "validate_certs": "verify_ssl",
    "ca_cert": "ssl_ca_cert",
    "client_cert": "cert_file",
    "client_key": "key_file",
    "proxy": "proxy",
    "no_proxy": "no_proxy",
    "impersonate_user": "impersonate_user",
    "impersonate_groups": "impersonate_groups",
}
