"""The sites-by-mode gauge stays exact while many reconciles report at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from edgesite import metrics


def gauge(mode: str) -> float:
    return metrics.SITES.labels(mode=mode)._value.get()


def test_modes_are_counted_once_per_site_under_concurrent_reports() -> None:
    start = {mode: gauge(mode) for mode in ("Online", "Degraded", "Offline")}
    sites = [("metrics-test", f"site-{index}") for index in range(400)]

    def report(site: tuple[str, str]) -> None:
        for mode in ("Online", "Degraded", "Online", "Offline", "Online"):
            metrics.site_mode(*site, mode)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(report, sites))
    assert gauge("Online") - start["Online"] == 400
    assert gauge("Degraded") - start["Degraded"] == 0
    assert gauge("Offline") - start["Offline"] == 0

    metrics.site_mode(*sites[0], "Degraded")
    assert (gauge("Online") - start["Online"], gauge("Degraded") - start["Degraded"]) == (399, 1)
    for site in sites:
        metrics.forget(*site)
    metrics.forget(*sites[0])  # forgetting twice changes nothing
    assert {mode: gauge(mode) for mode in start} == start
