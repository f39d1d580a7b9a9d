"""The operator's chart: lint, apply its output to the real API server, least-privilege RBAC, and the
operator running under exactly that RBAC."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, Cluster
from tests.e2e.test_operator import Operator, condition, ready, site_document
from tests.e2e.test_smoke import wait_for

CHART = REPO / "charts" / "edgesite-operator"
BUNDLE = REPO / "deploy" / "edgesite-operator.yaml"


def helm(cluster: Cluster) -> str:
    if cluster.plane is None:
        pytest.skip("helm comes with the project's control-plane build")
    return str(cluster.plane.bin / "helm")


def template(cluster: Cluster, namespace: str, *values: str) -> list[dict]:
    args = [helm(cluster), "template", "edgesite", str(CHART), "--namespace", namespace, "--kube-version", "1.36.0", "--include-crds"]
    for value in values:
        args += ["--set", value]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_chart_lints(edgesite_cluster: Cluster) -> None:
    result = subprocess.run([helm(edgesite_cluster), "lint", str(CHART), "--kube-version", "1.36.0", "--strict"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_values_schema_refuses_bad_values(edgesite_cluster: Cluster) -> None:
    result = subprocess.run([helm(edgesite_cluster), "template", "x", str(CHART), "--kube-version", "1.36.0", "--set", "logFormat=xml"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "logFormat" in result.stderr


def test_bundle_is_the_rendered_chart(edgesite_cluster: Cluster) -> None:
    objects = template(edgesite_cluster, "edgesite-system")
    committed = [d for d in yaml.safe_load_all(BUNDLE.read_text()) if d]
    assert committed == objects, "run `make bundle` and commit deploy/edgesite-operator.yaml"


def test_chart_applies_and_rbac_is_least_privilege(edgesite_cluster: Cluster, namespace: str) -> None:
    cluster = edgesite_cluster
    objects = [o for o in template(cluster, namespace) if o["kind"] != "Pod"]  # the helm test pod runs under `helm test`
    result = cluster.apply(objects, "--force-conflicts")
    assert "Warning" not in result.stderr, result.stderr
    wait_for(lambda: cluster.get("deployment", "-n", namespace, "edgesite-operator").get("status", {}).get("readyReplicas") == 1,
             timeout=60, what="the operator Deployment ready (simulated node)")
    account = f"system:serviceaccount:{namespace}:edgesite-operator"

    def can(verb: str, resource: str, *extra: str) -> bool:
        out = cluster.kubectl("auth", "can-i", verb, resource, f"--as={account}", *extra, check=False).stdout.strip()
        return out == "yes"

    for verb, resource in [("patch", "edgesites.edgesite.io"), ("patch", "edgesites.edgesite.io/status"), ("watch", "edgesites.edgesite.io"),
                           ("create", "deployments.apps"), ("patch", "deployments.apps"), ("delete", "statefulsets.apps"),
                           ("patch", "networkpolicies.networking.k8s.io"), ("create", "events")]:
        assert can(verb, resource, "-A"), f"{verb} {resource} must be allowed"
    for verb, resource in [("delete", "edgesites.edgesite.io"), ("create", "edgesites.edgesite.io"), ("get", "secrets"),
                           ("list", "secrets"), ("create", "pods"), ("delete", "pods"), ("create", "clusterrolebindings"),
                           ("escalate", "clusterroles"), ("impersonate", "serviceaccounts"), ("delete", "namespaces")]:
        assert not can(verb, resource, "-A"), f"{verb} {resource} must be refused"
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    assert all("*" not in rule["verbs"] and "*" not in rule["resources"] for rule in role["rules"])


def test_operator_works_under_its_own_rbac(edgesite_cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """The operator, authenticated as the chart's ServiceAccount, reconciles a site: the RBAC is enough."""
    cluster = edgesite_cluster
    objects = [o for o in template(cluster, namespace) if o["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")]
    cluster.apply(objects, "--force-conflicts")
    token = cluster.kubectl("create", "token", "edgesite-operator", "-n", namespace, "--duration=1h").stdout.strip()
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    server = admin["clusters"][0]["cluster"]
    kubeconfig = tmp_path / "operator.kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "operator",
        "clusters": [{"name": "c", "cluster": server}], "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "c", "user": "operator"}}]}))
    running = Operator(cluster, [namespace], kubeconfig=kubeconfig)
    running.start()
    try:
        cluster.apply([site_document("full", namespace)])
        ready(cluster, namespace, "plant-hamburg")
        assert condition(cluster, namespace, "plant-hamburg", "Ready")["reason"] == "AllComponentsReady"
        assert "Forbidden" not in running.output() and "403" not in running.output()
    finally:
        running.stop()
