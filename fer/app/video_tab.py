"""The video tab: upload a video -> progress bar -> per-person timeline, summary cards, downloads.

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
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from fer.analysis import NOTE, AnalysisSettings, VideoReport, analyze
from fer.app.resources import video_recognizer
from fer.app.sidebar import AppSettings
from fer.labels import display_name
from fer.recognizer import EmotionRecognizer
from fer.timeline import plotly_figure
from fer.video import ProgressFn, VideoError
from fer.video_guard import ACCEPTED_SUFFIXES

log = logging.getLogger(__name__)
UPLOAD_TYPES = [s.lstrip(".") for s in ACCEPTED_SUFFIXES]  # the browser's filter; the content decides
UPLOAD_PREFIX = "fer_upload_"  # + the process id + "_": a sweep can tell whose file it is
UPLOAD_SUFFIX = ".video"  # ours, whatever the user's file is called
STALE_AFTER_S = 24 * 3600.0  # files whose owner cannot be told are swept after this long
MAX_DURATION_S = 600.0  # the app analyses the first 10 minutes (the CLI: --max-duration)
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


def analyse_upload(data: bytes, name: str, recognizer: EmotionRecognizer, settings: AnalysisSettings,
                   progress: ProgressFn | None = None) -> VideoReport:
    """Analyse uploaded bytes through a temporary file that never outlives the call. A full or
    read-only temporary folder is a `VideoError` with the system's reason."""
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
            return analyze(tmp, settings, recognizer, name=name, progress=progress)  # guarded: untrusted
        except VideoError as e:  # the message names the temporary file; the user knows their own
            raise VideoError(str(e).replace(Path(tmp).name, name)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _cards(summary) -> None:
    # Short labels: long ones are cut ('Model confide...') in a column a quarter of the page wide.
    c = st.columns(4)
    c[0].metric("Video length", f"{summary.duration_s:.1f} s",
                help=f"Seconds of video analysed ({summary.frames_analysed} frames), not processing time")
    c[1].metric("People", len(summary.people),
                help=f"{summary.short_tracks_dropped} face tracks under 0.5 s were left out")
    c[2].metric("No face", f"{summary.share_without_face:.0%}",
                help="Share of analysed frames without any face")
    c[3].metric("Confidence", "n/a" if summary.mean_confidence != summary.mean_confidence
                else f"{summary.mean_confidence:.0%}", help="The model's mean top probability over all faces")


def _person(report: VideoReport, p, key: str) -> None:
    st.markdown(f"**Person {p.track_id}**: on screen {p.seconds_on_screen:.1f} s "
                f"({p.first_seen_s:.1f}-{p.last_seen_s:.1f} s), mostly {display_name(p.dominant)}")
    top, bottom = st.columns(3), st.columns(3)  # two rows of three: no label is cut
    top[0].metric("Valence", f"{p.valence:+.2f}", help="Mean P(positive) minus mean P(negative), -1 to +1")
    top[1].metric("Expressivity", f"{p.expressivity:.2f}",
                  help="How far the expression moves from the person's own average (0 = constant)")
    top[2].metric("Negative runs", f"{p.stress:.0%}",
                  help="Share of time in runs of >= 2 s where negative expressions dominate")
    bottom[0].metric("Changes", len(p.change_points),
                     help="Moments where the leading expression changes sharply (1 s before vs 1 s after)")
    bottom[1].metric("Confidence", f"{p.mean_confidence:.0%}",
                     help=f"Mean top probability; below 40% for {p.low_confidence_share:.0%} of the time")
    bottom[2].metric("On screen", f"{p.seconds_on_screen:.1f} s", help=f"{p.frames} analysed frames")
    st.plotly_chart(plotly_figure(report.analysis.timeline, p.track_id, title=""),
                    key=f"{key}_chart_{p.track_id}")
    shares = pd.DataFrame({"Emotion": [display_name(k) for k in p.time_share],
                           "Share of time": [v for v in p.time_share.values()],
                           "Mean probability": [p.mean_probs[k] for k in p.time_share]})
    st.dataframe(shares, hide_index=True, width="stretch", column_config={
        "Share of time": st.column_config.NumberColumn(format="percent"),
        "Mean probability": st.column_config.NumberColumn(format="%.3f")})
    if p.change_points:
        st.dataframe(pd.DataFrame([{"Time (s)": round(cp.t, 1), "From": display_name(cp.before),
                                    "To": display_name(cp.after), "Strength": round(cp.magnitude, 2)}
                                   for cp in p.change_points]), hide_index=True, width="stretch")


def render_video_tab(settings: AppSettings) -> None:
    upload = st.file_uploader("Upload a video (MP4, MOV, WebM, MKV or AVI)", type=UPLOAD_TYPES,
                              key="video_upload")
    rate_name = st.selectbox("Frames to analyse", list(RATES), key="video_rate",
                             help="Fewer frames per second is faster; every frame catches the "
                                  "briefest expressions.")
    st.caption(NOTE + f" The first {MAX_DURATION_S / 60:.0f} minutes are analysed, in a temporary file "
               "deleted right after.")
    if not st.session_state.get("uploads_swept"):  # once per session: leftovers of killed processes
        sweep_stale_uploads()
        st.session_state["uploads_swept"] = True
    if upload is None:
        return
    model = settings.weights
    key = (upload.name, upload.size, rate_name, model, settings.detect_every, settings.half_life_s,
           settings.min_score, settings.min_face_size, settings.max_faces)  # what the analysis depends on
    report: VideoReport | None = st.session_state.get("video_report")
    if st.session_state.get("video_key") != key:
        report = None
        if st.button("Analyse video", type="primary", key="video_go"):
            bar = st.progress(0.0, text="Starting...")

            def progress(done: int, total: int | None) -> None:
                if total:
                    bar.progress(min(1.0, done / total), text=f"{done} of {total} frames")
                elif done % 10 == 0:
                    bar.progress(0.0, text=f"{done} frames")

            try:
                video_settings = analysis_settings(settings, RATES[rate_name])
                report = analyse_upload(upload.getvalue(), upload.name, video_recognizer(video_settings),
                                        video_settings, progress)
            except VideoError as e:
                bar.empty()
                st.error(f"Could not analyse {upload.name}: {e}")
                return
            except Exception as e:  # the model, OpenCV, memory: a message, never a traceback
                log.exception("video analysis failed for %s", upload.name)
                bar.empty()
                st.error(f"Could not analyse {upload.name}: {type(e).__name__}: {e}")
                return
            bar.empty()
            st.session_state["video_report"], st.session_state["video_key"] = report, key
    if report is None:
        return
    a = report.analysis
    st.success(f"Processed {a.frames_analysed} frames ({a.analysed_s:.1f} s of video) in {a.elapsed_s:.1f} s "
               f"({a.frames_per_second:.1f} frames/s)")
    if a.stopped_by == "max_duration_s":
        st.warning(f"Only the first {a.analysed_s:.0f} s of the video were analysed (the limit is "
                   f"{MAX_DURATION_S:.0f} s).")
    elif a.stopped_at_cap:
        st.warning(f"Only the first {a.frames_analysed} frames were analysed (the frame cap).")
    _cards(report.summary)
    stem = Path(report.name).stem
    d1, d2 = st.columns(2)
    d1.download_button("Download timeline (CSV)", report.timeline_csv(), file_name=f"{stem}_timeline.csv",
                       mime="text/csv", key="video_csv")
    d2.download_button("Download summary (JSON)", json.dumps(report.document(), indent=2), file_name=f"{stem}_summary.json",
                       mime="application/json", key="video_json")
    if not report.summary.people:
        st.warning("No face was found for long enough. Try a larger, frontal, well-lit face, or lower the "
                   "minimum face size in the sidebar.")
    for p in report.summary.people:
        with st.container(border=True):
            _person(report, p, "video")
