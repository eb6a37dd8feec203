"""A thread-safe one-slot mailbox: a writer overwrites, readers see only the newest value."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Used where a queue would build a backlog: results for the page, frames for a worker."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._value: T | None = None

    def put(self, value: T) -> None:
        with self._cond:
            self._value = value
            self._cond.notify_all()

    def get(self) -> T | None:
        with self._cond:
            return self._value

    def take(self, timeout: float | None = None) -> T | None:
        """Remove and return the value, waiting up to `timeout` s for one; None if none came."""
        with self._cond:
            if self._value is None:
                self._cond.wait(timeout)
            value, self._value = self._value, None
            return value

    def clear(self) -> None:
        with self._cond:
            self._value = None
