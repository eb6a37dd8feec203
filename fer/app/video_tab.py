"""The video tab: upload a video (or press "Analyse the example video") -> progress bar -> one
timeline of everybody, a row per person with their face, downloads (what is shown and why:
`fer.app.video_results`).

The upload goes to a temporary file (decoders need a path) under a name of our own, never the
user's suffix, and is checked by content before a decoder opens it (`fer.video_guard`: MP4/MOV,
Matroska/WebM or AVI; playlists, concat lists and URLs are refused). It is deleted as soon as the
analysis ends; files left behind by a killed process are swept when the tab is shown. The
results stay in the session so that reruns (a download click) are free. Every failure, the
decoder's, the disk's or the model's, becomes a message on the page and the app keeps running.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import streamlit as st

from fer.analysis import NOTE, AnalysisSettings, VideoReport, analyze
from fer.app.charts import percent
from fer.app.examples import VIDEO_CREDIT, example_video_path
from fer.app.resources import video_recognizer
from fer.app.sidebar import AppSettings
from fer.app.uploads import refused_upload
from fer.app.video_results import (
    RULE,
    People,
    change_table,
    clearest_rows,
    face_pictures,
    heading,
    lane_figure,
    others_text,
    share_table,
    split_people,
    timeline_lanes,
)
from fer.recognizer import EmotionRecognizer
from fer.video import ProgressFn, VideoError
from fer.video_guard import ACCEPTED_SUFFIXES

log = logging.getLogger(__name__)
UPLOAD_KINDS = "videos in MP4, MOV, WebM, MKV or AVI format"  # what UPLOAD_TYPES are, for the refusal
UPLOAD_TYPES = [s.lstrip(".") for s in ACCEPTED_SUFFIXES]  # the browser's filter; the content decides
UPLOAD_PREFIX = "fer_upload_"  # + the process id + "_": a sweep can tell whose file it is
UPLOAD_SUFFIX = ".video"  # ours, whatever the user's file is called
STALE_AFTER_S = 24 * 3600.0  # files whose owner cannot be told are swept after this long
MAX_DURATION_S = 600.0  # the app analyses the first 10 minutes (the CLI: --max-duration)
EXAMPLE_NAME = "example video.mp4"
RATES = {"Every frame": None, "10 frames per second": 10.0, "5 frames per second": 5.0,
         "2 frames per second": 2.0}


def analysis_settings(settings: AppSettings, rate: float | None) -> AnalysisSettings:
    """`fer video`'s settings (`fer.analysis`), with the sidebar's model, detection confidence,
    faces per frame, detection schedule and smoothing, whose defaults are the same. The minimum face
    stays video's 20 px: the sidebar's 40 px is there to keep the live view fast."""
    d = AnalysisSettings()
    return d.with_(model=settings.weights, max_faces=settings.max_faces, fps=rate, max_duration_s=MAX_DURATION_S,
                   detector=replace(d.detector, min_score=settings.min_score), pipeline=settings.pipeline_config())


def _owner_alive(path: Path) -> bool | None:
    """Whether the process that wrote this upload still runs (None: the name does not say)."""
    pid = path.name[len(UPLOAD_PREFIX):].split("_", 1)[0]
    if not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_stale_uploads(folder: str | Path | None = None, now: float | None = None) -> int:
    """Delete uploads left in the temporary folder by processes that were killed mid-analysis
    (their `finally` never ran); returns how many. Never touches a live process's file."""
    folder = Path(folder or tempfile.gettempdir())
    now = time.time() if now is None else now
    removed = 0
    for path in folder.glob(UPLOAD_PREFIX + "*"):
        try:
            alive = _owner_alive(path)
            if alive is False or (alive is None and now - path.stat().st_mtime > STALE_AFTER_S):
                path.unlink()
                removed += 1
        except OSError:  # gone already, or not ours to delete
            continue
    if removed:
        log.info("removed %d stale upload(s) from %s", removed, folder)
    return removed


