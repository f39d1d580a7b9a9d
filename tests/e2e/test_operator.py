"""The operator as it ships (`python -m edgesite operator`), against the real API server."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgesite.crd import custom_resource_definition
from edgesite.render import render
from edgesite.validation import load_sites

from tests.conftest import Cluster
from tests.e2e.test_smoke import site_document as example_site, wait_for

REPO = Path(__file__).resolve().parents[2]


def site_document(name: str, namespace: str) -> dict[str, Any]:
    """An example site for the operator tests: its uplink probe would ask a host on the internet, so it is
    left out (tests that need one point it at a loopback server)."""
    document = example_site(name, namespace)
    document["spec"].get("uplink", {}).pop("probe", None)
    return document

WORKLOADS = ("deployments", "statefulsets")
CHILDREN = "serviceaccounts,configmaps,persistentvolumeclaims,services,deployments,statefulsets,poddisruptionbudgets,networkpolicies"


class Operator:
    """The operator in its own process, so a test can kill it."""

    def __init__(self, cluster: Cluster, namespaces: list[str], kubeconfig: Path | None = None, metrics_port: int = 0,
                 liveness: str = "", resync_seconds: int = 5, peering_priority: int | None = None):
        self.cluster, self.namespaces, self.resync_seconds = cluster, namespaces, resync_seconds
        self.peering_priority = peering_priority
        self.kubeconfig = kubeconfig or cluster.kubeconfig
        self.metrics_port, self.liveness = metrics_port, liveness
        self.log = Path(tempfile.mkstemp(prefix="operator-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        mode = ["--standalone"] if self.peering_priority is None else ["--peering", "--priority", str(self.peering_priority)]
        args = [sys.executable, "-m", "edgesite", "operator", *mode, "--liveness", self.liveness, "--verbose"]
        for namespace in self.namespaces:
            args += ["-n", namespace]
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "EDGESITE_METRICS_PORT": str(self.metrics_port),
               "EDGESITE_METRICS_ADDRESS": "127.0.0.1", "EDGESITE_RESYNC_SECONDS": str(self.resync_seconds)}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)

    def kill(self) -> None:
        assert self.process
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def operator(edgesite_cluster: Cluster, namespace: str) -> Iterator[Operator]:
    running = Operator(edgesite_cluster, [namespace])
    running.start()
    yield running
    running.stop()
    if running.process and running.process.returncode not in (0, -15, -9, None):
        print(running.output()[-5000:])


def condition(cluster: Cluster, namespace: str, name: str, kind: str) -> dict[str, Any]:
    site = cluster.get("esite", "-n", namespace, name)
    return next((c for c in site.get("status", {}).get("conditions", []) if c["type"] == kind), {})


def children(cluster: Cluster, namespace: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The site's children (claims made from StatefulSet templates belong to the StatefulSet's pods, not the site)."""
    items = cluster.get(CHILDREN, "-n", namespace, "-l", "app.kubernetes.io/managed-by=edgesite")["items"]
    return {(item["kind"], item["metadata"]["name"]): item for item in items if item["metadata"].get("ownerReferences")}


def expected_children(document: dict[str, Any]) -> set[tuple[str, str]]:
    site = load_sites([("site", json.dumps(document))])[0]
    return {(m["kind"], m["metadata"]["name"]) for m in render(site)}


def ready(cluster: Cluster, namespace: str, name: str, timeout: float = 90) -> None:
    wait_for(lambda: condition(cluster, namespace, name, "Ready").get("status") == "True", timeout=timeout,
             what=f"{name} Ready=True")


