"""`create_app(settings)`: the FastAPI application. Routes are thin: they validate, hand the work
to the analysis gate or the video worker, and shape the answer with `fer.schema`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from fer.analysis import AnalysisSettings
from fer.api.auth import bearer, require_key
from fer.api.errors import ApiError, image_error_status, install_handlers
from fer.api.jobs import JobStore
from fer.api.limits import AnalysisGate, BodyLimit, UploadPace
from fer.api.logs import install_redaction
from fer.api.resources import Models, model_info
from fer.api.settings import ApiSettings
from fer.api.uploads import UPLOAD_BODY, UPLOAD_NAME, read_bytes, save_to
from fer.api.videos import SUMMARY, TIMELINE, VideoRequest, VideoWorker
from fer.recognizer import DEFAULT_MAX_FACES

log = logging.getLogger(__name__)

API_VERSION = "1"
MAX_FACES_LIMIT = 100  # per image: bounds the classifier work one request can ask for
Tta = Literal["none", "flip", "flip_zoom"]
VIDEO_DEFAULTS = AnalysisSettings()  # `fer video`'s, the app's and batch's too


def _authorized(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    require_key(request, credentials)  # also sets request.state.owner: whose jobs these are


def _state(request: Request):
    return request.app.state


open_routes = APIRouter(prefix="/v1", tags=["service"])
routes = APIRouter(prefix="/v1", dependencies=[Depends(_authorized)])


@open_routes.get("/health")
def health(request: Request) -> dict:
    """Liveness; needs no key, says nothing about the models or jobs."""
    return {"status": "ok", "api_version": API_VERSION}


@routes.get("/models", tags=["models"])
def models(request: Request) -> dict:
    """The shipped models: classes and test accuracy from each model card."""
    return {"models": [model_info(n) for n in _state(request).models.names()]}


@routes.post("/analyze", tags=["images"], openapi_extra=UPLOAD_BODY)
async def analyze(request: Request, model: str | None = None, tta: Tta = "flip_zoom",
                  min_face_size: int = Query(20, ge=12, le=4096),
                  max_faces: int = Query(DEFAULT_MAX_FACES, ge=1, le=MAX_FACES_LIMIT)) -> dict:
    """Faces and emotion probabilities of one image (multipart field `file`, or the raw body): the
    same schema-versioned JSON as `fer analyze --json`, with one entry in `images`."""
    from fer.imageio import ImageError, load_image
    from fer.schema import FacesReport, analyze_image

    st = _state(request)
    model = st.models.check(model)
    name, data = await read_bytes(request)

    def work():
        try:
            rgb = load_image(data, max_pixels=st.settings.max_pixels, name=name)
        except ImageError as e:
            raise ApiError(image_error_status(e), str(e)) from None
        recognizer = st.models.recognizer(model, min_face_size, max_faces=max_faces)
        return recognizer.labels, analyze_image(recognizer, rgb, name, tta)

    labels, result = await st.gate.run(work)
    return FacesReport(model, tuple(labels), tta, (result,)).to_dict()


def _links(job_id: str) -> dict:
    base = f"/v1/videos/{job_id}"
    return {"self": base, "summary": f"{base}/summary", "timeline": f"{base}/timeline.csv"}


def _job_or_404(request: Request, job_id: str):
    """The job, if it exists and belongs to the caller's key; any other key gets the same 404."""
    job = _state(request).store.get(job_id)
    if job is None or not job.belongs_to(getattr(request.state, "owner", "")):
        raise ApiError(404, f"no video job {job_id!r} (unknown, deleted or expired)")
    return job


@routes.post("/videos", tags=["videos"], status_code=202, openapi_extra=UPLOAD_BODY)
async def submit_video(request: Request, model: str | None = None,
                       min_face_size: int = Query(VIDEO_DEFAULTS.detector.min_face_size, ge=12, le=4096),
                       detect_every: int = Query(VIDEO_DEFAULTS.pipeline.detect_every, ge=1, le=30)) -> dict:
    """Upload a video; the answer (202) comes at once with a job id, analysis runs in the background."""
    from fer.video import VideoError, probe_video

    st = _state(request)
    model = st.models.check(model)
    owner = request.state.owner
    refused = st.worker.full_for(owner)  # a full queue says so before the upload, but claims nothing
    if refused:
        raise refused
    job, reserved = None, False
    try:
        job = st.store.create("upload", owner)
        name, path = await save_to(request, st.store.folder(job.id), UPLOAD_NAME)  # never the client's name
        st.worker.reserve(owner)  # the slot: only for an upload that has fully arrived
        reserved = True
        try:
            info = await anyio.to_thread.run_sync(probe_video, path)  # fer.video_guard first
        except VideoError as e:
            raise ApiError(415, f"unsupported video: {str(e).replace(path.name, name)}") from None
        if info.duration_s > st.settings.max_video_s:
            raise ApiError(413, f"the video is {info.duration_s:.0f} s long; the limit is "
                                f"{st.settings.max_video_s:.0f} s")
        job = st.store.update(job.id, video=name)
        max_frames = max(1, math.ceil(st.settings.max_video_s * info.fps))  # also bounds unknown lengths
        settings = VIDEO_DEFAULTS.with_(
            model=model, detector=replace(VIDEO_DEFAULTS.detector, min_face_size=min_face_size),
            pipeline=replace(VIDEO_DEFAULTS.pipeline, detect_every=detect_every), max_frames=max_frames)
        st.worker.submit(VideoRequest(job.id, path, settings, owner))
    except BaseException:
        if job is not None:
            st.store.delete(job.id)
        if reserved:
            st.worker.release(owner)
        raise
    return {**job.to_dict(), "links": _links(job.id)}


