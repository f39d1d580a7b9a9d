"""The EdgeSite API (edgesite.io/v1alpha1) as pydantic models: the one source of truth.

The CRD schema (`crd`), the reference docs and the renderer's input all come from these classes.
camelCase on the wire, snake_case in Python; unknown fields are refused; every field has a description
and, where one is safe, a default. Cross-field rules live in `RULES` (see `rules`).
"""

from __future__ import annotations

import re

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from . import topics
from .quantities import QUANTITY_PATTERN
from .rules import Rule, unless

GROUP = "edgesite.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "EdgeSite"

SITE_NAME_MAX = 30
COMPONENT_NAME_MAX = 22
NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

GGUF_QUANTIZATIONS = ("f32", "f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q4_k_m", "q4_k_s",
                      "q4_0", "q3_k_m", "q3_k_s", "q2_k", "iq4_xs", "iq3_xxs", "iq2_xxs")
TENSOR_QUANTIZATIONS = ("fp32", "fp16", "bf16", "int8", "uint8", "int4")


class Spec(BaseModel):
    """Base of every API object: camelCase aliases, unknown fields refused, values validated on assignment."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              frozen=True, use_enum_values=True)
    RULES: ClassVar[tuple[Rule, ...]] = ()


_LIST_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}
# An object whose fields all have defaults defaults to `{}` in the CRD, and the server fills in the rest.
_OBJECT_DEFAULT: dict[str, Any] = {"default": {}}


def _list_map(key: str = "name") -> dict[str, Any]:
    """Schema extras for a list of named objects: unique keys, merged by key under server-side apply."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key]}


Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN)]
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=COMPONENT_NAME_MAX)]


def _valid_filter(pattern: str) -> str:
    problem = topics.filter_problem(pattern)
    if problem:
        raise ValueError(problem)
    return pattern


def _valid_topic_name(topic: str) -> str:
    problem = topics.name_problem(topic)
    if problem:
        raise ValueError(problem)
    return topic


TOPIC_FILTER_CEL = r"^(#|(\+|[^+#/]*)(/(\+|[^+#/]*))*(/#)?)$"
TopicFilter = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_valid_filter)]
TopicName = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_valid_topic_name)]


Driver = Literal["latency", "bandwidth", "privacy", "resilience", "cost"]
Priority = Literal["critical", "standard", "best-effort"]


# ---------------------------------------------------------------------------------------------- nodes


class GpuNodes(Spec):
    """How the site's GPU nodes are requested."""

    resource: str = Field("nvidia.com/gpu", description="Extended resource that a GPU pod requests, one unit per replica.",
                          pattern=r"^[a-z0-9.-]+/[a-z0-9.-]+$")
    runtime_class_name: str | None = Field("nvidia", description="RuntimeClass of GPU pods; empty for none.")
    memory: Quantity | None = Field(None, description="Memory of one GPU, for model fit checks (e.g. `16Gi`).")
    selector: dict[str, str] = Field(default_factory=dict,
                                     description="Extra node labels that GPU pods require, on top of `nodes.selector`.")


