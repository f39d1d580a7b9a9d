"""`edgesite gateway`: subscribes to raw sensor topics, publishes windowed summaries (I/O around `aggregate`).

It watches the bridge state Mosquitto publishes under $SYS and widens its windows while the bridge is
down. On SIGTERM it closes the open windows, publishes them, and waits for the broker's
acknowledgements before it exits, so no closed window is lost.
"""

from __future__ import annotations

import http.server
import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml

from . import topics
from .aggregate import Window, reading, windows

log = logging.getLogger("edgesite.gateway")


class Gateway:
    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.aggregations = config.get("aggregations", [])
        self.windows = windows(self.aggregations, time.time())
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        broker = config["broker"]
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=config.get("clientId", "edgesite-gateway"),
                                  clean_session=False)
        credentials = Path(broker.get("credentialsDir", "/etc/edgesite-credentials"))
        if (credentials / "username").exists():
            self.client.username_pw_set((credentials / "username").read_text().strip(), (credentials / "password").read_text().strip())
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_message = self.on_message
        self.client.reconnect_delay_set(1, 30)
        self.client.max_queued_messages_set(0)

    def on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the gateway: %s", reason)
            return
        self.connected.set()
        for aggregation in self.aggregations:
            client.subscribe(aggregation["input"], qos=1)
        if self.config.get("bridgeStateTopic"):
            client.subscribe(self.config["bridgeStateTopic"], qos=1)

    def on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.config.get("bridgeStateTopic"):
            offline = message.payload.strip() == b"0"
            with self.lock:
                for window in self.windows:
                    window.offline = offline
            log.info("bridge %s: windows %s", "down" if offline else "up", "widened" if offline else "back to normal")
            return
        value = reading(message.payload)
        if value is None:
            return
        with self.lock:
            for aggregation, window in zip(self.aggregations, self.windows):
                if topics.matches(aggregation["input"], message.topic):
                    window.add(value)

    def publish_due(self, now: float, *, everything: bool = False) -> list[mqtt.MQTTMessageInfo]:
        sent = []
        with self.lock:
            closing = [(a, w, w.close(now)) for a, w in zip(self.aggregations, self.windows) if everything or w.due(now)]
        for aggregation, _window, summary in closing:
            sent.append(self.client.publish(aggregation["output"], json.dumps(summary), qos=int(aggregation.get("qos", 1))))
        return sent

    def run(self) -> None:
        broker = self.config["broker"]
        self.client.connect_async(broker["host"], int(broker.get("port", 1883)))
        self.client.loop_start()
        health = start_health(self, int(self.config.get("healthPort", 9100)))
        try:
            while not self.stopping.wait(0.2):
                self.publish_due(time.time())
            for info in self.publish_due(time.time(), everything=True):
                info.wait_for_publish(10)
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            health.shutdown()


def start_health(gateway: Gateway, port: int) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            ok = self.path == "/healthz" and gateway.connected.is_set()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((gateway.config.get("healthAddress", "0.0.0.0"), port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(config_path: Path) -> None:
    config = yaml.safe_load(config_path.read_text())
    gateway = Gateway(config)
    signal.signal(signal.SIGTERM, lambda *_: gateway.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: gateway.stopping.set())
    gateway.run()


__all__ = ["Gateway", "Window", "main"]
