"""Which replica acts: kopf's peering rule, applied to the operator's own threads as well.

kopf pauses its handlers in every replica but the one with the highest priority (and in all of them on a
tie). The resync loop, the child watches and the uplink probes are the operator's own threads, which kopf
does not pause, so they ask the same question of the same peering objects before they start a pass.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

PEERING_NAME = "edgesite"


def acts(peers: dict[str, Any], *, identity: str, priority: int, now: datetime.datetime) -> bool:
    """True unless another live peer has a priority as high as ours (kopf pauses on a tie too).

    `peers` is the status of a KopfPeering: identity -> {priority, lastseen, lifetime}.
    """
    for other, info in peers.items():
        if other == identity or not isinstance(info, dict):
            continue
        lastseen = datetime.datetime.fromisoformat(info["lastseen"]) if info.get("lastseen") else now
        if lastseen + datetime.timedelta(seconds=int(info.get("lifetime", 60))) <= now:
            continue  # dead: kopf ignores it (and cleans it up)
        if int(info.get("priority", 0)) >= priority:
            return False
    return True


def startup_priority() -> int:
    """The default priority: older replicas rank higher, so a restarted standby never takes over from a
    healthy replica (microseconds make a tie, which would pause both, practically impossible)."""
    return -(time.time_ns() // 1000)


def peering_paths(namespaces: list[str]) -> list[str]:
    """The peering objects kopf uses: one cluster-wide, or one per watched namespace."""
    if not namespaces:
        return [f"/apis/kopf.dev/v1/clusterkopfpeerings/{PEERING_NAME}"]
    return [f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings/{PEERING_NAME}" for namespace in namespaces]


class Replica:
    """This process as a peer. Standalone, it always acts; otherwise it reads the peering objects, at most
    once per `refresh` seconds (a peer's lifetime is a minute, so a few seconds of staleness is safe)."""

    def __init__(self, read: Callable[[str], dict[str, Any]] | None, *, identity: str, priority: int,
                 namespaces: list[str], refresh: float = 3.0):
        self.read, self.identity, self.priority = read, identity, priority
        self.paths, self.refresh = peering_paths(namespaces), refresh
        self._lock = threading.Lock()
        self._checked, self._acts = float("-inf"), False

    def acts(self) -> bool:
        if self.read is None:
            return True
        with self._lock:
            if time.monotonic() - self._checked >= self.refresh:
                self._acts = self._ask()
                self._checked = time.monotonic()
            return self._acts

    def _ask(self) -> bool:
        now = datetime.datetime.now(datetime.timezone.utc)
        try:
            statuses = [self.read(path).get("status") or {} for path in self.paths]
        except ApiException:
            return False  # no peering object (kopf pauses too) or no answer: do not act blindly
        return all(acts(status, identity=self.identity, priority=self.priority, now=now) for status in statuses)
