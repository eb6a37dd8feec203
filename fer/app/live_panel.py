"""The live tab's panel: what it shows is decided from ONE snapshot, the one the video drew last.

`panel_view` is pure (snapshot in, typed `PanelView` out), so the rule "panel and video agree" is
tested without a browser; `render_panel` only lays the view out. Reading, face count, chart and
selector come from the same `PanelView`, so the panel can no longer say "No face in view" above
an old chart (issue 23.1): when the face is lost the chart goes with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from fer.annotate import LabelAnnotator
from fer.app.charts import probability_bars
from fer.labels import display_name
from fer.live.overlay import LiveSnapshot, LiveStats
from fer.pipeline import PipelineConfig
from fer.results import FaceEmotion

# The one rule behind the label, said where the label and the chart can seem to disagree.
_RULES = PipelineConfig()
LABEL_RULE = ("The label is the expression of the tag on the video. It follows the smoothed "
              "probabilities of the chart, and changes only when another expression leads by "
              f"{100 * _RULES.switch_margin:.0f} percentage points; below the sidebar's threshold it reads "
              f"Uncertain, and turns so or back only {50 * _RULES.uncertain_margin:.0f} points past it; a label "
              f"stays at least {_RULES.min_hold_s:.1f} s. So it does not flicker.")
LARGEST = 0  # the selector's "follow the largest face" choice (track ids start at 1)
CHART_HEIGHT = 300

State = Literal["waiting", "no_face", "face", "gone"]


@dataclass(frozen=True)
class PanelView:
    """What the panel shows, all of it from one snapshot."""

    state: State  # waiting: no analysis yet; no_face; face: `face` is shown; gone: the chosen face left
    faces_in_view: int  # faces drawn on the video's frame
    ids: tuple[int, ...]  # their ids, for the selector
    face: FaceEmotion | None = None  # the followed face, as drawn on frame `seq`
    seq: int | None = None
    followed: int = LARGEST

    def reading(self, uncertain_below: float) -> str:
        """'Face #1 · frame 812 · Happy 87%': the line the browser test compares with the video."""
        f = self.face
        return f"Face #{f.track_id} · frame {self.seq} · {display_name(f.shown_label(uncertain_below))} {f.confidence:.0%}"

    def message(self) -> str:
        return {"waiting": "Waiting for the first analysis...",
                "no_face": "No face in view.",
                "gone": f"Face #{self.followed} is not in view. Choose another face above."}.get(self.state, "")


def largest(faces: tuple[FaceEmotion, ...] | list[FaceEmotion]) -> FaceEmotion | None:
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), default=None)


def panel_view(snap: LiveSnapshot | None, followed: int = LARGEST) -> PanelView:
    """The panel for the video's newest frame: the chosen face if it is on it, never a stand-in."""
    if snap is None:
        return PanelView("waiting", 0, (), followed=followed)
    faces = tuple(snap.result.faces) if snap.result is not None else ()
    ids = tuple(sorted(f.track_id for f in faces if f.track_id is not None))
    if not faces:
        state: State = "waiting" if snap.stats.analysis_fps <= 0 else "no_face"
        return PanelView(state, 0, ids, followed=followed)
    face = largest(faces) if followed == LARGEST else next((f for f in faces if f.track_id == followed), None)
    if face is None:
        return PanelView("gone", len(faces), ids, followed=followed)
    return PanelView("face", len(faces), ids, face, snap.result.seq, followed)


def readout(stats: LiveStats) -> str:
    """The rates, in words, below the video rather than over it (where they hid labels)."""
    lag = "" if math.isnan(stats.overlay_age_ms) else f" · labels {stats.overlay_age_ms:.0f} ms behind the picture"
    busy = " · the server is busy, so new faces are looked for less often" if stats.level else ""
    return f"Video {stats.video_fps:.0f} frames/s · {stats.analysis_fps:.0f} analyses/s{lag}{busy}"


def selector_options(view: PanelView) -> list[int]:
    """'Largest' and the ids in view; a chosen face that left stays listed, so the choice holds."""
    extra = [view.followed] if view.followed != LARGEST and view.followed not in view.ids else []
    return [LARGEST, *view.ids, *extra]


def _label(view: PanelView):
    return lambda i: "Largest" if i == LARGEST else (f"#{i}" if i in view.ids else f"#{i} (gone)")


def _chart(view: PanelView) -> None:
    """The followed face's smoothed probabilities from the same snapshot as the reading, redrawn
    with it (measured: ~0.07 of a core more in Chromium than a chart every 2 s, whose values
    contradicted the reading beside it); no chart without a face."""
    if view.face is None:
        with st.container(height=CHART_HEIGHT, border=False):
            st.caption("The chart shows the followed face's probabilities while it is in view.")
        return
    st.plotly_chart(probability_bars(view.face.probs, title=f"Face #{view.face.track_id}, smoothed over time",
                                     height=CHART_HEIGHT), config={"displayModeBar": False}, key="live_chart")


def render_panel(snap: LiveSnapshot | None, uncertain_below: float) -> None:
    """Selector, reading, chart and rates, all from `snap`."""
    view = panel_view(snap, st.session_state.get("follow_face") or LARGEST)
    if view.ids or view.followed != LARGEST:
        st.segmented_control("Follow", selector_options(view), format_func=_label(view), key="follow_face",
                             default=LARGEST, required=True)
    if view.face is not None:
        f = view.face  # in the words of its tag on the video, without a delta chip ('↑ 34%')
        st.metric(f"Face #{f.track_id} of {view.faces_in_view} in view",
                  LabelAnnotator(uncertain_below, show_track_id=False).text(f), help=LABEL_RULE)
        st.caption(view.reading(uncertain_below) + " · as drawn on the video")
    else:
        st.metric(f"Faces in view: {view.faces_in_view}", "–")
        st.caption(view.message())
    _chart(view)
    if snap is not None:
        st.caption(readout(snap.stats))
