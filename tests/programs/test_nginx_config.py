"""The rendered nginx.conf, checked and run by the real nginx in front of a local upstream."""

from __future__ import annotations

import http.server
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgesite.model import EdgeSite
from edgesite.render import nginx_config

from tests.programs.conftest import free_port, need, wait_for_port

pytestmark = pytest.mark.programs


def with_cache(site: EdgeSite, *, upstream: str, ttl: int, stale: int) -> EdgeSite:
    cache = site.spec.caches[0].model_copy(update={"upstream": upstream, "ttl_seconds": ttl, "stale_if_error_seconds": stale})
    return site.model_copy(update={"spec": site.spec.model_copy(update={"caches": [cache, *site.spec.caches[1:]]})})


def write_config(site: EdgeSite, folder: Path, port: int) -> Path:
    (folder / "cache").mkdir(mode=0o777, exist_ok=True)
    text = nginx_config(site, "api", resolver="127.0.0.1", cache_dir=str(folder / "cache"), port=port, origin_port=free_port())
    # The pod's writable /tmp is an emptyDir; here it is the test's folder.
    text = re.sub(r"(_temp_path|^pid) /tmp/", rf"\1 {folder}/tmp-", text, flags=re.M)
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


def test_nginx_accepts_the_rendered_configuration(full_site: EdgeSite, shared_tmp: Path) -> None:
    path = write_config(full_site, shared_tmp, free_port())
    result = subprocess.run([need("nginx"), "-t", "-e", "stderr", "-p", str(shared_tmp), "-c", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_nginx_refuses_a_broken_configuration(full_site: EdgeSite, shared_tmp: Path) -> None:
    path = write_config(full_site, shared_tmp, free_port())
    path.write_text(path.read_text().replace("proxy_cache_lock on;", "proxy_cache_lok on;"))
    result = subprocess.run([need("nginx"), "-t", "-e", "stderr", "-p", str(shared_tmp), "-c", str(path)], capture_output=True, text=True)
    assert result.returncode != 0 and "proxy_cache_lok" in result.stderr


class Upstream:
    """A local origin that counts requests and can be stopped and started."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits = 0
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                upstream.hits += 1
                body = f"answer {upstream.hits}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.start()
    yield server
    if server.server:
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass


def get(port: int) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/items", timeout=10) as response:
            return response.status, response.headers.get("X-Cache-Status", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Cache-Status", ""), ""


def test_serves_stale_within_stale_if_error_and_not_after(full_site: EdgeSite, shared_tmp: Path, processes: list, upstream: Upstream) -> None:
    port = free_port()
    site = with_cache(full_site, upstream=f"http://127.0.0.1:{upstream.port}", ttl=1, stale=3)
    path = write_config(site, shared_tmp, port)
    with open(shared_tmp / "nginx.log", "wb") as log:
        process = subprocess.Popen([need("nginx"), "-e", "stderr", "-p", str(shared_tmp), "-c", str(path), "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=log)
    processes.append(process)
    wait_for_port(port, process)
    assert get(port) == (200, "MISS", "answer 1")
    assert get(port) == (200, "HIT", "answer 1")
    upstream.stop()
    time.sleep(1.5)  # fresh for 1 s, then stale
    status, cache, body = get(port)
    assert (status, cache, body) == (200, "STALE", "answer 1"), "the upstream is down: the stale answer is served"
    time.sleep(3.5)  # past ttl + staleIfErrorSeconds
    status, cache, _ = get(port)
    assert status == 502 and cache in ("MISS", "EXPIRED"), "past staleIfErrorSeconds nothing stale is served"