@routes.get("/videos/{job_id}", tags=["videos"])
def video_status(request: Request, job_id: str) -> dict:
    """Status (queued, running, done, failed) and progress (0 to 1) of a video job."""
    job = _job_or_404(request, job_id)
    return {**job.to_dict(), "links": _links(job.id)}


def _result_file(request: Request, job_id: str, filename: str) -> Path:
    job = _job_or_404(request, job_id)
    if job.status != "done":
        detail = f": {job.error}" if job.error else ""
        raise ApiError(409, f"the job is {job.status}{detail}; results exist once it is done")
    path = _state(request).store.folder(job_id) / filename
    if not path.is_file():  # deleted between the two reads
        raise ApiError(404, f"no video job {job_id!r} (unknown, deleted or expired)")
    return path


@routes.get("/videos/{job_id}/summary", tags=["videos"])
def video_summary(request: Request, job_id: str) -> FileResponse:
    """The per-person summary JSON (the figures `fer video` writes to *_summary.json)."""
    return FileResponse(_result_file(request, job_id, SUMMARY), media_type="application/json")


@routes.get("/videos/{job_id}/timeline.csv", tags=["videos"])
def video_timeline(request: Request, job_id: str) -> FileResponse:
    """One row per face per analysed frame: raw and smoothed probability of every emotion."""
    return FileResponse(_result_file(request, job_id, TIMELINE), media_type="text/csv",
                        filename=f"{job_id}_timeline.csv")


@routes.delete("/videos/{job_id}", tags=["videos"], status_code=204)
def delete_video(request: Request, job_id: str) -> Response:
    """Delete the job and every file of it now (a running analysis stops)."""
    job = _job_or_404(request, job_id)
    if not _state(request).store.delete(job.id):
        raise ApiError(404, f"no video job {job_id!r} (unknown, deleted or expired)")
    return Response(status_code=204)


async def _sweep(store: JobStore, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await anyio.to_thread.run_sync(store.purge_expired)
        except Exception as e:  # the sweep must outlive one bad folder
            log.warning("purging expired jobs failed: %s", e)


def create_app(settings: ApiSettings | None = None, models: Models | None = None) -> FastAPI:
    """The app; without `settings` they come from FER_API_* (how uvicorn's workers get them).
    `models` lets several apps in one process (tests, benchmarks) share loaded models."""
    settings = settings or ApiSettings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        install_redaction()  # now: uvicorn has configured its loggers
        own_dir = None if settings.jobs_dir else Path(tempfile.mkdtemp(prefix="fer_api_jobs_"))
        store = JobStore(settings.jobs_dir or own_dir, settings.job_ttl_s)
        swept = await anyio.to_thread.run_sync(store.sweep_leftovers)  # a previous server's uploads
        if swept:
            log.info("swept %d leftover job(s) of a previous server from %s", swept, store.root)
        app.state.store = store
        app.state.worker = VideoWorker(store, app.state.models, settings.video_workers,
                                       settings.max_video_jobs, settings.max_video_jobs_per_key)
        sweeper = asyncio.create_task(_sweep(store, min(60.0, max(0.5, settings.job_ttl_s / 4))))
        try:
            yield
        finally:
            sweeper.cancel()
            await anyio.to_thread.run_sync(app.state.worker.shutdown)  # stops the running analyses
            abandoned = store.abandon_unfinished()  # and deletes the uploads of what did not finish
            if abandoned:
                log.info("stopped %d unfinished video job(s) and deleted their uploads", abandoned)
            if own_dir is not None:  # nothing outlives the server
                shutil.rmtree(own_dir, ignore_errors=True)

    app = FastAPI(title="fer: facial emotion recognition", version=API_VERSION, lifespan=lifespan,
                  description="Faces and emotion probabilities in images and videos. Probabilities describe "
                              "visible expressions, not feelings; do not use them to decide about people.")
    app.state.settings = settings
    app.state.models = models or Models()
    app.state.gate = AnalysisGate(settings.concurrency, settings.max_waiting)
    install_handlers(app)
    app.include_router(open_routes)
    app.include_router(routes)
    limits = {"/v1/analyze": settings.max_image_bytes, "/v1/videos": settings.max_video_bytes}
    pace = UploadPace(settings.upload_timeout_s, settings.upload_min_rate, settings.upload_grace_s)
    app.add_middleware(BodyLimit, limit_for=lambda path: limits.get(path.rstrip("/"), 64 * 1024), pace=pace,
                       max_uploads=settings.max_uploads)
    return app
