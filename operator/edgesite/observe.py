"""API objects in, policy observations out (pure): nodes, model health, remembered fallbacks."""

from __future__ import annotations

import datetime
from typing import Any

from .model import EdgeSite
from .policies import ModelHealth, Node
from .quantities import parse_quantity


def _matches(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def site_nodes(site: EdgeSite, nodes: list[dict[str, Any]]) -> tuple[Node, ...]:
    """The site's nodes (by `nodes.selector`) with readiness and allocatable resources."""
    gpu_resource = site.spec.nodes.gpu.resource if site.spec.nodes.gpu else "nvidia.com/gpu"
    out = []
    for node in nodes:
        if not _matches(node["metadata"].get("labels", {}), site.spec.nodes.selector):
            continue
        status = node.get("status", {})
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        allocatable = status.get("allocatable", {})
        unschedulable = bool(node.get("spec", {}).get("unschedulable"))
        out.append(Node(name=node["metadata"]["name"], ready=ready and not unschedulable,
                        cpu=float(parse_quantity(allocatable.get("cpu", "0"))),
                        memory_mib=float(parse_quantity(allocatable.get("memory", "0"))) / 2**20,
                        gpus=int(parse_quantity(allocatable.get(gpu_resource, "0")))))
    return tuple(sorted(out, key=lambda n: n.name))


def model_health(site: EdgeSite, pods: list[dict[str, Any]]) -> dict[str, ModelHealth]:
    """Restarts and OOM kills of each inference entry's serving container."""
    out: dict[str, ModelHealth] = {}
    for entry in site.spec.inference:
        instance = f"{site.name}-{entry.name}"
        restarts, oom = 0, False
        for pod in pods:
            if pod["metadata"].get("labels", {}).get("app.kubernetes.io/instance") != instance:
                continue
            for container in pod.get("status", {}).get("containerStatuses", []):
                if container.get("name") != "server":
                    continue
                restarts += int(container.get("restartCount", 0))
                for state in (container.get("lastState", {}), container.get("state", {})):
                    if state.get("terminated", {}).get("reason") == "OOMKilled":
                        oom = True
        out[entry.name] = ModelHealth(restarts=restarts, oom_killed=oom)
    return out


def epoch(timestamp: str) -> float:
    return datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def remembered_fallbacks(site: EdgeSite, components: list[dict[str, Any]]) -> dict[str, float]:
    """When each entry went to its fallback model, from the status (so it survives operator restarts)."""
    out = {}
    for component in components:
        kind, _, child = component.get("name", "").partition("/")
        entry = child.removeprefix(f"{site.name}-")
        if kind == "inference" and component.get("state") == "fallback" and component.get("since"):
            out[entry] = epoch(component["since"])
    return out