def test_create_update_drift_delete(edgesite_cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster = edgesite_cluster
    document = site_document("full", namespace)
    cluster.apply([document])
    ready(cluster, namespace, "plant-hamburg")
    site = cluster.get("esite", "-n", namespace, "plant-hamburg")
    assert set(children(cluster, namespace)) == expected_children(document)
    status = site["status"]
    assert status["mode"] == "Online" and status["observedGeneration"] == site["metadata"]["generation"]
    assert status["ready"] == "8/8"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True", "Degraded": "False", "UplinkAvailable": "Unknown"}
    assert condition(cluster, namespace, "plant-hamburg", "UplinkAvailable")["reason"] == "NoProbe"
    assert all(c["state"] == "running" and c["ready"] == c["desired"] for c in status["components"])
    uid = site["metadata"]["uid"]
    assert all(o["metadata"]["ownerReferences"][0]["uid"] == uid for o in children(cluster, namespace).values())
    columns = cluster.kubectl("get", "esite", "-n", namespace).stdout
    assert "Online" in columns and "8/8" in columns
    events = cluster.get("events", "-n", namespace, "--field-selector", "involvedObject.name=plant-hamburg")["items"]
    assert {"ChildrenCreated", "SiteReady", "LintES003", "LintES004", "LintES021"} <= {e["reason"] for e in events}
    assert status["lintFindings"] == 3, "lint runs on every reconcile and never blocks a valid spec"

    # Update: a new inference entry, the http cache removed.
    updated = copy.deepcopy(document)
    updated["spec"]["inference"].append({"name": "counter", "runtime": "tflite",
                                         "model": {"uri": "https://models.example.com/counter.tflite", "sizeMiB": 4, "quantization": "int8"}})
    updated["spec"]["caches"] = [c for c in updated["spec"]["caches"] if c["name"] != "api"]
    cluster.apply([updated])
    wait_for(lambda: set(children(cluster, namespace)) == expected_children(updated), timeout=60, what="children added and pruned")
    ready(cluster, namespace, "plant-hamburg")

    # Drift: an owned field is put back; a field someone else owns is left alone.
    cluster.kubectl("scale", "deployment", "plant-hamburg-assistant", "-n", namespace, "--replicas=3")
    cluster.kubectl("annotate", "deployment", "plant-hamburg-assistant", "-n", namespace, "example.com/owner=team-a")
    wait_for(lambda: cluster.get("deployment", "-n", namespace, "plant-hamburg-assistant")["spec"]["replicas"] == 1,
             timeout=30, what="replicas put back to 1")
    time.sleep(6)
    annotations = cluster.get("deployment", "-n", namespace, "plant-hamburg-assistant")["metadata"]["annotations"]
    assert annotations.get("example.com/owner") == "team-a"

    # Delete: the children go with the site, through the garbage collector.
    cluster.kubectl("delete", "esite", "-n", namespace, "plant-hamburg", "--timeout=60s")
    wait_for(lambda: not children(cluster, namespace), timeout=90, what="children garbage-collected")


def test_conflicting_manual_edit_is_taken_back(edgesite_cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster = edgesite_cluster
    cluster.apply([site_document("minimal", namespace)])
    ready(cluster, namespace, "store-0421")
    edit = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "store-0421-shelf-vision", "namespace": namespace},
            "spec": {"replicas": 4}}
    cluster.kubectl("apply", "--server-side", "--field-manager=someone", "--force-conflicts", "-f", "-", input=json.dumps(edit))
    wait_for(lambda: cluster.get("deployment", "-n", namespace, "store-0421-shelf-vision")["spec"]["replicas"] == 1,
             timeout=30, what="the operator's replicas back")


