"""Per-person and per-video summaries of a timeline table (see `fer.timeline`): pure functions.

Every figure is time-weighted (each row counts for its `dt_s` seconds), so analysing every
frame or every third frame gives comparable numbers. These are descriptions of visible facial
expressions for a human reviewer, never a measure of feelings, honesty or suitability.

Definitions (p = raw probabilities, s = smoothed probabilities of one person):
- seconds_on_screen: the summed duration of the rows where the person's face was found.
- time_share[e]: share of that time whose smoothed label (with hysteresis) is e.
- mean_probs[e]: time-weighted mean of p[e].
- valence: sum over emotions of VALENCE[e] * mean_probs[e], i.e. mean P(positive) minus
  mean P(negative), in [-1, 1]. Surprise and neutral count as neither.
- expressivity: time-weighted mean total-variation distance between s(t) and the person's own
  mean of s, in [0, 1): 0 for a face that never changes, higher for a face that varies more.
- stress: share of on-screen time inside runs where the smoothed negative mass (sum of s[e]
  over emotions with VALENCE -1) stays above `stress_threshold` for at least
  `stress_window_s` without a break. A sustained-negative-expression signal, not physiology.
- change points: times where the mean of p over the `change_window_s` before and the window
  after differ by at least `change_threshold` in total-variation distance and lead with
  different emotions, at local maxima, at least `change_min_gap_s` apart. Raw p, not s: the
  window means already smooth, and smoothing twice (half-life, then window) flattened a clear
  sad-to-happy swing in a real clip (a window difference of 0.71 in p) to 0.28, under the
  threshold. A change in strength with the same leading emotion is not a change of expression.
- mean_confidence: time-weighted mean of the top raw probability; low_confidence_share: the
  share of time it was below `low_confidence`.
Tracks shorter than `min_track_s` (spurious detections, passers-by) are left out and counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from fer.labels import VALENCE
from fer.timeline import labels_of, raw_col, smoothed_col


@dataclass(frozen=True)
class InsightConfig:
    min_track_s: float = 0.5
    stress_threshold: float = 0.5
    stress_window_s: float = 2.0
    change_window_s: float = 1.0
    change_threshold: float = 0.35
    change_min_gap_s: float = 1.0
    low_confidence: float = 0.4


@dataclass(frozen=True)
class ChangePoint:
    t: float  # seconds
    before: str  # leading smoothed emotion in the window before
    after: str  # ... and after
    magnitude: float  # total-variation distance between the two windows' means, in [0, 1]


@dataclass(frozen=True)
class TrackSummary:
    track_id: int
    first_seen_s: float
    last_seen_s: float
    seconds_on_screen: float
    frames: int
    dominant: str
    time_share: dict[str, float]
    mean_probs: dict[str, float]
    valence: float
    expressivity: float
    stress: float
    change_points: list[ChangePoint]
    mean_confidence: float
    low_confidence_share: float

    def to_dict(self) -> dict:
        d = asdict(self)
        return _rounded(d)


@dataclass(frozen=True)
class VideoSummary:
    video: str
    duration_s: float  # analysed span: analysed frames times the seconds each stands for
    frames_analysed: int
    frames_without_face: int
    share_without_face: float
    mean_confidence: float  # over every face row of the video
    people: list[TrackSummary]
    short_tracks_dropped: int
    labels: tuple[str, ...] = field(default_factory=tuple)

    @property
    def main_person(self) -> TrackSummary | None:
        """The person longest on screen: in an interview, the candidate."""
        return max(self.people, key=lambda p: p.seconds_on_screen, default=None)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = list(self.labels)
        return _rounded(d)

    def row(self) -> dict:
        """One flat row for a batch table; person figures are the main person's."""
        m = self.main_person
        row = {"video": self.video, "duration_s": self.duration_s, "frames_analysed": self.frames_analysed,
               "share_without_face": self.share_without_face, "people": len(self.people),
               "short_tracks_dropped": self.short_tracks_dropped, "mean_confidence": self.mean_confidence,
               "main_person": m.track_id if m else None,
               "seconds_on_screen": m.seconds_on_screen if m else 0.0,
               "dominant": m.dominant if m else "", "valence": m.valence if m else np.nan,
               "expressivity": m.expressivity if m else np.nan, "stress": m.stress if m else np.nan,
               "change_points": len(m.change_points) if m else 0}
        for k in self.labels:
            row[f"share_{k}"] = m.time_share.get(k, 0.0) if m else np.nan
        return _rounded(row)


def _rounded(obj, nd: int = 4):
    if isinstance(obj, float):
        return None if not np.isfinite(obj) else round(obj, nd)
    if isinstance(obj, (np.floating, np.integer)):
        return _rounded(obj.item(), nd)
    if isinstance(obj, dict):
        return {k: _rounded(v, nd) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v, nd) for v in obj]
    return obj


def _tv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * np.abs(a - b).sum(-1)


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (x * w[:, None]).sum(0) / w.sum()


