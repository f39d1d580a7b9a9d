"""Windowed aggregation of sensor readings (pure): readings in, one summary per closed window out.

Memory is bounded by construction: a window keeps running totals (count, sum, min, max, last), never
the readings, whatever the number of sensors. While the bridge is down the window widens to
`offlineWindowSeconds`, so fewer summaries wait in the offline queue.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field
from typing import Any


def reading(payload: bytes) -> float | None:
    """A number, or JSON with a numeric `value`; anything else is ignored."""
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        value: Any = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Window:
    """One aggregation's current window."""

    output: str
    functions: tuple[str, ...]
    online_seconds: float
    offline_seconds: float
    start: float
    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    last: float | None = None
    offline: bool = field(default=False)

    @property
    def end(self) -> float:
        return self.start + (self.offline_seconds if self.offline else self.online_seconds)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low, self.high, self.last = min(self.low, value), max(self.high, value), value

    def due(self, now: float) -> bool:
        return now >= self.end

    def close(self, now: float) -> dict[str, Any]:
        """The summary of this window (ended at its end, or at `now` when closed early), and a new window."""
        end = min(now, self.end)
        summary: dict[str, Any] = {"start": iso(self.start), "end": iso(end), "count": self.count}
        values = {"mean": self.total / self.count if self.count else None, "min": self.low if self.count else None,
                  "max": self.high if self.count else None, "sum": self.total, "last": self.last}
        for function in self.functions:
            if function != "count":
                summary[function] = values[function]
        self.start, self.count, self.total, self.low, self.high, self.last = end, 0, 0.0, math.inf, -math.inf, None
        return summary


def windows(aggregations: list[dict[str, Any]], now: float) -> list[Window]:
    return [Window(output=a["output"], functions=tuple(a.get("functions", ["mean", "min", "max", "count"])),
                   online_seconds=float(a.get("windowSeconds", 60)), offline_seconds=float(a.get("offlineWindowSeconds", 300)),
                   start=now) for a in aggregations]