def test_invalid_spec_that_reached_the_server(edgesite_cluster: Cluster, namespace: str, operator: Operator) -> None:
    """With CRD validation off (a stale CRD), the operator refuses the spec and touches no child."""
    cluster = edgesite_cluster
    crd = custom_resource_definition()
    lax = copy.deepcopy(crd)
    lax["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    cluster.apply([lax], "--force-conflicts")
    try:
        document = site_document("minimal", namespace)
        document["spec"]["inference"][0]["model"]["sizeMiB"] = -5
        time.sleep(2)
        cluster.apply([document])
        wait_for(lambda: condition(cluster, namespace, "store-0421", "Ready").get("reason") == "InvalidSpec", timeout=60,
                 what="Ready=False InvalidSpec")
        message = condition(cluster, namespace, "store-0421", "Ready")["message"]
        assert "spec.inference[0].model.sizeMiB" in message and "greater than 0" in message
        assert children(cluster, namespace) == {}
    finally:
        cluster.apply([crd], "--force-conflicts")


def test_killed_mid_reconcile_converges_without_duplicates_or_orphans(edgesite_cluster: Cluster, namespace: str,
                                                                      operator: Operator) -> None:
    cluster = edgesite_cluster
    document = site_document("full", namespace)
    cluster.apply([document])
    wait_for(lambda: len(children(cluster, namespace)) > 0, timeout=30, interval=0.05, what="the first child")
    operator.kill()
    operator.start()
    ready(cluster, namespace, "plant-hamburg")
    found = children(cluster, namespace)
    assert set(found) == expected_children(document)
    uid = cluster.get("esite", "-n", namespace, "plant-hamburg")["metadata"]["uid"]
    assert all(o["metadata"]["ownerReferences"] == [{"apiVersion": "edgesite.io/v1alpha1", "kind": "EdgeSite",
                                                     "name": "plant-hamburg", "uid": uid, "controller": True,
                                                     "blockOwnerDeletion": True}] for o in found.values())
    replica_sets = cluster.get("replicasets", "-n", namespace)["items"]
    assert len(replica_sets) == len([k for k in found if k[0] == "Deployment"]), "one ReplicaSet per Deployment: no rollout churn"


def test_two_sites_in_two_namespaces(edgesite_cluster: Cluster, namespace: str) -> None:
    cluster = edgesite_cluster
    other = f"{namespace}-b"
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}}])
    running = Operator(cluster, [namespace, other])
    running.start()
    try:
        cluster.apply([site_document("minimal", namespace), site_document("full", other)])
        ready(cluster, namespace, "store-0421")
        ready(cluster, other, "plant-hamburg")
        assert all(k[1].startswith("store-0421-") for k in children(cluster, namespace))
        assert all(k[1].startswith("plant-hamburg-") for k in children(cluster, other))
    finally:
        running.stop()
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)


WRITE_VERBS = ("POST", "PUT", "PATCH", "APPLY", "DELETE")
SITE_RESOURCES = ("edgesites", "serviceaccounts", "configmaps", "persistentvolumeclaims", "services", "deployments",
                  "statefulsets", "poddisruptionbudgets", "networkpolicies", "events")


def write_requests(cluster: Cluster, by: dict | None = None) -> int:
    """Write requests the API server has served for the resources a site is made of (its own metrics)."""
    total = 0
    for line in cluster.kubectl("get", "--raw", "/metrics").stdout.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(part.split("=", 1) for part in line[line.index("{") + 1:line.index("}")].replace('"', "").split(","))
        if labels.get("verb") in WRITE_VERBS and labels.get("resource") in SITE_RESOURCES:
            total += int(float(line.rsplit(" ", 1)[1]))
            if by is not None:
                key = (labels["verb"], labels["resource"], labels.get("subresource", ""), labels.get("component", ""))
                by[key] = by.get(key, 0) + int(float(line.rsplit(" ", 1)[1]))
    return total


