# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cluster identity per release: the connection is resolved once, exactly as
kubernetes.core.k8s resolves its own, and both the engine's client and the apply use it.

- `resolve` takes the role's connection variables (all of kubernetes.core.k8s's connection
  options, plugins/plugin_utils/connection_options.py) and, for each one left empty, the
  K8S_AUTH_* variable of the environment the module runs in (kubernetes.core's
  `_create_auth_spec` rule, including its alternative names and its reading of booleans, lists
  and the proxy headers).
- `connect` builds the engine's client with kubernetes.core's own `_create_configuration` and
  impersonation headers: host with a token, a client certificate and key, or a user name and
  password first, else the kubeconfig and context, else in-cluster first and then the default
  kubeconfig.
- `module_args` hands the same resolved options to kubernetes.core.k8s explicitly, so the apply
  never reads anything the engine did not.

kubernetes.core's public factory, `get_api_client`, is not used: it builds a discovery client
(GET /version and /apis when the discovery cache in the temporary directory is cold, two
requests beside a no-op deploy's dozen), sizes the connection pool before the engine can (the
client's default, five per CPU, for the release threads), and reads K8S_AUTH_* from the
controller's environment rather than the task's, where the apply runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.apiserver import ApiServerClient
from ansible_collections.exchange.platform.plugins.plugin_utils.client import KubeError
from ansible_collections.exchange.platform.plugins.plugin_utils.connection_options import (
    BOOLEANS,
    CONNECTION_OPTIONS,
    LISTS,
    MAPPINGS,
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
    return value is None or value in ("", [], {})


def _from_env(name: str, env: Mapping[str, str]) -> Any:
    """An option's K8S_AUTH_* variable(s), read as kubernetes.core reads them, or None."""
    if name in MAPPINGS:
        prefix = f"K8S_AUTH_{name.upper()}_"
        found = {k: env[prefix + k.upper()] for k in MAPPINGS[name] if prefix + k.upper() in env}
        return found or None
    other = CONNECTION_OPTIONS[name]
    value = env.get(f"K8S_AUTH_{name.upper()}") or env.get(f"K8S_AUTH_{other.upper()}")
    if value is None:
        return None
    if name in BOOLEANS:
        return value.lower() not in ("0", "false", "no")
    if name in LISTS:
        return [item for item in value.split(",") if item]
    return value


def resolve(options: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The connection options in effect: each given option, else its K8S_AUTH_* variable. A
    variable set to "" is kept, as kubernetes.core keeps it (K8S_AUTH_HOST="" is a host ""):
    the apply reads the same environment, so dropping it would split the identity."""
    resolved: dict[str, Any] = {}
    for name in CONNECTION_OPTIONS:
        value = options.get(name)
        if _empty(value):
            value = _from_env(name, env)
        if value is not None:
            resolved[name] = value
    return resolved


def identity(resolved: Mapping[str, Any]) -> str:
    """Releases with equal identities reach the same cluster as the same user."""
    return json.dumps(resolved, sort_keys=True, default=str)


def _direct(resolved: Mapping[str, Any]) -> bool:
    """kubernetes.core's rule: the host with a token, a client certificate and key, or a user name
    and password authenticates by itself, and no kubeconfig is read."""

    def given(*names: str) -> bool:
        return all(resolved.get(name) for name in names)

    return given("host") and (
        given("api_key") or given("client_cert", "client_key") or given("username", "password")
    )


def describe(resolved: Mapping[str, Any]) -> str:
    """Where a release goes, for messages: never a token, a password or a proxy header."""
    if _direct(resolved):
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
    # Connections for a batch's release threads (plugins/plugin_utils/engine.py) and its watches;
    # a larger batch opens more and keeps 48.
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, 48)
    api = kubernetes.client.ApiClient(configuration)
    headers = _create_headers(**{k: resolved.get(k) for k in HEADERS})
    for header, value in headers.items():
        _set_header(api, header, value)
    return ApiServerClient(api, field_manager)
