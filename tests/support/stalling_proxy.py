"""A TCP proxy on loopback in front of an HTTP server that never answers requests whose path contains a marker.

Used to make one upstream (the Kubernetes stand-in) time out on some reads and answer the others: each request
is forwarded with `Connection: close`, so every request is seen (and judged) on a connection of its own.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Self


class StallingProxy:
    def __init__(self, upstream: str, stall_when: str) -> None:
        host, port = upstream.removeprefix("http://").split("/")[0].split(":")
        self._target = (host, int(port))
        self._marker = stall_when.encode()
        self.held = 0  # requests being held right now (each until its client gives up)
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self.url = ""
        threading.Thread(target=self._run, daemon=True, name="stalling-proxy").start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0]
        if self._marker in request_line:
            self.held += 1
            try:
                await reader.read()  # hold the connection until the client gives up
            finally:
                self.held -= 1
            writer.close()
            return
        lines = [line for line in head.split(b"\r\n") if line and not line.lower().startswith(b"connection:")]
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        upstream_writer.write(b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")), 0)
        if length:
            upstream_writer.write(await reader.readexactly(length))
        await upstream_writer.drain()
        while chunk := await upstream_reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        writer.close()
        upstream_writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
