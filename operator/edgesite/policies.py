"""Degradation policies: observations in, a Plan and its reasons out, as a chain of small pure checks.

Each check looks at one kind of observation and returns what it changes in the plan and why (a
CamelCase reason and a sentence), in the style of cert-manager's policy chains:

    uplink   -> Offline while the probe fails (hysteresis: failureThreshold / successThreshold)
    gpu      -> GPU inference to its CPU variant (onGpuLoss: cpu) or stopped (stop) with no Ready GPU node
    models   -> fallback model after modelFallbackAfterRestarts restarts or an OOM kill; primary retried later
    capacity -> stop workloads in shedOrder until the requests fit the Ready nodes; critical never stops
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import sizing
from .model import EdgeSite
from .plan import DEGRADED, OFFLINE, ONLINE, Plan
from .quantities import parse_quantity
from .render import DEFAULT_CPU


@dataclass(frozen=True)
class Node:
    """A site node as the API server shows it."""

    name: str
    ready: bool
    cpu: float
    memory_mib: float
    gpus: int = 0


@dataclass(frozen=True)
class ModelHealth:
    """An inference entry's pods: restarts and whether one was OOM-killed, since the primary started."""

    restarts: int = 0
    oom_killed: bool = False


@dataclass(frozen=True)
class UplinkState:
    """The probe's hysteresis state; carried from one evaluation to the next."""

    online: bool | None = None  # None: not probed yet
    failures: int = 0
    successes: int = 0


@dataclass(frozen=True)
class Observations:
    now: float
    nodes: tuple[Node, ...] | None = None  # None: not observed (the CLI)
    uplink: UplinkState = field(default_factory=UplinkState)
    models: dict[str, ModelHealth] = field(default_factory=dict)
    fallback_since: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    component: str  # "" for the site
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    plan: Plan
    reasons: tuple[Reason, ...]
    fallback_since: dict[str, float]


def next_uplink(state: UplinkState, probe_ok: bool, *, failure_threshold: int, success_threshold: int) -> UplinkState:
    """One probe result folded into the hysteresis state: no flapping on a single failure or success."""
    failures = 0 if probe_ok else state.failures + 1
    successes = state.successes + 1 if probe_ok else 0
    online = state.online
    if online is not False and failures >= failure_threshold:
        online = False
    elif online is not True and successes >= success_threshold:
        online = True
    return UplinkState(online=online, failures=failures, successes=successes)


def uplink_check(site: EdgeSite, seen: Observations, plan: Plan) -> tuple[Plan, list[Reason]]:
    if seen.uplink.online is not False:
        return plan, []
    stopped = {f.name for f in site.spec.functions if f.needs_uplink}
    reasons = [Reason("", "UplinkLost", "The uplink probe failed; the site runs Offline.")]
    reasons += [Reason(name, "UplinkLost", "Needs the uplink; stopped while Offline.") for name in sorted(stopped)]
    return replace(plan, mode=OFFLINE, stopped=plan.stopped | stopped), reasons


def gpu_check(site: EdgeSite, seen: Observations, plan: Plan) -> tuple[Plan, list[Reason]]:
    if seen.nodes is None or site.spec.nodes.gpu is None:
        return plan, []
    if any(node.ready and node.gpus > 0 for node in seen.nodes):
        return plan, []
    on_cpu, stopped, reasons = set(plan.on_cpu), set(plan.stopped), []
    for entry in site.spec.inference:
        if entry.accelerator != "gpu":
            continue
        if entry.on_gpu_loss == "cpu":
            on_cpu.add(entry.name)
            reasons.append(Reason(entry.name, "GpuNodeLost", "No Ready GPU node; running the CPU variant."))
        else:
            stopped.add(entry.name)
            reasons.append(Reason(entry.name, "GpuNodeLost", "No Ready GPU node; stopped (onGpuLoss: stop)."))
    return replace(plan, on_cpu=frozenset(on_cpu), stopped=frozenset(stopped)), reasons


