"""EdgeSite in, K3s manifests out: a pure function shared by the CLI and the operator.

Python decides every value (names, labels, resources, images, scripts); the jinja2 templates in
`templates/` only lay them out, one resource per template, and their YAML is parsed back at once so a
broken template fails a test rather than a cluster.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import yaml

from . import sizing
from .images import IMAGES, Image
from .model import EdgeSite, Function, Inference, Resources
from .plan import Plan
from .quantities import canonical_quantity, cpu_quantity, memory_quantity, parse_quantity, to_mib

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

MANAGED_BY = "edgesite"
SITE_LABEL = "edgesite.io/site"
PRIORITY_CLASSES = {"critical": "edgesite-critical", "standard": "edgesite-standard", "best-effort": "edgesite-best-effort"}
KIND_ORDER = ("CustomResourceDefinition", "Namespace", "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim",
              "Service", "Deployment", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy")
MQTT_PORT = 1883
MODELS_DIR = "/models"
NGINX_RESOLVER = "${NGINX_LOCAL_RESOLVERS}"
DEFAULT_CPU = {"onnxruntime": 1.0, "tflite": 0.5, "llamacpp": 2.0}
MODEL_EXTENSIONS = {"llamacpp": "gguf", "onnxruntime": "onnx", "tflite": "tflite"}


def templates_dir() -> Path:
    """Templates ship inside the wheel as edgesite/templates; in a checkout they are the top-level templates/."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
                              auto_reload=False)


def render_text(template: str, **context: Any) -> str:
    """One template rendered to text (configuration files)."""
    return environment().get_template(template).render(**context)


def render_object(template: str, o: Any) -> dict[str, Any]:
    """One resource template rendered and parsed back into a dict."""
    text = render_text(template, o=o)
    try:
        # Flow-style templates are JSON, which is YAML that json parses several times faster.
        obj = json.loads(text) if text.startswith("{") else yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, ValueError) as error:  # a template bug, never user input
        raise RuntimeError(f"template {template} produced invalid YAML: {error}\n{text}") from error
    return obj


# --------------------------------------------------------------------------------------------- pieces


@dataclass(frozen=True)
class Obj:
    """Context of one resource: name, namespace, labels and whatever its template needs."""

    name: str
    namespace: str
    labels: dict[str, str]
    selector: dict[str, str]
    extra: dict[str, Any]

    def __getattr__(self, item: str) -> Any:
        try:
            return self.extra[item]
        except KeyError:
            raise AttributeError(item) from None


def child_name(site: EdgeSite, component: str) -> str:
    return f"{site.name}-{component}"


def labels_for(site: EdgeSite, component: str, program: str, instance: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": program,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "edgesite",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        SITE_LABEL: site.name,
    }


def site_labels(site: EdgeSite) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "edgesite", "app.kubernetes.io/managed-by": MANAGED_BY, SITE_LABEL: site.name}


def obj(site: EdgeSite, name: str, component: str, program: str, instance: str | None = None, **extra: Any) -> Obj:
    instance = instance or name
    return Obj(name=name, namespace=site.namespace, labels=labels_for(site, component, program, instance),
               selector={"app.kubernetes.io/instance": instance, SITE_LABEL: site.name}, extra=extra)


def pod(site: EdgeSite, *, user: int, priority: str | None = None, runtime_class: str | None = None,
        gpu: bool = False) -> dict[str, Any]:
    """The pod-level settings every workload shares: Pod Security restricted, node affinity, tolerations."""
    node_labels = dict(site.spec.nodes.selector)
    tolerations = [t.model_dump(by_alias=True, exclude_none=True) for t in site.spec.nodes.tolerations]
    if gpu and site.spec.nodes.gpu:
        node_labels.update(site.spec.nodes.gpu.selector)
        tolerations.append({"key": site.spec.nodes.gpu.resource, "operator": "Exists", "effect": "NoSchedule"})
    return {"service_account": child_name(site, "workload"), "user": user, "node_labels": node_labels,
            "tolerations": tolerations, "priority_class": PRIORITY_CLASSES[priority] if priority else None,
            "runtime_class": runtime_class}


def resources(cpu: float | str, memory_mib: float | str, gpu_resource: str | None = None) -> dict[str, Any]:
    """Requests, with memory limit = request and CPU limit = twice the request."""
    cores = float(parse_quantity(cpu)) if isinstance(cpu, str) else cpu
    memory = canonical_quantity(memory_mib) if isinstance(memory_mib, str) else memory_quantity(memory_mib)
    return {"cpu": cpu_quantity(cores), "cpu_limit": cpu_quantity(cores * 2), "memory": memory, "gpu_resource": gpu_resource}


