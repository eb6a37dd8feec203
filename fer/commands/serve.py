"""Serve the HTTP API (FastAPI under uvicorn): images, background video jobs, OpenAPI docs at /docs.

Listens on localhost unless told otherwise. Set FER_API_KEYS (comma-separated) to require
`Authorization: Bearer <key>` on every route but /v1/health; keys are read from the environment
only, so they never appear in a process list. Limits default to FER_API_<NAME> where set."""

from __future__ import annotations

import argparse

HELP = "HTTP API: POST /v1/analyze (images), /v1/videos (background jobs); docs at /docs"

# option -> (ApiSettings field, factor from the option's unit)
LIMIT_OPTIONS = {
    "max_image_mb": ("max_image_bytes", 1024 * 1024), "max_video_mb": ("max_video_bytes", 1024 * 1024),
    "max_megapixels": ("max_pixels", 1_000_000), "max_video_seconds": ("max_video_s", 1),
    "max_concurrent": ("max_concurrent", 1), "max_queue": ("max_waiting", 1),
    "max_video_jobs": ("max_video_jobs", 1), "video_workers": ("video_workers", 1),
    "job_ttl": ("job_ttl_s", 1), "max_video_jobs_per_key": ("max_video_jobs_per_key", 1),
    "max_uploads": ("max_uploads", 1), "upload_timeout": ("upload_timeout_s", 1),
    "min_upload_kbps": ("upload_min_rate", 1024),
}
# Seconds a stopping server (SIGTERM) waits for open requests before it cancels them and fails
# its unfinished jobs (their uploads are deleted either way).
GRACEFUL_SHUTDOWN_S = 30


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine "
                                                        "only; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    p.add_argument("--workers", type=int, default=1, help="server processes (default: %(default)s); each loads "
                                                          "the models, about 1 GB")
    p.add_argument("--max-image-mb", type=float, help="largest image upload (default 20)")
    p.add_argument("--max-video-mb", type=float, help="largest video upload (default 500)")
    p.add_argument("--max-megapixels", type=float, help="largest decoded image (default 40)")
    p.add_argument("--max-video-seconds", type=float, help="longest video (default 1800)")
    p.add_argument("--max-concurrent", type=int, help="image analyses at once per process (default: cores / "
                                                      "threads per analysis)")
    p.add_argument("--max-queue", type=int, help="image requests that may wait; beyond them 429 (default 16)")
    p.add_argument("--max-video-jobs", type=int, help="video jobs queued or running per process (default 8)")
    p.add_argument("--max-video-jobs-per-key", type=int, help="of those, per API key when keys are set "
                                                              "(default 4)")
    p.add_argument("--max-uploads", type=int, help="request bodies received at once per process; beyond them "
                                                   "429 (default 16)")
    p.add_argument("--upload-timeout", type=float, metavar="S", help="a request body must arrive within S "
                                                                     "seconds, else 408 (default 3600)")
    p.add_argument("--min-upload-kbps", type=float, metavar="KB_S",
                   help="... and, after 10 s, at KB_S kilobytes per second on average (default 64)")
    p.add_argument("--video-workers", type=int, help="videos analysed at once per process (default 1)")
    p.add_argument("--job-ttl", type=float, metavar="S", help="delete a job and its files S seconds after it "
                                                              "finished (default 3600)")
    p.add_argument("--jobs-dir", help="folder for uploads and results (default: a private temporary folder, "
                                      "removed at exit)")


def settings_from(args):
    """Environment first, command-line options over it."""
    from dataclasses import replace
    from pathlib import Path

    from fer.api.settings import ApiSettings

    changes = {}
    for opt, (field, unit) in LIMIT_OPTIONS.items():
        v = getattr(args, opt, None)
        if v is not None:
            changes[field] = type(getattr(ApiSettings, field))(v * unit)
    if args.jobs_dir:
        changes["jobs_dir"] = Path(args.jobs_dir)
    return replace(ApiSettings.from_env(), **changes)


def run(args) -> int:
    import logging
    import os
    import shutil
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    import uvicorn

    from fer.api.app import create_app

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    settings = settings_from(args)
    log = logging.getLogger("fer.serve")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_keys:
        log.warning("listening on %s without API keys: anyone who can reach it can use it "
                    "(set FER_API_KEYS)", args.host)
    log.info("API keys %s; docs at http://%s:%d/docs", "required" if settings.api_keys else "not required",
             args.host, args.port)
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info",
                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
        return 0
    # Several processes: each imports the factory and reads its settings from the environment; they
    # share one jobs folder so any of them can answer for any job.
    own_dir = None
    if settings.jobs_dir is None:
        own_dir = Path(tempfile.mkdtemp(prefix="fer_api_jobs_"))
        settings = replace(settings, jobs_dir=own_dir)
    os.environ.update(settings.to_env())
    try:
        uvicorn.run("fer.api.app:create_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="info", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
    return 0
