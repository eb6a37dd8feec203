"""Video jobs on disk: one folder per job with its upload, its status and its results.

The status lives in a file (written atomically), not in memory, so any of uvicorn's worker
processes can answer for any job, and deleting the folder is all it takes to forget a job.
A job expires `ttl_s` after it finished; one that is queued or running lives as long as the
server process that owns it (a crashed server's jobs are purged by the next one). Expired jobs
are purged on access and by the app's periodic sweep. Nothing else is kept."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
STATUSES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class Job:
    id: str
    status: str  # one of STATUSES
    video: str  # the uploaded file's name, as the client gave it (shown, never used as a path)
    created: float  # unix seconds
    expires: float
    frames_done: int = 0
    frames_total: int | None = None
    error: str | None = None
    finished: float | None = None
    owner: int = 0  # pid of the server process that analyses it

    @property
    def finished_or_orphaned(self) -> bool:
        return self.status in ("done", "failed") or not _alive(self.owner)

    @property
    def progress(self) -> float:
        if self.status == "done":
            return 1.0
        if not self.frames_total:
            return 0.0
        return min(1.0, self.frames_done / self.frames_total)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("owner")  # a server detail
        d["progress"] = round(self.progress, 4)
        return d


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


class JobStore:
    def __init__(self, root: str | Path, ttl_s: float):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl_s = ttl_s

    def folder(self, job_id: str) -> Path:
        if not JOB_ID.match(job_id):  # also what keeps '../' out of every path below
            raise KeyError(job_id)
        return self.root / job_id

    def create(self, video_name: str) -> Job:
        now = time.time()
        job = Job(secrets.token_hex(16), "queued", video_name, now, now + self.ttl_s, owner=os.getpid())
        self.folder(job.id).mkdir()
        self._write(job)
        return job

    def _write(self, job: Job) -> None:
        path = self.folder(job.id) / "job.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(job)))
        os.replace(tmp, path)  # readers never see half a file

    def get(self, job_id: str) -> Job | None:
        """The job, or None when it is unknown, deleted or expired (an expired one is purged)."""
        try:
            d = json.loads((self.folder(job_id) / "job.json").read_text())
        except (KeyError, OSError, ValueError):
            return None
        job = Job(**d)
        if job.expires < time.time() and job.finished_or_orphaned:
            self.delete(job.id)
            return None
        return job

    def update(self, job_id: str, **changes) -> Job | None:
        """Change fields of a job that still exists; None when it was deleted meanwhile."""
        job = self.get(job_id)
        if job is None:
            return None
        if changes.get("status") in ("done", "failed"):
            now = time.time()
            changes.setdefault("finished", now)
            changes["expires"] = now + self.ttl_s
        job = replace(job, **changes)
        if not self.folder(job_id).is_dir():
            return None
        self._write(job)
        return job

    def delete(self, job_id: str) -> bool:
        try:
            folder = self.folder(job_id)
        except KeyError:
            return False
        if not folder.is_dir():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def purge_expired(self) -> int:
        """Delete every expired job (and any folder that is not a job); returns how many."""
        n = 0
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            if not JOB_ID.match(folder.name):
                continue
            if self.get(folder.name) is None and folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                n += 1
        return n
