"""The uplink probes (I/O): one loop probes every site's URL on its period and folds the results through
the hysteresis of `policies.next_uplink`; a change of state triggers that site's reconcile."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .model import Probe
from .policies import UplinkState, next_uplink

Key = tuple[str, str]


@dataclass
class Target:
    probe: Probe
    due: float


def probe_once(url: str, timeout: float) -> bool:
    """A GET that answers 2xx or 3xx in time is a success; anything else is a failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(200 <= response.status < 400)
    except urllib.error.HTTPError as error:
        return bool(300 <= error.code < 400)
    except (OSError, ValueError):
        return False


class Prober:
    def __init__(self, on_change: Callable[[Key], None], probe: Callable[[str, float], bool] = probe_once):
        self.on_change, self.probe = on_change, probe
        self.targets: dict[Key, Target] = {}
        self.states: dict[Key, UplinkState] = {}
        self.guard = threading.Lock()
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="uplink-probe")
        self.thread: threading.Thread | None = None

    def configure(self, key: Key, probe: Probe | None) -> None:
        with self.guard:
            if probe is None:
                self.targets.pop(key, None)
                self.states.pop(key, None)
            elif key not in self.targets or self.targets[key].probe != probe:
                self.targets[key] = Target(probe, due=time.monotonic())
                self.states.setdefault(key, UplinkState())
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="uplink-prober", daemon=True)
            self.thread.start()

    def state(self, key: Key) -> UplinkState:
        with self.guard:
            return self.states.get(key, UplinkState())

    def _loop(self) -> None:
        while not self.stop.wait(0.2):
            now = time.monotonic()
            with self.guard:
                due = [(key, t.probe) for key, t in self.targets.items() if t.due <= now]
                for key, probe in due:
                    self.targets[key].due = now + probe.period_seconds
            for key, probe in due:
                self.pool.submit(self._probe, key, probe)

    def _probe(self, key: Key, probe: Probe) -> None:
        ok = self.probe(probe.url, probe.timeout_seconds)
        with self.guard:
            if key not in self.states:
                return
            before = self.states[key]
            after = next_uplink(before, ok, failure_threshold=probe.failure_threshold, success_threshold=probe.success_threshold)
            self.states[key] = after
        if after.online != before.online:
            self.on_change(key)
