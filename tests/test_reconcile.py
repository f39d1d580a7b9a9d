"""Pure reconcile and status logic: what is applied, what is pruned, what the status says."""

from __future__ import annotations

import pytest

from edgesite.reconcile import changes, covers, owned
from edgesite.render import render
from edgesite.status import ConditionState, component_status, merge_conditions, ready_summary, site_conditions

from tests.conftest import load_example


@pytest.mark.parametrize("desired,live,expected", [
    ({"a": 1}, {"a": 1, "b": 2}, True),                      # fields others set are ignored
    ({"a": 1}, {"a": 2}, False),                             # drift in an owned field
    ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2], "c": 3}}, True),
    ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]}, True),    # server defaults inside list items
    ({"a": [{"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]}, False),  # an extra item is a change
    ({"ingress": []}, {}, True),                             # the server omits empty lists
    ({"labels": {}}, {}, True),
    ({"a": 1}, {}, False),
    ({"a": "1"}, {"a": 1}, False),
])
def test_covers(desired: object, live: object, expected: bool) -> None:
    assert covers(desired, live) is expected


def site_children() -> list[dict]:
    return [owned(m, name="plant-hamburg", uid="u-1") for m in render(load_example("full"))]


def test_nothing_to_do_when_live_matches() -> None:
    desired = site_children()
    todo = changes(desired, [dict(m, status={"readyReplicas": 1}) for m in desired], owner_uid="u-1")
    assert (todo.apply, todo.prune, todo.created, todo.updated) == ([], [], 0, 0)


def test_new_drifted_and_pruned_children() -> None:
    desired = site_children()
    live = [dict(m) for m in desired[1:]]                      # the first one is missing
    drifted = next(i for i, m in enumerate(live) if m["kind"] == "Deployment")
    live[drifted] = {**live[drifted], "spec": {**live[drifted]["spec"], "replicas": 5}}
    stale = owned({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plant-hamburg-old", "namespace": "x"}},
                  name="plant-hamburg", uid="u-1")
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "someone-else", "namespace": "x"}}
    todo = changes(desired, live + [stale, foreign], owner_uid="u-1")
    assert todo.created == 1 and todo.updated == 1
    assert [m["metadata"]["name"] for m in todo.prune] == ["plant-hamburg-old"], "only children the site owns are pruned"


def test_owner_reference() -> None:
    ref = site_children()[0]["metadata"]["ownerReferences"]
    assert ref == [{"apiVersion": "edgesite.io/v1alpha1", "kind": "EdgeSite", "name": "plant-hamburg", "uid": "u-1",
                    "controller": True, "blockOwnerDeletion": True}]


def test_component_status_and_ready_summary() -> None:
    desired = render(load_example("full"))
    live = [dict(m, status={"readyReplicas": m["spec"].get("replicas", 1)}) for m in desired if m["kind"] in ("Deployment", "StatefulSet")]
    live[0] = dict(live[0], status={"readyReplicas": 0})
    components = component_status(desired, live, now="T1", previous=[])
    assert len(components) == 8 and ready_summary(components) == "7/8"
    pending = [c for c in components if c["state"] == "pending"]
    assert len(pending) == 1 and pending[0]["reason"] == "NotReady"
    conditions = site_conditions(components, mode="Online")
    assert conditions[0].status == "False" and conditions[0].reason == "ComponentsNotReady"
    assert conditions[2] == ConditionState("UplinkAvailable", "Unknown", "NotProbed", "The uplink is not probed yet.")


def test_last_transition_time_is_kept_while_status_is_unchanged() -> None:
    first = merge_conditions([], [ConditionState("Ready", "False", "ComponentsNotReady", "Waiting.")], generation=1, now="T1")
    same = merge_conditions(first, [ConditionState("Ready", "False", "ComponentsNotReady", "Still waiting.")], generation=2, now="T2")
    flipped = merge_conditions(same, [ConditionState("Ready", "True", "AllComponentsReady", "Ready.")], generation=2, now="T3")
    assert same[0]["lastTransitionTime"] == "T1" and same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "T3"