def given_resources(given: Resources | None, cpu: float, memory_mib: float) -> dict[str, Any]:
    return resources(given.cpu if given and given.cpu else cpu, given.memory if given and given.memory else memory_mib)


def config_hash(*texts: str) -> str:
    """Pods carry a hash of their configuration so that a change rolls them."""
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]


def pick_image(key: str, override: str | None) -> tuple[str, Image]:
    entry = IMAGES[key]
    return override or entry.ref, entry


# ------------------------------------------------------------------------------------ site-wide pieces


def service_account(site: EdgeSite) -> dict[str, Any]:
    o = Obj(child_name(site, "workload"), site.namespace, site_labels(site), {}, {})
    return render_object("serviceaccount.yaml.j2", o)


def network_policy(site: EdgeSite, name: str, selector: dict[str, str], ingress: list[dict[str, Any]],
                   egress: list[dict[str, Any]]) -> dict[str, Any]:
    o = Obj(name, site.namespace, site_labels(site), selector, {"ingress": ingress, "egress": egress})
    return render_object("networkpolicy.yaml.j2", o)


def tcp(*ports: int | str) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


ANYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
SAME_NAMESPACE: list[dict[str, Any]] = [{"podSelector": {}}]


def site_policies(site: EdgeSite) -> list[dict[str, Any]]:
    """Default deny for every site pod, plus DNS."""
    everyone = {SITE_LABEL: site.name}
    dns = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    return [
        network_policy(site, child_name(site, "default-deny"), everyone, [], []),
        network_policy(site, child_name(site, "allow-dns"), everyone, [],
                       [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}], "peers": dns}]),
    ]


def url_port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme in ("https", "wss") else 80)


def pdb(o: Obj) -> dict[str, Any]:
    return render_object("poddisruptionbudget.yaml.j2", o)


def service(o: Obj, ports: list[dict[str, Any]], type_: str = "ClusterIP") -> dict[str, Any]:
    return render_object("service.yaml.j2", Obj(o.name, o.namespace, o.labels, o.selector, {"ports": ports, "type": type_}))


def config_map(o: Obj, name: str, data: dict[str, str]) -> dict[str, Any]:
    return render_object("configmap.yaml.j2", Obj(name, o.namespace, o.labels, o.selector, {"data": data}))


def claim(o: Obj, name: str, size: str, access_mode: str = "ReadWriteOnce") -> dict[str, Any]:
    extra = {"size": canonical_quantity(size), "access_mode": access_mode, "storage_class": None}
    return render_object("persistentvolumeclaim.yaml.j2", Obj(name, o.namespace, o.labels, o.selector, extra))


# ------------------------------------------------------------------------------------------ inference


def model_path(entry: Inference, uri: str) -> str:
    """Where a model file lives in the models volume; a new URI gets a new directory."""
    digest = hashlib.sha256(uri.encode()).hexdigest()[:12]
    return f"{MODELS_DIR}/{entry.name}/{digest}/{entry.name}/1/model.{MODEL_EXTENSIONS[entry.runtime]}"


def fetch_script(path: str, uri: str, sha256: str | None) -> str:
    """Download once: skipped when the file is already in the artifacts cache; verified when a digest is given."""
    check = f'echo "{sha256}  $tmp" | sha256sum -c -\n' if sha256 else ""
    return (f'set -eu\ndest="{path}"\nif [ -s "$dest" ]; then echo "model present: $dest"; exit 0; fi\n'
            f'mkdir -p "$(dirname "$dest")"\ntmp="$dest.part.$HOSTNAME"\n'
            f'curl -fsSL --retry 5 --retry-delay 5 --retry-all-errors -o "$tmp" "{uri}"\n{check}mv "$tmp" "$dest"\n')


