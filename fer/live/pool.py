"""How many live analyses a server runs at once, and the worker processes that run them.

Each admitted stream leases one worker process; the next visitor beyond the bound is told the
live view is busy instead of making every stream slow. A lease that sees no frame for
`idle_reclaim_s` (a tab closed without STOP) is taken back. Workers outlive their leases, so
the next START finds the models loaded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from fer.live.worker import AnalyserSpec, AnalysisWorker
from fer.runtime import available_cores


def default_live_sessions(cores: int | None = None) -> int:
    """One stream per two cores: each takes about a core for video decoding, encoding and analysis."""
    return max(1, (available_cores() if cores is None else cores) // 2)


@dataclass
class Lease:
    worker: AnalysisWorker
    slot: int
    last_used: float = field(default_factory=time.monotonic)
    revoked: bool = False

    def touch(self) -> None:
        self.last_used = time.monotonic()


class WorkerPool:
    def __init__(self, size: int | None = None, idle_reclaim_s: float = 5.0) -> None:
        self.size = size or default_live_sessions()
        self.idle_reclaim_s = idle_reclaim_s
        self._lock = threading.Lock()
        self._workers: list[AnalysisWorker | None] = [None] * self.size
        self._leases: list[Lease | None] = [None] * self.size

    def in_use(self) -> int:
        with self._lock:
            self._reclaim_idle()
            return sum(lease is not None for lease in self._leases)

    def _reclaim_idle(self) -> None:
        now = time.monotonic()
        for i, lease in enumerate(self._leases):
            if lease is not None and now - lease.last_used > self.idle_reclaim_s:
                lease.revoked = True
                self._leases[i] = None

    def lease(self, spec: AnalyserSpec) -> Lease | None:
        """A worker configured for `spec` and reset, or None when all are in use."""
        with self._lock:
            self._reclaim_idle()
            free = [i for i, lease in enumerate(self._leases) if lease is None]
            if not free:
                return None
            i = free[0]
            worker = self._workers[i]
            if worker is None or not worker.alive:
                worker = AnalysisWorker(spec)
                self._workers[i] = worker
            else:
                worker.configure(spec)
                worker.reset()
            lease = Lease(worker, i)
            self._leases[i] = lease
            return lease

    def release(self, lease: Lease) -> None:
        with self._lock:
            if self._leases[lease.slot] is lease:
                self._leases[lease.slot] = None
            lease.revoked = True

    def warm(self, spec: AnalyserSpec) -> None:
        """Start the first worker in the background, ahead of the first START (loading takes seconds)."""
        def start() -> None:
            with self._lock:
                if self._workers[0] is None:
                    self._workers[0] = AnalysisWorker(spec)

        if self._workers[0] is None:  # every page run calls this: start a thread only the first time
            threading.Thread(target=start, name="fer-live-warm", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            for w in self._workers:
                if w is not None:
                    w.close()
            self._workers = [None] * self.size
