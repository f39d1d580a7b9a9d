"""Degradation on the real control plane: one test per fault, each checking the way back too."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.e2e.test_operator import Operator, condition, operator, ready, site_document  # noqa: F401 - the operator fixture
from tests.e2e.test_smoke import wait_for
from tests.harness.controlplane import free_port


class Cloud:
    """The "cloud" health endpoint the uplink probe asks; the test stops and starts it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    server = Cloud()
    server.start()
    yield server
    server.stop()


def plane_of(cluster: Cluster) -> Any:
    if cluster.plane is None:
        pytest.skip("faults are simulated on the project's own control plane")
    return cluster.plane


def status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return dict(cluster.get("esite", "-n", namespace, name).get("status", {}))


def component(cluster: Cluster, namespace: str, name: str, child: str) -> dict[str, Any]:
    return next((c for c in status(cluster, namespace, name).get("components", []) if c["name"].endswith("/" + child)), {})


def events(cluster: Cluster, namespace: str, name: str) -> set[str]:
    items = cluster.get("events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")["items"]
    return {e["reason"] for e in items}


def test_uplink_lost_and_back(edgesite_cluster: Cluster, namespace: str, operator: Operator, cloud: Cloud) -> None:
    cluster = edgesite_cluster
    document = site_document("full", namespace)
    document["spec"]["uplink"]["probe"] = {"url": f"http://127.0.0.1:{cloud.port}/healthz", "periodSeconds": 1,
                                           "timeoutSeconds": 1, "failureThreshold": 2, "successThreshold": 2}
    document["spec"]["functions"][0]["needsUplink"] = True
    cluster.apply([document])
    ready(cluster, namespace, "plant-hamburg")
    wait_for(lambda: condition(cluster, namespace, "plant-hamburg", "UplinkAvailable").get("status") == "True", timeout=30,
             what="UplinkAvailable=True")
    cloud.stop()
    started = time.monotonic()
    wait_for(lambda: status(cluster, namespace, "plant-hamburg").get("mode") == "Offline", timeout=1 * 2 + 5 + 5, interval=0.2,
             what="Offline within periodSeconds x failureThreshold + 5 s")
    offline_after = time.monotonic() - started
    assert condition(cluster, namespace, "plant-hamburg", "UplinkAvailable")["reason"] == "UplinkLost"
    assert condition(cluster, namespace, "plant-hamburg", "Degraded")["status"] == "True"
    wait_for(lambda: cluster.get("deployment", "-n", namespace, "plant-hamburg-label-printer")["spec"]["replicas"] == 0, timeout=10,
             what="the function that needs the uplink stopped")
    assert component(cluster, namespace, "plant-hamburg", "plant-hamburg-label-printer")["state"] == "stopped"
    cloud.start()
    wait_for(lambda: status(cluster, namespace, "plant-hamburg").get("mode") == "Online", timeout=1 * 2 + 5 + 5, interval=0.2,
             what="Online again")
    wait_for(lambda: cluster.get("deployment", "-n", namespace, "plant-hamburg-label-printer")["spec"]["replicas"] == 1, timeout=10,
             what="the function back")
    assert {"UplinkLost", "Recovered"} <= events(cluster, namespace, "plant-hamburg")
    print(f"uplink lost -> Offline in {offline_after:.1f} s")


def capacity_site(namespace: str) -> dict[str, Any]:
    document = site_document("minimal", namespace)
    document["metadata"]["name"] = "cap-site"
    document["spec"]["nodes"] = {"selector": {"edgesite.io/site": "cap-test"}}
    model = {"uri": "https://models.example.com/m.onnx", "sizeMiB": 12, "quantization": "int8"}
    document["spec"]["inference"] = [
        {"name": "safety", "runtime": "onnxruntime", "model": model, "priority": "critical", "resources": {"cpu": "1", "memory": "1Gi"}},
        {"name": "analytics", "runtime": "onnxruntime", "model": model, "priority": "best-effort", "resources": {"cpu": "2", "memory": "3Gi"}},
    ]
    return document


NODE_FAULTS = {  # fault name: (take the node away, give it back)
    "not-ready": (lambda plane, node: plane.set_node_ready(node, False), lambda plane, node: plane.set_node_ready(node, True)),
    "cordoned": (lambda plane, node: plane.kubectl("cordon", node), lambda plane, node: plane.kubectl("uncordon", node)),
}