@contextmanager
def stored_upload(data: bytes, name: str) -> Iterator[Path]:
    """The upload in a temporary file of our own name (decoders need a path), deleted when the
    block ends, however it ends. A full or read-only temporary folder is a `VideoError` with the
    system's reason; a `VideoError` inside names the user's file, not the temporary one."""
    try:
        fd, tmp = tempfile.mkstemp(suffix=UPLOAD_SUFFIX, prefix=f"{UPLOAD_PREFIX}{os.getpid()}_")
    except OSError as e:
        raise VideoError(f"there is no room to store the upload for analysis ({e.strerror or e}: "
                         f"{tempfile.gettempdir()})") from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            raise VideoError(f"there is no room to store the upload for analysis ({e.strerror or e})") from None
        try:
            yield Path(tmp)
        except VideoError as e:
            raise VideoError(str(e).replace(Path(tmp).name, name)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def analyse_upload(data: bytes, name: str, recognizer: EmotionRecognizer, settings: AnalysisSettings,
                   progress: ProgressFn | None = None) -> VideoReport:
    """Analyse uploaded bytes through a temporary file that never outlives the call."""
    with stored_upload(data, name) as path:
        return analyze(path, settings, recognizer, name=name, progress=progress)  # guarded: untrusted


@dataclass(frozen=True)
class AnalysedVideo:
    """What the page keeps of one analysis: the report, who it names, and their face pictures
    (cut while the video file still exists: an upload's is deleted right after)."""

    report: VideoReport
    people: People
    faces: dict[int, np.ndarray]  # person id -> small RGB picture
    example: bool = False


def analyse_file(path: Path, name: str, recognizer: EmotionRecognizer, settings: AnalysisSettings,
                 progress: ProgressFn | None = None, example: bool = False) -> AnalysedVideo:
    """Analyse a video file and cut the named people's clearest faces from it. A video whose faces
    cannot be decoded a second time still gives its results, without pictures."""
    report = analyze(path, settings, recognizer, name=name, progress=progress)
    people = split_people(report.summary.people)
    try:
        faces = face_pictures(report.analysis.info, clearest_rows(report.timeline, [p.track_id for p in people.shown]),
                              settings.max_duration_s)
    except VideoError as e:
        log.warning("no face pictures for %s: %s", name, e)
        faces = {}
    return AnalysedVideo(report, people, faces, example)


def _use_example() -> None:
    st.session_state["video_example"] = True
    st.session_state["video_run_now"] = True  # the button is the request: no second click


def _use_upload() -> None:
    st.session_state["video_example"] = False


def _run(source: str, data: bytes | None, name: str, settings: AppSettings, rate_name: str) -> AnalysedVideo | None:
    """One analysis with a progress bar; every failure is a message on the page and None."""
    bar = st.progress(0.0, text="Starting...")

    def progress(done: int, total: int | None) -> None:
        if total:
            bar.progress(min(1.0, done / total), text=f"{done} of {total} frames")
        elif done % 10 == 0:
            bar.progress(0.0, text=f"{done} frames")

    try:
        video_settings = analysis_settings(settings, RATES[rate_name])
        recognizer = video_recognizer(video_settings)
        if source == "example":
            return analyse_file(example_video_path(), name, recognizer, video_settings, progress, example=True)
        with stored_upload(data or b"", name) as path:
            return analyse_file(path, name, recognizer, video_settings, progress)
    except VideoError as e:
        st.error(f"Could not analyse {name}: {e}")
    except Exception as e:  # the model, OpenCV, memory: a message, never a traceback
        log.exception("video analysis failed for %s", name)
        st.error(f"Could not analyse {name}: {type(e).__name__}: {e}")
    finally:
        bar.empty()
    return None


def _overview(result: AnalysedVideo) -> None:
    # Short labels: long ones are cut ('Model confide...') in a narrow column.
    summary, people = result.report.summary, result.people
    row = st.container(horizontal=True, gap="medium")
    row.metric("Video length", f"{summary.duration_s:.1f} s",
               help=f"Seconds of video analysed ({summary.frames_analysed} frames), not processing time")
    row.metric("People", len(people.shown),
               help=f"Named below, most time on screen first. {len(people.others)} brief or flickering faces "
                    f"are under Others; {summary.short_tracks_dropped} face tracks under 0.5 s were left out.")
    row.metric("No face", percent(summary.share_without_face), help="Share of analysed frames without any face")
    row.metric("Confidence", "n/a" if summary.mean_confidence != summary.mean_confidence
               else percent(summary.mean_confidence), help="The model's mean top probability over all faces")


def _person(result: AnalysedVideo, p, segments: list) -> None:
    row = st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False)  # a phone too
    if p.track_id in result.faces:
        row.image(result.faces[p.track_id], width=56)
    row.markdown(heading(p), help=RULE, width="stretch")
    with st.expander(f"Person {p.track_id} in detail"):
        st.dataframe(share_table(p), hide_index=True, width="stretch")
        changes = change_table(segments)
        if len(changes):
            st.markdown("When the shown expression changed")
            st.dataframe(changes, hide_index=True, width="stretch")
        else:
            st.caption("The shown expression did not change while the face was seen.")
        st.caption(f"Seen from {p.first_seen_s:.1f} s to {p.last_seen_s:.1f} s in {p.frames} analysed frames; "
                   f"the model's mean top probability {percent(p.mean_confidence)}.")


