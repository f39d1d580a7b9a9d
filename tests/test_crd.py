"""The CRD is generated from the model, structural, documented, and committed without drift."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from edgesite.crd import custom_resource_definition
from edgesite.output import to_yaml

from tests.conftest import REPO

COMMITTED = REPO / "charts" / "edgesite-operator" / "crds" / "edgesites.edgesite.io.yaml"


def schema() -> dict[str, Any]:
    return custom_resource_definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if "items" in node:
        yield from nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from nodes(node["additionalProperties"], f"{path}{{}}")


def test_committed_crd_matches_the_model() -> None:
    assert COMMITTED.read_text() == to_yaml([custom_resource_definition()]), "run `make crd` and commit the result"


def test_chart_files_generated_from_the_code_do_not_drift() -> None:
    from edgesite.chart import CHART, generated_files

    for path, text in generated_files().items():
        assert (REPO / CHART / path).read_text() == text, f"{path} drifted: run `make crd` and commit the result"
    assert "edgesite-best-effort" in generated_files()["templates/priorityclasses.yaml"]


def test_schema_is_structural() -> None:
    text = json.dumps(schema())
    for forbidden in ('"$ref"', '"$defs"', '"anyOf"', '"oneOf"', '"allOf"', '"title"', '"uniqueItems"', '"type": "null"', '"const"'):
        assert forbidden not in text, forbidden
    for path, node in nodes(schema()):
        assert "type" in node, f"{path} has no type"
        assert not (node.get("additionalProperties") is False), path
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True and "minimum" in node, path


def test_every_spec_field_is_described() -> None:
    spec = schema()["properties"]["spec"]
    missing = [path for path, node in nodes(spec, "spec") if path != "spec" and not node.get("description")
               and not path.endswith("[]") and not path.endswith("}")]
    assert missing == []


def test_cross_field_rules_are_cel_with_messages() -> None:
    spec = schema()["properties"]["spec"]
    rules = {r["message"]: r for r in spec["x-kubernetes-validations"]}
    assert "inference with accelerator gpu needs nodes.gpu" in rules
    degradation_rules = spec["properties"]["degradation"]["x-kubernetes-validations"]
    assert degradation_rules[0]["message"].startswith("critical workloads are never shed")
    inference_rules = spec["properties"]["inference"]["items"]["x-kubernetes-validations"]
    assert {r["fieldPath"] for r in inference_rules} >= {".contextTokens", ".model.quantization"}
    for _, node in nodes(spec):
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["message"] and "\n" not in rule["message"]


def test_named_lists_are_maps_keyed_by_name() -> None:
    spec = schema()["properties"]["spec"]["properties"]
    for key in ("inference", "functions", "caches", "sync"):
        assert spec[key]["x-kubernetes-list-type"] == "map"
        assert spec[key]["x-kubernetes-list-map-keys"] == ["name"]
    assert spec["drivers"]["x-kubernetes-list-type"] == "set"


def test_names_columns_and_subresource() -> None:
    crd = custom_resource_definition()
    version = crd["spec"]["versions"][0]
    assert crd["metadata"]["name"] == "edgesites.edgesite.io"
    assert crd["spec"]["names"]["shortNames"] == ["esite"] and crd["spec"]["names"]["categories"] == ["edge"]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c] == ["Mode", "Ready", "Degraded", "Components", "Age"]


def test_defaults_reach_the_schema() -> None:
    spec = schema()["properties"]["spec"]["properties"]
    assert spec["degradation"]["default"] == {}
    assert spec["degradation"]["properties"]["shedOrder"]["default"] == ["best-effort", "standard"]
    assert spec["inference"]["items"]["properties"]["replicas"]["default"] == 1


def test_committed_crd_is_yaml_of_one_object() -> None:
    documents = list(yaml.safe_load_all(Path(COMMITTED).read_text()))
    assert len(documents) == 1 and documents[0]["kind"] == "CustomResourceDefinition"


def test_generated_docs_do_not_drift() -> None:
    from edgesite.chart import generated_docs

    docs = generated_docs()
    assert "docs/reference.md" in docs and "docs/lint/ES005.md" in docs
    for path, text in docs.items():
        assert (REPO / path).read_text() == text, f"{path} drifted: run `make crd` and commit the result"
