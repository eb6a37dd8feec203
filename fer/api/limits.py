"""Request-size limits and the bounded queue in front of the analysers.

A size limit is enforced twice: from Content-Length before any byte is read, and by counting
bytes as they arrive (chunked uploads have no length). The analysis gate runs at most
`running` analyses at once in worker threads and lets `waiting` more queue; the next request
gets 429 with Retry-After at once instead of a connection that hangs until it times out."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from fer.api.errors import ApiError, error_response

T = TypeVar("T")


# After a refusal, read and drop up to this much of the rest of the body, so that the client,
# still sending, reads the 413 instead of a connection reset; beyond it the connection closes.
DRAIN_BYTES = 64 * 1024 * 1024


async def drain(receive, budget: int = DRAIN_BYTES) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return
        budget -= len(message.get("body", b""))


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than the limit of {limit / 1024 / 1024:.0f} MB")


class BodyLimit:
    """ASGI middleware: `limit_for(path)` bytes at most (None: no limit) in a request body."""

    def __init__(self, app, limit_for: Callable[[str], int | None]):
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope, receive, send):
        limit = self.limit_for(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            err = too_large(limit)
            await drain(receive)
            return await error_response(err.status, err.message, {"Connection": "close"})(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                if message.get("more_body"):
                    await drain(receive)
                raise too_large(limit)
            return message

        await self.app(scope, counted, send)


class AnalysisGate:
    """At most `running` calls at once in threads, `waiting` more queued, 429 beyond that.

    One per server process; the event loop is single-threaded, so a plain counter is exact."""

    def __init__(self, running: int, waiting: int):
        self.running = running
        self.capacity = running + waiting
        self.limiter = anyio.CapacityLimiter(running)
        self.in_flight = 0
        self._mean_s = 0.1  # running mean of one call, for Retry-After

    def retry_after(self) -> int:
        return max(1, math.ceil(self._mean_s * self.in_flight / self.running))

    async def run(self, fn: Callable[..., T], *args) -> T:
        if self.in_flight >= self.capacity:
            raise ApiError(429, f"too many analyses in progress ({self.in_flight}); retry later",
                           {"Retry-After": str(self.retry_after())})
        self.in_flight += 1
        start = anyio.current_time()
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
        finally:
            self.in_flight -= 1
            self._mean_s = 0.9 * self._mean_s + 0.1 * (anyio.current_time() - start)
