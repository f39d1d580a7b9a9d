"""The harness itself: simulated node faults, and running an operator in-process or as a subprocess."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Cluster
from tests.e2e.test_smoke import site_document, wait_for

OPERATOR = str(Path(__file__).parent / "operators" / "annotate.py")


def ready(cluster: Cluster, node: str) -> str:
    conditions = cluster.get("node", node)["status"].get("conditions", [])
    return next((c["status"] for c in conditions if c["type"] == "Ready"), "Unknown")


def test_node_goes_not_ready_disappears_and_comes_back(cluster: Cluster) -> None:
    plane = cluster.plane
    if plane is None:
        pytest.skip("node faults are simulated with the project's own control plane only")
    plane.add_node("fault-1", labels={"edgesite.io/site": "fault-test"}, cpu="2", memory="4Gi")
    wait_for(lambda: ready(cluster, "fault-1") == "True", what="fault-1 Ready")
    plane.set_node_ready("fault-1", False)
    wait_for(lambda: ready(cluster, "fault-1") in ("False", "Unknown"), what="fault-1 NotReady")
    time.sleep(2)
    assert ready(cluster, "fault-1") in ("False", "Unknown"), "kwok must not revive a node the test took down"
    plane.set_node_ready("fault-1", True)
    wait_for(lambda: ready(cluster, "fault-1") == "True", what="fault-1 Ready again")
    plane.remove_node("fault-1")
    wait_for(lambda: cluster.kubectl("get", "node", "fault-1", check=False).returncode != 0, what="fault-1 gone")


@pytest.mark.parametrize("subprocess_mode", [False, True], ids=["in-process", "subprocess"])
def test_operator_runs_against_the_real_api_server(edgesite_cluster: Cluster, namespace: str, operator_runner, subprocess_mode: bool) -> None:
    args = ["run", "--standalone", "--namespace", namespace, OPERATOR]
    with operator_runner(args, subprocess_mode=subprocess_mode):
        edgesite_cluster.apply([site_document("minimal", namespace)])

        def handled() -> str | None:
            site = edgesite_cluster.get("esite", "-n", namespace, "store-0421")
            return site["metadata"].get("annotations", {}).get("test.edgesite.io/last-handled-configuration")

        # The operator watched the object, ran its handler and patched the object on the server.
        handled_spec = wait_for(handled, timeout=90, what="the operator's last-handled annotation")
        assert '"name":"shelf-vision"' in handled_spec
