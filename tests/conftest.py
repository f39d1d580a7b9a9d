"""Shared fixtures: example sites, a real control plane for the end-to-end tier, fresh namespaces.

End-to-end tests (marked `e2e`) run against the project's own control plane (tests/harness), or against
the cluster KUBECONFIG points at (kind, K3s) when it is set. Without a cluster they are skipped on a
developer's machine, and fail in CI (CI=true): a skipped suite is not a passing one.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgesite.model import EdgeSite
from edgesite.validation import load_sites

from tests.harness import controlplane

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def load_example(name: str) -> EdgeSite:
    path = EXAMPLES / f"{name}.yaml"
    return load_sites([(str(path), path.read_text())])[0]


@pytest.fixture(params=["minimal", "full"])
def example_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def full_site() -> EdgeSite:
    return load_example("full")


@pytest.fixture
def minimal_site() -> EdgeSite:
    return load_example("minimal")


def example_document(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text()))


# ------------------------------------------------------------------------------------------- cluster


@dataclass
class Cluster:
    """A reachable API server: the kubeconfig, a kubectl, and the harness when it is ours."""

    kubeconfig: Path
    kubectl_binary: str
    plane: controlplane.ControlPlane | None

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.kubectl_binary, f"--kubeconfig={self.kubeconfig}", *args], input=input,
                                capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def apply(self, objects: list[dict[str, Any]], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        stream = "\n---\n".join(json.dumps(o) for o in objects)
        return self.kubectl("apply", "--server-side", "--field-manager=edgesite-tests", "-f", "-", *args, input=stream, check=check)

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


def _cluster_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"no Kubernetes control plane in CI: {reason}")
    pytest.skip(f"no Kubernetes control plane: {reason}")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.environ.get("KUBECONFIG"):
        yield Cluster(Path(os.environ["KUBECONFIG"]), "kubectl", None)
        return
    try:
        bin_dir = controlplane.binaries(build=os.environ.get("EDGESITE_BUILD_CLUSTER", "1") == "1")
    except controlplane.ControlPlaneError as error:
        _cluster_unavailable(str(error))
    with controlplane.running(tmp_path_factory.mktemp("control-plane"), bin_dir) as plane:
        controlplane.add_edge_nodes(plane)
        yield Cluster(plane.kubeconfig_path, str(bin_dir / "kubectl"), plane)


@pytest.fixture(scope="session")
def edgesite_cluster(cluster: Cluster) -> Cluster:
    """The cluster with what the operator's chart installs (CRD, PriorityClasses) and K3s' runtime classes."""
    from edgesite.crd import custom_resource_definition
    from edgesite.render import priority_classes

    cluster.apply([custom_resource_definition(), *priority_classes()], "--force-conflicts")
    cluster.kubectl("wait", "--for=condition=Established", "crd/edgesites.edgesite.io", "--timeout=60s")
    runtime_classes = [{"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": name}, "handler": name}
                       for name in ("nvidia", "wasmedge", "spin")]
    cluster.apply(runtime_classes, "--force-conflicts")
    return cluster


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test, enforcing Pod Security `restricted`."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest"}}}])
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


# ------------------------------------------------------------------------------------------ operators


@dataclass
class RunningOperator:
    """An operator under test: its combined output so far, and how to stop it."""

    output: Any

    def text(self) -> str:
        return str(self.output())


@pytest.fixture
def operator_runner(edgesite_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run a kopf operator against the test cluster, in this process (KopfRunner) or as a subprocess.

    `with operator_runner(["run", "--standalone", "-A", "path.py"]) as op:` runs in-process;
    `operator_runner([...], subprocess=True)` runs `python -m kopf ...` in its own process (so it can be killed).
    """
    import contextlib
    import sys

    from kopf.testing import KopfRunner

    import kubernetes.config.kube_config

    monkeypatch.setenv("KUBECONFIG", str(edgesite_cluster.kubeconfig))
    # The client library read KUBECONFIG when it was imported, before this fixture ran.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(edgesite_cluster.kubeconfig))

    @contextlib.contextmanager
    def run(args: list[str], *, subprocess_mode: bool = False, timeout: float = 30) -> Iterator[RunningOperator]:
        if subprocess_mode:
            import tempfile

            log = tempfile.NamedTemporaryFile(prefix="operator-", suffix=".log", delete=False)  # noqa: SIM115
            process = subprocess.Popen([sys.executable, "-m", "kopf", *args], stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, "KUBECONFIG": str(edgesite_cluster.kubeconfig)})
            try:
                yield RunningOperator(lambda: Path(log.name).read_text(errors="replace"))
            finally:
                process.terminate()
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                log.close()
            return
        with KopfRunner(args, timeout=timeout) as runner:
            yield RunningOperator(lambda: runner.output)
        assert runner.exception is None, runner.exception

    return run