def _runs(mask: np.ndarray, contiguous: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges where `mask` holds and consecutive rows are contiguous in time."""
    runs, start = [], None
    for i, m in enumerate(mask):
        if m and start is not None and not contiguous[i]:
            runs.append((start, i))
            start = i
        elif m and start is None:
            start = i
        elif not m and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def stress_share(t: np.ndarray, dt: np.ndarray, negative: np.ndarray, threshold: float,
                 window_s: float) -> float:
    """Share of time inside unbroken runs of negative mass > threshold lasting >= window_s."""
    if len(t) == 0:
        return 0.0
    contiguous = np.concatenate([[False], np.diff(t) <= 1.5 * np.maximum(dt[1:], dt[:-1])])
    runs = _runs(negative > threshold, contiguous)
    inside = sum(dt[a:b].sum() for a, b in runs if dt[a:b].sum() >= window_s)
    return float(inside / dt.sum())


def change_points(t: np.ndarray, dt: np.ndarray, s: np.ndarray, labels: tuple[str, ...], window_s: float,
                  threshold: float, min_gap_s: float) -> list[ChangePoint]:
    """Sharp shifts: total-variation distance between the mean of the window before each row and
    the window after it; local maxima above `threshold` where the leading emotion differs,
    greedily kept strongest first."""
    n = len(t)
    if n < 2:
        return []
    cw = np.concatenate([[0.0], np.cumsum(dt)])
    cs = np.vstack([np.zeros((1, s.shape[1])), np.cumsum(s * dt[:, None], 0)])
    lo = np.searchsorted(t, t - window_s, "left")
    hi = np.searchsorted(t, t + window_s, "left")
    idx = np.arange(n)
    w_before, w_after = cw[idx] - cw[lo], cw[hi] - cw[idx]
    ok = (w_before >= window_s / 2) & (w_after >= window_s / 2)
    before = (cs[idx] - cs[lo]) / np.maximum(w_before, 1e-9)[:, None]
    after = (cs[hi] - cs[idx]) / np.maximum(w_after, 1e-9)[:, None]
    score = np.where(ok & (before.argmax(1) != after.argmax(1)), _tv(before, after), 0.0)
    peaks = [i for i in range(n) if score[i] >= threshold
             and score[i] >= score[max(i - 1, 0)] and score[i] >= score[min(i + 1, n - 1)]]
    kept: list[int] = []
    for i in sorted(peaks, key=lambda i: -score[i]):
        if all(abs(t[i] - t[j]) >= min_gap_s for j in kept):
            kept.append(i)
    return [ChangePoint(float(t[i]), labels[int(before[i].argmax())], labels[int(after[i].argmax())],
                        float(score[i])) for i in sorted(kept)]


def summarize_track(df: pd.DataFrame, track_id: int, config: InsightConfig = InsightConfig()) -> TrackSummary:
    """The summary of one person in a timeline table."""
    labels = labels_of(df)
    rows = df[df["track_id"] == track_id].sort_values("time_s")
    if rows.empty:
        raise ValueError(f"no rows for track {track_id}")
    t, dt = rows["time_s"].to_numpy(float), rows["dt_s"].to_numpy(float)
    p = rows[[raw_col(k) for k in labels]].to_numpy(float)
    s = rows[[smoothed_col(k) for k in labels]].to_numpy(float)
    total = float(dt.sum())
    mean_p = _weighted_mean(p, dt)
    mean_s = _weighted_mean(s, dt)
    share = {k: float(dt[rows["label"].to_numpy() == k].sum() / total) for k in labels}
    sign = np.array([VALENCE.get(k, 0) for k in labels], float)
    conf = rows["confidence"].to_numpy(float)
    return TrackSummary(
        track_id=int(track_id), first_seen_s=float(t[0]), last_seen_s=float(t[-1]), seconds_on_screen=total,
        frames=len(rows), dominant=max(share, key=share.get), time_share=share,
        mean_probs={k: float(v) for k, v in zip(labels, mean_p)},
        valence=float(sign @ mean_p),
        expressivity=float((_tv(s, mean_s[None]) * dt).sum() / total),
        stress=stress_share(t, dt, s[:, sign < 0].sum(1), config.stress_threshold, config.stress_window_s),
        change_points=change_points(t, dt, p, labels, config.change_window_s, config.change_threshold,
                                    config.change_min_gap_s),
        mean_confidence=float((conf * dt).sum() / total),
        low_confidence_share=float(dt[conf < config.low_confidence].sum() / total),
    )


def track_durations(df: pd.DataFrame) -> pd.Series:
    """Seconds on screen per person id."""
    faces = df.dropna(subset=["track_id"])
    return faces.groupby("track_id")["dt_s"].sum()


def summarize_video(df: pd.DataFrame, video: str = "",
                    config: InsightConfig = InsightConfig()) -> VideoSummary:
    """Per-video summary: people on screen at least `min_track_s`, faceless frames, confidence."""
    frames = df.drop_duplicates("frame")
    faceless = df[df["track_id"].isna()]
    durations = track_durations(df)
    keep = [int(i) for i, d in durations.items() if d >= config.min_track_s]
    first = df.dropna(subset=["track_id"]).groupby("track_id")["time_s"].min()
    keep.sort(key=lambda i: first[i])
    faces = df.dropna(subset=["track_id"])
    n = len(frames)
    w = faces["dt_s"]
    conf = float((faces["confidence"] * w).sum() / w.sum()) if len(faces) else float("nan")
    return VideoSummary(video=video, duration_s=float(frames["dt_s"].sum()), frames_analysed=n,
                        frames_without_face=len(faceless), share_without_face=len(faceless) / n if n else 0.0,
                        mean_confidence=conf, people=[summarize_track(df, i, config) for i in keep],
                        short_tracks_dropped=len(durations) - len(keep), labels=labels_of(df))


def summary_table(summaries: list[VideoSummary]) -> pd.DataFrame:
    """One comparable row per video (a batch of interviews)."""
    return pd.DataFrame([s.row() for s in summaries])
