"""A real Kubernetes control plane on 127.0.0.1 for the end-to-end tests, without Docker.

etcd, kube-apiserver (RBAC + Node authorization, PodSecurity admission), kube-controller-manager,
kube-scheduler and kwok (simulated nodes), built from the Go module proxy by hack/build-cluster.sh.
The harness makes its own PKI with openssl, picks free ports, waits for readiness with deadlines, binds
PersistentVolumeClaims the way a local-path provisioner would, and stops everything it started.

    python tests/harness/controlplane.py up --dir .cluster     # foreground; `make cluster-up` backgrounds it
    python tests/harness/controlplane.py down --dir .cluster
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "hack" / "build-cluster.sh"
SERVICE_CIDR = "10.96.0.0/16"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
STORAGE_CLASS = "local-path"
FAKE_PROVISIONER = "edgesite.test/local-path"


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started."""


def binaries(build: bool = True) -> Path:
    """The folder of built binaries (building them first when `build` and they are missing)."""
    if build:
        result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True)
        if result.returncode != 0:
            raise ControlPlaneError(f"building the control plane failed:\n{result.stderr[-4000:]}")
        return Path(result.stdout.strip().splitlines()[-1])
    cache = Path(os.environ.get("EDGESITE_CLUSTER_CACHE", Path.home() / ".cache" / "edgesite-cluster")) / "bin"
    built = sorted(p.parent for p in cache.glob("*/.complete"))
    if not built:
        raise ControlPlaneError(f"no built control plane under {cache}; run `make cluster-binaries`")
    return built[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(pki: Path) -> None:
    """A CA, the API server's serving cert, client certs per identity, and the service-account key pair."""
    if (pki / "done").exists():
        return
    pki.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
            "-subj", "/CN=edgesite-test-ca", cwd=pki)
    sans = "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    leaf("apiserver", "/CN=kube-apiserver", pki, extensions=[sans, "extendedKeyUsage=serverAuth"])
    for name, subject in (("admin", "/O=system:masters/CN=kubernetes-admin"),
                          ("controller-manager", "/CN=system:kube-controller-manager"),
                          ("scheduler", "/CN=system:kube-scheduler")):
        leaf(name, subject, pki, extensions=["extendedKeyUsage=clientAuth"])
    openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    (pki / "done").write_text("")


def leaf(name: str, subject: str, pki: Path, extensions: list[str]) -> None:
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=pki)
    (pki / f"{name}.ext").write_text("\n".join(extensions) + "\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.crt",
            "-days", "30", "-extfile", f"{name}.ext", cwd=pki)


def kubeconfig(server: str, pki: Path, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "edgesite-test",
        "clusters": [{"name": "edgesite-test", "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate": str(pki / f"{user}.crt"), "client-key": str(pki / f"{user}.key")}}],
        "contexts": [{"name": "edgesite-test", "context": {"cluster": "edgesite-test", "user": user}}],
    }


ADMISSION = {
    "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
    "plugins": [{"name": "PodSecurity", "configuration": {
        "apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
        "defaults": {"enforce": "baseline", "enforce-version": "latest", "audit": "restricted", "audit-version": "latest",
                     "warn": "restricted", "warn-version": "latest"},
        "exemptions": {"usernames": [], "runtimeClasses": [], "namespaces": ["kube-system"]}}}],
}