@pytest.mark.parametrize("fault", sorted(NODE_FAULTS))
def test_node_lost_sheds_best_effort_and_back(edgesite_cluster: Cluster, namespace: str, fault: str) -> None:
    """The node change itself triggers the site (the resync is out of reach here: ten minutes)."""
    cluster, plane = edgesite_cluster, plane_of(edgesite_cluster)
    take, give_back = NODE_FAULTS[fault]
    nodes = (f"cap-{fault}-1", f"cap-{fault}-2")
    for node in nodes:
        plane.add_node(node, labels={"edgesite.io/site": "cap-test"}, cpu="4", memory="4Gi")
    operator = Operator(cluster, [namespace], resync_seconds=600)
    operator.start()
    try:
        cluster.apply([capacity_site(namespace)])
        ready(cluster, namespace, "cap-site")
        take(plane, nodes[1])
        wait_for(lambda: cluster.get("deployment", "-n", namespace, "cap-site-analytics")["spec"]["replicas"] == 0, timeout=15,
                 interval=0.2, what=f"best-effort shed within 10 s of the node being {fault}")
        assert cluster.get("deployment", "-n", namespace, "cap-site-safety")["spec"]["replicas"] == 1, "critical never stops"
        assert condition(cluster, namespace, "cap-site", "Degraded")["reason"] == "CapacityShort"
        assert component(cluster, namespace, "cap-site", "cap-site-analytics")["reason"] == "CapacityShort"
        give_back(plane, nodes[1])
        wait_for(lambda: cluster.get("deployment", "-n", namespace, "cap-site-analytics")["spec"]["replicas"] == 1, timeout=30,
                 what="best-effort back when capacity returns")
        wait_for(lambda: status(cluster, namespace, "cap-site").get("mode") == "Online", timeout=15, what="Online again")
    finally:
        operator.stop()
        for node in nodes:
            plane.remove_node(node)


def test_gpu_node_lost_moves_to_cpu_and_back(edgesite_cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster, plane = edgesite_cluster, plane_of(edgesite_cluster)
    cluster.apply([site_document("full", namespace)])
    ready(cluster, namespace, "plant-hamburg")
    gpu_node = cluster.get("node", "edge-gpu")
    plane.remove_node("edge-gpu")
    try:
        def limits() -> dict[str, Any]:
            spec = cluster.get("deployment", "-n", namespace, "plant-hamburg-defect-detector")["spec"]["template"]["spec"]
            return dict(spec["containers"][0]["resources"]["limits"])

        wait_for(lambda: "nvidia.com/gpu" not in limits(), timeout=15, interval=0.2, what="the CPU variant within 10 s")
        assert component(cluster, namespace, "plant-hamburg", "plant-hamburg-defect-detector")["state"] == "cpu"
        assert condition(cluster, namespace, "plant-hamburg", "Degraded")["reason"] == "GpuNodeLost"
    finally:
        labels = {k: v for k, v in gpu_node["metadata"]["labels"].items() if k.startswith(("edgesite.io/", "nvidia.com/"))}
        plane.add_node("edge-gpu", labels=labels, cpu="8", memory="32Gi", gpus=2, taints=gpu_node["spec"].get("taints", []))
    wait_for(lambda: "nvidia.com/gpu" in limits(), timeout=30, what="back on the GPU")
    wait_for(lambda: status(cluster, namespace, "plant-hamburg").get("mode") == "Online", timeout=30, what="Online again")
    assert "GpuNodeLost" in events(cluster, namespace, "plant-hamburg")


def test_failing_model_falls_back_and_primary_is_retried(edgesite_cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster = edgesite_cluster
    document = site_document("full", namespace)
    document["spec"]["degradation"]["primaryRetrySeconds"] = 60
    cluster.apply([document])
    ready(cluster, namespace, "plant-hamburg")

    def model() -> str:
        return str(cluster.get("deployment", "-n", namespace, "plant-hamburg-assistant")["metadata"]["annotations"]["edgesite.io/model"])

    assert model().endswith("3b-instruct-q4_k_m.gguf")
    pod = cluster.get("pods", "-n", namespace, "-l", "app.kubernetes.io/instance=plant-hamburg-assistant")["items"][0]
    patch = [{"op": "replace", "path": "/status/containerStatuses/0/restartCount", "value": 3}]
    cluster.kubectl("patch", "pod", pod["metadata"]["name"], "-n", namespace, "--subresource=status", "--type=json", "-p", json.dumps(patch))
    wait_for(lambda: model().endswith("1b-instruct-q4_k_m.gguf"), timeout=15, interval=0.2, what="the fallback model within 10 s")
    assert component(cluster, namespace, "plant-hamburg", "plant-hamburg-assistant")["state"] == "fallback"
    assert condition(cluster, namespace, "plant-hamburg", "Degraded")["reason"] == "ModelFallback"
    wait_for(lambda: model().endswith("3b-instruct-q4_k_m.gguf"), timeout=90, what="the primary retried after primaryRetrySeconds")
    assert "ModelFallback" in events(cluster, namespace, "plant-hamburg")
