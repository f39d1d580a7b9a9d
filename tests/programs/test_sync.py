"""`edgesite sync` as it ships (its own process), with clients speaking the y-websocket protocol (pycrdt)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest
from pycrdt import Doc, Provider, Text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from edgesite.sync import WebsocketChannel, document_name
from tests.conftest import IN_CI
from tests.programs.conftest import free_port, need, wait_for_port

YJS = Path(__file__).parent / "yjs"  # a real Yjs client (y-websocket), installed by `make node-deps`

pytestmark = pytest.mark.programs


class Server:
    def __init__(self, store: Path):
        self.store, self.port, self.log = store, free_port(), store.parent.parent / "sync.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "edgesite", "sync", "--port", str(self.port), "--store", str(self.store)],
                                            stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process
        self.process.send_signal(sig)
        return self.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    running = Server(tmp_path / "data" / "documents.sqlite")
    running.start()
    yield running
    if running.process and running.process.poll() is None:
        running.stop(signal.SIGKILL)


def notes(doc: Doc) -> str:
    return str(doc.get("notes", type=Text))


async def until(predicate: Callable[[], bool], what: str, timeout: float = 5) -> None:
    with anyio.move_on_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)
    assert predicate(), f"timed out waiting for {what}"


async def connected(port: int, document: str, docs: list[Doc], body: Callable[[], Awaitable[None]]) -> None:
    """Connect every doc to `document` on the server, run `body` (an async callable), disconnect."""
    async with AsyncExitStack() as stack:
        for doc in docs:
            websocket = await stack.enter_async_context(connect(f"ws://127.0.0.1:{port}/{document}"))
            await stack.enter_async_context(Provider(doc, WebsocketChannel(websocket, document)))
        await body()


def test_two_clients_on_one_document_converge(server: Server) -> None:
    a, b = Doc(), Doc()

    async def edit() -> None:
        a.get("notes", type=Text).insert(0, "Line 3 stopped at 06:10.")
        await until(lambda: notes(b) == "Line 3 stopped at 06:10.", "B to see A's edit")
        b.get("notes", type=Text).insert(len(notes(b)), " Restarted 06:25.")
        await until(lambda: notes(a) == "Line 3 stopped at 06:10. Restarted 06:25.", "A to see B's edit")

    anyio.run(connected, server.port, "shift-notes", [a, b], edit)


def test_documents_survive_a_restart_and_a_kill(server: Server) -> None:
    writer = Doc()

    async def write() -> None:
        writer.get("notes", type=Text).insert(0, "Forklift 2 battery low.")
        await anyio.sleep(0.5)  # the server writes each update as it arrives

    anyio.run(connected, server.port, "shift-notes", [writer], write)
    assert server.stop(signal.SIGTERM) == 0, "a clean stop on SIGTERM"
    server.start()
    reader = Doc()

    async def read_and_append() -> None:
        await until(lambda: notes(reader) == "Forklift 2 battery low.", "the stored document after a restart")
        reader.get("notes", type=Text).insert(len(notes(reader)), " Swapped.")
        await anyio.sleep(0.5)

    anyio.run(connected, server.port, "shift-notes", [reader], read_and_append)
    server.stop(signal.SIGKILL)
    server.start()
    late = Doc()

    async def read() -> None:
        await until(lambda: notes(late) == "Forklift 2 battery low. Swapped.", "the stored document after kill -9")

    anyio.run(connected, server.port, "shift-notes", [late], read)


def test_edits_made_while_the_server_was_away_merge(server: Server) -> None:
    """Offline-first: two clients keep editing with no server, and converge once it is back."""
    a, b = Doc(), Doc()

    async def share() -> None:
        a.get("notes", type=Text).insert(0, "Checklist:")
        await until(lambda: notes(b) == "Checklist:", "the shared start")

    anyio.run(connected, server.port, "checklist", [a, b], share)
    server.stop(signal.SIGTERM)
    a.get("notes", type=Text).insert(len(notes(a)), " valves ok.")
    b.get("notes", type=Text).insert(0, "[night] ")
    server.start()
    late = Doc()

    async def rejoin() -> None:
        merged = "[night] Checklist: valves ok."
        await until(lambda: notes(a) == notes(b) == notes(late) == merged, "both offline edits merged everywhere")

    anyio.run(connected, server.port, "checklist", [a, b, late], rejoin)


def test_documents_are_separate_and_a_path_is_required(server: Server) -> None:
    first, other = Doc(), Doc()

    async def edit() -> None:
        first.get("notes", type=Text).insert(0, "only here")
        await anyio.sleep(0.5)

    anyio.run(connected, server.port, "line-1", [first], edit)

    async def look() -> None:
        await anyio.sleep(0.5)
        assert notes(other) == ""

    anyio.run(connected, server.port, "line-2", [other], look)

    async def no_name() -> None:
        async with connect(f"ws://127.0.0.1:{server.port}/") as websocket:
            with pytest.raises(ConnectionClosed) as closed:
                await websocket.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    anyio.run(no_name)
    assert server.process and server.process.poll() is None, "a bad client does not stop the server"


def yjs(port: int, document: str, *, append: str, expect: str) -> str:
    """Run the Yjs client: it joins `document`, appends, and returns the text once it reads `expect`."""
    if not (YJS / "node_modules").is_dir():
        (pytest.fail if IN_CI else pytest.skip)("the Yjs client is not installed (make node-deps)")
    result = subprocess.run([need("node"), str(YJS / "client.mjs"), f"ws://127.0.0.1:{port}", document, append, expect],
                            capture_output=True, text=True, timeout=30)
    text = str(json.loads(result.stdout.strip().splitlines()[-1])["text"]) if result.stdout.strip() else ""
    assert result.returncode == 0, f"the Yjs client read {text!r}, expected {expect!r}: {result.stderr}"
    return text


def test_a_yjs_client_shares_documents_with_other_clients(server: Server) -> None:
    """The clients users have: Yjs in a browser or in Node, through y-websocket."""
    python = Doc()

    async def write() -> None:
        python.get("notes", type=Text).insert(0, "Pallet 7 damaged.")
        await anyio.sleep(0.5)

    anyio.run(connected, server.port, "incidents", [python], write)
    assert yjs(server.port, "incidents", append=" Reported to cloud.", expect="Pallet 7 damaged. Reported to cloud.")
    server.stop(signal.SIGTERM)
    server.start()
    assert yjs(server.port, "incidents", append="", expect="Pallet 7 damaged. Reported to cloud.")
    later = Doc()

    async def read() -> None:
        await until(lambda: notes(later) == "Pallet 7 damaged. Reported to cloud.", "the Yjs edit, stored")

    anyio.run(connected, server.port, "incidents", [later], read)


@pytest.mark.parametrize(("path", "name"), [("/shift-notes", "shift-notes"), ("/a/b?x=1", "a/b"), ("/", "")])
def test_document_name_is_the_path(path: str, name: str) -> None:
    assert document_name(path) == name