def _results(result: AnalysedVideo) -> None:
    report, a = result.report, result.report.analysis
    if result.example:
        st.caption(f"Example: {VIDEO_CREDIT}")
    st.success(f"Processed {a.frames_analysed} frames ({a.analysed_s:.1f} s of video) in {a.elapsed_s:.1f} s "
               f"({a.frames_per_second:.1f} frames/s)")
    if a.stopped_by == "max_duration_s":
        st.warning(f"Only the first {a.analysed_s:.0f} s of the video were analysed (the limit is "
                   f"{MAX_DURATION_S:.0f} s).")
    elif a.stopped_at_cap:
        st.warning(f"Only the first {a.frames_analysed} frames were analysed (the frame cap).")
    _overview(result)
    if not report.summary.people:
        st.warning("No face was found for long enough. Try a larger, frontal, well-lit face, or lower the "
                   "minimum face size in the sidebar.")
    else:
        lanes = timeline_lanes(report.timeline, result.people)
        st.plotly_chart(lane_figure(lanes, a.analysed_s or report.summary.duration_s, report.summary.labels),
                        config={"displayModeBar": False}, key="video_lanes")
        st.caption(RULE + " A gap: the face was not seen.")
        for p in result.people.shown:
            _person(result, p, lanes[f"Person {p.track_id}"])
        if result.people.others:
            st.caption(others_text(result.people.others))
    stem = Path(report.name).stem
    d1, d2 = st.columns(2)
    d1.download_button("Download timeline (CSV)", report.timeline_csv(), file_name=f"{stem}_timeline.csv",
                       mime="text/csv", key="video_csv")
    d2.download_button("Download summary (JSON)", json.dumps(report.document(), indent=2),
                       file_name=f"{stem}_summary.json", mime="application/json", key="video_json")
    st.caption("The summary also has mean probabilities, valence, expressivity, negative runs and sharp "
               "changes per person: averages of the frame-by-frame probabilities, defined in the README.")


def render_video_tab(settings: AppSettings) -> None:
    # No `type=` filter: Streamlit's gave its reason only on hover; `refused_upload` says it in full.
    upload = st.file_uploader("Upload a video (MP4, MOV, WebM, MKV or AVI)", key="video_upload",
                              on_change=_use_upload)
    st.button("Analyse the example video", key="video_example_button", on_click=_use_example,
              help=VIDEO_CREDIT)
    rate_name = st.selectbox("Frames to analyse", list(RATES), key="video_rate",
                             help="Fewer frames per second is faster; every frame catches the "
                                  "briefest expressions.")
    st.caption(NOTE + f" The first {MAX_DURATION_S / 60:.0f} minutes are analysed, in a temporary file "
               "deleted right after.")
    if not st.session_state.get("uploads_swept"):  # once per session: leftovers of killed processes
        sweep_stale_uploads()
        st.session_state["uploads_swept"] = True
    example = bool(st.session_state.get("video_example"))
    if not example and upload is None:
        return
    if not example and (reason := refused_upload(upload.name, UPLOAD_TYPES, UPLOAD_KINDS)):
        st.error(reason)
        return
    source, name = ("example", EXAMPLE_NAME) if example else ("upload", upload.name)
    key = (source, name, None if example else upload.size, rate_name, settings.weights, settings.detect_every,
           settings.half_life_s, settings.min_score, settings.min_face_size, settings.max_faces)
    result: AnalysedVideo | None = st.session_state.get("video_result")
    if st.session_state.get("video_key") != key:
        result = None
        run_now = st.session_state.pop("video_run_now", False)
        slot = st.empty()  # the button goes once pressed: it is not there above the results
        if run_now or slot.button("Analyse video", type="primary", key="video_go"):
            slot.empty()
            result = _run(source, None if example else upload.getvalue(), name, settings, rate_name)
            if result is None:
                return
            st.session_state["video_result"], st.session_state["video_key"] = result, key
            st.session_state["video_report"] = result.report
    if result is not None:
        _results(result)