def inference_objects(site: EdgeSite, entry: Inference, plan: Plan, artifacts_claim: str | None) -> list[dict[str, Any]]:
    name = child_name(site, entry.name)
    fallback = entry.name in plan.on_fallback and entry.fallback is not None
    gpu = entry.accelerator == "gpu" and entry.name not in plan.on_cpu and site.spec.nodes.gpu is not None
    stopped = entry.name in plan.stopped
    model = entry.fallback.model if fallback and entry.fallback else entry.model
    given = entry.fallback.resources if fallback and entry.fallback and entry.fallback.resources else entry.resources
    memory = sizing.inference_memory_mib(entry, fallback=fallback)
    gpu_resource = site.spec.nodes.gpu.resource if gpu and site.spec.nodes.gpu else None
    res = given_resources(given, DEFAULT_CPU[entry.runtime], memory)
    res["gpu_resource"] = gpu_resource
    image_ref, image = pick_image(f"{entry.runtime}-{'gpu' if gpu else 'cpu'}", entry.image)
    path = model_path(entry, model.uri)
    command, args = serving_command(entry, path, image, gpu)
    variant = ("fallback" if fallback else "primary") + ("-gpu" if gpu else "-cpu")
    program = {"llamacpp": "llama-cpp", "onnxruntime": "onnxruntime", "tflite": "tflite"}[entry.runtime]
    o = obj(site, name, "inference", program,
            replicas=0 if stopped else entry.replicas, gpu=gpu, variant=variant, model_uri=model.uri, accelerator=entry.accelerator,
            pod=pod(site, user=image.user, priority=entry.priority,
                    runtime_class=site.spec.nodes.gpu.runtime_class_name if gpu and site.spec.nodes.gpu else None, gpu=gpu),
            fetch_image=IMAGES["fetch"].ref, fetch_script=fetch_script(path, model.uri, model.sha256),
            image=image_ref, command=command, args=args, port=image.port, liveness=image.liveness,
            readiness=image.readiness, startup_seconds=max(60, int(model.size_mib / 20) + 60), resources=res,
            artifacts_claim=artifacts_claim, models_size=memory_quantity(model.size_mib * 1.2 + 64))
    out = [render_object("inference-deployment.yaml.j2", o), service(o, [{"name": "http", "port": image.port}])]
    if entry.replicas > 1:
        out.append(pdb(o))
    egress = [{"ports": tcp(url_port(model.uri)), "peers": ANYWHERE}]
    out.append(network_policy(site, f"{name}-allow", o.selector, [{"ports": tcp(image.port), "peers": SAME_NAMESPACE}], egress))
    return out


def serving_command(entry: Inference, path: str, image: Image, gpu: bool) -> tuple[list[str] | None, list[str]]:
    """The command line of each serving runtime (see docs/images.md)."""
    if entry.runtime == "llamacpp":
        args = ["--model", path, "--host", "0.0.0.0", "--port", str(image.port),
                "--ctx-size", str(entry.context_tokens or sizing.DEFAULT_CONTEXT_TOKENS), "--no-webui"]
        return None, args + (["--n-gpu-layers", "999"] if gpu else [])
    model_dir = posixpath.dirname(posixpath.dirname(path))
    if gpu and entry.runtime == "onnxruntime":
        return ["tritonserver"], [f"--model-repository={posixpath.dirname(model_dir)}", f"--http-port={image.port}",
                                  "--grpc-port=8001", "--metrics-port=8002", "--strict-model-config=false"]
    args = ["--model_name", entry.name, "--model_path", model_dir, "--rest_port", str(image.port), "--port", "9000"]
    return None, args + (["--target_device", "GPU"] if gpu else [])


# ------------------------------------------------------------------------------------------ functions


def function_objects(site: EdgeSite, fn: Function, plan: Plan) -> list[dict[str, Any]]:
    name = child_name(site, fn.name)
    o = obj(site, name, "function", fn.runtime, replicas=0 if fn.name in plan.stopped else fn.replicas, image=fn.image,
            port=fn.port, pod=pod(site, user=65532, priority=fn.priority, runtime_class=fn.runtime),
            resources=given_resources(fn.resources, 0.1, 64))
    out = [render_object("function-deployment.yaml.j2", o), service(o, [{"name": "http", "port": fn.port}])]
    if fn.replicas > 1:
        out.append(pdb(o))
    egress = [{"ports": tcp(443, 80), "peers": ANYWHERE}] if fn.needs_uplink else []
    out.append(network_policy(site, f"{name}-allow", o.selector, [{"ports": tcp(fn.port), "peers": SAME_NAMESPACE}], egress))
    return out


# ------------------------------------------------------------------------------------------ messaging


def users_secret(site: EdgeSite) -> str:
    broker = site.spec.messaging.broker if site.spec.messaging else None
    return (broker.users_secret if broker and broker.users_secret else None) or child_name(site, "mqtt-users")


