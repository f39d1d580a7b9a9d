"""The renderer's behaviour: security, scheduling, images, variants, modes, and configuration files."""

from __future__ import annotations

from typing import Any

import pytest

from edgesite.images import IMAGES
from edgesite.model import EdgeSite
from edgesite.output import to_yaml
from edgesite.plan import Plan
from edgesite.render import images_of, render

from tests.conftest import load_example


def by_name(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def pod_specs(manifests: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(m["metadata"]["name"], m["spec"]["template"]["spec"]) for m in manifests if m["kind"] in ("Deployment", "StatefulSet")]


def server(manifests: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return by_name(manifests, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


@pytest.fixture(params=["minimal", "full"])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(load_example(request.param))


def test_output_is_sorted_and_stable(example_name: str) -> None:
    rendered, again = render(load_example(example_name)), render(load_example(example_name))
    assert to_yaml(rendered) == to_yaml(again)
    kinds = [m["kind"] for m in rendered]
    assert kinds.index("ServiceAccount") < kinds.index("Deployment") < kinds.index("NetworkPolicy")


def test_every_pod_meets_pod_security_restricted(rendered: list[dict[str, Any]]) -> None:
    for name, spec in pod_specs(rendered):
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert context["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert context["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert container["imagePullPolicy"] == "IfNotPresent"
            assert not container["image"].endswith(":latest") and ":" in container["image"].rsplit("/", 1)[-1]
            assert container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"]
            assert "cpu" in container["resources"]["limits"]
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume


def test_labels_on_every_object(rendered: list[dict[str, Any]]) -> None:
    for manifest in rendered:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "edgesite" and labels["app.kubernetes.io/managed-by"] == "edgesite"
        assert labels["edgesite.io/site"] in ("store-0421", "plant-hamburg")


def test_service_accounts_do_not_mount_tokens(rendered: list[dict[str, Any]]) -> None:
    accounts = [m for m in rendered if m["kind"] == "ServiceAccount"]
    assert len(accounts) == 1 and accounts[0]["automountServiceAccountToken"] is False


def test_default_deny_and_dns_policies(rendered: list[dict[str, Any]]) -> None:
    site = rendered[0]["metadata"]["labels"]["edgesite.io/site"]
    deny = by_name(rendered, "NetworkPolicy", f"{site}-default-deny")
    assert deny["spec"]["ingress"] == [] and deny["spec"]["egress"] == []
    assert deny["spec"]["podSelector"] == {"matchLabels": {"edgesite.io/site": site}}
    workloads = {m["metadata"]["name"] for m in rendered if m["kind"] in ("Deployment", "StatefulSet")}
    allows = {m["metadata"]["name"].removesuffix("-allow") for m in rendered if m["kind"] == "NetworkPolicy"}
    assert workloads <= allows, "every workload has its own allow policy"


def test_full_site_components(full_site: EdgeSite) -> None:
    manifests = render(full_site)
    names = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    for expected in [("Deployment", "plant-hamburg-defect-detector"), ("Deployment", "plant-hamburg-assistant"),
                     ("Deployment", "plant-hamburg-label-printer"), ("StatefulSet", "plant-hamburg-mqtt"),
                     ("Deployment", "plant-hamburg-gateway"), ("Deployment", "plant-hamburg-api"), ("Deployment", "plant-hamburg-images"),
                     ("PersistentVolumeClaim", "plant-hamburg-models"), ("StatefulSet", "plant-hamburg-shift-notes"),
                     ("PodDisruptionBudget", "plant-hamburg-defect-detector")]:
        assert expected in names


def test_gpu_entry_requests_the_gpu(full_site: EdgeSite) -> None:
    manifests = render(full_site)
    spec = by_name(manifests, "Deployment", "plant-hamburg-defect-detector")["spec"]["template"]["spec"]
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert spec["containers"][0]["image"] == IMAGES["onnxruntime-gpu"].ref
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "edgesite.io/site", "operator": "In", "values": ["plant-hamburg"]} in terms[0]["matchExpressions"]
    assert spec["priorityClassName"] == "edgesite-critical"


def test_cpu_variant_of_a_gpu_entry(full_site: EdgeSite) -> None:
    manifests = render(full_site, Plan(on_cpu=frozenset({"defect-detector"})))
    deployment = by_name(manifests, "Deployment", "plant-hamburg-defect-detector")
    spec = deployment["spec"]["template"]["spec"]
    assert "runtimeClassName" not in spec and "nvidia.com/gpu" not in spec["containers"][0]["resources"]["limits"]
    assert spec["containers"][0]["image"] == IMAGES["onnxruntime-cpu"].ref
    assert deployment["metadata"]["annotations"]["edgesite.io/variant"] == "primary-cpu"


def test_fallback_model(full_site: EdgeSite) -> None:
    primary = server(render(full_site), "plant-hamburg-assistant")
    fallback = server(render(full_site, Plan(on_fallback=frozenset({"assistant"}))), "plant-hamburg-assistant")
    assert primary["args"] != fallback["args"]
    assert primary["resources"]["requests"]["memory"] == "3066Mi"  # 2020 MiB weights + 446 KV + 320 runtime, +10 %
    assert fallback["resources"]["requests"]["memory"] == "1382Mi"


def test_llamacpp_command_line(full_site: EdgeSite) -> None:
    container = server(render(full_site), "plant-hamburg-assistant")
    args = container["args"]
    assert args[args.index("--ctx-size") + 1] == "4096" and args[args.index("--port") + 1] == "8080"
    assert args[args.index("--model") + 1].endswith("/assistant/1/model.gguf")
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_model_fetched_once_into_the_artifacts_cache(full_site: EdgeSite) -> None:
    spec = by_name(render(full_site), "Deployment", "plant-hamburg-assistant")["spec"]["template"]["spec"]
    script = spec["initContainers"][0]["command"][2]
    assert 'if [ -s "$dest" ]' in script and "llama-3.2-3b-instruct-q4_k_m.gguf" in script
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "plant-hamburg-models"}} in spec["volumes"]


def test_without_artifacts_cache_models_go_to_an_emptydir(minimal_site: EdgeSite) -> None:
    spec = by_name(render(minimal_site), "Deployment", "store-0421-shelf-vision")["spec"]["template"]["spec"]
    models = next(v for v in spec["volumes"] if v["name"] == "models")
    assert "emptyDir" in models


def test_offline_stops_functions_that_need_the_uplink(full_site: EdgeSite) -> None:
    changed = full_site.model_copy(update={"spec": full_site.spec.model_copy(update={
        "functions": [full_site.spec.functions[0].model_copy(update={"needs_uplink": True})]})})
    online = by_name(render(changed, Plan.for_mode(changed, "Online")), "Deployment", "plant-hamburg-label-printer")
    offline = by_name(render(changed, Plan.for_mode(changed, "Offline")), "Deployment", "plant-hamburg-label-printer")
    assert online["spec"]["replicas"] == 1 and offline["spec"]["replicas"] == 0


def test_wasm_functions_use_their_runtime_class(full_site: EdgeSite) -> None:
    spec = by_name(render(full_site), "Deployment", "plant-hamburg-label-printer")["spec"]["template"]["spec"]
    assert spec["runtimeClassName"] == "wasmedge"


def test_mosquitto_configuration(full_site: EdgeSite) -> None:
    data = by_name(render(full_site), "ConfigMap", "plant-hamburg-mqtt")["data"]
    conf, bridge = data["mosquitto.conf"], data["bridge.conf"]
    for line in ("allow_anonymous false", "persistence true", "autosave_on_changes true", "autosave_interval 1",
                 "max_queued_messages 100000", f"max_queued_bytes {256 * 2**20}", "password_file /mosquitto/users/password_file"):
        assert line in conf.splitlines()
    for line in ("address mqtt.cloud.example.com:8883", "cleansession false", "topic plant/summary/# out 1",
                 "topic plant/commands/# in 1", "restart_timeout 5 60", "bridge_capath /etc/ssl/certs", "bridge_insecure false"):
        assert line in bridge.splitlines()
    assert "remote_password" not in bridge, "credentials come from the Secret at start-up, never from the ConfigMap"


def test_broker_is_a_statefulset_with_storage(full_site: EdgeSite) -> None:
    broker = by_name(render(full_site), "StatefulSet", "plant-hamburg-mqtt")
    assert broker["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "5Gi"
    pod_spec = broker["spec"]["template"]["spec"]
    credentials = next(v for v in pod_spec["volumes"] if v["name"] == "bridge-credentials")
    assert credentials["secret"]["secretName"] == "plant-hamburg-mqtt-bridge"
    assert "env" not in pod_spec["initContainers"][0], "secrets are files, never environment variables"
    assert "/mosquitto/bridge-credentials/username" in pod_spec["initContainers"][0]["command"][2]


def test_http_cache_configuration(full_site: EdgeSite) -> None:
    conf = by_name(render(full_site), "ConfigMap", "plant-hamburg-api")["data"]["nginx.conf.template"]
    assert 'add_header Cache-Control "max-age=60, stale-if-error=86400" always;' in conf
    assert "set $edgesite_upstream https://api.example.com;" in conf
    assert "add_header X-Cache-Status $upstream_cache_status always;" in conf


def test_registry_mirror(full_site: EdgeSite) -> None:
    manifests = render(full_site)
    env = {e["name"]: e["value"] for e in server(manifests, "plant-hamburg-images")["env"]}
    assert env["REGISTRY_PROXY_REMOTEURL"] == "https://registry.example.com"
    assert by_name(manifests, "Service", "plant-hamburg-images")["spec"]["type"] == "NodePort"


def test_images_cover_every_variant(full_site: EdgeSite) -> None:
    images = images_of(full_site)
    assert {IMAGES["onnxruntime-gpu"].ref, IMAGES["onnxruntime-cpu"].ref, IMAGES["llamacpp-cpu"].ref, IMAGES["mosquitto"].ref,
            IMAGES["fetch"].ref, "registry.example.com/plant/label-printer:1.4.2"} <= images


def test_quantities_are_canonical(full_site: EdgeSite) -> None:
    from edgesite.quantities import canonical_quantity

    for _, spec in pod_specs(render(full_site)):
        for container in spec["containers"]:
            for section in ("requests", "limits"):
                for value in container["resources"][section].values():
                    assert canonical_quantity(value) == value


def test_broker_node_port_for_sensors_outside_the_cluster(full_site: EdgeSite) -> None:
    messaging = full_site.spec.messaging
    assert messaging is not None
    broker = messaging.broker.model_copy(update={"service_type": "NodePort", "node_port": 31883})
    site = full_site.model_copy(update={"spec": full_site.spec.model_copy(update={"messaging": messaging.model_copy(update={"broker": broker})})})
    service = by_name(render(site), "Service", "plant-hamburg-mqtt")
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == 31883