@dataclass
class ControlPlane:
    """The running control plane; `start()` then `stop()`, or use `running()`."""

    workdir: Path
    bin: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "kubectl"), f"--kubeconfig={self.kubeconfig_path}", *args], input=input,
                              capture_output=True, text=True, check=check, timeout=120)

    # ------------------------------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        self.workdir.mkdir(parents=True, exist_ok=True)
        make_pki(self.pki)
        for name in ("etcd", "etcd-peer", "apiserver", "scheduler", "kwok"):
            self.ports[name] = free_port()
        (self.workdir / "admission.json").write_text(json.dumps(ADMISSION))
        for user in ("admin", "controller-manager", "scheduler"):
            path = self.workdir / ("kubeconfig" if user == "admin" else f"{user}.kubeconfig")
            path.write_text(json.dumps(kubeconfig(self.server, self.pki, user)))
        try:
            self._spawn("etcd", self._etcd_args())
            self._wait(f"http://127.0.0.1:{self.ports['etcd']}/health", deadline, tls=False)
            self._spawn("kube-apiserver", self._apiserver_args())
            self._wait(f"{self.server}/readyz", deadline, tls=True)
            self._spawn("kube-controller-manager", self._controller_manager_args())
            self._spawn("kube-scheduler", self._scheduler_args())
            self._spawn("kwok", self._kwok_args())
            self._wait_for_default_service_account(deadline)
            self._install_storage_class()
            self._start_provisioner()
        except BaseException:
            self.stop()
            raise
        (self.workdir / "pids").write_text(json.dumps({n: p.pid for n, p in self.processes.items()}))

    def stop(self) -> None:
        self._stop.set()
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for handle in getattr(self, "_logs", []):
            handle.close()
        self.processes.clear()
        (self.workdir / "pids").unlink(missing_ok=True)

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.__dict__.setdefault("_logs", []).append(log)
        self.processes[name] = subprocess.Popen([str(self.bin / ("kwok" if name == "kwok" else name)), *args], stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise ControlPlaneError(f"{name} exited with {process.returncode}:\n{tail}")

    def _wait(self, url: str, deadline: float, tls: bool) -> None:
        context = None
        if tls:
            context = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
            context.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        last = ""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=5, context=context) as response:
                    if response.status == 200:
                        return
            except Exception as error:  # noqa: BLE001 - not up yet
                last = str(error)
            time.sleep(0.3)
        raise ControlPlaneError(f"{url} not ready before the deadline: {last}")

    def _wait_for_default_service_account(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive()
            if self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise ControlPlaneError("the default ServiceAccount never appeared (kube-controller-manager not working)")

    # --------------------------------------------------------------------------------------- command lines

    def _etcd_args(self) -> list[str]:
        client, peer = f"http://127.0.0.1:{self.ports['etcd']}", f"http://127.0.0.1:{self.ports['etcd-peer']}"
        return ["--name=default", f"--data-dir={self.workdir / 'etcd'}", f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}", f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}", "--listen-metrics-urls=", "--unsafe-no-fsync=true", "--log-level=warn"]

    def _apiserver_args(self) -> list[str]:
        pki = self.pki
        return [f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}", "--bind-address=127.0.0.1",
                f"--secure-port={self.ports['apiserver']}", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
                f"--cert-dir={self.workdir / 'apiserver-certs'}", f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}", f"--client-ca-file={pki / 'ca.crt'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}", "--authorization-mode=Node,RBAC", "--allow-privileged=false",
                "--enable-admission-plugins=NodeRestriction", f"--admission-control-config-file={self.workdir / 'admission.json'}",
                "--profiling=false", "--v=1"]

    def _controller_manager_args(self) -> list[str]:
        pki = self.pki
        kc = self.workdir / "controller-manager.kubeconfig"
        return [f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
                "--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}", "--node-monitor-grace-period=20s",
                "--concurrent-gc-syncs=5", "--v=1"]

    def _scheduler_args(self) -> list[str]:
        kc = self.workdir / "scheduler.kubeconfig"
        return [f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
                "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={self.ports['scheduler']}", "--v=1"]

    def _kwok_args(self) -> list[str]:
        stages = self.bin / "kwok-stages"
        return [f"--kubeconfig={self.kubeconfig_path}", "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake", "--node-ip=127.0.0.1",
                f"--node-port={self.ports['kwok']}", f"--server-address=127.0.0.1:{self.ports['kwok']}",
                f"--tls-cert-file={self.pki / 'apiserver.crt'}", f"--tls-private-key-file={self.pki / 'apiserver.key'}",
                "--node-lease-duration-seconds=40",
                *(f"--config={stages / f}" for f in ("node-initialize.yaml", "node-heartbeat-with-lease.yaml",
                                                     "pod-ready.yaml", "pod-complete.yaml", "pod-delete.yaml"))]

    # ------------------------------------------------------------------------------------------ storage

    def _install_storage_class(self) -> None:
        storage_class = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                         "metadata": {"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                         "provisioner": FAKE_PROVISIONER, "volumeBindingMode": "Immediate", "reclaimPolicy": "Delete"}
        self.kubectl("apply", "-f", "-", input=json.dumps(storage_class))

    def _start_provisioner(self) -> None:
        thread = threading.Thread(target=self._provision_loop, name="fake-provisioner", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _provision_loop(self) -> None:
        """Bind every pending claim to a new PV, as K3s' local-path provisioner would (pods never really run)."""
        import kubernetes

        api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig_path)))
        while not self._stop.wait(0.25):
            try:
                self.provision_pending(api)
            except Exception as error:  # noqa: BLE001 - keep serving; the log says why
                print(f"fake-provisioner: {error}", file=sys.stderr)

    def provision_pending(self, api: Any) -> None:
        listing = api.api_client.call_api(*api.api_client.param_serialize(
            "GET", "/api/v1/persistentvolumeclaims", header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]))
        listing.read()
        claims = json.loads(listing.data)["items"]
        for pvc in claims:
            if pvc.get("status", {}).get("phase") != "Pending" or pvc["spec"].get("volumeName"):
                continue
            meta = pvc["metadata"]
            name = f"pv-{meta['uid']}"
            pv = {"apiVersion": "v1", "kind": "PersistentVolume",
                  "metadata": {"name": name, "labels": {"edgesite.test/fake": "true"}},
                  "spec": {"capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
                           "accessModes": pvc["spec"]["accessModes"], "persistentVolumeReclaimPolicy": "Delete",
                           "storageClassName": pvc["spec"].get("storageClassName") or STORAGE_CLASS,
                           "hostPath": {"path": f"/tmp/edgesite-fake-pv/{name}"},
                           "claimRef": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}}}
            created = api.api_client.call_api(*api.api_client.param_serialize(
                "POST", "/api/v1/persistentvolumes", header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=pv, auth_settings=["BearerToken"]))
            created.read()

    # -------------------------------------------------------------------------------------------- nodes

    def add_node(self, name: str, *, labels: dict[str, str], cpu: str = "4", memory: str = "16Gi", gpus: int = 0,
                 taints: list[dict[str, str]] | None = None) -> None:
        """A simulated node that kwok keeps Ready and whose pods it runs."""
        allocatable = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"}
        if gpus:
            allocatable["nvidia.com/gpu"] = str(gpus)
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                             "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                                        "type": "kwok", **labels}},
                "spec": {"taints": taints or []},
                "status": {"allocatable": allocatable, "capacity": allocatable}}
        self.kubectl("apply", "-f", "-", input=json.dumps(node))

    def set_node_ready(self, name: str, ready: bool) -> None:
        """Make a node NotReady (kwok stops managing it) or Ready again (kwok takes it back)."""
        if ready:
            self.kubectl("annotate", "node", name, f"{KWOK_ANNOTATION}=fake", "--overwrite")
            return
        self.kubectl("annotate", "node", name, f"{KWOK_ANNOTATION}-")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        patch = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "EdgeSiteTestNodeDown",
                                            "message": "made NotReady by the test", "lastHeartbeatTime": now,
                                            "lastTransitionTime": now}]}}
        self.kubectl("patch", "node", name, "--subresource=status", "--type=strategic", "-p", json.dumps(patch))

    def remove_node(self, name: str) -> None:
        self.kubectl("delete", "node", name, "--wait=false")