def bridge_client_id(site: EdgeSite) -> str:
    bridge = site.spec.messaging.bridge if site.spec.messaging else None
    return (bridge.client_id if bridge and bridge.client_id else None) or f"edgesite-{site.namespace}-{site.name}"


def mosquitto_config(site: EdgeSite, *, data_dir: str = "/mosquitto/data", include_dir: str = "/mosquitto/run/conf.d",
                     password_file: str = "/mosquitto/users/password_file", port: int = MQTT_PORT) -> str:
    """mosquitto.conf of the site broker (paths overridable so tests can run it outside a pod)."""
    messaging = site.spec.messaging
    assert messaging is not None
    queue = messaging.bridge.offline_queue if messaging.bridge else None
    return render_text("mosquitto.conf.j2", site=site.name, data_dir=data_dir, include_dir=include_dir, port=port,
                       password_file=password_file, autosave_changes=messaging.broker.autosave_changes,
                       max_queued_messages=queue.max_messages if queue else 1000,
                       max_queued_bytes=int(parse_quantity(queue.max_bytes)) if queue else 0)


def bridge_config(site: EdgeSite, *, ca_file: str | None = None) -> str:
    """The bridge's connection block, without credentials (joined in at start from the Secret)."""
    messaging = site.spec.messaging
    assert messaging is not None and messaging.bridge is not None
    bridge = messaging.bridge
    if ca_file is None and bridge.ca_secret:
        ca_file = "/mosquitto/bridge-ca/ca.crt"
    return render_text("mosquitto-bridge.conf.j2", site=site.name, bridge=bridge, client_id=bridge_client_id(site), ca_file=ca_file)


BRIDGE_SCRIPT = """set -eu
mkdir -p /mosquitto/run/conf.d
if [ -f /mosquitto/config/bridge.conf ]; then
  cp /mosquitto/config/bridge.conf /mosquitto/run/conf.d/bridge.conf
  if [ -f /mosquitto/bridge-credentials/username ]; then
    printf 'remote_username %s\\nremote_password %s\\n' "$(cat /mosquitto/bridge-credentials/username)" \\
      "$(cat /mosquitto/bridge-credentials/password)" >> /mosquitto/run/conf.d/bridge.conf
  fi
fi
"""


def gateway_config(site: EdgeSite, *, host: str, port: int = MQTT_PORT) -> dict[str, Any]:
    """Configuration of `edgesite gateway`; credentials come from the environment."""
    messaging = site.spec.messaging
    assert messaging is not None
    return {
        "broker": {"host": host, "port": port, "credentialsDir": "/etc/edgesite-credentials"},
        "bridgeStateTopic": f"$SYS/broker/connection/{bridge_client_id(site)}/state" if messaging.bridge else None,
        "healthPort": IMAGES["gateway"].port,
        "aggregations": [a.model_dump(by_alias=True) for a in messaging.aggregations],
    }


def messaging_objects(site: EdgeSite, plan: Plan) -> list[dict[str, Any]]:
    messaging = site.spec.messaging
    assert messaging is not None
    broker = messaging.broker
    name = child_name(site, "mqtt")
    image_ref, image = pick_image("mosquitto", broker.image)
    data = {"mosquitto.conf": mosquitto_config(site)}
    if messaging.bridge:
        data["bridge.conf"] = bridge_config(site)
    o = obj(site, name, "broker", "mosquitto", image=image_ref, service=name, config_map=name,
            config_hash=config_hash(*data.values()), bridge_script=BRIDGE_SCRIPT,
            bridge_credentials=messaging.bridge.credentials_secret if messaging.bridge else None,
            bridge_ca=messaging.bridge.ca_secret if messaging.bridge else None, users_secret=users_secret(site),
            pod=pod(site, user=image.user, priority="critical"), resources=resources(0.1, 128),
            storage=canonical_quantity(broker.storage))
    egress = []
    if messaging.bridge:
        egress.append({"ports": tcp(int(messaging.bridge.address.rsplit(":", 1)[1])), "peers": ANYWHERE})
    out = [config_map(o, name, data), render_object("mosquitto-statefulset.yaml.j2", o),
           service(o, [{"name": "mqtt", "port": MQTT_PORT,
                        "node_port": broker.node_port if broker.service_type != "ClusterIP" else None}], broker.service_type),
           # Sensors at the site reach the broker from outside the cluster; every client must authenticate.
           network_policy(site, f"{name}-allow", o.selector, [{"ports": tcp(MQTT_PORT), "peers": None}], egress)]
    if messaging.aggregations:
        out.extend(gateway_objects(site, plan, name))
    return out


