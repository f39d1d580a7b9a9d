"""The operator's API client: the only module that talks to the API server about children and status.

Plain REST through the kubernetes client's transport (its auth, TLS and kubeconfig handling), with the
paths of the few kinds a site is made of known up front: no discovery round trips.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import kubernetes
from kubernetes.client.exceptions import ApiException

FIELD_MANAGER = "edgesite"
# Kept connections: the operator's threads (appliers, kopf's executor, passes, watches) would otherwise
# overflow the client's default (five per CPU) and set up a new TLS connection for many requests.
CONNECTIONS = 32


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str

    def collection(self, namespace: str) -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{prefix}/namespaces/{namespace}/{self.plural}"


CHILD_KINDS = (
    Kind("v1", "ServiceAccount", "serviceaccounts"),
    Kind("v1", "ConfigMap", "configmaps"),
    Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    Kind("v1", "Service", "services"),
    Kind("apps/v1", "Deployment", "deployments"),
    Kind("apps/v1", "StatefulSet", "statefulsets"),
    Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
)
KINDS = {kind.kind: kind for kind in CHILD_KINDS}
SITES = Kind("edgesite.io/v1alpha1", "EdgeSite", "edgesites")


class Kube:
    """A thin REST client over one kubernetes ApiClient."""

    def __init__(self, api: kubernetes.client.ApiClient | None = None):
        self.api = api or kubernetes.client.ApiClient()

    @classmethod
    def from_environment(cls) -> Kube:
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(client_configuration=configuration)
        configuration.connection_pool_maxsize = CONNECTIONS
        return cls(kubernetes.client.ApiClient(configuration))

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: Any = None,
                content_type: str = "application/json") -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        method, url, headers, _, _ = self.api.param_serialize(method, path, header_params=headers, auth_settings=["BearerToken"])
        if query:
            url += "?" + urlencode(query)
        # The transport JSON-encodes bodies of JSON content types itself; apply patches go as JSON text (valid YAML).
        payload = body if body is None or "json" in content_type else json.dumps(body)
        response = self.api.call_api(method, url, header_params=headers, body=payload, _request_timeout=30)
        response.read()
        if response.status >= 400:
            raise ApiException(http_resp=response)
        return json.loads(response.data) if response.data else None

    # ------------------------------------------------------------------------------------ children

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply with the operator's one field manager, taking ownership of conflicting fields."""
        kind = KINDS[manifest["kind"]]
        path = f"{kind.collection(manifest['metadata']['namespace'])}/{quote(manifest['metadata']['name'])}"
        return dict(self.request("PATCH", path, query={"fieldManager": FIELD_MANAGER, "force": "true"}, body=manifest,
                                 content_type="application/apply-patch+yaml"))

    def children(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """Every child of every kind in `namespace` matching the label selector."""
        found: list[dict[str, Any]] = []
        for kind in CHILD_KINDS:
            listing = self.request("GET", kind.collection(namespace), query={"labelSelector": selector})
            for item in listing["items"]:
                item.setdefault("apiVersion", kind.api_version)
                item.setdefault("kind", kind.kind)
                found.append(item)
        return found

    def delete(self, manifest: dict[str, Any]) -> None:
        kind = KINDS[manifest["kind"]]
        path = f"{kind.collection(manifest['metadata']['namespace'])}/{quote(manifest['metadata']['name'])}"
        try:
            self.request("DELETE", path, body={"propagationPolicy": "Background",
                                               "preconditions": {"uid": manifest["metadata"]["uid"]}})
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    # -------------------------------------------------------------------------------------- status

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        path = f"{SITES.collection(namespace)}/{quote(name)}/status"
        self.request("PATCH", path, body={"status": status}, content_type="application/merge-patch+json")

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/v1/nodes")["items"])

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/api/v1/namespaces/{namespace}/pods", query={"labelSelector": selector})["items"])

    def sites(self, namespace: str | None, *, chunk: int) -> Iterator[dict[str, Any]]:
        """Every EdgeSite in `namespace` (all namespaces for None), listed `chunk` at a time to bound memory."""
        path = SITES.collection(namespace) if namespace else f"/apis/{SITES.api_version}/{SITES.plural}"
        query = {"limit": str(chunk)}
        while True:
            page = self.request("GET", path, query=query)
            yield from page["items"]
            token = page["metadata"].get("continue")
            if not token:
                return
            query = {"limit": str(chunk), "continue": token}

    def site(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self.request("GET", f"{SITES.collection(namespace)}/{quote(name)}"))
