"""Operator benchmark on the project's real control plane (prints figures; asserts nothing).

1. apply of the full example -> Ready=True once its pods run: p50 and p95 over 20 runs;
2. write requests during 5 idle resyncs, from the API server's own metrics (goal: 0);
3. cold start with 100 and 1,000 sites: time until every site is reconciled, and the operator's RSS.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


from edgesite.crd import custom_resource_definition  # noqa: E402
from edgesite.render import priority_classes  # noqa: E402
from tests.e2e.test_operator import site_document, write_requests  # noqa: E402
from tests.harness import controlplane  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
SCALES = [int(n) for n in os.environ.get("BENCH_SCALES", "100,1000").split(",") if n]


class Kubectl:
    def __init__(self, plane: controlplane.ControlPlane):
        self.plane = plane
        self.kubeconfig = plane.kubeconfig_path

    def __call__(self, *args: str, input: str | None = None) -> str:
        return self.plane.kubectl(*args, input=input).stdout

    def apply(self, objects: list[dict]) -> None:
        self("apply", "--server-side", "--force-conflicts", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))


def start_operator(kubeconfig: Path, resync: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "EDGESITE_METRICS_PORT": "0", "EDGESITE_RESYNC_SECONDS": str(resync)}
    log = open(tempfile.mkstemp(prefix="bench-operator-", suffix=".log")[1], "wb")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "edgesite", "operator", "--standalone", "--liveness", "", "--log-format", "plain"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)


def rss_mib(process: subprocess.Popen[bytes]) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{process.pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def site(example: str, namespace: str, name: str | None = None) -> dict:
    """An example site with no uplink probe (its URL is on the internet), optionally renamed."""
    document = site_document(example, namespace)
    if name:
        document["metadata"]["name"] = name
    return document


def namespace(kubectl: Kubectl, name: str) -> None:
    kubectl.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}])


def ready_sites(kubectl: Kubectl) -> int:
    items = json.loads(kubectl("get", "esite", "-A", "-o", "json"))["items"]
    return sum(1 for s in items if any(c["type"] == "Ready" and c["status"] == "True" for c in s.get("status", {}).get("conditions", [])))


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-control-plane-"))
    with controlplane.running(workdir) as plane:
        kubectl = Kubectl(plane)
        # Room for every pod of the largest scale: 1,000 minimal sites ask one CPU each, 20 full sites 9 pods each.
        for index in range(20):
            plane.add_node(f"bench-{index}", labels={"edgesite.io/site": "plant-hamburg"}, cpu="64", memory="256Gi",
                           gpus=8)
        kubectl.apply([custom_resource_definition(), *priority_classes()] +
                      [{"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": n}, "handler": n}
                       for n in ("nvidia", "wasmedge", "spin")])
        kubectl("wait", "--for=condition=Established", "crd/edgesites.edgesite.io")
        operator = start_operator(plane.kubeconfig_path, resync=5)
        time.sleep(3)
        latencies = []
        for run in range(RUNS):
            ns = f"latency-{run}"
            namespace(kubectl, ns)
            start = time.perf_counter()
            document = site("full", ns)
            document["spec"]["caches"][2]["nodePort"] = 30500 + run  # NodePorts are unique per cluster
            kubectl.apply([document])
            while True:
                status = json.loads(kubectl("get", "esite", "-n", ns, "plant-hamburg", "-o", "json")).get("status", {})
                if any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])):
                    break
                time.sleep(0.05)
            latencies.append(time.perf_counter() - start)
        latencies.sort()
        print(f"apply -> Ready=True (full example, pods Running), {RUNS} runs: p50 {statistics.median(latencies):.2f} s, "
              f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.2f} s, max {latencies[-1]:.2f} s")
        time.sleep(8)
        first: dict = {}
        before = write_requests(plane, first)  # type: ignore[arg-type]
        time.sleep(26)
        second: dict = {}
        writes = write_requests(plane, second) - before  # type: ignore[arg-type]
        which = {key: count - first.get(key, 0) for key, count in second.items() if count != first.get(key, 0)}
        print(f"write requests during 5 idle resyncs of {RUNS} sites (apiserver_request_total): {writes}"
              + (f" {which}" if which else ""))
        rss, peak = rss_mib(operator)
        print(f"operator RSS with {RUNS} full sites: {rss:.0f} MiB (peak {peak:.0f} MiB)")
        operator.terminate()
        operator.wait(timeout=30)
        created = 0
        for scale in SCALES:
            objects = []
            for index in range(created, scale):
                ns = f"scale-{index % 10}"
                if index < 10:
                    namespace(kubectl, ns)
                objects.append(site("minimal", ns, f"store-{index:04d}"))
            for chunk in range(0, len(objects), 200):
                kubectl.apply(objects[chunk:chunk + 200])
            created = scale
            operator = start_operator(plane.kubeconfig_path, resync=60)
            start = time.perf_counter()
            target = scale + RUNS
            while ready_sites(kubectl) < target:
                time.sleep(2)
            elapsed = time.perf_counter() - start
            time.sleep(5)
            rss, peak = rss_mib(operator)
            print(f"cold start with {scale} minimal sites (+{RUNS} full): all Ready in {elapsed:.1f} s "
                  f"({scale / elapsed:.1f} sites/s); operator RSS {rss:.0f} MiB, peak {peak:.0f} MiB")
            operator.terminate()
            operator.wait(timeout=60)


if __name__ == "__main__":
    main()
