"""The EdgeSite status, computed from observations (pure): components, conditions, mode.

Conditions follow the Kubernetes conventions: a one-word reason, a sentence of message,
observedGeneration, and a lastTransitionTime that is kept while the status does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WORKLOAD_KINDS = ("Deployment", "StatefulSet")


@dataclass(frozen=True)
class ConditionState:
    type: str
    status: str
    reason: str
    message: str


def component_status(desired: list[dict[str, Any]], live: list[dict[str, Any]], *, now: str,
                     previous: list[dict[str, Any]], reasons: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Desired and ready replicas of every workload, what it is doing (running, stopped, cpu, fallback,
    pending) and why, and since when; `reasons` maps a child's name to the policy reason acting on it."""
    reasons = reasons or {}
    live_by_name = {(o["kind"], o["metadata"]["name"]): o for o in live}
    before = {c["name"]: c for c in previous}
    out = []
    for manifest in desired:
        if manifest["kind"] not in WORKLOAD_KINDS:
            continue
        child = manifest["metadata"]["name"]
        name = f"{manifest['metadata']['labels']['app.kubernetes.io/component']}/{child}"
        wanted = int(manifest["spec"].get("replicas", 1))
        observed = live_by_name.get((manifest["kind"], child), {})
        ready = int(observed.get("status", {}).get("readyReplicas", 0) or 0)
        annotations = manifest["metadata"].get("annotations", {})
        variant = annotations.get("edgesite.io/variant", "")
        if wanted == 0:
            state, reason = "stopped", reasons.get(child, "ScaledToZero")
        elif variant.startswith("fallback"):
            state, reason = "fallback", reasons.get(child, "ModelFallback")
        elif variant.endswith("-cpu") and annotations.get("edgesite.io/accelerator") == "gpu":
            state, reason = "cpu", reasons.get(child, "GpuNodeLost")
        elif ready < wanted:
            state, reason = "pending", "NotReady"
        else:
            state, reason = "running", "Ready"
        old = before.get(name, {})
        since = old.get("since") if old.get("state") == state and old.get("since") else now
        out.append({"name": name, "desired": wanted, "ready": min(ready, wanted), "state": state, "reason": reason,
                    "since": since})
    return out


def merge_conditions(previous: list[dict[str, Any]], current: list[ConditionState], *, generation: int,
                     now: str) -> list[dict[str, Any]]:
    """Conditions with lastTransitionTime kept from `previous` when the status is unchanged."""
    before = {c["type"]: c for c in previous}
    out = []
    for condition in current:
        old = before.get(condition.type)
        changed = old is None or old.get("status") != condition.status
        out.append({"type": condition.type, "status": condition.status, "reason": condition.reason,
                    "message": condition.message, "observedGeneration": generation,
                    "lastTransitionTime": now if changed else old["lastTransitionTime"]})
    return out


def site_conditions(components: list[dict[str, Any]], *, mode: str, degraded_reason: str | None = None,
                    degraded_message: str = "", uplink: ConditionState | None = None) -> list[ConditionState]:
    """Ready, Degraded and UplinkAvailable from the components and the plan's mode."""
    waiting = [c["name"] for c in components if c["ready"] < c["desired"]]
    wanted = [c for c in components if c["desired"] > 0]
    if waiting:
        ready = ConditionState("Ready", "False", "ComponentsNotReady", f"Waiting for {', '.join(sorted(waiting))}.")
    else:
        ready = ConditionState("Ready", "True", "AllComponentsReady", f"All {len(wanted)} running components are ready.")
    if degraded_reason:
        degraded = ConditionState("Degraded", "True", degraded_reason, degraded_message)
    else:
        degraded = ConditionState("Degraded", "False", "AsDeclared", f"The site runs as declared ({mode}).")
    uplink = uplink or ConditionState("UplinkAvailable", "Unknown", "NotProbed", "The uplink is not probed yet.")
    return [ready, degraded, uplink]


def invalid_spec_conditions(problem: str) -> list[ConditionState]:
    return [ConditionState("Ready", "False", "InvalidSpec", problem)]


def ready_summary(components: list[dict[str, Any]]) -> str:
    wanted = [c for c in components if c["desired"] > 0]
    return f"{sum(1 for c in wanted if c['ready'] >= c['desired'])}/{len(wanted)}"


def without_times(status: dict[str, Any]) -> dict[str, Any]:
    """The status minus what changes by itself, to decide whether a write is needed."""
    return {**status, "conditions": [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                                     for c in status.get("conditions") or []],
            "components": [{k: v for k, v in c.items() if k != "since"} for c in status.get("components") or []]}