class Toleration(Spec):
    """A taint that the site's pods tolerate (edge nodes are often tainted)."""

    key: str = Field(description="Taint key.")
    operator: Literal["Exists", "Equal"] = Field("Exists", description="`Exists` or `Equal`.")
    value: str | None = Field(None, description="Taint value, with `Equal`.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(None, description="Taint effect; empty matches all.")


class Nodes(Spec):
    """Which nodes belong to the site and what they offer."""

    selector: dict[str, str] = Field(default_factory=dict,
                                     description="Node labels of the site's nodes, applied to every pod as required node affinity.")
    memory: Quantity | None = Field(None, description="Allocatable memory of the smallest site node, for model fit checks.")
    cpu: Quantity | None = Field(None, description="Allocatable CPU of the smallest site node, for fit checks.")
    gpu: GpuNodes | None = Field(None, description="How GPUs are requested; required when an inference entry asks for `accelerator: gpu`.")
    tolerations: list[Toleration] = Field(default_factory=list, max_length=16, description="Taints of the site's nodes that every pod tolerates.")


# --------------------------------------------------------------------------------------------- uplink


class Probe(Spec):
    """The uplink probe: an HTTP GET whose success means the cloud is reachable."""

    url: str = Field(description="URL probed with GET; any 2xx/3xx answer is a success.", pattern=r"^https?://\S+$")
    period_seconds: int = Field(10, ge=1, le=3600, description="Seconds between probes.")
    timeout_seconds: int = Field(5, ge=1, le=300, description="Seconds before one probe counts as failed.")
    failure_threshold: int = Field(3, ge=1, le=100, description="Consecutive failures before the site goes Offline.")
    success_threshold: int = Field(2, ge=1, le=100, description="Consecutive successes before the site is Online again.")

    RULES = (Rule(cel="self.timeoutSeconds <= self.periodSeconds",
                  message="timeoutSeconds must not exceed periodSeconds", expected="at most periodSeconds",
                  field_path=".timeoutSeconds",
                  violations=unless(lambda p: p.timeout_seconds <= p.period_seconds, "timeoutSeconds",
                                    lambda p: p.timeout_seconds)),)


class Uplink(Spec):
    """The site's link to the cloud."""

    probe: Probe | None = Field(None, description="Probe that tells Online from Offline; without one the uplink is Unknown.")
    rtt_ms: float | None = Field(None, gt=0, description="Typical round trip to the cloud in milliseconds, for latency budgets.")
    bandwidth_mbps: float | None = Field(None, gt=0, description="Uplink bandwidth in Mbit/s, for bandwidth budgets.")


# ------------------------------------------------------------------------------------------ inference


class ModelRef(Spec):
    """A model file and what the tool needs to know about it."""

    uri: str = Field(description="Where the model is fetched from (http or https URL).", pattern=r"^https?://\S+$", max_length=2048)
    size_mib: float = Field(alias="sizeMiB", gt=0, description="Size of the model file in MiB.")
    quantization: Literal[GGUF_QUANTIZATIONS + TENSOR_QUANTIZATIONS] = Field(  # type: ignore[valid-type]
        description="Weight format: fp32/fp16/bf16/int8/uint8/int4 for ONNX and TFLite, GGUF types (q4_k_m, q8_0, ...) for llama.cpp.")
    sha256: str | None = Field(None, pattern=r"^[a-f0-9]{64}$", description="Expected SHA-256 of the file; checked after download.")


class Resources(Spec):
    """Requests for one replica; limits are derived (memory limit = request)."""

    cpu: Quantity | None = Field(None, description="CPU request, e.g. `2` or `500m`.")
    memory: Quantity | None = Field(None, description="Memory request and limit, e.g. `2Gi`.")


class Fallback(Spec):
    """The smaller model used when the primary keeps failing."""

    model: ModelRef = Field(description="The fallback model; must be smaller than the primary.")
    resources: Resources | None = Field(None, description="Resources of the fallback; derived from its model when not given.")


def _quantization_fits(runtime: str, quantization: str) -> bool:
    return (quantization in GGUF_QUANTIZATIONS) == (runtime == "llamacpp")


def _cel_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


class Inference(Spec):
    """One model served over HTTP by a Deployment."""

    name: Name = Field(description="Name of the entry; children are named `<site>-<name>`.")
    runtime: Literal["onnxruntime", "llamacpp", "tflite"] = Field(description="Serving runtime: `onnxruntime`, `llamacpp` (GGUF) or `tflite`.")
    model: ModelRef = Field(description="The primary model.")
    replicas: int = Field(1, ge=0, le=64, description="Pods serving this model.")
    accelerator: Literal["cpu", "gpu"] = Field("cpu", description="`gpu` requests `nodes.gpu.resource`; `cpu` runs anywhere.")
    on_gpu_loss: Literal["cpu", "stop"] = Field("cpu", description="With no Ready GPU node: run the CPU variant (`cpu`) or stop (`stop`).")
    latency_budget_ms: float | None = Field(None, gt=0, description="Latency budget of one request in milliseconds (fractions allowed).")
    priority: Priority = Field("standard", description="`critical`, `standard` or `best-effort`; decides what is shed first.")
    resources: Resources | None = Field(None, description="Requests per replica; derived from the model when not given.")
    context_tokens: int | None = Field(None, ge=128, le=1048576, description="Context window for llama.cpp (tokens); sizes the KV cache.")
    fallback: Fallback | None = Field(None, description="Smaller model to switch to after repeated failures.")
    image: str | None = Field(None, description="Image override; the default depends on runtime and accelerator.")

    RULES = (
        Rule(cel="!has(self.contextTokens) || self.runtime == 'llamacpp'",
             message="contextTokens applies to runtime llamacpp only", expected="no contextTokens, or runtime llamacpp",
             field_path=".contextTokens",
             violations=unless(lambda i: i.context_tokens is None or i.runtime == "llamacpp", "contextTokens",
                               lambda i: i.context_tokens)),
        Rule(cel=f"(self.model.quantization in {_cel_list(GGUF_QUANTIZATIONS)}) == (self.runtime == 'llamacpp')",
             message="model.quantization must be a GGUF type for llamacpp and a tensor type (fp32, fp16, int8, ...) otherwise",
             expected="a GGUF type (q4_k_m, q8_0, ...) for llamacpp; fp32/fp16/bf16/int8/uint8/int4 otherwise",
             field_path=".model.quantization",
             violations=unless(lambda i: _quantization_fits(i.runtime, i.model.quantization), "model.quantization",
                               lambda i: i.model.quantization)),
        Rule(cel=f"!has(self.fallback) || (self.fallback.model.quantization in {_cel_list(GGUF_QUANTIZATIONS)}) == (self.runtime == 'llamacpp')",
             message="fallback.model.quantization must suit the runtime, as model.quantization does",
             expected="a GGUF type (q4_k_m, q8_0, ...) for llamacpp; fp32/fp16/bf16/int8/uint8/int4 otherwise",
             field_path=".fallback.model.quantization",
             violations=unless(lambda i: i.fallback is None or _quantization_fits(i.runtime, i.fallback.model.quantization),
                               "fallback.model.quantization", lambda i: i.fallback.model.quantization)),
        Rule(cel="!has(self.fallback) || self.fallback.model.sizeMiB < self.model.sizeMiB",
             message="the fallback model must be smaller than the primary model",
             expected="fallback.model.sizeMiB below model.sizeMiB",
             field_path=".fallback.model.sizeMiB",
             violations=unless(lambda i: i.fallback is None or i.fallback.model.size_mib < i.model.size_mib,
                               "fallback.model.sizeMiB", lambda i: i.fallback.model.size_mib)),
    )


class Function(Spec):
    """A portable Wasm workload run by a K3s runtime class."""

    name: Name = Field(description="Name of the function; children are named `<site>-<name>`.")
    runtime: Literal["wasmedge", "spin"] = Field(description="K3s runtime class that runs the Wasm module: `wasmedge` or `spin`.")
    image: str = Field(description="OCI image holding the Wasm module, with a pinned tag or digest.", min_length=1)
    replicas: int = Field(1, ge=0, le=64, description="Instances of the function.")
    needs_uplink: bool = Field(False, description="When true the function stops while the site is Offline.")
    latency_budget_ms: float | None = Field(None, gt=0, description="Latency budget of one call in milliseconds (fractions allowed).")
    priority: Priority = Field("standard", description="`critical`, `standard` or `best-effort`.")
    port: int = Field(8080, ge=1, le=65535, description="Port the function serves HTTP on.")
    resources: Resources | None = Field(None, description="Requests per instance (default 100m CPU, 64Mi).")


# ------------------------------------------------------------------------------------------ messaging


class Broker(Spec):
    """The site's MQTT broker."""

    engine: Literal["mosquitto"] = Field("mosquitto", description="Broker implementation; `mosquitto`.")
    storage: Quantity = Field("1Gi", description="Persistent volume for the broker's message store.")
    users_secret: str | None = Field(None, description="Secret with a Mosquitto `password_file` key (mosquitto_passwd format); default `<site>-mqtt-users`.",
                                     pattern=NAME_PATTERN)
    autosave_changes: int = Field(1, ge=1, le=100000,
                                  description="Save the message store after this many changes; with 1 a crash (kill -9) loses at most the messages of the broker's last loop iteration.")
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        "ClusterIP", description="How sensors outside the cluster reach the broker: `ClusterIP`, `NodePort` or `LoadBalancer` (K3s ServiceLB).")
    node_port: int | None = Field(None, ge=30000, le=32767,
                                  description="With serviceType NodePort: the port sensors use on every node (e.g. 31883); default: assigned.")
    image: str | None = Field(None, description="Image override for the broker.")


