"""A response body taken in within a byte bound, whatever the server sends.

The API servers are trusted, the content is not: a container's log is written by a workload of the Application, an
object or a listing can be any size, and a response can drip for ever. Both sources (kube.py over urllib3, argocd_api.py
over httpx) feed their chunks into one `BoundedBody` and stop at their read deadline, so memory and time stay bounded
by the same rule.
"""

from __future__ import annotations

from typing import Literal


class TooLarge(Exception):
    """The body passed its bound and the read keeps nothing of it."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit // 2**20} MiB")
        self.limit = limit


class BoundedBody:
    """Collects chunks. `keep="all"` refuses a body past `limit` (a truncated JSON document means nothing);
    `keep="newest"` keeps its newest `limit` bytes from the first whole line on (a log's end is what explains it)."""

    def __init__(self, limit: int, keep: Literal["all", "newest"]) -> None:
        self._limit = limit
        self._keep = keep
        self._buffer = bytearray()
        self.cut = False

    def add(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) <= self._limit:
            return
        if self._keep == "all":
            raise TooLarge(self._limit)
        self.cut = True
        if len(self._buffer) > 2 * self._limit:  # trim now and then, not on every chunk
            del self._buffer[: len(self._buffer) - self._limit]

    def value(self) -> bytes:
        data = bytes(self._buffer[-self._limit:])
        if self.cut:
            newline = data.find(b"\n")
            if 0 <= newline < len(data) - 1:
                data = data[newline + 1:]  # the first line was cut: drop its end
        return data