def test_idle_resyncs_make_no_writes(edgesite_cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster = edgesite_cluster
    cluster.apply([site_document("full", namespace)])
    ready(cluster, namespace, "plant-hamburg")
    # Namespaces of earlier tests being deleted would count as writes (the namespace controller's, not ours).
    wait_for(lambda: all(n["status"]["phase"] != "Terminating" for n in cluster.get("namespaces")["items"]), timeout=180,
             interval=2, what="no namespace terminating")
    time.sleep(8)  # let the last status and events settle
    first: dict = {}
    before = write_requests(cluster, first)
    resyncs_before = operator.output().count("reason=resync")
    time.sleep(27)  # five resyncs at EDGESITE_RESYNC_SECONDS=5
    assert operator.output().count("reason=resync") - resyncs_before >= 5
    second: dict = {}
    after = write_requests(cluster, second)
    assert after - before == 0, {k: v - first.get(k, 0) for k, v in second.items() if v != first.get(k, 0)}


def test_metrics_and_liveness_endpoints(edgesite_cluster: Cluster, namespace: str) -> None:
    import urllib.request

    from tests.harness.controlplane import free_port

    metrics_port, liveness_port = free_port(), free_port()
    running = Operator(edgesite_cluster, [namespace], metrics_port=metrics_port, liveness=f"http://127.0.0.1:{liveness_port}/healthz")
    running.start()
    try:
        edgesite_cluster.apply([site_document("minimal", namespace)])
        ready(edgesite_cluster, namespace, "store-0421")

        def scrape() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
                    return response.read().decode()
            except OSError:
                return ""

        text = wait_for(lambda: (t := scrape()) and 'edgesite_sites{mode="Online"} 1.0' in t and t, timeout=30, what="metrics")
        assert 'edgesite_reconciles_total{result="changed"}' in text
        assert "edgesite_reconcile_duration_seconds_count" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{liveness_port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        running.stop()


def test_sites_are_listed_page_by_page(edgesite_cluster: Cluster, namespace: str) -> None:
    """The resync and node changes list sites in pages (bounded memory): every site comes back exactly once."""
    import kubernetes

    from edgesite.kube import Kube

    documents = []
    for index in range(5):
        document = site_document("minimal", namespace)
        document["metadata"]["name"] = f"page-{index}"
        documents.append(document)
    edgesite_cluster.apply(documents)
    kube = Kube(kubernetes.config.new_client_from_config(str(edgesite_cluster.kubeconfig)))
    names = [site["metadata"]["name"] for site in kube.sites(namespace, chunk=2)]
    assert sorted(names) == [f"page-{index}" for index in range(5)]


def test_two_replicas_with_peering_never_both_act(edgesite_cluster: Cluster, namespace: str) -> None:
    """kopf pauses the lower replica's handlers; its own resync and child watches must stay quiet too."""
    cluster = edgesite_cluster
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "charts/edgesite-operator/crds/kopf-peering.yaml"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev")
    cluster.apply([{"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "edgesite", "namespace": namespace}}])
    leader = Operator(cluster, [namespace], peering_priority=20)
    standby = Operator(cluster, [namespace], peering_priority=10)
    peers = lambda: cluster.get("kopfpeering", "-n", namespace, "edgesite").get("status") or {}  # noqa: E731
    leader.start()
    try:
        # kopf peering is no lock: replicas that start at the same instant can both act until each sees the
        # other. The standby joins a running leader, as a rolling restart or a rescheduled pod does.
        wait_for(lambda: len(peers()) == 1, timeout=30, what="the leader in the peering")
        standby.start()
        wait_for(lambda: len(peers()) == 2, timeout=30, what="the standby in the peering")
        cluster.apply([site_document("minimal", namespace)])
        ready(cluster, namespace, "store-0421")
        time.sleep(12)  # two resyncs at EDGESITE_RESYNC_SECONDS=5
        assert "reconciled" in leader.output()
        assert "reconciled" not in standby.output(), "the standby reconciled while the leader was alive"
        deployment = "store-0421-shelf-vision"
        cluster.kubectl("delete", "deployment", "-n", namespace, deployment)
        wait_for(lambda: cluster.kubectl("get", "deployment", "-n", namespace, deployment, check=False).returncode == 0,
                 timeout=30, what="the leader puts the deleted child back")
        assert "reconciled" not in standby.output()

        leader.stop()  # a clean exit leaves the peering at once; the standby takes over
        cluster.kubectl("delete", "deployment", "-n", namespace, deployment)
        wait_for(lambda: cluster.kubectl("get", "deployment", "-n", namespace, deployment, check=False).returncode == 0,
                 timeout=60, what="the standby takes over and puts the deleted child back")
        assert "reconciled" in standby.output()
    finally:
        leader.stop()
        standby.stop()
