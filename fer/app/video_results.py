"""What the video tab shows of a `VideoReport`, as small pure functions (issue 23.1, 23.3, 23.7).

One reading everywhere: a person's heading ("mostly Happy"), their table and their lane in the
timeline all come from the timeline's `label` column, the smoothed label that is drawn on the
video, weighted by the seconds each row stands for. That is `TrackSummary.time_share` and
`.dominant`, so the page also agrees with the summary download. Mean probabilities, valence and
the like are averages of the frame-by-frame probabilities and can lead with another emotion
(a face shown Sad for most of the time, Happy by a wide margin for the rest, has a higher mean
P(happy)); putting both on the page read as a contradiction, so they stay in the download.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from fer.app.charts import percent
from fer.insights import TrackSummary
from fer.labels import color_hex, display_name
from fer.video import VideoInfo, iter_frames

RULE = ("'Mostly' is the expression shown for the most time: the smoothed label drawn on the video, "
        "the same one that colours the timeline and fills the table.")
MIN_PERSON_S = 1.0  # people on screen for less are folded into 'Others'
MIN_PRESENCE = 0.5  # ... and so are faces seen on and off: on screen for under half their span
MAX_PEOPLE = 6  # at most this many people get a lane and a row of their own
THUMB_SIDE = 96  # pixels: a face picture, small enough to keep in the session
OTHERS = "Others"


@dataclass(frozen=True)
class Segment:
    """An unbroken stretch of one person's timeline with one shown label."""

    track_id: int
    label: str
    start: float  # seconds
    seconds: float  # summed seconds of its rows: what `time_share` counts
    after_gap: bool = True  # False: it follows the person's previous segment without a break


@dataclass(frozen=True)
class People:
    """The people the page names, most time on screen first, and the brief faces folded away."""

    shown: list[TrackSummary]
    others: list[TrackSummary]


@dataclass(frozen=True)
class FacePick:
    """The frame a person's picture is cut from, and where the face is in it."""

    frame: int
    box: tuple[float, float, float, float]


def rank_people(people: list[TrackSummary]) -> list[TrackSummary]:
    """Most time on screen first; equal times in order of first appearance."""
    return sorted(people, key=lambda p: (-p.seconds_on_screen, p.first_seen_s))


def presence(p: TrackSummary) -> float:
    """Share of the person's span (first to last seen) that their face was on screen."""
    span = p.last_seen_s - p.first_seen_s
    return 1.0 if span <= 0 else min(1.0, p.seconds_on_screen / span)


def split_people(people: list[TrackSummary], max_people: int = MAX_PEOPLE, min_seconds: float = MIN_PERSON_S,
                 min_presence: float = MIN_PRESENCE) -> People:
    """Name the people on screen long and steadily enough (at most `max_people`); fold the rest,
    brief or flickering detections more often than people, into 'Others'."""
    ranked = rank_people(people)
    steady = [p for p in ranked if p.seconds_on_screen >= min_seconds and presence(p) >= min_presence]
    shown = steady[:max_people]
    return People(shown, [p for p in ranked if p not in shown])


def label_segments(timeline: pd.DataFrame, track_id: int) -> list[Segment]:
    """A person's rows joined into stretches of one label; a stretch ends where the label changes
    or the face was not seen (a gap longer than 1.5 frame intervals), so gaps stay gaps."""
    rows = timeline[timeline["track_id"] == track_id].sort_values("time_s")
    t, dt, labels = rows["time_s"].to_numpy(float), rows["dt_s"].to_numpy(float), rows["label"].to_numpy()
    gap = np.concatenate([[True], np.diff(t) > 1.5 * np.maximum(dt[1:], dt[:-1])])
    segments: list[Segment] = []
    start = 0
    for i in range(1, len(t) + 1):
        if i == len(t) or labels[i] != labels[start] or gap[i]:
            segments.append(Segment(int(track_id), str(labels[start]), float(t[start]), float(dt[start:i].sum()),
                                    bool(gap[start])))
            start = i
    return segments


def heading(p: TrackSummary) -> str:
    """'**Person 3** · mostly **Happy** (62% of 4.3 s on screen)'."""
    return (f"**Person {p.track_id}** · mostly **{display_name(p.dominant)}** "
            f"({percent(p.time_share[p.dominant])} of {p.seconds_on_screen:.1f} s on screen)")


def share_table(p: TrackSummary) -> pd.DataFrame:
    """Time per shown expression, most first, only those shown at all: two short columns."""
    shares = sorted(((k, v) for k, v in p.time_share.items() if v > 0), key=lambda kv: -kv[1])
    return pd.DataFrame({"Expression": [display_name(k) for k, _ in shares],
                         "Time shown": [f"{percent(v)} · {v * p.seconds_on_screen:.1f} s" for _, v in shares]})


def change_table(segments: list[Segment]) -> pd.DataFrame:
    """When the shown expression changed (not across a gap: after one, the face just came back)."""
    rows = [{"Time": f"{b.start:.1f} s", "From": display_name(a.label), "To": display_name(b.label)}
            for a, b in pairwise(segments) if not b.after_gap]
    return pd.DataFrame(rows, columns=["Time", "From", "To"])


