"""Smoke tests against the real API server: the CRD, admission of good and bad sites, rendered manifests."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from edgesite.render import render
from edgesite.validation import load_sites

from tests.conftest import Cluster, example_document


def site_document(name: str, namespace: str) -> dict[str, Any]:
    document = example_document(name)
    document["metadata"]["namespace"] = namespace
    return document


def wait_for(predicate: Any, timeout: float = 60, interval: float = 0.5, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def test_crd_is_established_with_printer_columns(edgesite_cluster: Cluster) -> None:
    crd = edgesite_cluster.get("crd", "edgesites.edgesite.io")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions.get("NonStructuralSchema") is None
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns[:3] == ["Mode", "Ready", "Degraded"]
    assert crd["spec"]["names"]["shortNames"] == ["esite"]


def test_explain_describes_the_spec(edgesite_cluster: Cluster) -> None:
    # The OpenAPI document is published a few seconds after the CRD is Established.
    out = wait_for(lambda: edgesite_cluster.kubectl("explain", "edgesite.spec.inference", check=False).stdout,
                   timeout=60, what="kubectl explain")
    assert "AI models served at the site" in out
    assert "contextTokens" in out


@pytest.mark.parametrize("name", ["minimal", "full"])
def test_examples_are_accepted(edgesite_cluster: Cluster, namespace: str, name: str) -> None:
    edgesite_cluster.apply([site_document(name, namespace)])
    stored = edgesite_cluster.get("esite", "-n", namespace, example_document(name)["metadata"]["name"])
    assert stored["spec"]["inference"][0]["name"] == example_document(name)["spec"]["inference"][0]["name"]
    # Defaults from the model are applied by the server.
    assert stored["spec"]["inference"][0]["replicas"] >= 1
    # A site that gives no degradation policy gets the safe default, visible on the object.
    assert stored["spec"]["degradation"] == {"shedOrder": ["best-effort", "standard"], "modelFallbackAfterRestarts": 3,
                                             "primaryRetrySeconds": 1800}


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(document)
    target: Any = document
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return document


DELETE = object()

SERVER_REJECTS = [
    # (case, path to change, new value, text that must appear in the server's message)
    ("gpu without nodes.gpu", "spec.nodes", {"memory": "16Gi"}, "inference with accelerator gpu needs nodes.gpu"),
    ("critical in shedOrder", "spec.degradation.shedOrder", ["critical"], "critical workloads are never shed"),
    ("contextTokens on onnx", "spec.inference.0.contextTokens", 2048, "spec.inference[0].contextTokens"),
    ("gguf quantization on onnx", "spec.inference.0.model.quantization", "q4_k_m", "spec.inference[0].model.quantization"),
    ("fallback larger than primary", "spec.inference.1.fallback.model.sizeMiB", 4000, "spec.inference[1].fallback.model.sizeMiB"),
    ("bad quantity", "spec.nodes.memory", "16 GB", "spec.nodes.memory"),
    ("bad enum", "spec.inference.0.runtime", "tensorrt", "spec.inference[0].runtime"),
    ("negative size", "spec.inference.0.model.sizeMiB", -5, "spec.inference[0].model.sizeMiB"),
    ("wildcard in aggregation output", "spec.messaging.aggregations.0.output", "plant/summary/#", "spec.messaging.aggregations[0].output"),
    ("bad topic filter", "spec.messaging.bridge.topics.0.pattern", "plant/#/x", "spec.messaging.bridge.topics[0].pattern"),
    ("offline window narrower", "spec.messaging.aggregations.0.offlineWindowSeconds", 10, "spec.messaging.aggregations[0].offlineWindowSeconds"),
    ("artifacts with upstream", "spec.caches.1.upstream", "https://x.example.com", "spec.caches[1].upstream"),
    ("http cache without upstream", "spec.caches.0.upstream", DELETE, "spec.caches[0].upstream"),
    ("duplicate inference name", "spec.inference.1.name", "defect-detector", 'duplicate entries for key [name="defect-detector"]'),
    ("name shared across lists", "spec.caches.0.name", "assistant", "component names must be unique"),
    ("unknown driver", "spec.drivers", ["latency", "speed"], "spec.drivers[1]"),
    ("site name too long", "metadata.name", "a-very-long-site-name-that-is-far-too-long", "metadata.name"),
]


@pytest.mark.parametrize("case,path,value,expected", SERVER_REJECTS, ids=[c[0] for c in SERVER_REJECTS])
def test_server_rejects_bad_sites(edgesite_cluster: Cluster, namespace: str, case: str, path: str, value: Any, expected: str) -> None:
    document = _set(site_document("full", namespace), path, value)
    result = edgesite_cluster.apply([document], check=False)
    assert result.returncode != 0, f"{case}: the server accepted it"
    assert expected in result.stderr, result.stderr


def test_server_refuses_unknown_fields(edgesite_cluster: Cluster, namespace: str) -> None:
    document = _set(site_document("minimal", namespace), "spec.inference.0.bogus", 1)
    result = edgesite_cluster.apply([document], "--validate=strict", check=False)
    assert result.returncode != 0
    assert '.spec.inference[name="shelf-vision"].bogus: field not declared in schema' in result.stderr


@pytest.mark.parametrize("name", ["minimal", "full"])
def test_rendered_manifests_apply_cleanly_and_pods_run(edgesite_cluster: Cluster, namespace: str, name: str) -> None:
    site = load_sites([("example", __import__("json").dumps(site_document(name, namespace)))])[0]
    manifests = render(site)
    result = edgesite_cluster.apply(manifests)
    assert "Warning" not in result.stderr, result.stderr
    deployments = [m["metadata"]["name"] for m in manifests if m["kind"] in ("Deployment", "StatefulSet")]
    expected = sum(m["spec"]["replicas"] for m in manifests if m["kind"] in ("Deployment", "StatefulSet"))

    def running() -> int:
        pods = edgesite_cluster.get("pods", "-n", namespace)["items"]
        return sum(1 for p in pods if p["status"].get("phase") == "Running"
                   and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])))

    wait_for(lambda: running() >= expected, timeout=90, what=f"{expected} Running pods of {deployments}")
    pods = edgesite_cluster.get("pods", "-n", namespace)["items"]
    for pod in pods:
        gpu = any("nvidia.com/gpu" in c.get("resources", {}).get("limits", {}) for c in pod["spec"]["containers"])
        if edgesite_cluster.plane is not None:
            assert (pod["spec"]["nodeName"] == "edge-gpu") == gpu, (pod["metadata"]["name"], pod["spec"]["nodeName"])
