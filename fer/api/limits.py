"""Request-size and upload-pace limits, and the bounded queue in front of the analysers.

A size limit is enforced twice: from Content-Length before any byte is read, and by counting
bytes as they arrive (chunked uploads have no length). A body must also arrive in time: within
`timeout_s`, and after `grace_s` at an average of `min_rate` bytes/s, or the request gets 408
and its connection is closed, so a client dribbling bytes holds nothing for long. At most
`max_uploads` bodies are received at once. The analysis gate runs at most `running` analyses at
once in worker threads and lets `waiting` more queue; the next request gets 429 with
Retry-After at once instead of a connection that hangs until it times out."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread

from fer.api.errors import ApiError, error_response

log = logging.getLogger(__name__)

T = TypeVar("T")


# After a refusal, read and drop up to this much of the rest of the body (for at most DRAIN_S),
# so that the client, still sending, reads the 413 instead of a connection reset; beyond it the
# connection closes.
DRAIN_BYTES = 64 * 1024 * 1024
DRAIN_S = 10.0


async def drain(receive, budget: int = DRAIN_BYTES) -> None:
    with anyio.move_on_after(DRAIN_S):
        while budget > 0:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                return
            budget -= len(message.get("body", b""))


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than the limit of {limit / 1024 / 1024:.0f} MB")


@dataclass(frozen=True)
class UploadPace:
    """How long a request body may take: all of it within `timeout_s`; after `grace_s`, an
    average of `min_rate` bytes/s since the request began (0: no minimum)."""

    timeout_s: float = 3600.0
    min_rate: int = 0
    grace_s: float = 10.0

    def deadline(self, start: float, received: int) -> float:
        """The monotonic time by which more of the body must have arrived."""
        end = start + self.timeout_s
        if self.min_rate:
            end = min(end, start + max(self.grace_s, received / self.min_rate))
        return end


def too_slow(pace: UploadPace, received: int) -> ApiError:
    return ApiError(408, f"the request body arrived too slowly ({received} bytes); a body must arrive "
                         f"within {pace.timeout_s:.0f} s, at {pace.min_rate / 1024:.0f} KB/s or more on "
                         f"average after {pace.grace_s:.0f} s", {"Connection": "close"})


def _has_body(scope) -> bool:
    headers = dict(scope.get("headers") or [])
    length = headers.get(b"content-length")
    return (length is not None and length.strip() not in (b"", b"0")) or b"transfer-encoding" in headers


class BodyLimit:
    """ASGI middleware: `limit_for(path)` bytes at most (None: no limit) in a request body, at the
    pace `pace` asks, with at most `max_uploads` bodies being received at once (None: no bound)."""

    def __init__(self, app, limit_for: Callable[[str], int | None], pace: UploadPace | None = None,
                 max_uploads: int | None = None):
        self.app = app
        self.limit_for = limit_for
        self.pace = pace or UploadPace()
        self.max_uploads = max_uploads
        self.uploading = 0  # bodies being received now; the event loop is single-threaded

    async def __call__(self, scope, receive, send):
        limit = self.limit_for(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            err = too_large(limit)
            await drain(receive)
            return await error_response(err.status, err.message, {"Connection": "close"})(scope, receive, send)
        if not _has_body(scope):
            return await self.app(scope, receive, send)
        if self.max_uploads is not None and self.uploading >= self.max_uploads:
            busy = error_response(429, f"{self.uploading} uploads are being received already; retry later",
                                  {"Retry-After": "5", "Connection": "close"})
            return await busy(scope, receive, send)
        start, seen, complete = time.monotonic(), 0, False
        self.uploading += 1

        def finished() -> None:
            nonlocal complete
            if not complete:
                complete = True
                self.uploading -= 1

        async def counted():
            nonlocal seen
            if complete:  # the body is in: what follows is a disconnect, whenever it comes
                return await receive()
            with anyio.move_on_after(max(0.0, self.pace.deadline(start, seen) - time.monotonic())) as timer:
                message = await receive()
            if timer.cancelled_caught:
                finished()
                log.warning("%s %s: closed an upload that came too slowly (%d bytes in %.0f s)",
                            scope.get("method"), scope["path"], seen, time.monotonic() - start)
                raise too_slow(self.pace, seen)
            seen += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                finished()
            if seen > limit:
                if message.get("more_body"):
                    await drain(receive)
                raise too_large(limit)
            return message

        try:
            await self.app(scope, counted, send)
        finally:
            finished()


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
