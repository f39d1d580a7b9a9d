"""The rendered mosquitto.conf and bridge.conf, run by the real Mosquitto."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edgesite.model import EdgeSite
from edgesite.render import bridge_config, mosquitto_config

from tests.programs.conftest import free_port, need, wait_for_port

pytestmark = pytest.mark.programs


def local_bridge(site: EdgeSite, cloud_port: int) -> EdgeSite:
    """The example site with its bridge pointed at a loopback "cloud" broker, without TLS."""
    assert site.spec.messaging and site.spec.messaging.bridge
    bridge = site.spec.messaging.bridge.model_copy(update={"address": f"127.0.0.1:{cloud_port}", "tls": False})
    messaging = site.spec.messaging.model_copy(update={"bridge": bridge})
    return site.model_copy(update={"spec": site.spec.model_copy(update={"messaging": messaging})})


def start_site_broker(site: EdgeSite, folder: Path, processes: list, port: int, users: dict[str, str]) -> subprocess.Popen:
    (folder / "data").mkdir(mode=0o777)
    (folder / "conf.d").mkdir(mode=0o777)
    password_file = folder / "password_file"
    for index, (user, password) in enumerate(users.items()):
        args = ["-b", "-c"] if index == 0 else ["-b"]
        subprocess.run([need("mosquitto_passwd"), *args, str(password_file), user, password], check=True)
    password_file.chmod(0o644)
    conf = folder / "mosquitto.conf"
    conf.write_text(mosquitto_config(site, data_dir=str(folder / "data"), include_dir=str(folder / "conf.d"),
                                     password_file=str(password_file), port=port))
    # What the init container does: the bridge block plus the credentials from the Secret.
    (folder / "conf.d" / "bridge.conf").write_text(bridge_config(site) + "remote_username bridge\nremote_password bridge-secret\n")
    with open(folder / "mosquitto.log", "wb") as log:
        process = subprocess.Popen([need("mosquitto"), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    processes.append(process)
    wait_for_port(port, process)
    return process


def connect(port: int, username: str | None, password: str | None) -> mqtt.ReasonCode:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{username}")
    if username:
        client.username_pw_set(username, password)
    result: dict[str, mqtt.ReasonCode] = {}
    done = threading.Event()

    def on_connect(_c, _u, _f, reason_code, _p):  # type: ignore[no-untyped-def]
        result["rc"] = reason_code
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(5), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return result["rc"]


def test_rendered_broker_starts_and_refuses_anonymous_clients(full_site: EdgeSite, shared_tmp: Path, processes: list) -> None:
    port = free_port()
    site = local_bridge(full_site, free_port())
    start_site_broker(site, shared_tmp, processes, port, {"sensor-1": "s3cret"})
    assert connect(port, None, None).is_failure, "an anonymous client must be refused"
    assert connect(port, "sensor-1", "wrong").is_failure
    assert not connect(port, "sensor-1", "s3cret").is_failure


def start_cloud_broker(folder: Path, processes: list, port: int) -> None:
    conf = folder / "cloud.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    process = subprocess.Popen([need("mosquitto"), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(process)
    wait_for_port(port, process)


def test_bridge_forwards_summaries_to_the_cloud_and_commands_back(full_site: EdgeSite, shared_tmp: Path, processes: list) -> None:
    site_port, cloud_port = free_port(), free_port()
    start_cloud_broker(shared_tmp, processes, cloud_port)
    start_site_broker(local_bridge(full_site, cloud_port), shared_tmp, processes, site_port, {"gateway": "g", "app": "a"})
    received: list[tuple[str, bytes, int]] = []
    got = threading.Event()
    cloud = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cloud-sink")
    cloud.on_message = lambda _c, _u, m: (received.append((m.topic, m.payload, m.qos)), got.set())
    cloud.connect("127.0.0.1", cloud_port)
    cloud.subscribe("plant/#", qos=1)
    cloud.loop_start()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gateway")
    publisher.username_pw_set("gateway", "g")
    publisher.connect("127.0.0.1", site_port)
    publisher.loop_start()
    try:
        deadline = __import__("time").monotonic() + 15
        while not got.is_set() and __import__("time").monotonic() < deadline:
            publisher.publish("plant/summary/temperature", b'{"mean": 21.5}', qos=1).wait_for_publish(5)
            got.wait(1)
        assert ("plant/summary/temperature", b'{"mean": 21.5}', 1) in received
        # Topics that are not bridged out stay at the site.
        publisher.publish("sensors/a/temperature", b"21", qos=1).wait_for_publish(5)
        __import__("time").sleep(1)
        assert all(topic.startswith("plant/") for topic, _, _ in received)
    finally:
        for client in (publisher, cloud):
            client.disconnect()
            client.loop_stop()


def test_rendered_configuration_is_what_mosquitto_reads(full_site: EdgeSite, shared_tmp: Path, processes: list) -> None:
    """Mosquitto refuses unknown or misplaced options; a typo in the template would fail here."""
    port = free_port()
    (shared_tmp / "conf.d").mkdir()
    broken = mosquitto_config(full_site, port=port, include_dir=str(shared_tmp / "conf.d"),
                              password_file="/dev/null").replace("max_queued_messages", "max_queued_mesages")
    (shared_tmp / "broken.conf").write_text(broken)
    result = subprocess.run([need("mosquitto"), "-c", str(shared_tmp / "broken.conf")], capture_output=True, text=True, timeout=10)
    assert result.returncode != 0 and "max_queued_mesages" in (result.stdout + result.stderr)