def model_check(site: EdgeSite, seen: Observations, plan: Plan) -> tuple[Plan, list[Reason], dict[str, float]]:
    on_fallback, reasons, since = set(plan.on_fallback), [], dict(seen.fallback_since)
    retry = site.spec.degradation.primary_retry_seconds
    limit = site.spec.degradation.model_fallback_after_restarts
    for entry in site.spec.inference:
        if entry.fallback is None:
            continue
        started = since.get(entry.name)
        if started is not None and seen.now - started < retry:
            on_fallback.add(entry.name)
            reasons.append(Reason(entry.name, "ModelFallback", f"Serving the fallback model; the primary is retried after {retry} s."))
            continue
        if started is not None:
            del since[entry.name]  # retry the primary
        health = seen.models.get(entry.name, ModelHealth())
        if health.oom_killed or health.restarts >= limit:
            why = "was OOM-killed" if health.oom_killed else f"restarted {health.restarts} times"
            since[entry.name] = seen.now
            on_fallback.add(entry.name)
            reasons.append(Reason(entry.name, "ModelFallback", f"The primary model {why}; serving the fallback model."))
    return replace(plan, on_fallback=frozenset(on_fallback)), reasons, since


def _requests(site: EdgeSite, plan: Plan) -> dict[str, tuple[str, float, float]]:
    """Priority, CPU cores and memory MiB of every running workload that can be shed, by name."""
    out: dict[str, tuple[str, float, float]] = {}
    for entry in site.spec.inference:
        if entry.name in plan.stopped or entry.replicas == 0:
            continue
        fallback = entry.name in plan.on_fallback
        cpu = float(parse_quantity(entry.resources.cpu)) if entry.resources and entry.resources.cpu else DEFAULT_CPU[entry.runtime]
        memory = (float(parse_quantity(entry.resources.memory)) / 2**20 if entry.resources and entry.resources.memory
                  else sizing.inference_memory_mib(entry, fallback=fallback))
        out[entry.name] = (entry.priority, cpu * entry.replicas, memory * entry.replicas)
    for fn in site.spec.functions:
        if fn.name not in plan.stopped and fn.replicas:
            cpu = float(parse_quantity(fn.resources.cpu)) if fn.resources and fn.resources.cpu else 0.1
            memory = float(parse_quantity(fn.resources.memory)) / 2**20 if fn.resources and fn.resources.memory else 64.0
            out[fn.name] = (fn.priority, cpu * fn.replicas, memory * fn.replicas)
    return out


def capacity_check(site: EdgeSite, seen: Observations, plan: Plan) -> tuple[Plan, list[Reason]]:
    if seen.nodes is None:
        return plan, []
    ready = [node for node in seen.nodes if node.ready]
    cpu_free = sum(node.cpu for node in ready) - FIXED_CPU
    memory_free = sum(node.memory_mib for node in ready) - FIXED_MEMORY_MIB
    wanted = _requests(site, plan)
    cpu = sum(c for _, c, _ in wanted.values())
    memory = sum(m for _, _, m in wanted.values())
    stopped, reasons = set(plan.stopped), []
    for priority in site.spec.degradation.shed_order:
        for name in sorted(n for n, (p, _, _) in wanted.items() if p == priority):
            if cpu <= cpu_free and memory <= memory_free:
                break
            _, c, m = wanted[name]
            cpu, memory = cpu - c, memory - m
            stopped.add(name)
            reasons.append(Reason(name, "CapacityShort", f"Ready nodes cannot hold every workload; {priority} work stops first."))
    return replace(plan, stopped=frozenset(stopped)), reasons


# The broker, gateway, caches and sync servers stay; their requests are set aside before shedding.
FIXED_CPU = 0.6
FIXED_MEMORY_MIB = 640.0


def decide(site: EdgeSite, seen: Observations) -> Decision:
    """Run the chain; the mode is Offline with the uplink down, Degraded when any other check acted."""
    plan = Plan()
    reasons: list[Reason] = []
    plan, found = uplink_check(site, seen, plan)
    reasons += found
    plan, found = gpu_check(site, seen, plan)
    reasons += found
    plan, found, since = model_check(site, seen, plan)
    reasons += found
    plan, found = capacity_check(site, seen, plan)
    reasons += found
    if plan.mode != OFFLINE:
        plan = replace(plan, mode=DEGRADED if reasons else ONLINE)
    return Decision(plan=plan, reasons=tuple(reasons), fallback_since=since)
