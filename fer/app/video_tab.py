"""The video tab: upload a video -> progress bar -> per-person timeline, summary cards, downloads.

The upload goes to a temporary file (decoders need a path) that is deleted as soon as the
analysis ends; the results stay in the session so that reruns (a download click) are free.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from fer.app.resources import get_recognizer
from fer.app.sidebar import AppSettings
from fer.insights import VideoSummary, summarize_video
from fer.labels import display_name
from fer.timeline import plotly_figure
from fer.video import VIDEO_SUFFIXES, AnalysisOptions, ProgressFn, VideoAnalysis, VideoError, analyze_video

UPLOAD_TYPES = [s.lstrip(".") for s in VIDEO_SUFFIXES]
RATES = {"Every frame": None, "10 frames per second": 10.0, "5 frames per second": 5.0,
         "2 frames per second": 2.0}
NOTE = ("These figures describe visible facial expressions, frame by frame, for a human reviewer. "
        "They do not measure feelings, honesty or suitability, and must never decide about a person.")


@dataclass(frozen=True)
class VideoReport:
    name: str
    analysis: VideoAnalysis
    summary: VideoSummary

    def csv(self) -> bytes:
        return self.analysis.timeline.to_csv(index=False, float_format="%.5g").encode()

    def json(self, model: str) -> str:
        a = self.analysis
        return json.dumps({"video": self.name, "note": NOTE, "model": model,
                           "source": {"width": a.info.width, "height": a.info.height,
                                      "fps": round(a.info.fps, 3), "frame_count": a.info.frame_count},
                           "frames_analysed": a.frames_analysed, "stopped_at_cap": a.stopped_at_cap,
                           "summary": self.summary.to_dict()}, indent=2)


def analyse_upload(data: bytes, name: str, recognizer, options: AnalysisOptions,
                   progress: ProgressFn | None = None) -> VideoReport:
    """Analyse uploaded bytes through a temporary file that never outlives the call."""
    suffix = Path(name).suffix.lower() or ".mp4"
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix="fer_upload_")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        analysis = analyze_video(tmp, recognizer, options, progress=progress)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return VideoReport(name, analysis, summarize_video(analysis.timeline, name))


def _options(settings: AppSettings, rate: float | None) -> AnalysisOptions:
    return AnalysisOptions(fps=rate, detect_every=settings.detect_every, half_life_s=settings.half_life_s)


def _cards(summary: VideoSummary) -> None:
    c = st.columns(4)
    c[0].metric("Analysed", f"{summary.duration_s:.1f} s", help=f"{summary.frames_analysed} frames")
    c[1].metric("People", len(summary.people),
                help=f"{summary.short_tracks_dropped} face tracks under 0.5 s were left out")
    c[2].metric("No face", f"{summary.share_without_face:.0%}",
                help="Share of analysed frames without any face")
    c[3].metric("Model confidence", "n/a" if summary.mean_confidence != summary.mean_confidence
                else f"{summary.mean_confidence:.0%}", help="Mean top probability over all faces")


def _person(report: VideoReport, p, key: str) -> None:
    st.markdown(f"**Person {p.track_id}**: on screen {p.seconds_on_screen:.1f} s "
                f"({p.first_seen_s:.1f}-{p.last_seen_s:.1f} s), mostly {display_name(p.dominant)}")
    c = st.columns(5)
    c[0].metric("Valence", f"{p.valence:+.2f}", help="Mean P(positive) minus mean P(negative), -1 to +1")
    c[1].metric("Expressivity", f"{p.expressivity:.2f}",
                help="How far the expression moves from the person's own average (0 = constant)")
    c[2].metric("Sustained negative", f"{p.stress:.0%}",
                help="Share of time in runs of >= 2 s where negative expressions dominate")
    c[3].metric("Changes", len(p.change_points), help="Moments of sharp change in the smoothed expression")
    c[4].metric("Confidence", f"{p.mean_confidence:.0%}",
                help=f"Mean top probability; below 40% for {p.low_confidence_share:.0%} of the time")
    st.plotly_chart(plotly_figure(report.analysis.timeline, p.track_id, title=""),
                    key=f"{key}_chart_{p.track_id}")
    shares = pd.DataFrame({"Emotion": [display_name(k) for k in p.time_share],
                           "Share of time": [f"{v:.0%}" for v in p.time_share.values()],
                           "Mean probability": [round(p.mean_probs[k], 3) for k in p.time_share]})
    left, right = st.columns(2)
    left.dataframe(shares, hide_index=True)
    if p.change_points:
        right.dataframe(pd.DataFrame([{"Time (s)": round(cp.t, 1), "From": display_name(cp.before),
                                       "To": display_name(cp.after), "Strength": round(cp.magnitude, 2)}
                                      for cp in p.change_points]), hide_index=True)


def render_video_tab(settings: AppSettings) -> None:
    upload = st.file_uploader("Upload a video (MP4, AVI, WebM, MOV...)", type=UPLOAD_TYPES,
                              key="video_upload")
    rate_name = st.selectbox("Frames to analyse", list(RATES), key="video_rate",
                             help="Fewer frames per second is faster; every frame catches the "
                                  "briefest expressions.")
    st.caption(NOTE + " Uploads are analysed in a temporary file, deleted right after.")
    if upload is None:
        return
    model = settings.weights
    key = (upload.name, upload.size, rate_name, model, settings.detect_every, settings.half_life_s,
           settings.min_score, settings.min_face_size)  # what the analysis depends on
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
                report = analyse_upload(upload.getvalue(), upload.name, get_recognizer(settings),
                                        _options(settings, RATES[rate_name]), progress)
            except VideoError as e:
                bar.empty()
                st.error(f"Could not analyse {upload.name}: {e}")
                return
            bar.empty()
            st.session_state["video_report"], st.session_state["video_key"] = report, key
    if report is None:
        return
    a = report.analysis
    st.success(f"{a.frames_analysed} frames analysed in {a.elapsed_s:.1f} s "
               f"({a.frames_per_second:.1f} frames/s)")
    if a.stopped_at_cap:
        st.warning(f"Only the first {a.frames_analysed} frames were analysed (the frame cap).")
    _cards(report.summary)
    stem = Path(report.name).stem
    d1, d2 = st.columns(2)
    d1.download_button("Download timeline (CSV)", report.csv(), file_name=f"{stem}_timeline.csv",
                       mime="text/csv", key="video_csv")
    d2.download_button("Download summary (JSON)", report.json(model), file_name=f"{stem}_summary.json",
                       mime="application/json", key="video_json")
    if not report.summary.people:
        st.warning("No face was found for long enough. Try a larger, frontal, well-lit face, or lower the "
                   "minimum face size in the sidebar.")
    for p in report.summary.people:
        with st.container(border=True):
            _person(report, p, "video")
