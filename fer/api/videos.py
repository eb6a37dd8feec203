"""Background analysis of uploaded videos: a bounded pool of threads per server process.

Each job runs the same public steps as `fer video` (fer.video.analyze_video, then
fer.insights.summarize_video and fer.timeline.write_timeline) and reports progress into the
job store; deleting a job stops its analysis at the next progress report."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fer.api.errors import ApiError
from fer.api.jobs import JobStore
from fer.pipeline import PipelineConfig

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
TIMELINE = "result_timeline.csv"
PROGRESS_EVERY = 10  # frames between status writes


class JobCancelled(Exception):
    """The job was deleted (or expired) while it ran."""


@dataclass(frozen=True)
class VideoRequest:
    job_id: str
    path: Path  # the upload, inside the job's folder; deleted once analysed
    model: str
    min_face_size: int
    detect_every: int
    max_frames: int


class VideoWorker:
    def __init__(self, store: JobStore, models, workers: int, max_jobs: int):
        self.store = store
        self.models = models
        self.max_jobs = max_jobs
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="fer-video")
        self._lock = threading.Lock()
        self.pending = 0  # queued or running in this process

    def reserve(self) -> None:
        """Claim a slot before the upload is stored; 429 when the queue is full."""
        with self._lock:
            if self.pending >= self.max_jobs:
                raise ApiError(429, f"{self.pending} videos are already queued or running; retry later",
                               {"Retry-After": "30"})
            self.pending += 1

    def release(self) -> None:
        with self._lock:
            self.pending -= 1

    def submit(self, req: VideoRequest) -> None:
        """Queue a job whose slot was reserved; the slot is released when it ends."""
        self._pool.submit(self._run, req)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, req: VideoRequest) -> None:
        from fer.video import VideoError

        try:
            if self.store.update(req.job_id, status="running") is None:
                return
            analyse(req, self.store, self.models)
            self.store.update(req.job_id, status="done")
        except JobCancelled:
            log.info("video job %s was deleted while running", req.job_id)
        except VideoError as e:
            self.store.update(req.job_id, status="failed", error=str(e))
        except Exception as e:  # a job fails alone; the server keeps serving
            log.error("video job %s failed: %s", req.job_id, e, exc_info=e)
            self.store.update(req.job_id, status="failed",
                              error=f"could not analyse this video ({type(e).__name__})")
        finally:
            req.path.unlink(missing_ok=True)
            self.release()


def analyse(req: VideoRequest, store: JobStore, models) -> None:
    from fer.commands.video import NOTE
    from fer.insights import InsightConfig, summarize_video
    from fer.timeline import write_timeline
    from fer.video import AnalysisOptions, analyze_video

    job = store.get(req.job_id)
    if job is None:
        raise JobCancelled
    recognizer = models.recognizer(req.model, req.min_face_size, detect_max_side=320)  # `fer video`'s default

    def progress(done: int, total: int | None) -> None:
        due = done % PROGRESS_EVERY == 0 or done == total
        if due and store.update(req.job_id, frames_done=done, frames_total=total) is None:
            raise JobCancelled

    options = AnalysisOptions(max_frames=req.max_frames, pipeline=PipelineConfig(detect_every=req.detect_every))
    result = analyze_video(req.path, recognizer, options, progress=progress)
    summary = summarize_video(result.timeline, job.video, InsightConfig())
    folder = store.folder(req.job_id)
    write_timeline(result.timeline, folder, "result")
    info = result.info
    doc = {"schema_version": 1, "video": job.video, "note": NOTE,
           "source": {"width": info.width, "height": info.height, "fps": round(info.fps, 3),
                      "frame_count": info.frame_count},
           "analysis": {"detect_every": options.detect_every, "frames_analysed": result.frames_analysed,
                        "stopped_at_cap": result.stopped_at_cap, "model": req.model,
                        "elapsed_s": round(result.elapsed_s, 2)},
           "summary": summary.to_dict()}
    (folder / SUMMARY).write_text(json.dumps(doc, indent=2) + "\n")
