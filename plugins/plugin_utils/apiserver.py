# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real cluster client: `client.Client`'s requests over the kubernetes client's ApiClient
(built by plugins/plugin_utils/connection.py exactly as kubernetes.core.k8s builds its own), as
raw JSON: no discovery, no typed models (both cost time and hide the server's answer). Paths come
from the catalogue of kinds (plugins/plugin_utils/catalogue.py).
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any

from ansible_collections.exchange.platform.plugins.plugin_utils.catalogue import api_path
from ansible_collections.exchange.platform.plugins.plugin_utils.client import (
    KubeError,
    Ref,
    Stream,
)

try:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError
except ImportError:  # connection.connect() says so; ansible-test's import test needs this

    class ApiException(Exception):  # type: ignore[no-redef]  # never raised without a client
        """Stands in for kubernetes.client.exceptions.ApiException."""

    class HTTPError(Exception):  # type: ignore[no-redef]  # never raised without a client
        """Stands in for urllib3.exceptions.HTTPError."""


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


class _Lines:
    """A watch response: one JSON event per line. `close` may come from another thread: it shuts
    the socket down, which ends a blocked read at once (closing the response would wait for it)."""

    def __init__(self, response: Any) -> None:
        self.response = response

    def __iter__(self) -> Iterator[dict[str, Any]]:
        pending = b""
        try:
            for chunk in self.response.stream(4096, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        event = json.loads(line)
                        if event.get("type") == "ERROR":  # e.g. 410 Gone: a new watch starts
                            return
                        yield event
        except (HTTPError, OSError, ValueError, AttributeError) as error:
            raise KubeError(0, f"the watch broke: {error}") from None
        finally:
            with contextlib.suppress(Exception):  # the connection is not reused
                self.response.close()

    def close(self) -> None:
        sock = getattr(getattr(self.response, "connection", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class ApiServerClient:
    """JSON requests to one cluster, over a kubernetes ApiClient."""

    def __init__(self, api: Any, field_manager: str) -> None:
        self.api = api
        self.field_manager = field_manager

    def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        query: list[tuple[str, Any]] | None = None,
        content_type: str = "application/json",
        raw: bool = False,
        stream: int = 0,
    ) -> Any:
        """The answer as JSON (`raw`: as text); with `stream` (a watch's seconds), the open
        response, read up to that long."""
        try:
            response = self.api.call_api(
                url,
                method,
                query_params=query or [],
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=(10, stream + 10 if stream else 30),
            )
        except ApiException as error:
            raise _error(error) from None
        except HTTPError as error:
            raise KubeError(0, f"Cannot reach the API server: {error}") from None
        if stream:
            return response
        data = response.data
        return data.decode("utf-8", "replace") if raw else (json.loads(data) if data else None)

    def watch(self, kind: str, namespace: str, selector: str, seconds: int) -> Stream:
        """Watch the namespace's objects of `kind` with the label selector; the server ends the
        watch after `seconds`. The first events are the objects that exist (ADDED)."""
        query = [("watch", "true"), ("labelSelector", selector), ("timeoutSeconds", seconds)]
        return _Lines(self.request("GET", api_path(kind, namespace), query=query, stream=seconds))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", api_path(kind, namespace, name))
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def list(self, kind: str, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        query = [("labelSelector", selector)] if selector else []
        return self.request("GET", api_path(kind, namespace), query=query)["items"]

    def apply(
        self, obj: dict[str, Any], dry_run: bool = False, manager: str = "", force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply, forcing conflicts (the release owns the fields it sets); without
        `force`, a field another manager set to another value is a 409 conflict."""
        ref = Ref.of(obj)
        query = [("fieldManager", manager or self.field_manager), ("force", str(force).lower())]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request(
            "PATCH",
            api_path(ref.kind, ref.namespace, ref.name),
            body=obj,
            query=query,
            content_type="application/apply-patch+yaml",
        )

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """POST; 409 when it exists, 404 when its namespace does not."""
        return self.request("POST", api_path(obj["kind"], obj["metadata"]["namespace"]), body=obj)

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT carrying metadata.resourceVersion: 409 when someone wrote in between."""
        ref = Ref.of(obj)
        return self.request("PUT", api_path(ref.kind, ref.namespace, ref.name), body=obj)

    def delete(self, ref: Ref, propagation: str = "Background", precondition_rv: str = "") -> bool:
        """Delete; False if it was already gone."""
        body: dict[str, Any] = {"propagationPolicy": propagation}
        if precondition_rv:
            body["preconditions"] = {"resourceVersion": precondition_rv}
        try:
            self.request("DELETE", api_path(ref.kind, ref.namespace, ref.name), body=body)
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True

    def log(self, namespace: str, pod: str, container: str, lines: int, previous: bool) -> str:
        query = [
            ("container", container),
            ("tailLines", lines),
            ("previous", "true" if previous else "false"),
        ]
        return self.request("GET", api_path("Pod", namespace, pod, "log"), query=query, raw=True)

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
        """Whether the API server serves this API group version (e.g. metrics.k8s.io/v1beta1;
        "v1" is the core group)."""
        root = "/apis" if "/" in group_version else "/api"
        try:
            self.request("GET", f"{root}/{group_version}")
            return True
        except KubeError:
            return False

    def evict(self, namespace: str, pod: str) -> bool:
        """The Eviction API (policy/v1): True when the pod is evicted, False when it is gone;
        429 when a PodDisruptionBudget does not allow it now."""
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod, "namespace": namespace},
        }
        try:
            self.request("POST", api_path("Pod", namespace, pod, "eviction"), body=body)
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True
