"""The model: both api.md examples as written, defaults, quantities and topic rules."""

from __future__ import annotations

import pytest

from edgesite import topics
from edgesite.quantities import canonical_quantity, is_quantity, parse_quantity
from edgesite.validation import load_sites

from tests.conftest import EXAMPLES, load_example


def test_minimal_example_gets_safe_defaults() -> None:
    site = load_example("minimal")
    assert site.name == "store-0421" and site.namespace == "edge-store-0421"
    entry = site.spec.inference[0]
    assert (entry.replicas, entry.accelerator, entry.priority) == (1, "cpu", "standard")
    assert site.spec.degradation.shed_order == ["best-effort", "standard"]
    assert site.spec.degradation.model_fallback_after_restarts == 3
    assert site.spec.messaging is None


def test_full_example_reads_every_component() -> None:
    site = load_example("full")
    assert [i.name for i in site.spec.inference] == ["defect-detector", "assistant"]
    assert site.spec.inference[1].fallback is not None and site.spec.inference[1].fallback.model.size_mib == 808
    assert site.spec.messaging is not None and site.spec.messaging.bridge is not None
    assert site.spec.messaging.bridge.offline_queue.max_bytes == "256Mi"
    assert [c.type for c in site.spec.caches] == ["http", "artifacts", "registry-mirror"]
    assert site.spec.uplink.probe is not None and site.spec.uplink.probe.success_threshold == 2


def test_examples_round_trip_through_camel_case() -> None:
    site = load_example("full")
    dumped = site.spec.model_dump(by_alias=True, exclude_defaults=True)
    assert dumped["inference"][1]["contextTokens"] == 4096
    assert dumped["inference"][0]["model"]["sizeMiB"] == 12


@pytest.mark.parametrize("text,value", [("16Gi", 16 * 2**30), ("500m", 0.5), ("2", 2), ("1.5Gi", 1.5 * 2**30), ("1k", 1000)])
def test_parse_quantity(text: str, value: float) -> None:
    assert float(parse_quantity(text)) == value


@pytest.mark.parametrize("text,canonical", [("2048Mi", "2Gi"), ("0.5", "500m"), ("1000m", "1"), ("1.5Gi", "1536Mi"), ("1000", "1k")])
def test_canonical_quantity_matches_the_api_server(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical


@pytest.mark.parametrize("text", ["16 GB", "", "Gi", "-1", "1e3x"])
def test_bad_quantities(text: str) -> None:
    assert not is_quantity(text)


@pytest.mark.parametrize("pattern,problem", [("a/+/b", None), ("a/#", None), ("#", None), ("a/#/b", "'#' must be a whole level and the last one"),
                                             ("a/b+", "'+' must be a whole level"), ("", "a topic must not be empty")])
def test_topic_filters(pattern: str, problem: str | None) -> None:
    assert topics.filter_problem(pattern) == problem


@pytest.mark.parametrize("pattern,topic,matches", [("sensors/+/temperature", "sensors/a/temperature", True),
                                                   ("sensors/+/temperature", "sensors/a/b/temperature", False),
                                                   ("plant/summary/#", "plant/summary/temperature", True),
                                                   ("plant/summary/#", "plant/other", False), ("#", "x/y", True)])
def test_topic_matching(pattern: str, topic: str, matches: bool) -> None:
    assert topics.matches(pattern, topic) is matches


def test_documents_with_several_sites() -> None:
    text = (EXAMPLES / "minimal.yaml").read_text() + "---\n" + (EXAMPLES / "full.yaml").read_text()
    assert [s.name for s in load_sites([("both.yaml", text)])] == ["store-0421", "plant-hamburg"]
