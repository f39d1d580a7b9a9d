"""Watches of the operator's children (I/O), with the label selector applied by the API server.

kopf would filter labels on its side and remember every watched object of the cluster; these streams
keep no copy of anything: each change only names the site whose reconcile it should trigger.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from .kube import Kube

log = logging.getLogger("edgesite.watch")

# (collection path below /api or /apis, extra label selector): the children whose changes matter.
WATCHED = (
    ("/apis/apps/v1", "deployments", ""),
    ("/apis/apps/v1", "statefulsets", ""),
    ("/api/v1", "services", ""),
    ("/api/v1", "configmaps", ""),
    ("/apis/networking.k8s.io/v1", "networkpolicies", ""),
    ("/api/v1", "pods", ",app.kubernetes.io/component=inference"),
)
SELECTOR = "app.kubernetes.io/managed-by=edgesite"

Handler = Callable[[str, str, dict[str, Any]], None]  # (event type, plural, object)


class ChildWatches:
    def __init__(self, kube: Kube, on_event: Handler, namespaces: list[str]):
        self.kube, self.on_event, self.namespaces = kube, on_event, namespaces or [""]
        self.stop = threading.Event()

    def start(self) -> None:
        for prefix, plural, extra in WATCHED:
            for namespace in self.namespaces:
                path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
                threading.Thread(target=self._run, args=(path, plural, SELECTOR + extra), name=f"watch-{plural}", daemon=True).start()

    def _run(self, path: str, plural: str, selector: str) -> None:
        version: str | None = None
        while not self.stop.is_set():
            try:
                if version is None:  # start from now: existing children are the resync's business
                    version = self.kube.request("GET", path, query={"labelSelector": selector, "limit": "1"})["metadata"]["resourceVersion"]
                version = self._stream(path, plural, selector, version)
            except Exception as error:  # noqa: BLE001 - reconnect; the resync covers what a gap misses
                log.debug("watch of %s interrupted: %s", path, error)
                version = None
                self.stop.wait(1)

    def _stream(self, path: str, plural: str, selector: str, version: str) -> str | None:
        query = {"watch": "1", "labelSelector": selector, "resourceVersion": version, "allowWatchBookmarks": "true",
                 "timeoutSeconds": "300"}
        api = self.kube.api
        method, url, headers, _, _ = api.param_serialize("GET", path, header_params={"Accept": "application/json"},
                                                         auth_settings=["BearerToken"])
        response = api.call_api(method, f"{url}?{urlencode(query)}", header_params=headers, _request_timeout=(10, 330))
        stream = response.response
        if response.status != 200:
            return None
        for line in stream:
            if self.stop.is_set():
                break
            event = json.loads(line)
            kind, obj = event.get("type"), event.get("object", {})
            if kind == "ERROR":
                return None  # 410 Gone and friends: list again
            version = obj.get("metadata", {}).get("resourceVersion", version)
            if kind != "BOOKMARK":
                self.on_event(kind, plural, obj)
        return version
