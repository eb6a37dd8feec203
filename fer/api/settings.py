"""Every limit and switch of the API in one frozen dataclass, read once when the app is built.

The environment is the way settings reach uvicorn's worker processes (`serve --workers N`
imports the app factory in each), so `from_env` is the single place that reads FER_API_*."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from fer.runtime import available_cores, threads

MB = 1024 * 1024


def default_concurrency() -> int:
    """Analyses that may run at once: enough to use every core with `threads()` threads each."""
    return max(1, available_cores() // threads())


@dataclass(frozen=True)
class ApiSettings:
    api_keys: tuple[str, ...] = ()  # empty: no authentication (the default on localhost)
    max_image_bytes: int = 20 * MB  # request body of POST /v1/analyze
    max_video_bytes: int = 500 * MB  # request body of POST /v1/videos
    max_pixels: int = 40_000_000  # decoded image size
    max_video_s: float = 1800.0  # longer videos are refused (413)
    max_concurrent: int = 0  # image analyses running at once; 0: default_concurrency()
    max_waiting: int = 16  # image requests that may wait for a slot; beyond them 429
    max_video_jobs: int = 8  # video jobs queued or running in one server process; beyond them 429
    max_video_jobs_per_key: int = 4  # of those, per API key (when keys are set); beyond them 429
    max_uploads: int = 16  # request bodies being received at once per process (all routes); beyond 429
    video_workers: int = 1  # videos analysed at once per server process
    job_ttl_s: float = 3600.0  # a job and its files are deleted this long after it finished
    jobs_dir: Path | None = None  # where uploads and results live; None: a private temp folder
    # A request body must arrive within upload_timeout_s and, after upload_grace_s, at an average
    # of upload_min_rate bytes/s at least; else 408 and the connection is closed.
    upload_timeout_s: float = 3600.0
    upload_min_rate: int = 64 * 1024
    upload_grace_s: float = 10.0

    def __post_init__(self):
        for f in ("max_image_bytes", "max_video_bytes", "max_pixels", "max_video_jobs", "video_workers",
                  "max_video_jobs_per_key", "max_uploads"):
            if getattr(self, f) < 1:
                raise ValueError(f"{f} must be >= 1, got {getattr(self, f)}")
        if self.max_concurrent < 0 or self.max_waiting < 0 or self.upload_min_rate < 0:
            raise ValueError("max_concurrent, max_waiting and upload_min_rate must be >= 0")
        if not (self.job_ttl_s > 0 and self.max_video_s > 0 and self.upload_timeout_s > 0):
            raise ValueError("job_ttl_s, max_video_s and upload_timeout_s must be > 0")
        if self.upload_grace_s < 0:
            raise ValueError("upload_grace_s must be >= 0")

    @property
    def concurrency(self) -> int:
        return self.max_concurrent or default_concurrency()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        """FER_API_KEYS (comma-separated) and FER_API_<FIELD> for every other field. A key list
        that is set but holds no key (' , ') is refused: it would turn authentication off."""
        env = os.environ if env is None else env
        kw: dict = {}
        raw_keys = env.get("FER_API_KEYS", "")
        keys = [k.strip() for k in raw_keys.split(",") if k.strip()]
        if raw_keys and not keys:
            raise ValueError("FER_API_KEYS is set but holds no key (only commas or spaces); set it to "
                             "key1,key2 to require keys, or unset it to serve without authentication")
        if keys:
            kw["api_keys"] = tuple(keys)
        for f in fields(cls):
            raw = env.get(f"FER_API_{f.name.upper()}")
            if raw is None or f.name == "api_keys":
                continue
            kw[f.name] = Path(raw) if f.name == "jobs_dir" else (float(raw) if f.name.endswith("_s") else int(raw))
        return cls(**kw)

    def to_env(self) -> dict[str, str]:
        """The inverse of `from_env`, for handing settings to uvicorn's worker processes."""
        env = {"FER_API_KEYS": ",".join(self.api_keys)}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "api_keys" and v is not None:
                env[f"FER_API_{f.name.upper()}"] = str(v)
        return env
