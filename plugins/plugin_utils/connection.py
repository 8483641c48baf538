# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cluster identity per release: the connection is resolved once, exactly as
kubernetes.core.k8s resolves its own, and both the engine's client and the apply use it.

- `resolve` takes the role's connection variables and, for each one left empty, the
  K8S_AUTH_* variable of the environment the module runs in (kubernetes.core's
  `_create_auth_spec` rule, including its alternative names and its reading of booleans).
- `connect` builds the engine's client with kubernetes.core's own `_create_configuration` and
  impersonation headers: host + token (or client certificate) first, else the kubeconfig and
  context, else in-cluster first and then the default kubeconfig.
- `module_args` hands the same resolved options to kubernetes.core.k8s explicitly, so the apply
  never reads anything the engine did not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.apiserver import ApiServerClient
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.connection_options import (
    CONNECTION_OPTIONS,
)

try:
    import kubernetes
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        _create_configuration,
        _create_headers,
        _set_header,
    )

    IMPORT_ERROR = ""
except ImportError as import_error:  # connect() says so; ansible-test's import test needs this
    IMPORT_ERROR = str(import_error)

# The options whose name in the kubernetes client's Configuration differs: kubernetes.core's
# other name for them (verify_ssl, ssl_ca_cert, cert_file, key_file) is that attribute's.
CONFIGURATION_NAMES = {name: other for name, other in CONNECTION_OPTIONS.items() if name != other}
HEADERS = ("impersonate_user", "impersonate_groups")


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def resolve(options: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The connection options in effect: each given option, else its K8S_AUTH_* variable."""
    resolved: dict[str, Any] = {}
    for name, other in CONNECTION_OPTIONS.items():
        value = options.get(name)
        if _empty(value):
            value = env.get(f"K8S_AUTH_{name.upper()}") or env.get(f"K8S_AUTH_{other.upper()}")
            if value is not None and name == "validate_certs":
                value = value.lower() not in ("0", "false", "no")
            elif value is not None and name == "impersonate_groups":
                value = [group for group in value.split(",") if group]
        if not _empty(value):
            resolved[name] = value
    return resolved


def identity(resolved: Mapping[str, Any]) -> str:
    """Releases with equal identities reach the same cluster as the same user."""
    return json.dumps(resolved, sort_keys=True, default=str)


def describe(resolved: Mapping[str, Any]) -> str:
    """Where a release goes, for messages: never a token."""
    if resolved.get("host") and (resolved.get("api_key") or resolved.get("client_cert")):
        return f"host {resolved['host']}"
    where = resolved.get("kubeconfig") or "the default kubeconfig or in-cluster ServiceAccount"
    return f"kubeconfig {where} (context {resolved.get('context') or 'current'})"


def module_args(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """The same options for kubernetes.core.k8s."""
    return dict(resolved)


def connect(resolved: Mapping[str, Any], field_manager: str) -> ApiServerClient:
    if IMPORT_ERROR:
        raise KubeError(
            0,
            "the release engine needs the kubernetes Python client and kubernetes.core on the "
            f"controller (pip install kubernetes): {IMPORT_ERROR}",
        )
    auth = {CONFIGURATION_NAMES.get(k, k): v for k, v in resolved.items() if k not in HEADERS}
    # The client library's default configuration is process-wide: start from none, so another
    # cluster's settings never leak into this one.
    kubernetes.client.Configuration.set_default(None)
    try:
        configuration = _create_configuration(auth)
    except (kubernetes.config.ConfigException, OSError, ValueError, TypeError) as error:
        raise KubeError(0, f"cannot load {describe(resolved)}: {error}") from None
    # One connection per engine thread (plugins/plugin_utils/engine.py WORKERS) plus the watches.
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, 48)
    api = kubernetes.client.ApiClient(configuration)
    headers = _create_headers(**{k: resolved.get(k) for k in HEADERS})
    for header, value in headers.items():
        _set_header(api, header, value)
    return ApiServerClient(api, field_manager)