class BridgeTopic(Spec):
    """One topic pattern carried over the bridge."""

    pattern: TopicFilter = Field(description="MQTT topic filter; `+` and `#` allowed as whole levels.")
    direction: Literal["out", "in", "both"] = Field("out", description="`out` to the cloud, `in` from the cloud, or `both`.")
    qos: Literal[0, 1, 2] = Field(1, description="QoS on the bridge; 0 loses messages while the uplink is down.")

    RULES = (Rule(cel=f"self.pattern.matches(r'{TOPIC_FILTER_CEL}')", message="pattern must be an MQTT topic filter with + and # as whole levels, # last",
                  expected="a topic filter such as plant/summary/#", field_path=".pattern",
                  violations=lambda t: ()),)


class OfflineQueue(Spec):
    """How much the bridge keeps while the uplink is down."""

    max_messages: int = Field(100000, ge=1, le=100000000, description="Messages queued for the cloud at most (Mosquitto `max_queued_messages`).")
    max_bytes: Quantity = Field("256Mi", description="Bytes queued for the cloud at most (Mosquitto `max_queued_bytes`).")


class Bridge(Spec):
    """The bridge from the site broker to the cloud broker, with store-and-forward."""

    address: str = Field(description="Cloud broker as `host:port`.", pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}$")
    tls: bool = Field(True, description="Use TLS to the cloud broker (system CA bundle unless `caSecret` is given).")
    ca_secret: str | None = Field(None, pattern=NAME_PATTERN, description="Secret with a `ca.crt` key to verify the cloud broker.")
    credentials_secret: str | None = Field(None, pattern=NAME_PATTERN,
                                           description="Secret with `username` and `password` keys for the cloud broker.")
    client_id: str | None = Field(None, description="Client id at the cloud broker; default `edgesite-<namespace>-<site>`.")
    topics: list[BridgeTopic] = Field(min_length=1, max_length=64, description="Topics carried over the bridge.")
    offline_queue: OfflineQueue = Field(default_factory=OfflineQueue, json_schema_extra=_OBJECT_DEFAULT, description="Bounded store-and-forward queue.")
    reconnect_base_seconds: int = Field(5, ge=1, le=600, description="First reconnect delay after the uplink drops.")
    reconnect_max_seconds: int = Field(60, ge=1, le=3600, description="Longest reconnect delay (jittered back-off).")

    RULES = (Rule(cel="self.reconnectBaseSeconds <= self.reconnectMaxSeconds",
                  message="reconnectBaseSeconds must not exceed reconnectMaxSeconds", expected="at most reconnectMaxSeconds",
                  field_path=".reconnectBaseSeconds",
                  violations=unless(lambda b: b.reconnect_base_seconds <= b.reconnect_max_seconds, "reconnectBaseSeconds",
                                    lambda b: b.reconnect_base_seconds)),)