def gateway_objects(site: EdgeSite, plan: Plan, broker_service: str) -> list[dict[str, Any]]:
    messaging = site.spec.messaging
    assert messaging is not None
    name = child_name(site, "gateway")
    image_ref, image = pick_image("gateway", messaging.gateway.image)
    text = yaml.safe_dump(gateway_config(site, host=f"{broker_service}.{site.namespace}.svc"), sort_keys=True)
    o = obj(site, name, "gateway", "edgesite-gateway", image=image_ref, config_map=name, config_hash=config_hash(text),
            users_secret=users_secret(site), port=image.port, liveness=image.liveness, readiness=image.readiness,
            pod=pod(site, user=image.user, priority="critical"), resources=given_resources(messaging.gateway.resources, 0.05, 64))
    broker_peer = [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": broker_service, SITE_LABEL: site.name}}}]
    return [config_map(o, name, {"gateway.yaml": text}), render_object("gateway-deployment.yaml.j2", o),
            network_policy(site, f"{name}-allow", o.selector, [], [{"ports": tcp(MQTT_PORT), "peers": broker_peer}])]


# --------------------------------------------------------------------------------------------- caches


def nginx_config(site: EdgeSite, cache_name: str, *, resolver: str = NGINX_RESOLVER, cache_dir: str = "/var/cache/nginx/edgesite",
                 port: int = 8080, origin_port: int = 8081) -> str:
    """nginx.conf of an http cache (paths and ports overridable so tests can run it outside a pod)."""
    cache = next(c for c in site.spec.caches if c.name == cache_name)
    assert cache.upstream is not None
    return render_text("nginx.conf.j2", site=site.name, name=cache.name, upstream=cache.upstream.rstrip("/"),
                       upstream_host=urlsplit(cache.upstream).hostname, ttl=cache.ttl_seconds, stale=cache.stale_if_error_seconds,
                       resolver=resolver, cache_dir=cache_dir, zone="edgesite", port=port, origin_port=origin_port,
                       max_size_mib=int(to_mib(cache.size) * 0.9),
                       inactive=cache.ttl_seconds + cache.stale_if_error_seconds + 3600)


def registry_mirrors(site: EdgeSite) -> dict[str, Any]:
    """The `mirrors` entries of K3s registries.yaml that point the nodes at the site's registry mirror."""
    mirror = next((c for c in site.spec.caches if c.type == "registry-mirror"), None)
    if mirror is None:
        return {}
    text = render_text("registries.yaml.j2", site=site.name, upstream=mirror.upstream,
                       endpoint=f"http://127.0.0.1:{mirror.node_port}")
    return dict(yaml.load(text, Loader=_Loader)["mirrors"])


def namespace_object(site: EdgeSite) -> dict[str, Any]:
    """The site's Namespace, enforcing Pod Security `restricted` (written by the K3s folder format)."""
    labels = {**site_labels(site), "kubernetes.io/metadata.name": site.namespace,
              "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": site.namespace, "labels": labels}}


def cache_objects(site: EdgeSite) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cache in site.spec.caches:
        name = child_name(site, cache.name)
        if cache.type == "artifacts":
            o = obj(site, name, "artifacts-cache", "artifacts")
            # Shared by every inference pod of the site, on any node.
            out.append(claim(o, name, cache.size, access_mode="ReadWriteMany"))
        elif cache.type == "http":
            image_ref, image = pick_image("nginx", cache.image)
            text = nginx_config(site, cache.name)
            assert cache.upstream is not None
            o = obj(site, name, "http-cache", "nginx", image=image_ref, config_map=name, config_hash=config_hash(text),
                    claim=name, port=image.port, liveness=image.liveness, readiness=image.readiness,
                    pod=pod(site, user=image.user, priority="standard"), resources=resources(0.1, 64))
            out += [config_map(o, name, {"nginx.conf.template": text}), claim(o, name, cache.size),
                    render_object("http-cache-deployment.yaml.j2", o), service(o, [{"name": "http", "port": image.port}]),
                    network_policy(site, f"{name}-allow", o.selector, [{"ports": tcp(image.port), "peers": SAME_NAMESPACE}],
                                   [{"ports": tcp(url_port(cache.upstream)), "peers": ANYWHERE}])]
        else:
            image_ref, image = pick_image("registry", cache.image)
            o = obj(site, name, "registry-mirror", "registry", image=image_ref, claim=name, port=image.port,
                    remote_url=f"https://{cache.upstream}", liveness=image.liveness, readiness=image.readiness,
                    pod=pod(site, user=image.user, priority="critical"), resources=resources(0.1, 128))
            out += [claim(o, name, cache.size), render_object("registry-mirror-deployment.yaml.j2", o),
                    service(o, [{"name": "registry", "port": image.port, "node_port": cache.node_port}], "NodePort"),
                    # containerd on every node pulls through the mirror: it is reached from outside the pod network.
                    network_policy(site, f"{name}-allow", o.selector, [{"ports": tcp(image.port), "peers": None}],
                                   [{"ports": tcp(443), "peers": ANYWHERE}])]
    return out


