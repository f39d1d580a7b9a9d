"""The lint rules. Each docstring is the rule's page in docs/lint/ (generated)."""

from __future__ import annotations

from collections.abc import Iterator

from .. import sizing, topics
from ..images import IMAGES
from ..model import EdgeSite
from ..quantities import parse_quantity, to_mib
from .core import rule

Found = Iterator[tuple[str, str, str]]

HARD_REAL_TIME_MS = 1.0
# The least a first answer takes on CPU: a small detector on OVMS, the first token of a llama.cpp model.
RUNTIME_FLOOR_MS = {"onnxruntime": 5.0, "tflite": 5.0, "llamacpp": 150.0}
SUMMARY_BYTES = 256


@rule("ES001", "no-edge-driver", "warning", "The site names no reason to be at the edge.")
def no_edge_driver(site: EdgeSite) -> Found:
    """Edge as cloud-with-extra-steps: a site with no latency, bandwidth, privacy, resilience or cost
    driver pays for edge hardware and operations without a reason. Name the drivers, or run it in the cloud."""
    if not site.spec.drivers:
        yield ("spec.drivers", "no driver (latency, bandwidth, privacy, resilience, cost) says why this runs at the edge",
               "add the drivers that hold, e.g. `drivers: [latency, resilience]`, or run the workload in the cloud")


@rule("ES002", "no-offline-model-source", "warning", "A restarted inference pod needs the uplink to start.")
def no_offline_model_source(site: EdgeSite) -> Found:
    """No degradation path for models: without an `artifacts` cache every inference pod downloads its model
    when it starts, so a pod restarted while the uplink is down cannot serve. Add an artifacts cache: the
    model is then fetched once and survives restarts."""
    if site.spec.inference and not any(c.type == "artifacts" for c in site.spec.caches):
        yield ("spec.caches", f"{len(site.spec.inference)} inference entries fetch their models at start-up and no artifacts cache keeps them",
               "add `- {name: models, type: artifacts, size: 20Gi}` to spec.caches")


@rule("ES003", "no-uplink-probe", "warning", "The site cannot tell Online from Offline.")
def no_uplink_probe(site: EdgeSite) -> Found:
    """No degradation strategy: without `uplink.probe` the operator cannot notice that the cloud is gone, so
    nothing switches to Offline (functions that need the uplink keep failing). Applies when the site has
    resilience as a driver, a bridge, or a function that needs the uplink."""
    needs = ("resilience" in site.spec.drivers or any(f.needs_uplink for f in site.spec.functions)
             or (site.spec.messaging is not None and site.spec.messaging.bridge is not None))
    if needs and site.spec.uplink.probe is None:
        yield ("spec.uplink.probe", "the site depends on its uplink but nothing probes it",
               "add `uplink.probe: {url: https://<cloud>/healthz, periodSeconds: 10, failureThreshold: 3, successThreshold: 2}`")


@rule("ES004", "state-without-reconciliation", "warning", "Stateful edge state that never meets the cloud's.")
def state_without_reconciliation(site: EdgeSite) -> Found:
    """State at every edge: a CRDT sync server without `upstream` merges documents only at the site, and a
    broker without a bridge keeps every message there. Declare how state reconciles with the cloud."""
    for index, server in enumerate(site.spec.sync):
        if server.upstream is None:
            yield (f"spec.sync[{index}].upstream", f"sync server {server.name} keeps its documents at the site only",
                   "set `upstream: wss://<cloud>/yjs` so documents merge when Online, or document that they stay local")