AggregateFunction = Literal["mean", "min", "max", "sum", "count", "last"]


class Aggregation(Spec):
    """Raw sensor topics turned into summaries by the gateway."""

    input: TopicFilter = Field(description="Topic filter of the raw readings (numbers, or JSON with a `value`).")
    output: TopicName = Field(description="Topic the summaries are published to; no wildcards.")
    window_seconds: int = Field(60, ge=1, le=86400, description="Window while Online.")
    offline_window_seconds: int = Field(300, ge=1, le=86400, description="Wider window while the bridge is down, so the queue lasts longer.")
    functions: list[AggregateFunction] = Field(default_factory=lambda: ["mean", "min", "max", "count"], min_length=1, max_length=6,
                                               json_schema_extra={**_LIST_SET, "default": ["mean", "min", "max", "count"]},
                                               description="Functions computed per window: mean, min, max, sum, count, last.")
    qos: Literal[0, 1, 2] = Field(1, description="QoS of the published summaries.")

    RULES = (
        Rule(cel="self.offlineWindowSeconds >= self.windowSeconds",
             message="offlineWindowSeconds must be at least windowSeconds", expected="at least windowSeconds",
             field_path=".offlineWindowSeconds",
             violations=unless(lambda a: a.offline_window_seconds >= a.window_seconds, "offlineWindowSeconds",
                               lambda a: a.offline_window_seconds)),
        Rule(cel="!self.output.contains('+') && !self.output.contains('#') && !self.output.startsWith('$')",
             message="output is published to, so it must not contain + or # nor start with $",
             expected="a concrete topic such as plant/summary/temperature", field_path=".output",
             violations=lambda a: ()),
        Rule(cel=f"self.input.matches(r'{TOPIC_FILTER_CEL}')", message="input must be an MQTT topic filter with + and # as whole levels, # last",
             expected="a topic filter such as sensors/+/temperature", field_path=".input", violations=lambda a: ()),
    )


