"""Video jobs on disk: one folder per job with its upload, its status and its results.

The status lives in a file (written atomically), not in memory, so any of uvicorn's worker
processes can answer for any job, and deleting the folder is all it takes to forget a job.
A job expires `ttl_s` after it finished; one that is queued or running lives as long as the
server process that owns it. When a server stops (SIGTERM) it fails its unfinished jobs and
deletes their uploads (`abandon_unfinished`); one that starts fails and empties those of servers
that died (`sweep_leftovers`), so no upload outlives the server that took it. Expired jobs are
purged on access and by the app's periodic sweep. Nothing else is kept.

A job belongs to the API key that created it: `key_hash` (SHA-256 of the key, never the key)
is stored with it, and the routes answer 404 to every other key."""

from __future__ import annotations

import hashlib
import hmac
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
JOB_FILE = "job.json"
# This process's incarnation: a pid can come back (pid 1 in every container), an instance cannot.
INSTANCE = secrets.token_hex(8)
STOPPED = "the server stopped before this job finished; its upload was deleted: submit the video again"
HALF_CREATED_S = 60.0  # a job folder without a job file this old is a crash's leftover


def key_hash(key: str) -> str:
    """What a job stores about the key that created it ('' when the server has no keys)."""
    return hashlib.sha256(b"fer-api-job-owner\0" + key.encode()).hexdigest() if key else ""


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
    instance: str = ""  # that process's INSTANCE
    key_hash: str = ""  # `key_hash` of the API key that created it

    @property
    def ended(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def orphaned(self) -> bool:
        """Its server is gone: the pid is dead, or it is ours but from an earlier incarnation."""
        if self.owner == os.getpid():
            return self.instance != INSTANCE
        return not _alive(self.owner)

    @property
    def finished_or_orphaned(self) -> bool:
        return self.ended or self.orphaned

    def belongs_to(self, owner_hash: str) -> bool:
        return hmac.compare_digest(self.key_hash, owner_hash)

    @property
    def progress(self) -> float:
        if self.status == "done":
            return 1.0
        if not self.frames_total:
            return 0.0
        return min(1.0, self.frames_done / self.frames_total)

    def to_dict(self) -> dict:
        d = asdict(self)
        for server_detail in ("owner", "instance", "key_hash"):
            d.pop(server_detail)
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

    def create(self, video_name: str, owner_hash: str = "") -> Job:
        now = time.time()
        job = Job(secrets.token_hex(16), "queued", video_name, now, now + self.ttl_s, owner=os.getpid(),
                  instance=INSTANCE, key_hash=owner_hash)
        self.folder(job.id).mkdir()
        self._write(job)
        return job

    def _write(self, job: Job) -> None:
        path = self.folder(job.id) / JOB_FILE
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(job)))
        os.replace(tmp, path)  # readers never see half a file

    def get(self, job_id: str) -> Job | None:
        """The job, or None when it is unknown, deleted or expired (an expired one is purged)."""
        try:
            d = json.loads((self.folder(job_id) / JOB_FILE).read_text())
            job = Job(**d)
        except (KeyError, OSError, ValueError, TypeError):
            return None
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

    def abandon(self, job: Job) -> None:
        """Fail an unfinished job and delete every file of it but its status (the upload first)."""
        folder = self.folder(job.id)
        for path in folder.iterdir() if folder.is_dir() else ():
            if path.name == JOB_FILE:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self.update(job.id, status="failed", error=STOPPED)

    def _jobs(self):
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            if JOB_ID.match(folder.name):
                yield folder, self.get(folder.name)

    def abandon_unfinished(self) -> int:
        """At shutdown: fail this process's unfinished jobs and delete their uploads; how many."""
        n = 0
        for _, job in self._jobs():
            if job and not job.ended and job.owner == os.getpid() and job.instance == INSTANCE:
                self.abandon(job)
                n += 1
        return n

    def sweep_leftovers(self) -> int:
        """At start-up: fail the unfinished jobs of servers that are gone (deleting their uploads),
        remove half-created job folders and stray temporary files; how many were swept."""
        n = 0
        for folder, job in self._jobs():
            for tmp in folder.glob("job.*.tmp"):  # `_write`'s, from a writer that died mid-way
                pid = tmp.name.split(".")[1]
                if pid.isdigit() and not _alive(int(pid)):
                    tmp.unlink(missing_ok=True)
            try:
                if job is None and not (folder / JOB_FILE).exists() \
                        and time.time() - folder.stat().st_mtime > HALF_CREATED_S:
                    shutil.rmtree(folder, ignore_errors=True)
                    n += 1
                elif job is not None and not job.ended and job.orphaned:
                    self.abandon(job)
                    n += 1
            except OSError:  # deleted meanwhile (expired, or by a client)
                continue
        return n + self.purge_expired()

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