@rule("ES005", "model-memory-fit", "error", "A model does not fit the site's nodes.")
def model_memory_fit(site: EdgeSite) -> Found:
    """Same model size as cloud: weights (size x quantization) + KV cache for `contextTokens` + the runtime's
    overhead, against `nodes.memory` (and `nodes.gpu.memory` for GPU entries). The finding names the
    largest quantization that would fit. Estimates are for current GQA decoder models (see sizing.py)."""
    node_mib = to_mib(site.spec.nodes.memory) if site.spec.nodes.memory else None
    gpu = site.spec.nodes.gpu
    gpu_mib = to_mib(gpu.memory) if gpu and gpu.memory else None
    for index, entry in enumerate(site.spec.inference):
        limit, where = (gpu_mib, "GPU memory") if entry.accelerator == "gpu" and gpu_mib else (node_mib, "node memory")
        if limit is None:
            continue
        for label, model, path in (("model", entry.model, f"spec.inference[{index}].model"),
                                   ("fallback", entry.fallback.model if entry.fallback else None, f"spec.inference[{index}].fallback.model")):
            if model is None:
                continue
            need = sizing.estimate(entry.runtime, model, entry.context_tokens).total
            if need <= limit:
                continue
            ladder = sizing.GGUF_BY_SIZE if entry.runtime == "llamacpp" else sizing.TENSOR_BY_SIZE
            fits = next((q for q in ladder if sizing.BITS_PER_WEIGHT[q] < sizing.BITS_PER_WEIGHT[model.quantization]
                         and sizing.estimate(entry.runtime, sizing.with_quantization(model, q), entry.context_tokens).total <= limit), None)
            fix = (f"use quantization {fits} (about {sizing.estimate(entry.runtime, sizing.with_quantization(model, fits), entry.context_tokens).total:.0f} MiB)"
                   if fits else "use a smaller (distilled) model, fewer contextTokens, or a node with more memory")
            yield (path, f"{entry.name} {label} needs about {need:.0f} MiB but the smallest node has {limit:.0f} MiB of {where}", fix)


@rule("ES006", "bridge-loses-data", "error", "The bridge loses messages on a partition.")
def bridge_loses_data(site: EdgeSite) -> Found:
    """Ignoring network partitions: QoS 0 topics are not queued while the uplink is down (an error when
    resilience is a driver), and saving the broker's store only every N changes loses up to N messages on a
    crash. Use QoS 1 and `autosaveChanges: 1`."""
    messaging = site.spec.messaging
    if messaging is None or messaging.bridge is None:
        return
    for index, topic in enumerate(messaging.bridge.topics):
        if topic.qos == 0:
            severity = "resilience is a driver, yet " if "resilience" in site.spec.drivers else ""
            yield (f"spec.messaging.bridge.topics[{index}].qos", f"{severity}{topic.pattern} is bridged with QoS 0: lost while the uplink is down",
                   "set `qos: 1` so the bridge queues it until the cloud is back")
    if messaging.broker.autosave_changes > 1:
        yield ("spec.messaging.broker.autosaveChanges", f"a broker crash loses up to {messaging.broker.autosave_changes} queued messages",
               "set `autosaveChanges: 1`")


@rule("ES007", "trust-boundary", "warning", "Data crosses a boundary without protection.")
def trust_boundary(site: EdgeSite) -> Found:
    """Pushing logic to the client / trust boundary: a bridge without TLS sends credentials and data in clear
    text over the uplink (an error when privacy is a driver); a broker exposed outside the cluster with a
    plain MQTT listener does the same on the site network; an http cache of a plain-http upstream."""
    messaging = site.spec.messaging
    if messaging and messaging.bridge and not messaging.bridge.tls:
        yield ("spec.messaging.bridge.tls", "the bridge to the cloud is not encrypted", "set `tls: true` (and `caSecret` for a private CA)")
    if messaging and messaging.broker.service_type != "ClusterIP":
        yield ("spec.messaging.broker.serviceType", f"the broker is exposed as {messaging.broker.service_type} with a plain MQTT listener",
               "keep it ClusterIP behind a TLS-terminating gateway, or restrict the network to the sensors' VLAN")
    for index, cache in enumerate(site.spec.caches):
        if cache.type == "http" and cache.upstream and cache.upstream.startswith("http://"):
            yield (f"spec.caches[{index}].upstream", f"cache {cache.name} fetches over plain http", "use an https upstream")


