"""Bad input, table-driven: one line per problem, `FILE:LINE: SITE: path: what (got X; expected Y)`,
exit code 1, no traceback, and nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgesite.cli import main

from tests.conftest import EXAMPLES

FULL = (EXAMPLES / "full.yaml").read_text()
MINIMAL = (EXAMPLES / "minimal.yaml").read_text()
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<site>[^:]+): (?P<rest>.*)$")

# (case id, base document, text replaced, replacement, expected path, expected message fragment)
CASES = [
    ("wrong-api-version", MINIMAL, "edgesite.io/v1alpha1", "edgesite.io/v1", "apiVersion", "expected one of edgesite.io/v1alpha1"),
    ("wrong-kind", MINIMAL, "kind: EdgeSite", "kind: Site", "kind", "not an allowed value"),
    ("missing-spec", MINIMAL, "spec:\n  drivers: [latency, privacy]\n", "specs:\n  drivers: [latency, privacy]\n", "spec", "required field is missing"),
    ("missing-name", MINIMAL, "  name: store-0421\n", "", "metadata.name", "required field is missing"),
    ("bad-site-name", MINIMAL, "name: store-0421", "name: Store_0421", "metadata.name", "has the wrong format"),
    ("site-name-too-long", MINIMAL, "name: store-0421", "name: " + "s" * 31, "metadata.name", "at most 30 characters"),
    ("unknown-top-field", MINIMAL, "spec:\n", "spec:\n  colour: blue\n", "spec.colour", "unknown field"),
    ("unknown-nested-field", MINIMAL, "        quantization: int8", "        quantization: int8\n        format: onnx",
     "spec.inference[0].model.format", "expected one of quantization, sha256, sizeMiB, uri"),
    ("bad-driver", MINIMAL, "[latency, privacy]", "[latency, speed]", "spec.drivers[1]", "got 'speed'"),
    ("bad-tier", FULL, "tier: near-edge", "tier: far-edge", "spec.tier", "expected one of near-edge or mec"),
    ("bad-runtime", MINIMAL, "runtime: onnxruntime", "runtime: tensorrt", "spec.inference[0].runtime", "got 'tensorrt'"),
    ("negative-size", MINIMAL, "sizeMiB: 12", "sizeMiB: -5", "spec.inference[0].model.sizeMiB", "must be greater than 0 (got -5)"),
    ("size-not-a-number", MINIMAL, "sizeMiB: 12", "sizeMiB: twelve", "spec.inference[0].model.sizeMiB", "has the wrong type"),
    ("bad-quantization", MINIMAL, "quantization: int8", "quantization: int3", "spec.inference[0].model.quantization", "not an allowed value"),
    ("gguf-on-onnx", MINIMAL, "quantization: int8", "quantization: q4_k_m", "spec.inference[0].model.quantization", "must be a GGUF type for llamacpp"),
    ("tensor-on-llamacpp", FULL, "        quantization: q4_k_m\n      contextTokens", "        quantization: int8\n      contextTokens",
     "spec.inference[1].model.quantization", "must be a GGUF type for llamacpp"),
    ("bad-uri-scheme", MINIMAL, "uri: https://models", "uri: ftp://models", "spec.inference[0].model.uri", "has the wrong format"),
    ("missing-model", MINIMAL, "      model:\n        uri: https://models.example.com/shelf-yolov8n-int8.onnx\n        sizeMiB: 12\n        quantization: int8\n", "",
     "spec.inference[0].model", "required field is missing"),
    ("bad-memory-quantity", FULL, "memory: 16Gi", "memory: 16 GB", "spec.nodes.memory", "expected a quantity such as 16Gi"),
    ("bad-resource-cpu", FULL, 'cpu: "2"', "cpu: two", "spec.inference[0].resources.cpu", "expected a quantity"),
    ("gpu-without-nodes-gpu", FULL, "    gpu:\n      resource: nvidia.com/gpu\n      runtimeClassName: nvidia\n", "",
     "spec.inference[0].accelerator", "inference with accelerator gpu needs nodes.gpu"),
    ("bad-accelerator", FULL, "accelerator: gpu", "accelerator: tpu", "spec.inference[0].accelerator", "expected one of cpu or gpu"),
    ("bad-on-gpu-loss", FULL, "onGpuLoss: cpu", "onGpuLoss: wait", "spec.inference[0].onGpuLoss", "expected one of cpu or stop"),
    ("zero-latency-budget", FULL, "latencyBudgetMs: 30", "latencyBudgetMs: 0", "spec.inference[0].latencyBudgetMs", "must be greater than 0"),
    ("bad-priority", FULL, "priority: critical", "priority: urgent", "spec.inference[0].priority", "not an allowed value"),
    ("too-many-replicas", FULL, "replicas: 2", "replicas: 500", "spec.inference[0].replicas", "less than or equal to 64"),
    ("context-on-onnx", FULL, "      replicas: 2\n", "      replicas: 2\n      contextTokens: 2048\n", "spec.inference[0].contextTokens",
     "contextTokens applies to runtime llamacpp only"),
    ("tiny-context", FULL, "contextTokens: 4096", "contextTokens: 16", "spec.inference[1].contextTokens", "greater than or equal to 128"),
    ("fallback-larger", FULL, "sizeMiB: 808", "sizeMiB: 4000", "spec.inference[1].fallback.model.sizeMiB", "fallback model must be smaller"),
    ("duplicate-inference", FULL, "name: assistant", "name: defect-detector", "spec.inference[1].name", "duplicate name in spec.inference"),
    ("name-across-lists", FULL, "name: shift-notes", "name: assistant", "spec.sync[0].name", "component names must be unique"),
    ("reserved-name", FULL, "name: shift-notes", "name: mqtt", "spec.sync[0].name", "not mqtt, gateway"),
    ("bad-function-runtime", FULL, "runtime: wasmedge", "runtime: wasmtime", "spec.functions[0].runtime", "expected one of wasmedge or spin"),
    ("needs-uplink-not-bool", FULL, "needsUplink: false", "needsUplink: maybe", "spec.functions[0].needsUplink", "has the wrong type"),
    ("bad-broker-engine", FULL, "engine: mosquitto", "engine: emqx", "spec.messaging.broker.engine", "not an allowed value"),
    ("bad-bridge-address", FULL, "address: mqtt.cloud.example.com:8883", "address: mqtt.cloud.example.com", "spec.messaging.bridge.address", "has the wrong format"),
    ("bad-bridge-direction", FULL, "direction: out ", "direction: up ", "spec.messaging.bridge.topics[0].direction", "expected one of out, in or both"),
    ("bad-qos", FULL, "qos: 1\n        - pattern: plant/commands", "qos: 3\n        - pattern: plant/commands", "spec.messaging.bridge.topics[0].qos", "not an allowed value"),
    ("hash-not-last", FULL, "pattern: plant/summary/#", "pattern: plant/#/summary", "spec.messaging.bridge.topics[0].pattern", "'#' must be a whole level"),
    ("plus-inside-level", FULL, "input: sensors/+/temperature", "input: sensors/a+/temperature", "spec.messaging.aggregations[0].input", "'+' must be a whole level"),
    ("wildcard-in-output", FULL, "output: plant/summary/temperature", "output: plant/summary/+", "spec.messaging.aggregations[0].output",
     "a published topic must not contain the wildcards"),
    ("sys-output", FULL, "output: plant/summary/temperature", "output: $SYS/x", "spec.messaging.aggregations[0].output", "reserved for the broker"),
    ("offline-window-narrower", FULL, "offlineWindowSeconds: 300", "offlineWindowSeconds: 30", "spec.messaging.aggregations[0].offlineWindowSeconds",
     "offlineWindowSeconds must be at least windowSeconds"),
    ("bad-aggregate-function", FULL, "functions: [mean, max, count]", "functions: [mean, median]", "spec.messaging.aggregations[0].functions[1]", "not an allowed value"),
    ("bad-queue-bytes", FULL, "maxBytes: 256Mi", "maxBytes: lots", "spec.messaging.bridge.offlineQueue.maxBytes", "expected a quantity"),
    ("zero-queue", FULL, "maxMessages: 100000", "maxMessages: 0", "spec.messaging.bridge.offlineQueue.maxMessages", "greater than or equal to 1"),
    ("bad-cache-type", FULL, "type: http", "type: memcached", "spec.caches[0].type", "not an allowed value"),
    ("http-cache-without-upstream", FULL, "      upstream: https://api.example.com\n", "", "spec.caches[0].upstream", "need an upstream"),
    ("artifacts-with-upstream", FULL, "      type: artifacts\n", "      type: artifacts\n      upstream: https://x.example.com\n", "spec.caches[1].upstream",
     "artifacts caches take none"),
    ("http-upstream-not-url", FULL, "upstream: https://api.example.com", "upstream: api.example.com", "spec.caches[0].upstream", "must be an http(s) URL"),
    ("mirror-upstream-with-scheme", FULL, "upstream: registry.example.com", "upstream: https://registry.example.com", "spec.caches[2].upstream",
     "must be a registry host"),
    ("two-artifacts-caches", FULL, "    - name: images\n      type: registry-mirror", "    - name: images\n      type: artifacts", "spec.caches[2].type",
     "at most one artifacts cache"),
    ("bad-sync-engine", FULL, "engine: y-websocket", "engine: automerge", "spec.sync[0].engine", "not an allowed value"),
    ("critical-in-shed-order", FULL, "shedOrder: [best-effort, standard]", "shedOrder: [best-effort, critical]", "spec.degradation.shedOrder",
     "critical workloads are never shed"),
    ("fallback-restarts-zero", FULL, "modelFallbackAfterRestarts: 3", "modelFallbackAfterRestarts: 0", "spec.degradation.modelFallbackAfterRestarts",
     "greater than or equal to 1"),
    ("probe-timeout-over-period", FULL, "      periodSeconds: 10\n", "      periodSeconds: 10\n      timeoutSeconds: 20\n", "spec.uplink.probe.timeoutSeconds",
     "timeoutSeconds must not exceed periodSeconds"),
    ("probe-url", FULL, "url: https://cloud.example.com/healthz", "url: cloud.example.com/healthz", "spec.uplink.probe.url", "has the wrong format"),
    ("spec-is-a-list", MINIMAL, "spec:\n", "spec: [drivers]\nunused:\n", "spec", "has the wrong type"),
]


def run(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    source = tmp_path / "site.yaml"
    source.write_text(text)
    result = CliRunner().invoke(main, [*args, str(source)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case,base,old,new,path,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_reported_with_path_and_line(tmp_path: Path, case: str, base: str, old: str, new: str, path: str, fragment: str) -> None:
    assert old in base, f"{case}: the case no longer matches the example"
    text = base.replace(old, new, 1)
    code, out, err = run(tmp_path, text, "validate")
    assert code == 1, (case, out, err)
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), f"every problem is one `FILE:LINE: SITE: ...` line: {lines}"
    matching = [m for m in parsed if m and m["rest"].startswith(f"{path}: ")]
    assert matching, f"{case}: no problem names {path}: {lines}"
    assert any(fragment in m["rest"] for m in matching), f"{case}: {fragment!r} not in {lines}"
    # The line points into the document, at the changed field or its parent.
    assert all(1 <= int(m["line"]) <= len(text.splitlines()) + 1 for m in matching)


def test_line_points_at_the_field(tmp_path: Path) -> None:
    text = FULL.replace("sizeMiB: 808", "sizeMiB: -808")
    _, _, err = run(tmp_path, text, "validate")
    expected_line = text.splitlines().index("          sizeMiB: -808") + 1
    assert f"site.yaml:{expected_line}: plant-hamburg: spec.inference[1].fallback.model.sizeMiB: must be greater than 0 (got -808)" in err


def test_yaml_syntax_error(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, MINIMAL.replace("drivers: [latency, privacy]", "drivers: [latency, privacy"), "validate")
    assert code == 1
    assert re.match(r".*site\.yaml:\d+: -: YAML syntax error: ", err)


def test_not_a_mapping(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "- just\n- a list\n", "validate")
    assert code == 1 and "a document must be a mapping" in err


def test_empty_file(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "", "validate")
    assert code == 1 and "no EdgeSite document found" in err


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = FULL.replace("sizeMiB: 12", "sizeMiB: -1").replace("tier: near-edge", "tier: space")
    _, _, err = run(tmp_path, text, "validate")
    assert "spec.tier" in err and "spec.inference[0].model.sizeMiB" in err


def test_render_writes_nothing_when_any_input_is_invalid(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(MINIMAL)
    bad.write_text(FULL.replace("qos: 1", "qos: 7", 1))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["render", str(good), str(bad), "-o", str(out)])
    assert result.exit_code == 1 and "bad.yaml" in result.stderr
    assert not out.exists()
    result = CliRunner().invoke(main, ["render", str(good), str(bad)])
    assert result.exit_code == 1 and result.stdout == ""


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["render", str(tmp_path / "missing.yaml")]).exit_code == 2
    assert CliRunner().invoke(main, ["render", "--mode", "Sideways", str(EXAMPLES / "minimal.yaml")]).exit_code == 2
    assert CliRunner().invoke(main, ["render", "--format", "k3s", str(EXAMPLES / "minimal.yaml")]).exit_code == 2


def test_same_site_twice(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, MINIMAL + "---\n" + MINIMAL, "validate")
    assert code == 1 and "the same site is given twice" in err
