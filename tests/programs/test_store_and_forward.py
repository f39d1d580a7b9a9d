"""Store-and-forward, proven with two real Mosquitto brokers on loopback: the site broker runs the
rendered configuration, its bridge points at a "cloud" broker that the test stops and starts."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from edgesite.model import EdgeSite
from edgesite.render import bridge_config, mosquitto_config

from tests.programs.conftest import free_port, need, wait_for_port
from tests.programs.test_mosquitto_config import local_bridge

pytestmark = pytest.mark.programs
TOPIC = "plant/summary/temperature"


class Broker:
    def __init__(self, folder: Path, config: str, port: int):
        self.folder, self.config, self.port = folder, folder / "mosquitto.conf", port
        self.config.write_text(config)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.folder / "mosquitto.log", "ab") as log:
            self.process = subprocess.Popen([need("mosquitto"), "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)

    def log(self) -> str:
        return (self.folder / "mosquitto.log").read_text(errors="replace")


def writable(folder: Path) -> Path:
    """A folder the broker's unprivileged user can write when the tests run as root."""
    folder.mkdir()
    folder.chmod(0o777)
    return folder


def site_broker(site: EdgeSite, folder: Path, cloud_port: int, *, default_autosave: bool = False) -> Broker:
    writable(folder)
    for sub in ("data", "conf.d"):
        writable(folder / sub)
    subprocess.run([need("mosquitto_passwd"), "-b", "-c", str(folder / "passwd"), "gateway", "g"], check=True)
    (folder / "passwd").chmod(0o644)
    port = free_port()
    config = mosquitto_config(local_bridge(site, cloud_port), data_dir=str(folder / "data"), include_dir=str(folder / "conf.d"),
                              password_file=str(folder / "passwd"), port=port)
    if default_autosave:  # Mosquitto's defaults, to measure what they lose
        config = config.replace("autosave_on_changes true", "autosave_on_changes false").replace("autosave_interval 1\n", "autosave_interval 1800\n")
    (folder / "conf.d" / "bridge.conf").write_text(bridge_config(local_bridge(site, cloud_port)).replace("restart_timeout 5 60", "restart_timeout 1 2"))
    return Broker(folder, config, port)


def cloud_broker(folder: Path) -> Broker:
    writable(folder)
    writable(folder / "data")
    port = free_port()
    config = (f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {folder / 'data'}/\n"
              "max_queued_messages 0\n")
    return Broker(folder, config, port)


def client(port: int, client_id: str, *, clean: bool = True, user: str | None = None) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    if user:
        c.username_pw_set(user, "g")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def close(c: mqtt.Client) -> None:
    c.disconnect()
    c.loop_stop()


def sink_session(cloud: Broker) -> None:
    """A persistent subscriber at the cloud, so messages that arrive while it is away wait for it."""
    sink = client(cloud.port, "sink", clean=False)
    sink.subscribe(TOPIC, qos=1)[1]
    time.sleep(0.3)
    close(sink)


def drain_sink(cloud: Broker, expected: int, timeout: float = 20) -> list[int]:
    received: list[int] = []
    done = threading.Event()

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        received.append(int(message.payload))
        if len(received) >= expected:
            done.set()

    sink = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sink", clean_session=False)
    sink.on_message = on_message
    sink.connect("127.0.0.1", cloud.port)
    sink.loop_start()
    done.wait(timeout)
    time.sleep(1)  # anything beyond the expected count
    close(sink)
    return received


def publish(site: Broker, count: int) -> None:
    publisher = client(site.port, "gateway", user="gateway")
    for index in range(count):
        publisher.publish(TOPIC, str(index).encode(), qos=1).wait_for_publish(5)
    close(publisher)


def publish_while_offline(cloud: Broker, edge: Broker, count: int) -> None:
    """Both brokers up, a persistent subscriber at the cloud, then the uplink down and `count` summaries published."""
    cloud.start()
    sink_session(cloud)
    edge.start()
    cloud.stop()
    publish(edge, count)


@pytest.fixture
def brokers(shared_tmp: Path, full_site: EdgeSite):  # type: ignore[no-untyped-def]
    started: list[Broker] = []

    def make(*, offline_queue: int | None = None, default_autosave: bool = False) -> tuple[Broker, Broker]:
        site = full_site
        if offline_queue is not None:
            bridge = site.spec.messaging.bridge
            queue = bridge.offline_queue.model_copy(update={"max_messages": offline_queue})
            messaging = site.spec.messaging.model_copy(update={"bridge": bridge.model_copy(update={"offline_queue": queue})})
            site = site.model_copy(update={"spec": site.spec.model_copy(update={"messaging": messaging})})
        cloud = cloud_broker(shared_tmp / "cloud")
        edge = site_broker(site, shared_tmp / "site", 0, default_autosave=default_autosave)
        # the site's bridge must point at the cloud's port, known only now
        bridge_file = edge.folder / "conf.d" / "bridge.conf"
        bridge_file.write_text(bridge_file.read_text().replace("address 127.0.0.1:0", f"address 127.0.0.1:{cloud.port}"))
        started.extend([cloud, edge])
        return cloud, edge

    yield make
    for broker in started:
        broker.stop(signal.SIGKILL)


N = 300


def test_summaries_published_offline_all_arrive_in_order(brokers) -> None:  # type: ignore[no-untyped-def]
    cloud, edge = brokers()
    publish_while_offline(cloud, edge, N)
    cloud.start()
    assert drain_sink(cloud, N) == list(range(N))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["restart", "kill-9"])
def test_queued_summaries_survive_a_site_broker_restart(brokers, sig: int) -> None:  # type: ignore[no-untyped-def]
    cloud, edge = brokers()
    publish_while_offline(cloud, edge, N)
    # Mosquitto acknowledges a message before its loop saves it: a kill in the same few milliseconds loses
    # that message (measured: 299 of 300 arrive when the kill follows the last PUBACK at once).
    time.sleep(0.5)
    edge.stop(sig)
    edge.start()
    cloud.start()
    assert drain_sink(cloud, N) == list(range(N))


def test_with_mosquittos_default_autosave_a_kill_loses_everything(brokers) -> None:  # type: ignore[no-untyped-def]
    cloud, edge = brokers(default_autosave=True)
    publish_while_offline(cloud, edge, N)
    edge.stop(signal.SIGKILL)
    edge.start()
    cloud.start()
    assert drain_sink(cloud, N, timeout=8) == [], "measured: the default 30-minute autosave loses every queued message"


def test_beyond_the_offline_queue_the_overflow_is_dropped_and_counted(brokers) -> None:  # type: ignore[no-untyped-def]
    cloud, edge = brokers(offline_queue=50)
    publish_while_offline(cloud, edge, 120)
    cloud.start()
    received = drain_sink(cloud, 50, timeout=10)
    assert received == list(range(50)), "the first offlineQueue.maxMessages are kept, in order; the rest are dropped"
    assert "Outgoing messages are being dropped for client" in edge.log(), "the broker says it dropped messages"