def artifacts_claim(site: EdgeSite) -> str | None:
    cache = next((c for c in site.spec.caches if c.type == "artifacts"), None)
    return child_name(site, cache.name) if cache else None


# ----------------------------------------------------------------------------------------------- sync


def sync_objects(site: EdgeSite) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for server in site.spec.sync:
        name = child_name(site, server.name)
        image_ref, image = pick_image("y-websocket", server.image)
        args = ["sync", "--port", str(image.port), "--store", "/data/documents.sqlite"]
        if server.upstream:
            args += ["--upstream", server.upstream]
        o = obj(site, name, "sync", "y-websocket", image=image_ref, service=name, args=args, port=image.port,
                storage=canonical_quantity(server.storage), pod=pod(site, user=image.user, priority="standard"),
                resources=resources(0.1, 128))
        egress = [{"ports": tcp(url_port(server.upstream)), "peers": ANYWHERE}] if server.upstream else []
        out += [render_object("sync-statefulset.yaml.j2", o), service(o, [{"name": "websocket", "port": image.port}]),
                network_policy(site, f"{name}-allow", o.selector, [{"ports": tcp(image.port), "peers": SAME_NAMESPACE}], egress)]
    return out


# ------------------------------------------------------------------------------------------- the site


def sort_key(manifest: dict[str, Any]) -> tuple[int, str, str]:
    kind = manifest["kind"]
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return rank, manifest["metadata"].get("namespace", ""), manifest["metadata"]["name"]


def objects(site: EdgeSite, plan: Plan) -> Iterator[dict[str, Any]]:
    yield service_account(site)
    yield from site_policies(site)
    claim_name = artifacts_claim(site)
    for entry in site.spec.inference:
        yield from inference_objects(site, entry, plan, claim_name)
    for fn in site.spec.functions:
        yield from function_objects(site, fn, plan)
    if site.spec.messaging:
        yield from messaging_objects(site, plan)
    yield from cache_objects(site)
    yield from sync_objects(site)


def render(site: EdgeSite, plan: Plan | None = None) -> list[dict[str, Any]]:
    """Every manifest of `site` under `plan` (default: Online, nothing degraded), in a stable order."""
    return sorted(objects(site, plan or Plan.for_mode(site)), key=sort_key)


def every_plan(site: EdgeSite) -> list[Plan]:
    """The plans that together use every image a site can run: primary and fallback, GPU and CPU."""
    names = frozenset(entry.name for entry in site.spec.inference)
    return [Plan(), Plan(on_cpu=names), Plan(on_fallback=names), Plan(on_cpu=names, on_fallback=names)]


def images_of(site: EdgeSite) -> set[str]:
    """Every image the site can run, in any plan: the air-gap pre-pull list."""
    found: set[str] = set()
    for plan in every_plan(site):
        for manifest in render(site, plan):
            pod_spec = manifest.get("spec", {}).get("template", {}).get("spec", {})
            for container in pod_spec.get("initContainers", []) + pod_spec.get("containers", []):
                found.add(container["image"])
    return found


PRIORITY_VALUES = {"critical": 100000, "standard": 10000, "best-effort": 1000}


def priority_classes() -> list[dict[str, Any]]:
    """The PriorityClasses that `priority` maps to; installed once per cluster by the operator's chart."""
    return [{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
             "metadata": {"name": PRIORITY_CLASSES[p], "labels": {"app.kubernetes.io/part-of": "edgesite"}},
             "value": PRIORITY_VALUES[p], "globalDefault": False, "preemptionPolicy": "PreemptLowerPriority",
             "description": f"EdgeSite workloads of priority {p}; see spec.degradation.shedOrder."}
            for p in ("critical", "standard", "best-effort")]