EDGE_NODES = (
    # name, labels, cpu, memory, gpus, taints: the nodes of a small plant, one with a GPU.
    ("edge-1", {"edgesite.io/site": "plant-hamburg", "edgesite.io/role": "edge"}, "8", "16Gi", 0, []),
    ("edge-2", {"edgesite.io/site": "plant-hamburg", "edgesite.io/role": "edge"}, "8", "16Gi", 0, []),
    ("edge-gpu", {"edgesite.io/site": "plant-hamburg", "edgesite.io/role": "edge", "nvidia.com/gpu.present": "true"}, "8",
     "32Gi", 2, [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]),
    ("store-1", {"edgesite.io/site": "store-0421", "edgesite.io/role": "edge"}, "4", "8Gi", 0, []),
)


def add_edge_nodes(plane: ControlPlane) -> None:
    for name, labels, cpu, memory, gpus, taints in EDGE_NODES:
        plane.add_node(name, labels=labels, cpu=cpu, memory=memory, gpus=gpus, taints=taints)


@contextmanager
def running(workdir: Path, bin_dir: Path | None = None) -> Iterator[ControlPlane]:
    plane = ControlPlane(workdir=workdir, bin=bin_dir or binaries())
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=REPO / ".cluster")
    args = parser.parse_args()
    workdir = args.dir.resolve()
    if args.action == "down":
        pidfile = workdir / "supervisor.pid"
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
            for _ in range(100):
                if not pidfile.exists():
                    break
                time.sleep(0.2)
        return
    plane = ControlPlane(workdir=workdir, bin=binaries())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    plane.start()
    add_edge_nodes(plane)
    (workdir / "supervisor.pid").write_text(str(os.getpid()))
    print(f"control plane up: KUBECONFIG={plane.kubeconfig_path}", flush=True)
    try:
        stop.wait()
    finally:
        plane.stop()
        (workdir / "supervisor.pid").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
