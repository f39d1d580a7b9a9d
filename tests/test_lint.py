"""Lint rules, table-driven: each case edits the full example and expects (rule, severity, path) and a phrase."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edgesite.cli import main
from edgesite.lint import lint
from edgesite.validation import load_sites

from tests.conftest import EXAMPLES, example_document


def site_with(edit: Any) -> Any:
    document = example_document("full")
    edit(document["spec"])
    return load_sites([("site.yaml", json.dumps(document))])[0]


def setter(path: str, value: Any) -> Any:
    def edit(spec: dict[str, Any]) -> None:
        target: Any = spec
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        target[parts[-1]] = value
    return edit


def remove_cache(kind: str) -> Any:
    return lambda spec: spec.update(caches=[c for c in spec["caches"] if c["type"] != kind])


CASES = [
    ("ES001", "warning", "spec.drivers", setter("drivers", []), "no driver"),
    ("ES002", "warning", "spec.caches", remove_cache("artifacts"), "no artifacts cache"),
    ("ES003", "warning", "spec.uplink.probe", lambda s: s["uplink"].pop("probe"), "nothing probes it"),
    ("ES004", "warning", "spec.sync[0].upstream", lambda s: None, "keeps its documents at the site only"),
    ("ES005", "error", "spec.inference[1].model", setter("nodes.memory", "2560Mi"), "use quantization q2_k"),
    ("ES005", "error", "spec.inference[1].model", setter("inference.1.model.sizeMiB", 16000), "use quantization"),
    ("ES006", "error", "spec.messaging.bridge.topics[0].qos", setter("messaging.bridge.topics.0.qos", 0), "resilience is a driver"),
    ("ES006", "error", "spec.messaging.broker.autosaveChanges", setter("messaging.broker.autosaveChanges", 100), "up to 100"),
    ("ES007", "warning", "spec.messaging.bridge.tls", setter("messaging.bridge.tls", False), "not encrypted"),
    ("ES007", "warning", "spec.messaging.broker.serviceType", setter("messaging.broker.serviceType", "LoadBalancer"), "plain MQTT"),
    ("ES007", "warning", "spec.caches[0].upstream", setter("caches.0.upstream", "http://api.example.com"), "plain http"),
    ("ES010", "error", "spec.inference[0].latencyBudgetMs", setter("inference.0.latencyBudgetMs", 0.5), "hard real time"),
    ("ES010", "error", "spec.functions[0].latencyBudgetMs", setter("functions.0.latencyBudgetMs", 0.2), "RTOS or PLC"),
    ("ES011", "error", "spec.functions[0].latencyBudgetMs",
     lambda s: s["functions"][0].update(needsUplink=True, latencyBudgetMs=20), "40.0 ms round trip"),
    ("ES012", "warning", "spec.inference[1].latencyBudgetMs", setter("inference.1.latencyBudgetMs", 50), "about 150 ms"),
    ("ES020", "warning", "spec.messaging.bridge.topics[2].pattern",
     lambda s: s["messaging"]["bridge"]["topics"].append({"pattern": "sensors/#", "direction": "out", "qos": 1}), "raw readings"),
    ("ES021", "warning", "spec.messaging.bridge.offlineQueue", setter("messaging.bridge.offlineQueue.maxMessages", 5), "raise offlineQueue"),
    ("ES030", "error", "spec.functions[0].image", setter("functions.0.image", "registry.example.com/plant/label-printer:latest"), "not pinned"),
    ("ES030", "error", "spec.functions[0].image", setter("functions.0.image", "ghcr.io/plant/label-printer:1.0"), "not served by the site's registry mirror"),
    ("ES031", "warning", "spec.inference[0].accelerator", setter("inference.0.runtime", "tflite"), "cannot use it"),
    ("ES040", "info", "spec.messaging.bridge.topics[2].pattern",
     lambda s: s["messaging"]["bridge"]["topics"].append({"pattern": "plant/alarms/#", "direction": "out", "qos": 1}), "no aggregation publishes"),
    ("ES041", "warning", "spec.messaging.aggregations[1].output",
     lambda s: s["messaging"]["aggregations"].append({"input": "sensors/+/humidity", "output": "site/humidity"}), "not bridged out"),
]


@pytest.mark.parametrize("rule,severity,path,edit,phrase", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_finds(rule: str, severity: str, path: str, edit: Any, phrase: str) -> None:
    findings = [f for f in lint(site_with(edit)) if f.rule == rule and f.path == path]
    assert findings, f"{rule} found nothing at {path}"
    assert findings[0].severity == severity or rule == "ES021"
    assert any(phrase in f.message or phrase in f.fix for f in findings), [(f.message, f.fix) for f in findings]
    assert all(f.fix for f in findings)


def test_full_example_has_no_errors_or_unexpected_warnings() -> None:
    assert {(f.rule, f.severity) for f in lint(site_with(lambda s: None))} == {("ES004", "warning"), ("ES021", "info")}


def test_model_fit_names_the_largest_quantization_that_fits() -> None:
    # 3.5B parameters (2020 MiB at q4_k_m) + 446 MiB of KV cache for 4096 tokens + 320 MiB runtime, +10 %:
    # q4_k_m needs 3065 MiB, q3_k_m 2634 MiB, q2_k 2378 MiB.
    findings = [f for f in lint(site_with(setter("nodes.memory", "2560Mi"))) if f.rule == "ES005"]
    assert findings[0].fix == "use quantization q2_k (about 2378 MiB)"
    assert not [f for f in lint(site_with(setter("nodes.memory", "3Gi"))) if f.rule == "ES005"], "3065 MiB fits 3072 MiB"


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["lint", *args])


def test_exit_codes_and_strict(tmp_path: Path) -> None:
    assert run(str(EXAMPLES / "full.yaml")).exit_code == 0
    assert run("--strict", str(EXAMPLES / "full.yaml")).exit_code == 1
    bad = example_document("full")
    bad["spec"]["inference"][0]["latencyBudgetMs"] = 0.5
    path = tmp_path / "rt.yaml"
    path.write_text(json.dumps(bad))
    result = run(str(path))
    assert result.exit_code == 1 and "error ES010 spec.inference[0].latencyBudgetMs" in result.stdout


def test_invalid_input_is_reported_as_by_validate(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text((EXAMPLES / "minimal.yaml").read_text().replace("sizeMiB: 12", "sizeMiB: -1"))
    result = run(str(path))
    assert result.exit_code == 1 and "spec.inference[0].model.sizeMiB: must be greater than 0" in result.stderr


def test_text_lines_point_at_the_field() -> None:
    result = run(str(EXAMPLES / "full.yaml"))
    line = next(l for l in result.stdout.splitlines() if "ES004" in l)
    number = int(line.split(":")[1])
    assert (EXAMPLES / "full.yaml").read_text().splitlines()[number - 1].strip() == "- name: shift-notes"


def test_json_and_sarif() -> None:
    findings = json.loads(run("--format", "json", str(EXAMPLES / "full.yaml")).stdout)
    assert {f["rule"] for f in findings} == {"ES004", "ES021"} and all(f["line"] > 0 for f in findings)
    log = json.loads(run("--format", "sarif", str(EXAMPLES / "full.yaml")).stdout)
    assert log["version"] == "2.1.0"
    run_ = log["runs"][0]
    ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert len(ids) == len(set(ids)) >= 16
    for result in run_["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] > 0
