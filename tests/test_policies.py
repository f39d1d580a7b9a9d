"""Degradation policies, table-driven: observations in, plan and reasons out."""

from __future__ import annotations

import pytest

from edgesite.policies import ModelHealth, Node, Observations, UplinkState, decide, next_uplink
from edgesite.render import render

from tests.conftest import load_example

HEALTHY = (Node("edge-1", True, 8, 16384), Node("edge-2", True, 8, 16384), Node("edge-gpu", True, 8, 32768, gpus=2))


def fold(results: str, *, failure: int = 3, success: int = 2) -> list[bool | None]:
    state, seen = UplinkState(), []
    for result in results:
        state = next_uplink(state, result == "+", failure_threshold=failure, success_threshold=success)
        seen.append(state.online)
    return seen


@pytest.mark.parametrize("results,expected", [
    ("++", [None, True]),                                   # Online after successThreshold successes
    ("+++--+", [None, True, True, True, True, True]),       # two failures are not an outage
    ("++---", [None, True, True, True, False]),             # failureThreshold failures: Offline
    ("++---+", [None, True, True, True, False, False]),     # one success is not a recovery
    ("++---++", [None, True, True, True, False, False, True]),
    ("---", [None, None, False]),
    ("+-+-+-", [None] * 6),                                 # flapping never crosses a threshold
])
def test_uplink_hysteresis(results: str, expected: list[bool | None]) -> None:
    assert fold(results) == expected


def reasons(decision) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(r.component, r.reason) for r in decision.reasons}


CASES = [
    # case, observations, mode, stopped, on_cpu, on_fallback, reasons
    ("all well", Observations(now=0, nodes=HEALTHY), "Online", set(), set(), set(), set()),
    ("not observed (CLI)", Observations(now=0), "Online", set(), set(), set(), set()),
    ("uplink lost", Observations(now=0, nodes=HEALTHY, uplink=UplinkState(online=False, failures=3)), "Offline", set(), set(), set(),
     {("", "UplinkLost")}),
    ("gpu node NotReady", Observations(now=0, nodes=HEALTHY[:2] + (Node("edge-gpu", False, 8, 32768, gpus=2),)), "Degraded",
     set(), {"defect-detector"}, set(), {("defect-detector", "GpuNodeLost")}),
    ("gpu node gone", Observations(now=0, nodes=HEALTHY[:2]), "Degraded", set(), {"defect-detector"}, set(),
     {("defect-detector", "GpuNodeLost")}),
    ("restarts reach the limit", Observations(now=100, nodes=HEALTHY, models={"assistant": ModelHealth(restarts=3)}), "Degraded",
     set(), set(), {"assistant"}, {("assistant", "ModelFallback")}),
    ("restarts under the limit", Observations(now=100, nodes=HEALTHY, models={"assistant": ModelHealth(restarts=2)}), "Online",
     set(), set(), set(), set()),
    ("oom kill", Observations(now=100, nodes=HEALTHY, models={"assistant": ModelHealth(oom_killed=True)}), "Degraded",
     set(), set(), {"assistant"}, {("assistant", "ModelFallback")}),
    ("fallback held until the retry", Observations(now=1000, nodes=HEALTHY, fallback_since={"assistant": 0}), "Degraded",
     set(), set(), {"assistant"}, {("assistant", "ModelFallback")}),
    ("primary retried after primaryRetrySeconds", Observations(now=1801, nodes=HEALTHY, fallback_since={"assistant": 0}), "Online",
     set(), set(), set(), set()),
    ("capacity short: best-effort first", Observations(now=0, nodes=(Node("edge-1", True, 4, 4096), Node("edge-gpu", True, 4, 3072, gpus=2))),
     "Degraded", {"assistant"}, set(), set(), {("assistant", "CapacityShort")}),
    ("capacity very short: standard next, critical never",
     Observations(now=0, nodes=(Node("edge-1", True, 2, 2048), Node("edge-gpu", True, 1, 1024, gpus=2))), "Degraded",
     {"assistant", "label-printer"}, set(), set(), {("assistant", "CapacityShort"), ("label-printer", "CapacityShort")}),
]


@pytest.mark.parametrize("case,seen,mode,stopped,on_cpu,on_fallback,expected", CASES, ids=[c[0] for c in CASES])
def test_policy_chain(case: str, seen: Observations, mode: str, stopped: set, on_cpu: set, on_fallback: set, expected: set) -> None:
    decision = decide(load_example("full"), seen)
    assert decision.plan.mode == mode
    assert set(decision.plan.stopped) == stopped
    assert set(decision.plan.on_cpu) == on_cpu
    assert set(decision.plan.on_fallback) == on_fallback
    assert reasons(decision) == expected
    assert all(r.message.endswith(".") for r in decision.reasons)


def test_offline_stops_functions_that_need_the_uplink() -> None:
    site = load_example("full")
    spec = site.spec.model_copy(update={"functions": [site.spec.functions[0].model_copy(update={"needs_uplink": True})]})
    site = site.model_copy(update={"spec": spec})
    decision = decide(site, Observations(now=0, nodes=HEALTHY, uplink=UplinkState(online=False)))
    assert decision.plan.stopped == {"label-printer"}
    deployment = next(m for m in render(site, decision.plan) if m["kind"] == "Deployment" and m["metadata"]["name"] == "plant-hamburg-label-printer")
    assert deployment["spec"]["replicas"] == 0


def test_onGpuLoss_stop() -> None:
    site = load_example("full")
    spec = site.spec.model_copy(update={"inference": [site.spec.inference[0].model_copy(update={"on_gpu_loss": "stop"}),
                                                      site.spec.inference[1]]})
    decision = decide(site.model_copy(update={"spec": spec}), Observations(now=0, nodes=HEALTHY[:2]))
    assert decision.plan.stopped == {"defect-detector"} and not decision.plan.on_cpu


def test_the_fallback_time_is_remembered() -> None:
    decision = decide(load_example("full"), Observations(now=42, nodes=HEALTHY, models={"assistant": ModelHealth(restarts=5)}))
    assert decision.fallback_since == {"assistant": 42}
