"""Windowed aggregation, pure: bounded state, window bounds, widening while the bridge is down."""

from __future__ import annotations

import sys

import pytest

from edgesite.aggregate import Window, reading


@pytest.mark.parametrize("payload,value", [(b"21.5", 21.5), (b'{"value": 3}', 3.0), (b"-1", -1.0), (b"abc", None),
                                           (b'{"v": 1}', None), (b"true", None), (b"NaN", None), (b'{"value": "7"}', None)])
def test_readings(payload: bytes, value: float | None) -> None:
    assert reading(payload) == value


def test_window_summary_and_bounds() -> None:
    window = Window("out", ("mean", "min", "max", "count"), online_seconds=60, offline_seconds=300, start=1000.0)
    for value in (1.0, 2.0, 6.0):
        window.add(value)
    assert not window.due(1059.9) and window.due(1060.0)
    summary = window.close(1060.5)
    assert summary == {"start": "1970-01-01T00:16:40.000Z", "end": "1970-01-01T00:17:40.000Z", "count": 3,
                       "mean": 3.0, "min": 1.0, "max": 6.0}
    assert window.start == 1060.0 and window.count == 0, "the next window starts where the last one ended"


def test_window_widens_while_the_bridge_is_down() -> None:
    window = Window("out", ("count",), online_seconds=60, offline_seconds=300, start=0.0)
    window.offline = True
    assert not window.due(120) and window.due(300)
    window.offline = False
    assert window.due(120)


def test_closing_early_ends_the_window_now() -> None:
    window = Window("out", ("last", "sum"), online_seconds=60, offline_seconds=300, start=0.0)
    window.add(4.0)
    window.add(5.0)
    assert window.close(10.0) == {"start": "1970-01-01T00:00:00.000Z", "end": "1970-01-01T00:00:10.000Z", "count": 2,
                                  "last": 5.0, "sum": 9.0}


def test_state_is_bounded_however_many_readings() -> None:
    window = Window("out", ("mean",), online_seconds=60, offline_seconds=300, start=0.0)
    size = sys.getsizeof(window.__dict__)
    for index in range(100_000):
        window.add(float(index))
    assert sys.getsizeof(window.__dict__) == size and window.count == 100_000
