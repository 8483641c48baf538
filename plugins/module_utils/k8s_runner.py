# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this collection's modules share: kubernetes.core's auth options and client, and one way
to turn API errors into failure messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import (
    CoreException,
)

from ansible_collections.exchange.platform.plugins.module_utils.lease import LockError

try:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError
except ImportError:  # reported by AnsibleK8SModule
    pass


def api_error(error: ApiException, what: str) -> str:
    """The API server's own Status message (which never echoes an object's data), not the body."""
    try:
        message = json.loads(error.body)["message"]
    except (TypeError, ValueError, KeyError):
        message = error.reason
    return f"{what}: {error.status} {message}"


def api_client(module: AnsibleK8SModule) -> Any:
    """The typed kubernetes ApiClient for kubernetes.core's connection options (no discovery)."""
    return get_api_client(module=module).client.client


def execute(argument_spec: dict[str, Any], run: Callable[[AnsibleK8SModule], None]) -> None:
    """Build the module with the auth options, run it, and fail clearly on any API error."""
    module = AnsibleK8SModule(
        argument_spec=dict(AUTH_ARG_SPEC, **argument_spec), supports_check_mode=True
    )
    try:
        run(module)
    except LockError as error:
        module.fail_json(msg=str(error))
    except ApiException as error:
        module.fail_json(msg=api_error(error, "The API server refused"), status=error.status)
    except CoreException as error:
        module.fail_from_exception(error)
    except HTTPError as error:
        module.fail_json(msg=f"Cannot reach the API server: {error}")