class Gateway(Spec):
    """The aggregation gateway (`edgesite gateway`)."""

    replicas: Literal[1] = Field(1, description="Always 1: windows are computed in one place.")
    image: str | None = Field(None, description="Image override for the gateway (the edgesite image).")
    resources: Resources | None = Field(None, description="Requests (default 50m CPU, 64Mi).")


class Messaging(Spec):
    """MQTT at the site: a broker, a bridge to the cloud, aggregations."""

    broker: Broker = Field(default_factory=Broker, json_schema_extra=_OBJECT_DEFAULT, description="The site broker.")
    bridge: Bridge | None = Field(None, description="Bridge to the cloud broker; none keeps all messages at the site.")
    aggregations: list[Aggregation] = Field(default_factory=list, max_length=128, description="Summaries computed by the gateway.")
    gateway: Gateway = Field(default_factory=Gateway, json_schema_extra=_OBJECT_DEFAULT, description="The gateway that computes the aggregations.")


# ---------------------------------------------------------------------------------------- caches, sync


class Cache(Spec):
    """A local cache: HTTP read-through, model artifacts, or a registry mirror."""

    name: Name = Field(description="Name of the cache; children are named `<site>-<name>`.")
    type: Literal["http", "artifacts", "registry-mirror"] = Field(description="`http`, `artifacts` or `registry-mirror`.")
    upstream: str | None = Field(None, description="Origin: a URL for `http`, a registry host for `registry-mirror`; none for `artifacts`.",
                                 min_length=1, max_length=512)
    size: Quantity = Field("1Gi", description="Size of the cache volume.")
    node_port: int = Field(30500, ge=30000, le=32767,
                           description="`registry-mirror`: NodePort the nodes' containerd reaches the mirror on (127.0.0.1:<nodePort>); unique per cluster.")
    ttl_seconds: int = Field(60, ge=0, le=31536000, description="`http`: how long an answer is fresh.")
    stale_if_error_seconds: int = Field(86400, ge=0, le=31536000,
                                        description="`http`: how long a stale answer is served while the upstream fails.")
    image: str | None = Field(None, description="Image override.")

    RULES = (
        Rule(cel="self.type == 'artifacts' ? !has(self.upstream) : has(self.upstream)",
             message="http and registry-mirror caches need an upstream; artifacts caches take none",
             expected="an upstream for http and registry-mirror, none for artifacts", field_path=".upstream",
             violations=unless(lambda c: (c.type == "artifacts") == (c.upstream is None), "upstream", lambda c: c.upstream)),
        Rule(cel="self.type != 'http' || !has(self.upstream) || self.upstream.matches('^https?://[^/]+')",
             message="an http cache's upstream must be an http(s) URL", expected="a URL such as https://api.example.com",
             field_path=".upstream",
             violations=unless(lambda c: c.type != "http" or c.upstream is None
                               or c.upstream.startswith(("http://", "https://")) and len(c.upstream.split("/")) > 2
                               and bool(c.upstream.split("/")[2]), "upstream", lambda c: c.upstream)),
        Rule(cel="self.type != 'registry-mirror' || !has(self.upstream) || self.upstream.matches('^[A-Za-z0-9.-]+(:[0-9]+)?$')",
             message="a registry-mirror's upstream must be a registry host such as registry.example.com",
             expected="a host[:port] without scheme", field_path=".upstream",
             violations=unless(lambda c: c.type != "registry-mirror" or c.upstream is None
                               or _is_host(c.upstream), "upstream", lambda c: c.upstream)),
    )


