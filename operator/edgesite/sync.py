"""`edgesite sync`: the site's CRDT sync server (the y-websocket protocol), every document kept in SQLite.

People on the floor keep editing shared documents (shift notes, checklists) while the uplink is down. The
server keeps every document's updates on the site's volume, so a restarted server, or a client that joins
later, gets the whole document back; CRDT merges make the later exchange with a cloud copy order-free.
A client joins the document named by its URL path: ws://HOST:PORT/<document>.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import anyio
from pycrdt import Channel
from pycrdt.store import SQLiteYStore, YDocNotFound
from pycrdt.websocket import WebsocketServer, YRoom
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

log = logging.getLogger("edgesite.sync")


class WebsocketChannel(Channel):
    """A `websockets` connection as the byte channel pycrdt speaks through (server or client side)."""

    def __init__(self, websocket: Any, path: str):
        self._websocket, self._path = websocket, path

    @property
    def path(self) -> str:
        return self._path

    async def send(self, message: bytes) -> None:
        await self._websocket.send(message)

    async def recv(self) -> bytes:
        return bytes(await self._websocket.recv())

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration() from None


class PersistentRooms(WebsocketServer):
    """One room per document; a room is filled from the store before any client syncs with it."""

    def __init__(self, database: Path):
        super().__init__(rooms_ready=False, auto_clean_rooms=True, log=log,
                         exception_handler=lambda error, logger: logger.warning("sync error: %s", error) or True)
        self.store = type("SiteStore", (SQLiteYStore,), {"db_path": str(database)})
        self._opening = anyio.Lock()

    async def get_room(self, name: str) -> YRoom:
        async with self._opening:  # two first clients of one document must not both load it
            if name not in self.rooms:
                store = self.store(path=name, log=log)
                room = YRoom(ready=False, ystore=store, exception_handler=self.exception_handler, log=log)
                self.rooms[name] = room
                await self.start_room(room)
                await store.started.wait()
                try:
                    await store.apply_updates(room.ydoc)  # before `ready`: loading must not write the updates again
                except YDocNotFound:
                    pass
                room.ready = True
                await room.ydoc_observed.wait()  # a client's first update must reach the store too
            return self.rooms[name]


def document_name(path: str) -> str:
    """The document a client asks for: its URL path without the leading slash or a query."""
    return path.split("?", 1)[0].lstrip("/")


async def run(port: int, database: Path, *, host: str = "0.0.0.0", started: anyio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT; updates are written to the database as they arrive."""
    database.parent.mkdir(parents=True, exist_ok=True)
    rooms = PersistentRooms(database)

    async def client(websocket: ServerConnection) -> None:
        name = document_name(websocket.request.path if websocket.request else "/")
        if not name:
            await websocket.close(1008, "name the document in the path: ws://HOST:PORT/<document>")
            return
        await rooms.serve(WebsocketChannel(websocket, name))

    async with rooms, serve(client, host, port, max_size=16 * 2**20):
        log.info("serving CRDT documents on %s:%d, stored in %s", host, port, database)
        if started is not None:
            started.set()
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                log.info("stopping")
                return


def main(port: int, database: Path) -> None:
    anyio.run(run, port, database)
