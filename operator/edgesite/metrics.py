"""Prometheus metrics of the operator: reconciles, their duration, errors, sites by mode."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter("edgesite_reconciles_total", "Reconcile passes by result.", ["result"])
ERRORS = Counter("edgesite_reconcile_errors_total", "Reconcile passes that failed.")
DURATION = Histogram("edgesite_reconcile_duration_seconds", "Time of one reconcile pass.",
                     buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SITES = Gauge("edgesite_sites", "EdgeSites by mode.", ["mode"])
for _mode in ("Online", "Degraded", "Offline"):
    SITES.labels(mode=_mode).set(0)
_modes: dict[tuple[str, str], str] = {}
_modes_lock = threading.Lock()  # reconciles of different sites run in several threads
_served = False


def serve() -> None:
    """Expose /metrics on EDGESITE_METRICS_PORT (default 8081; 0 disables)."""
    global _served
    port = int(os.environ.get("EDGESITE_METRICS_PORT", "8081"))
    if port and not _served:
        start_http_server(port, addr=os.environ.get("EDGESITE_METRICS_ADDRESS", "0.0.0.0"))
        _served = True


@contextmanager
def reconciling() -> Iterator[Callable[[str], None]]:
    """Time one pass; the caller records its result ('changed', 'unchanged', 'invalid', 'error')."""
    results: list[str] = []
    start = time.perf_counter()
    try:
        yield results.append
    except Exception:
        if not results:
            results.append("error")
        raise
    finally:
        DURATION.observe(time.perf_counter() - start)
        result = results[-1] if results else "error"
        RECONCILES.labels(result=result).inc()
        if result == "error":
            ERRORS.inc()


def site_mode(namespace: str, name: str, mode: str) -> None:
    """Count the site under `mode` (and no longer under the mode it had)."""
    with _modes_lock:
        before = _modes.get((namespace, name))
        if before != mode:
            _modes[(namespace, name)] = mode
            SITES.labels(mode=mode).inc()
            if before is not None:
                SITES.labels(mode=before).dec()


def forget(namespace: str, name: str) -> None:
    with _modes_lock:
        before = _modes.pop((namespace, name), None)
        if before is not None:
            SITES.labels(mode=before).dec()