def _is_host(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]+)?", text))


class Sync(Spec):
    """An offline-first CRDT sync server that merges when reconnected."""

    name: Name = Field(description="Name of the sync server; children are named `<site>-<name>`.")
    engine: Literal["y-websocket"] = Field("y-websocket", description="Protocol; `y-websocket` (Yjs).")
    storage: Quantity = Field("1Gi", description="Persistent volume for the documents.")
    upstream: str | None = Field(None, pattern=r"^wss?://\S+$", description="Cloud y-websocket server to merge with when Online.")
    image: str | None = Field(None, description="Image override (the edgesite image).")


class Degradation(Spec):
    """Policy knobs; the defaults are safe for a site that gives none."""

    shed_order: list[Priority] = Field(default_factory=lambda: ["best-effort", "standard"], max_length=3,
                                       json_schema_extra={**_LIST_SET, "default": ["best-effort", "standard"]},
                                       description="Priorities stopped first when capacity is short; `critical` never stops.")
    model_fallback_after_restarts: int = Field(3, ge=1, le=1000, description="Restarts of an inference pod before its fallback model is used.")
    primary_retry_seconds: int = Field(1800, ge=60, le=604800, description="Seconds on the fallback before the primary is tried again.")

    RULES = (Rule(cel="!has(self.shedOrder) || !self.shedOrder.exists(p, p == 'critical')", message="critical workloads are never shed; remove critical from shedOrder",
                  expected="best-effort and/or standard", field_path=".shedOrder",
                  violations=lambda d: (("shedOrder", "critical"),) if "critical" in d.shed_order else ()),)


# ------------------------------------------------------------------------------------------ the site


def _gpu_entries(spec: EdgeSiteSpec) -> Any:
    if spec.nodes.gpu is None:
        for index, entry in enumerate(spec.inference):
            if entry.accelerator == "gpu":
                yield f"inference[{index}].accelerator", "gpu"


def _singletons(kind: str) -> Any:
    def check(spec: EdgeSiteSpec) -> Any:
        seen = [index for index, cache in enumerate(spec.caches) if cache.type == kind]
        for index in seen[1:]:
            yield f"caches[{index}].type", kind
    return check


RESERVED_NAMES = ("mqtt", "gateway", "workload", "mqtt-users")
_COMPONENT_LISTS = ("inference", "functions", "caches", "sync")


def _component_names(spec: EdgeSiteSpec) -> Any:
    """Children are named `<site>-<component>`, so component names are unique across all lists."""
    seen: set[str] = set()
    for key in _COMPONENT_LISTS:
        for index, entry in enumerate(getattr(spec, key)):
            if entry.name in seen or entry.name in RESERVED_NAMES:
                yield f"{key}[{index}].name", entry.name
            seen.add(entry.name)


_ALL_NAMES_CEL = " + ".join(f"(has(self.{key}) ? self.{key}.map(x, x.name) : [])" for key in _COMPONENT_LISTS)