@rule("ES010", "hard-real-time", "error", "A latency budget below 1 ms is hard real time.")
def hard_real_time(site: EdgeSite) -> Found:
    """Hard real time (< 1 ms, deterministic) belongs on an RTOS or a PLC, not on K3s and not on a model
    server: no scheduler, network stack or garbage collector here gives that guarantee."""
    for kind, entries in (("inference", site.spec.inference), ("functions", site.spec.functions)):
        for index, entry in enumerate(entries):
            if entry.latency_budget_ms is not None and entry.latency_budget_ms < HARD_REAL_TIME_MS:
                yield (f"spec.{kind}[{index}].latencyBudgetMs", f"{entry.latency_budget_ms} ms is hard real time",
                       "run this loop on an RTOS or PLC next to the machine; keep K3s for what tolerates milliseconds")


@rule("ES011", "budget-below-uplink", "error", "A workload that needs the uplink cannot beat the round trip.")
def budget_below_uplink(site: EdgeSite) -> Found:
    """A function with `needsUplink: true` cannot answer faster than the uplink's round trip (`uplink.rttMs`)."""
    rtt = site.spec.uplink.rtt_ms
    if rtt is None:
        return
    for index, fn in enumerate(site.spec.functions):
        if fn.needs_uplink and fn.latency_budget_ms is not None and fn.latency_budget_ms < rtt:
            yield (f"spec.functions[{index}].latencyBudgetMs", f"{fn.name} needs the uplink ({rtt} ms round trip) but has {fn.latency_budget_ms} ms",
                   "serve it from the site (cache, local model) and set `needsUplink: false`, or raise the budget")


@rule("ES012", "budget-below-runtime", "warning", "A budget below what the runtime can do.")
def budget_below_runtime(site: EdgeSite) -> Found:
    """Each runtime has a floor on CPU: a few ms for a small ONNX/TFLite model, ~150 ms to the first token of
    a llama.cpp model. A budget below it will be missed."""
    for index, entry in enumerate(site.spec.inference):
        floor = RUNTIME_FLOOR_MS[entry.runtime]
        if entry.accelerator == "cpu" and entry.latency_budget_ms is not None and entry.latency_budget_ms < floor:
            yield (f"spec.inference[{index}].latencyBudgetMs", f"{entry.runtime} on CPU needs about {floor:.0f} ms; the budget is {entry.latency_budget_ms} ms",
                   "use a GPU, a smaller model, or a larger budget")


@rule("ES020", "raw-sensors-bridged", "warning", "Raw sensor topics cross a bandwidth-bound uplink.")
def raw_sensors_bridged(site: EdgeSite) -> Found:
    """With bandwidth as a driver, raw sensor topics (the inputs of aggregations) should not be bridged out:
    only summaries should cross the uplink."""
    messaging = site.spec.messaging
    if "bandwidth" not in site.spec.drivers or messaging is None or messaging.bridge is None:
        return
    for index, topic in enumerate(messaging.bridge.topics):
        if topic.direction == "in":
            continue
        for aggregation in messaging.aggregations:
            sample = aggregation.input.replace("+", "x").replace("#", "x")
            if topics.matches(topic.pattern, sample):
                yield (f"spec.messaging.bridge.topics[{index}].pattern", f"{topic.pattern} bridges raw readings of {aggregation.input} out",
                       f"bridge {aggregation.output} (the summary) instead")
                break


@rule("ES021", "offline-queue-coverage", "info", "How long the offline queue covers an outage.")
def offline_queue_coverage(site: EdgeSite) -> Found:
    """Store-and-forward sizing: the summaries the gateway publishes while Offline (one per
    `offlineWindowSeconds` per aggregation bridged out) against `offlineQueue.maxMessages` and `maxBytes`
    (at ~256 bytes a summary), as hours of outage covered. A warning under one hour."""
    messaging = site.spec.messaging
    if messaging is None or messaging.bridge is None:
        return
    bridged = [a for a in messaging.aggregations
               if any(t.direction != "in" and topics.matches(t.pattern, a.output) for t in messaging.bridge.topics)]
    per_hour = sum(3600 / a.offline_window_seconds for a in bridged)
    if not per_hour:
        return
    queue = messaging.bridge.offline_queue
    capacity = min(queue.max_messages, float(parse_quantity(queue.max_bytes)) / SUMMARY_BYTES)
    hours = capacity / per_hour
    fix = "no change needed" if hours >= 1 else "raise offlineQueue.maxMessages/maxBytes or widen offlineWindowSeconds"
    yield ("spec.messaging.bridge.offlineQueue", f"the queue covers about {hours:,.0f} hours of outage at {per_hour:,.0f} summaries/hour", fix)


