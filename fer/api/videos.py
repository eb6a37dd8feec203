"""Background analysis of uploaded videos: a bounded pool of threads per server process.

Each job runs `fer video`'s analysis (`fer.analysis.analyze`, with typed `AnalysisSettings`) and
writes its summary document, and reports progress into the job store; deleting a job, or stopping the server, stops its analysis at the next progress
report. Slots are counted per process and per API key, and claimed only for a complete upload."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fer.analysis import AnalysisSettings
from fer.api.errors import ApiError
from fer.api.jobs import JobStore

log = logging.getLogger(__name__)

STEM = "result"  # the job folder's files: `VideoReport.write`'s names for this stem
SUMMARY = f"{STEM}_summary.json"
TIMELINE = f"{STEM}_timeline.csv"
PROGRESS_EVERY = 10  # frames between status writes


class JobCancelled(Exception):
    """The job was deleted (or expired) while it ran."""


class ServerStopping(Exception):
    """The server is shutting down: the job stops and is failed (its upload deleted)."""


@dataclass(frozen=True)
class VideoRequest:
    job_id: str
    path: Path  # the upload, inside the job's folder; deleted once analysed
    settings: AnalysisSettings
    owner: str = ""  # key hash of the client, whose slot it holds


class VideoWorker:
    def __init__(self, store: JobStore, models, workers: int, max_jobs: int, max_per_key: int | None = None):
        self.store = store
        self.models = models
        self.max_jobs = max_jobs
        self.max_per_key = max_per_key or max_jobs
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="fer-video")
        self._lock = threading.Lock()
        self.pending = 0  # queued or running in this process
        self.by_key: Counter[str] = Counter()  # of those, per key hash ('' without keys: no share)
        self.stopping = threading.Event()

    def full_for(self, owner: str = "") -> ApiError | None:
        """The 429 a new job of `owner` would get now, or None when there is room."""
        if self.pending >= self.max_jobs:
            return ApiError(429, f"{self.pending} videos are already queued or running; retry later",
                            {"Retry-After": "30"})
        if owner and self.by_key[owner] >= self.max_per_key:
            return ApiError(429, f"this key already has {self.by_key[owner]} videos queued or running (the "
                                 f"limit per key); retry when one is done", {"Retry-After": "30"})
        return None

    def reserve(self, owner: str = "") -> None:
        """Claim a slot for a complete upload; 429 when the queue, or this key's share, is full."""
        with self._lock:
            refused = self.full_for(owner)
            if refused:
                raise refused
            self.pending += 1
            self.by_key[owner] += 1

    def release(self, owner: str = "") -> None:
        with self._lock:
            self.pending -= 1
            self.by_key[owner] -= 1
            if self.by_key[owner] <= 0:
                del self.by_key[owner]

    def submit(self, req: VideoRequest) -> None:
        """Queue a job whose slot was reserved; the slot is released when it ends."""
        self._pool.submit(self._run, req)

    def shutdown(self) -> None:
        """Drop the queued jobs, stop the running ones at their next progress report, and wait
        for them; the caller then fails what is unfinished (`JobStore.abandon_unfinished`)."""
        self.stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, req: VideoRequest) -> None:
        from fer.video import VideoError

        try:
            if self.stopping.is_set():
                raise ServerStopping
            if self.store.update(req.job_id, status="running") is None:
                return
            analyse(req, self.store, self.models, self.stopping)
            self.store.update(req.job_id, status="done")
        except JobCancelled:
            log.info("video job %s was deleted while running", req.job_id)
        except ServerStopping:
            log.info("video job %s stopped: the server is shutting down", req.job_id)
        except VideoError as e:
            self.store.update(req.job_id, status="failed", error=str(e))
        except Exception as e:  # a job fails alone; the server keeps serving
            log.error("video job %s failed: %s", req.job_id, e, exc_info=e)
            self.store.update(req.job_id, status="failed",
                              error=f"could not analyse this video ({type(e).__name__})")
        finally:
            req.path.unlink(missing_ok=True)
            self.release(req.owner)


def analyse(req: VideoRequest, store: JobStore, models, stopping: threading.Event | None = None) -> None:
    from fer.analysis import analyze

    job = store.get(req.job_id)
    if job is None:
        raise JobCancelled

    def progress(done: int, total: int | None) -> None:
        if stopping is not None and stopping.is_set():
            raise ServerStopping
        due = done % PROGRESS_EVERY == 0 or done == total
        if due and store.update(req.job_id, frames_done=done, frames_total=total) is None:
            raise JobCancelled

    recognizer = models.cache.recognizer(req.settings)
    report = analyze(req.path, req.settings, recognizer, name=job.video, progress=progress)  # guarded again
    folder = store.folder(req.job_id)
    report.write(folder, STEM, plot=False)
