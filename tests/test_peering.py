"""Which replica acts: kopf's peering rule, as the operator's own threads apply it."""

from __future__ import annotations

import datetime

import pytest
from kubernetes.client.exceptions import ApiException

from edgesite.peering import Replica, acts, peering_paths

NOW = datetime.datetime(2026, 12, 4, 12, 0, 0, tzinfo=datetime.timezone.utc)


def peer(priority: int, seconds_ago: float = 5, lifetime: int = 60) -> dict:
    return {"priority": priority, "lifetime": lifetime, "lastseen": (NOW - datetime.timedelta(seconds=seconds_ago)).isoformat()}


@pytest.mark.parametrize(("peers", "expected"), [
    ({}, True),
    ({"me": peer(10)}, True),
    ({"me": peer(10), "other": peer(5)}, True),
    ({"me": peer(10), "other": peer(20)}, False),
    ({"me": peer(10), "other": peer(10)}, False),  # a tie pauses both, as kopf does
    ({"me": peer(10), "other": peer(20, seconds_ago=61)}, True),  # dead: its lifetime is over
    ({"me": peer(10), "other": peer(20, seconds_ago=100, lifetime=300)}, False),
    ({"me": peer(10), "other": {"priority": 20}}, False),  # no lastseen: taken as seen now
    ({"me": peer(10), "other": peer(5), "third": peer(11)}, False),
])
def test_a_replica_acts_unless_a_live_peer_ranks_as_high(peers: dict, expected: bool) -> None:
    assert acts(peers, identity="me", priority=10, now=NOW) is expected


def test_peering_objects_are_cluster_wide_or_one_per_namespace() -> None:
    assert peering_paths([]) == ["/apis/kopf.dev/v1/clusterkopfpeerings/edgesite"]
    assert peering_paths(["a", "b"]) == ["/apis/kopf.dev/v1/namespaces/a/kopfpeerings/edgesite",
                                         "/apis/kopf.dev/v1/namespaces/b/kopfpeerings/edgesite"]


def test_standalone_always_acts() -> None:
    assert Replica(None, identity="me", priority=0, namespaces=[]).acts()


def test_every_watched_namespace_must_let_the_replica_act() -> None:
    live = datetime.datetime.now(datetime.timezone.utc).isoformat()
    statuses = {"/apis/kopf.dev/v1/namespaces/a/kopfpeerings/edgesite": {"other": {"priority": 1, "lastseen": live}},
                "/apis/kopf.dev/v1/namespaces/b/kopfpeerings/edgesite": {"other": {"priority": 9, "lastseen": live}}}
    replica = Replica(lambda path: {"status": statuses[path]}, identity="me", priority=5, namespaces=["a", "b"])
    assert not replica.acts()
    statuses["/apis/kopf.dev/v1/namespaces/b/kopfpeerings/edgesite"] = {}
    assert Replica(lambda path: {"status": statuses[path]}, identity="me", priority=5, namespaces=["a", "b"]).acts()


def test_the_answer_is_kept_for_a_few_seconds_and_a_missing_object_means_pause() -> None:
    reads: list[str] = []

    def missing(path: str) -> dict:
        reads.append(path)
        raise ApiException(status=404, reason="Not Found")

    replica = Replica(missing, identity="me", priority=5, namespaces=[], refresh=60)
    assert not replica.acts()
    assert not replica.acts()
    assert len(reads) == 1