@rule("ES030", "air-gap-image", "error", "An image that breaks air-gapped operation.")
def air_gap_image(site: EdgeSite) -> Found:
    """Air-gap hygiene: an image tagged `latest` (or untagged) changes under the site and cannot be pre-pulled
    reliably. With a registry mirror, images from other registries are not cached at the site."""
    mirror = next((c.upstream for c in site.spec.caches if c.type == "registry-mirror"), None)
    images = [(f"spec.functions[{i}].image", f.image) for i, f in enumerate(site.spec.functions)]
    images += [(f"spec.inference[{i}].image", e.image) for i, e in enumerate(site.spec.inference) if e.image]
    for path, image in images:
        name = image.rsplit("/", 1)[-1]
        if "@" not in image and (":" not in name or name.endswith(":latest")):
            yield (path, f"{image} is not pinned", "pin a version tag or a digest (name:1.4.2 or name@sha256:...)")
        elif mirror and image.split("/", 1)[0] != mirror and "." in image.split("/", 1)[0]:
            yield (path, f"{image} is not served by the site's registry mirror ({mirror})",
                   f"publish it under {mirror}, or pre-pull it (edgesite images) before the site goes offline")


@rule("ES031", "gpu-silently-on-cpu", "warning", "A GPU entry that would run on CPU.")
def gpu_silently_on_cpu(site: EdgeSite) -> Found:
    """A GPU workload that would silently run on CPU: TFLite has no CUDA server (OVMS targets Intel GPUs), so
    `accelerator: gpu` on an NVIDIA node runs on its CPU and reports Ready."""
    gpu = site.spec.nodes.gpu
    for index, entry in enumerate(site.spec.inference):
        if entry.accelerator == "gpu" and entry.runtime == "tflite" and gpu and gpu.resource.startswith("nvidia.com/"):
            yield (f"spec.inference[{index}].accelerator", f"{entry.name} asks for an NVIDIA GPU but {IMAGES['tflite-gpu'].ref} cannot use it",
                   "convert the model to ONNX (runtime onnxruntime runs on Triton with CUDA), or set accelerator: cpu")


@rule("ES040", "bridged-topic-without-publisher", "info", "A bridged-out topic that nothing at the site declares.")
def bridged_without_publisher(site: EdgeSite) -> Found:
    """Cross-component consistency: a topic bridged out that no aggregation publishes; fine when a workload
    publishes it, a typo otherwise."""
    messaging = site.spec.messaging
    if messaging is None or messaging.bridge is None:
        return
    for index, topic in enumerate(messaging.bridge.topics):
        if topic.direction != "in" and not any(topics.matches(topic.pattern, a.output) for a in messaging.aggregations):
            yield (f"spec.messaging.bridge.topics[{index}].pattern", f"no aggregation publishes to {topic.pattern}",
                   "check the pattern, or ignore when a workload publishes it")


@rule("ES041", "aggregation-not-bridged", "warning", "Summaries that never leave the site.")
def aggregation_not_bridged(site: EdgeSite) -> Found:
    """Cross-component consistency: an aggregation whose output no bridge topic carries out, on a site that
    has a bridge: the summaries are computed and never reach the cloud."""
    messaging = site.spec.messaging
    if messaging is None or messaging.bridge is None:
        return
    for index, aggregation in enumerate(messaging.aggregations):
        if not any(t.direction != "in" and topics.matches(t.pattern, aggregation.output) for t in messaging.bridge.topics):
            yield (f"spec.messaging.aggregations[{index}].output", f"{aggregation.output} is not bridged out",
                   f"add `- {{pattern: {aggregation.output}, direction: out, qos: 1}}` to bridge.topics")
