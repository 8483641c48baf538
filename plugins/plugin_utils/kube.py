# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release engine's view of the API server: raw JSON requests for the few kinds a release
touches, with no discovery and no typed models (both cost time and hide the server's answer).

Runs in the controller. `connect` builds one client per kubeconfig and context.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    KUBERNETES_IMPORT_ERROR = ""
except ImportError as import_error:  # connect() says so; ansible-test's import test needs this
    KUBERNETES_IMPORT_ERROR = str(import_error)
    k8s_client = k8s_config = None

    class ApiException(Exception):  # never raised: no client, no request
        """Stands in for kubernetes.client.exceptions.ApiException."""

    class HTTPError(Exception):  # never raised: no client, no request
        """Stands in for urllib3.exceptions.HTTPError."""


# kind -> (API path prefix, plural). Every object a release owns is namespaced.
KINDS: dict[str, tuple[str, str]] = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "Service": ("/api/v1", "services"),
    "Secret": ("/api/v1", "secrets"),
    "Pod": ("/api/v1", "pods"),
    "Event": ("/api/v1", "events"),
    "HorizontalPodAutoscaler": ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
    "SealedSecret": ("/apis/bitnami.com/v1alpha1", "sealedsecrets"),
    "Lease": ("/apis/coordination.k8s.io/v1", "leases"),
}


class KubeError(Exception):
    """An API request failed: the HTTP status and the server's own Status message."""

    def __init__(
        self, status: int, message: str, causes: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.causes = causes or []


def _error(error: ApiException) -> KubeError:
    # The Status message never echoes an object's data; the raw body might, so it is not used.
    try:
        status = json.loads(error.body)
        return KubeError(
            error.status,
            status.get("message", error.reason),
            status.get("details", {}).get("causes"),
        )
    except (TypeError, ValueError, AttributeError):
        return KubeError(error.status or 0, str(error.reason))


@dataclass(frozen=True)
class Ref:
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Ref:
        meta = obj["metadata"]
        return cls(obj["kind"], meta.get("namespace", ""), meta["name"])

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class Kube:
    """JSON requests to one cluster."""

    def __init__(self, api: Any, field_manager: str) -> None:
        self.api = api
        self.field_manager = field_manager

    def path(self, kind: str, namespace: str, name: str = "", sub: str = "") -> str:
        prefix, plural = KINDS[kind]
        path = f"{prefix}/namespaces/{namespace}/{plural}"
        return path + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, Any]] | None = None,
        content_type: str = "application/json",
        raw: bool = False,
    ) -> Any:
        try:
            response = self.api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=(10, 30),
            )
        except ApiException as error:
            raise _error(error) from None
        except HTTPError as error:
            raise KubeError(0, f"Cannot reach the API server: {error}") from None
        data = response.data
        return data.decode("utf-8", "replace") if raw else (json.loads(data) if data else None)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", self.path(kind, namespace, name))
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def list(self, kind: str, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        query = [("labelSelector", selector)] if selector else []
        return self.request("GET", self.path(kind, namespace), query=query)["items"]

    def apply(
        self, obj: dict[str, Any], dry_run: bool = False, manager: str = ""
    ) -> dict[str, Any]:
        """Server-side apply, forcing conflicts: the release owns the fields it sets."""
        ref = Ref.of(obj)
        query = [("fieldManager", manager or self.field_manager), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request(
            "PATCH",
            self.path(ref.kind, ref.namespace, ref.name),
            body=obj,
            query=query,
            content_type="application/apply-patch+yaml",
        )

    def delete(self, ref: Ref, propagation: str = "Background", precondition_rv: str = "") -> bool:
        """Delete; False if it was already gone."""
        body: dict[str, Any] = {"propagationPolicy": propagation}
        if precondition_rv:
            body["preconditions"] = {"resourceVersion": precondition_rv}
        try:
            self.request("DELETE", self.path(ref.kind, ref.namespace, ref.name), body=body)
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True

    def whoami(self) -> str:
        """The authenticated user's name (SelfSubjectReview; every user may ask)."""
        try:
            review = self.request(
                "POST",
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            )
            return review["status"]["userInfo"].get("username", "unknown")
        except KubeError:
            return "unknown"

    def serves(self, group_version: str) -> bool:
        """Whether the API server serves this API group version (e.g. metrics.k8s.io/v1beta1)."""
        try:
            self.request("GET", f"/apis/{group_version}")
            return True
        except KubeError:
            return False


def _token_configuration(env: Any) -> Any:
    """The bearer-token credential kubernetes.core reads from the environment (AWX's "OpenShift
    or Kubernetes API Bearer Token" injects these): K8S_AUTH_HOST, K8S_AUTH_API_KEY,
    K8S_AUTH_VERIFY_SSL, K8S_AUTH_SSL_CA_CERT."""
    configuration = k8s_client.Configuration()
    configuration.host = env["K8S_AUTH_HOST"]
    if env.get("K8S_AUTH_API_KEY"):
        configuration.api_key = {"authorization": "Bearer " + env["K8S_AUTH_API_KEY"]}
    verify = env.get("K8S_AUTH_VERIFY_SSL", "true").strip().lower()
    configuration.verify_ssl = verify not in ("0", "false", "no", "off")
    if env.get("K8S_AUTH_SSL_CA_CERT"):
        configuration.ssl_ca_cert = env["K8S_AUTH_SSL_CA_CERT"]
    return configuration


def connect(kubeconfig: str, context: str, field_manager: str) -> Kube:
    """A client for the kubeconfig (default: K8S_AUTH_KUBECONFIG; else a bearer token from
    K8S_AUTH_HOST and K8S_AUTH_API_KEY; else KUBECONFIG, ~/.kube/config, and else the in-cluster
    ServiceAccount) and context (default: its current context)."""
    if KUBERNETES_IMPORT_ERROR:
        raise KubeError(
            0,
            "the release engine needs the kubernetes Python client on the controller "
            f"(pip install kubernetes): {KUBERNETES_IMPORT_ERROR}",
        )
    path = kubeconfig or os.environ.get("K8S_AUTH_KUBECONFIG") or ""
    context = context or os.environ.get("K8S_AUTH_CONTEXT") or ""
    if not path and os.environ.get("K8S_AUTH_HOST"):
        return Kube(k8s_client.ApiClient(_token_configuration(os.environ)), field_manager)
    configuration = k8s_client.Configuration()
    try:
        if (
            path
            or os.environ.get("KUBECONFIG")
            or os.path.exists(os.path.expanduser("~/.kube/config"))
        ):
            k8s_config.load_kube_config(
                config_file=os.path.expanduser(path) if path else None,
                context=context or None,
                client_configuration=configuration,
            )
        else:
            k8s_config.load_incluster_config(client_configuration=configuration)
    except (k8s_config.ConfigException, OSError, ValueError) as error:
        where = path or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise KubeError(
            0, f"cannot load kubeconfig {where} (context {context or 'current'}): {error}"
        ) from None
    return Kube(k8s_client.ApiClient(configuration), field_manager)