def lane_figure(lanes: dict[str, list[Segment]], duration_s: float, labels: tuple[str, ...]):
    """One timeline for the whole video: a lane per person (top = most on screen), coloured by
    the label shown, empty where the face was not seen, on one time axis from 0 to the end."""
    import plotly.graph_objects as go

    names = list(lanes)
    fig = go.Figure()
    for k in labels:
        segs = [(name, s) for name in names for s in lanes[name] if s.label == k]
        if not segs:
            continue
        fig.add_trace(go.Bar(
            y=[name for name, _ in segs], x=[s.seconds for _, s in segs], base=[s.start for _, s in segs],
            orientation="h", name=display_name(k), marker_color=color_hex(k), marker_line_width=0,
            customdata=[[s.start, s.start + s.seconds] for _, s in segs],
            hovertemplate="%{y}: " + display_name(k) + " %{customdata[0]:.1f}-%{customdata[1]:.1f} s<extra></extra>"))
    fig.update_layout(  # the legend above the lanes: below, it ran into the axis title on a phone
        barmode="overlay", height=100 + 34 * max(1, len(names)), margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis={"range": [0, max(duration_s, 1e-3)], "title": "time in the video (s)", "fixedrange": True},
        yaxis={"categoryorder": "array", "categoryarray": names[::-1], "fixedrange": True, "title": None},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        bargap=0.25, showlegend=True)
    return fig


def timeline_lanes(timeline: pd.DataFrame, people: People) -> dict[str, list[Segment]]:
    """Lane name -> segments: 'Person N' for each named person, in rank order, then one 'Others'
    lane for every face folded away (they may overlap)."""
    lanes = {f"Person {p.track_id}": label_segments(timeline, p.track_id) for p in people.shown}
    if people.others:
        lanes[OTHERS] = [s for p in people.others for s in label_segments(timeline, p.track_id)]
    return lanes


def clearest_rows(timeline: pd.DataFrame, track_ids: list[int]) -> dict[int, FacePick]:
    """Each person's clearest face: the detected frame with the highest detection score (to two
    decimals: MTCNN scores of clear faces differ only beyond that), then the largest box."""
    picks: dict[int, FacePick] = {}
    for tid in track_ids:
        rows = timeline[timeline["track_id"] == tid]
        detected = rows[rows["detected"]]
        rows = detected if len(detected) else rows
        if rows.empty:
            continue
        area = (rows["x2"] - rows["x1"]) * (rows["y2"] - rows["y1"])
        order = pd.DataFrame({"score": rows["det_score"].round(2), "area": area}).sort_values(
            ["score", "area"], ascending=False, kind="stable")
        best = rows.loc[order.index[0]]
        picks[int(tid)] = FacePick(int(best["frame"]), (float(best["x1"]), float(best["y1"]),
                                                         float(best["x2"]), float(best["y2"])))
    return picks


def crop_face(rgb: np.ndarray, box: tuple[float, float, float, float], side: int = THUMB_SIDE,
              margin: float = 0.25) -> np.ndarray:
    """A square picture of the face with some room around it, `side` pixels wide."""
    import cv2

    x1, y1, x2, y2 = box
    half = max(x2 - x1, y2 - y1) * (0.5 + margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h, w = rgb.shape[:2]
    left, top = int(max(0, cx - half)), int(max(0, cy - half))
    right, bottom = int(min(w, cx + half)), int(min(h, cy + half))
    crop = rgb[top:bottom, left:right]
    if crop.size == 0:
        return np.zeros((side, side, 3), np.uint8)
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)


def face_pictures(video: VideoInfo | str | Path, picks: dict[int, FacePick],
                  max_duration_s: float | None = None) -> dict[int, np.ndarray]:
    """The faces of `picks`, cut from the video (decoded once, up to the last frame needed): the
    page keeps these small pictures, never the video, which an upload's temporary file is not."""
    wanted: dict[int, list[int]] = {}
    for tid, pick in picks.items():
        wanted.setdefault(pick.frame, []).append(tid)
    faces: dict[int, np.ndarray] = {}
    if not wanted:
        return faces
    last = max(wanted)
    for frame in iter_frames(video, max_duration_s=max_duration_s):
        for tid in wanted.get(frame.index, []):
            faces[tid] = crop_face(frame.rgb, picks[tid].box)
        if frame.index >= last:
            break
    return faces


def others_text(others: list[TrackSummary], min_seconds: float = MIN_PERSON_S,
                min_presence: float = MIN_PRESENCE, max_people: int = MAX_PEOPLE) -> str:
    """One line for the faces folded away, saying why, so nobody seen vanishes without a word."""
    brief = sum(p.seconds_on_screen < min_seconds for p in others)
    flickering = sum(p.seconds_on_screen >= min_seconds and presence(p) < min_presence for p in others)
    reasons = [f"{brief} on screen under {min_seconds:g} s"] if brief else []
    reasons += [f"{flickering} seen only on and off"] if flickering else []
    if len(others) > brief + flickering:
        reasons.append(f"{len(others) - brief - flickering} beyond the {max_people} people longest on screen")
    n = len(others)
    return (f"Others: {n} more face{'s' if n != 1 else ''}, {sum(p.seconds_on_screen for p in others):.1f} s "
            f"on screen in all ({', '.join(reasons)}).")


def lane_seconds(fig, lane: str) -> dict[str, float]:
    """Seconds per shown expression (display name) in one lane of `lane_figure`: what the chart
    says, read back from the figure itself (the tests compare it with the heading and table)."""
    out: dict[str, float] = {}
    for trace in fig["data"]:
        for y, x in zip(trace["y"], trace["x"]):
            if y == lane:
                out[trace["name"]] = out.get(trace["name"], 0.0) + float(x)
    return out

