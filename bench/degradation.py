"""Degradation benchmark on the real control plane: for each fault, the time from the fault to the changed
children and status, and from recovery back to Online (prints figures; asserts nothing).

Goals: uplink within periodSeconds x failureThreshold + 5 s; the others within 10 s of the API server
showing the fault.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgesite.crd import custom_resource_definition  # noqa: E402
from edgesite.render import priority_classes  # noqa: E402
from tests.conftest import Cluster  # noqa: E402
from tests.e2e.test_degradation import Cloud, capacity_site  # noqa: E402
from tests.e2e.test_operator import Operator, site_document  # noqa: E402
from tests.harness import controlplane  # noqa: E402


def until(predicate: Any, timeout: float = 120, since: float | None = None) -> float:
    """Seconds from `since` (default: now) until `predicate` holds."""
    start = time.monotonic() if since is None else since
    while not predicate():
        if time.monotonic() - start > timeout:
            return float("nan")
        time.sleep(0.05)
    return time.monotonic() - start


def main() -> None:
    with controlplane.running(Path(tempfile.mkdtemp(prefix="bench-degradation-"))) as plane:
        controlplane.add_edge_nodes(plane)
        cluster = Cluster(plane.kubeconfig_path, str(plane.bin / "kubectl"), plane)
        cluster.apply([custom_resource_definition(), *priority_classes()] +
                      [{"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": n}, "handler": n}
                       for n in ("nvidia", "wasmedge", "spin")])
        cluster.kubectl("wait", "--for=condition=Established", "crd/edgesites.edgesite.io")
        namespace = "bench"
        cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])
        operator = Operator(cluster, [namespace])
        operator.start()
        cloud = Cloud()
        cloud.start()
        try:
            site = site_document("full", namespace)
            site["spec"]["uplink"]["probe"] = {"url": f"http://127.0.0.1:{cloud.port}/healthz", "periodSeconds": 2,
                                               "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 2}
            site["spec"]["functions"][0]["needsUplink"] = True
            site["spec"]["degradation"]["primaryRetrySeconds"] = 60
            cluster.apply([site, capacity_site(namespace)])
            for node in ("cap-1", "cap-2"):
                plane.add_node(node, labels={"edgesite.io/site": "cap-test"}, cpu="4", memory="4Gi")

            def get(kind: str, name: str) -> dict[str, Any]:
                return dict(cluster.get(kind, "-n", namespace, name))

            def mode(name: str = "plant-hamburg") -> str:
                return str(get("esite", name).get("status", {}).get("mode"))

            def ready(name: str) -> bool:
                return any(c["type"] == "Ready" and c["status"] == "True" for c in get("esite", name).get("status", {}).get("conditions", []))

            until(lambda: ready("plant-hamburg") and ready("cap-site") and mode() == "Online")
            rows = []

            fault = time.monotonic()
            cloud.stop()
            children = until(lambda: get("deployment", "plant-hamburg-label-printer")["spec"]["replicas"] == 0, since=fault)
            status = until(lambda: mode() == "Offline", since=fault)
            cloud.start()
            back = until(lambda: mode() == "Online" and get("deployment", "plant-hamburg-label-printer")["spec"]["replicas"] == 1)
            rows.append(("uplink lost (period 2 s x 3 failures, goal <= 11 s)", children, status, back))

            plane.set_node_ready("cap-2", False)
            fault = time.monotonic()
            children = until(lambda: get("deployment", "cap-site-analytics")["spec"]["replicas"] == 0, since=fault)
            status = until(lambda: mode("cap-site") == "Degraded", since=fault)
            plane.set_node_ready("cap-2", True)
            back = until(lambda: mode("cap-site") == "Online" and get("deployment", "cap-site-analytics")["spec"]["replicas"] == 1)
            rows.append(("node NotReady, capacity short (goal <= 10 s)", children, status, back))

            gpu_node = cluster.get("node", "edge-gpu")
            plane.remove_node("edge-gpu")
            fault = time.monotonic()

            def on_gpu() -> bool:
                limits = get("deployment", "plant-hamburg-defect-detector")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                return "nvidia.com/gpu" in limits

            children = until(lambda: not on_gpu(), since=fault)
            status = until(lambda: mode() == "Degraded", since=fault)
            labels = {k: v for k, v in gpu_node["metadata"]["labels"].items() if k.startswith(("edgesite.io/", "nvidia.com/"))}
            plane.add_node("edge-gpu", labels=labels, cpu="8", memory="32Gi", gpus=2, taints=gpu_node["spec"].get("taints", []))
            back = until(lambda: on_gpu() and mode() == "Online")
            rows.append(("GPU node gone (goal <= 10 s)", children, status, back))

            pod = cluster.get("pods", "-n", namespace, "-l", "app.kubernetes.io/instance=plant-hamburg-assistant")["items"][0]
            patch = [{"op": "replace", "path": "/status/containerStatuses/0/restartCount", "value": 3}]
            cluster.kubectl("patch", "pod", pod["metadata"]["name"], "-n", namespace, "--subresource=status", "--type=json",
                            "-p", json.dumps(patch))
            fault = time.monotonic()

            def model() -> str:
                return str(get("deployment", "plant-hamburg-assistant")["metadata"]["annotations"]["edgesite.io/model"])

            children = until(lambda: model().endswith("1b-instruct-q4_k_m.gguf"), since=fault)
            status = until(lambda: mode() == "Degraded", since=fault)
            back = until(lambda: model().endswith("3b-instruct-q4_k_m.gguf") and mode() == "Online", timeout=180)
            rows.append(("inference pod restarts >= 3 (goal <= 10 s; back after primaryRetrySeconds = 60 s)", children, status, back))

            print(f"{'fault':<85} {'children':>9} {'status':>8} {'back to Online':>15}")
            for name, children, status, back in rows:
                print(f"{name:<85} {children:>8.1f}s {status:>7.1f}s {back:>14.1f}s")
        finally:
            cloud.stop()
            operator.stop()


if __name__ == "__main__":
    main()
