"""`edgesite gateway` as it ships, against a real Mosquitto: summaries, bounds, widening, clean shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml

from tests.programs.conftest import free_port, need, wait_for_port

pytestmark = pytest.mark.programs
OUTPUT = "plant/summary/temperature"
STATE = "test/bridge/state"


@pytest.fixture
def broker(shared_tmp: Path, processes: list) -> int:  # type: ignore[type-arg]
    port = free_port()
    subprocess.run([need("mosquitto_passwd"), "-b", "-c", str(shared_tmp / "passwd"), "gateway", "g"], check=True)
    subprocess.run([need("mosquitto_passwd"), "-b", str(shared_tmp / "passwd"), "sensor", "s"], check=True)
    (shared_tmp / "passwd").chmod(0o644)
    (shared_tmp / "broker.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {shared_tmp / 'passwd'}\n")
    process = subprocess.Popen([need("mosquitto"), "-c", str(shared_tmp / "broker.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(process)
    wait_for_port(port, process)
    return port


def start_gateway(folder: Path, port: int, processes: list, health: int) -> subprocess.Popen[bytes]:  # type: ignore[type-arg]
    credentials = folder / "credentials"
    credentials.mkdir()
    (credentials / "username").write_text("gateway")
    (credentials / "password").write_text("g")
    config = {"broker": {"host": "127.0.0.1", "port": port, "credentialsDir": str(credentials)}, "bridgeStateTopic": STATE,
              "healthPort": health, "healthAddress": "127.0.0.1",
              "aggregations": [{"input": "sensors/+/temperature", "output": OUTPUT, "windowSeconds": 1, "offlineWindowSeconds": 3,
                                "functions": ["mean", "max", "count"], "qos": 1}]}
    (folder / "gateway.yaml").write_text(yaml.safe_dump(config))
    with open(folder / "gateway.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "edgesite", "gateway", "--config", str(folder / "gateway.yaml")],
                                   stdout=log, stderr=subprocess.STDOUT)
    processes.append(process)
    wait_for_port(health, process)
    return process


class Collector:
    def __init__(self, port: int):
        self.summaries: list[dict[str, Any]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cloud-view")
        self.client.username_pw_set("sensor", "s")
        self.client.on_message = lambda _c, _u, m: self.summaries.append(json.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(OUTPUT, qos=1)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def sensors(port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sensors")
    client.username_pw_set("sensor", "s")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def wait(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def seconds(summary: dict[str, Any]) -> float:
    from datetime import datetime

    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()  # noqa: E731
    return parse(summary["end"]) - parse(summary["start"])


def test_gateway_summarises_widens_and_shuts_down_cleanly(shared_tmp: Path, broker: int, processes: list) -> None:  # type: ignore[type-arg]
    health = free_port()
    gateway = start_gateway(shared_tmp, broker, processes, health)
    wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{health}/healthz", timeout=2).status == 200)
    collector = Collector(broker)
    publisher = sensors(broker)
    try:
        time.sleep(0.5)
        values = [float(v) for v in range(1, 201)]
        for index, value in enumerate(values):  # 200 readings from 50 sensors
            publisher.publish(f"sensors/s{index % 50}/temperature", json.dumps({"value": value}), qos=1).wait_for_publish(5)
        publisher.publish("sensors/s1/humidity", b"99", qos=1).wait_for_publish(5)  # not an input: ignored
        wait(lambda: sum(s["count"] for s in collector.summaries) == len(values))
        counted = [s for s in collector.summaries if s["count"]]
        assert max(s["max"] for s in counted) == 200.0
        assert sum(s["mean"] * s["count"] for s in counted) == pytest.approx(sum(values))
        assert all(0.9 <= seconds(s) <= 1.1 for s in collector.summaries[1:]), "1 s windows while the bridge is up"

        publisher.publish(STATE, b"0", qos=1, retain=True).wait_for_publish(5)  # the bridge goes down
        time.sleep(0.3)
        before = len(collector.summaries)
        wait(lambda: len(collector.summaries) >= before + 2, timeout=10)
        assert seconds(collector.summaries[-1]) == pytest.approx(3.0, abs=0.15), "windows widen to offlineWindowSeconds"

        publisher.publish(STATE, b"1", qos=1, retain=True).wait_for_publish(5)
        time.sleep(3.2)
        assert seconds(collector.summaries[-1]) == pytest.approx(1.0, abs=0.15)

        for value in (5.0, 7.0):
            publisher.publish("sensors/s9/temperature", str(value).encode(), qos=1).wait_for_publish(5)
        time.sleep(0.1)
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=15)
        assert gateway.returncode == 0
        wait(lambda: sum(s["count"] for s in collector.summaries) == len(values) + 2, timeout=5)
        assert collector.summaries[-1]["count"] >= 1, "the open window is closed and published on shutdown"
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        collector.close()