class EdgeSiteSpec(Spec):
    """A near-edge site: why it is at the edge, its nodes, uplink and workloads."""

    tier: Literal["near-edge", "mec"] = Field("near-edge", description="`near-edge` (on-prem K3s) or `mec` (5G base-station rack).")
    drivers: list[Driver] = Field(default_factory=list, max_length=5, json_schema_extra=_LIST_SET,
                                  description="Why the site is at the edge: latency, bandwidth, privacy, resilience, cost. Empty means run it in the cloud.")
    nodes: Nodes = Field(default_factory=Nodes, json_schema_extra=_OBJECT_DEFAULT, description="The site's nodes.")
    uplink: Uplink = Field(default_factory=Uplink, json_schema_extra=_OBJECT_DEFAULT, description="The link to the cloud.")
    inference: list[Inference] = Field(default_factory=list, max_length=32, json_schema_extra=_list_map(), description="AI models served at the site.")
    functions: list[Function] = Field(default_factory=list, max_length=32, json_schema_extra=_list_map(), description="Wasm functions.")
    messaging: Messaging | None = Field(None, description="MQTT broker, bridge and aggregations.")
    caches: list[Cache] = Field(default_factory=list, max_length=16, json_schema_extra=_list_map(), description="Local caches.")
    sync: list[Sync] = Field(default_factory=list, max_length=16, json_schema_extra=_list_map(), description="CRDT sync servers.")
    degradation: Degradation = Field(default_factory=Degradation, json_schema_extra=_OBJECT_DEFAULT, description="Degradation policy.")

    RULES = (
        Rule(cel="!has(self.inference) || !self.inference.exists(i, has(i.accelerator) && i.accelerator == 'gpu') || (has(self.nodes) && has(self.nodes.gpu))",
             message="inference with accelerator gpu needs nodes.gpu", expected="nodes.gpu set, or accelerator cpu",
             violations=_gpu_entries),
        Rule(cel=f"({_ALL_NAMES_CEL}).all(n, ({_ALL_NAMES_CEL}).filter(m, m == n).size() == 1 && !(n in {_cel_list(RESERVED_NAMES)}))",
             message="component names must be unique across inference, functions, caches and sync, and not mqtt, gateway, workload or mqtt-users",
             expected="a name no other component uses", violations=_component_names),
        Rule(cel="!has(self.caches) || self.caches.filter(c, c.type == 'artifacts').size() <= 1",
             message="a site has at most one artifacts cache", expected="one artifacts cache", violations=_singletons("artifacts")),
        Rule(cel="!has(self.caches) || self.caches.filter(c, c.type == 'registry-mirror').size() <= 1",
             message="a site has at most one registry-mirror cache", expected="one registry-mirror cache",
             violations=_singletons("registry-mirror")),
    )


class Metadata(BaseModel):
    """The parts of ObjectMeta the tool reads; the rest is kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, min_length=1, max_length=SITE_NAME_MAX,
                      description="Site name, a DNS label; prefixes every child's name.")
    namespace: str | None = Field(None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class EdgeSite(BaseModel):
    """An EdgeSite document."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["edgesite.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["EdgeSite"]
    metadata: Metadata
    spec: EdgeSiteSpec
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or "default"


# ------------------------------------------------------------------------------------------- status


class Condition(Spec):
    """One observation about the site, Kubernetes-style."""

    type: str = Field(description="`Ready`, `Degraded`, `UplinkAvailable`, ...")
    status: Literal["True", "False", "Unknown"] = Field(description="`True`, `False` or `Unknown`.")
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", description="One CamelCase word.")
    message: str = Field("", description="A sentence for people.")
    observed_generation: int | None = Field(None, ge=0, description="Spec generation this condition describes.")
    last_transition_time: str = Field(description="When status last changed (RFC 3339).")


class ComponentStatus(Spec):
    """What one component is doing now."""

    name: str = Field(description="Component name (`<kind>/<name>`).")
    desired: int = Field(0, ge=0, description="Replicas wanted now.")
    ready: int = Field(0, ge=0, description="Replicas ready.")
    state: Literal["running", "stopped", "cpu", "fallback", "pending"] = Field(description="running, stopped, cpu, fallback or pending.")
    reason: str | None = Field(None, description="Why it is in this state.")
    since: str | None = Field(None, description="When it entered this state (RFC 3339).")


class EdgeSiteStatus(Spec):
    """What the operator observed; never written by users."""

    mode: Literal["Online", "Degraded", "Offline"] | None = Field(None, description="Online, Degraded or Offline.")
    observed_generation: int | None = Field(None, ge=0, description="Spec generation last reconciled.")
    ready: str | None = Field(None, description="Ready components over desired, e.g. `5/7`.")
    conditions: list[Condition] = Field(default_factory=list, max_length=16, json_schema_extra=_list_map("type"), description="Ready, Degraded, UplinkAvailable, ...")
    components: list[ComponentStatus] = Field(default_factory=list, max_length=256, json_schema_extra=_list_map(), description="Per component state.")
    lint_findings: int | None = Field(None, ge=0, description="Findings of `edgesite lint` on the current spec.")
