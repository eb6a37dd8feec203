"""The timeline table of a video analysis, its files (CSV, Parquet) and its plots (PNG, plotly).

One row per face per analysed frame, plus one row with an empty `track_id` for each analysed
frame without a face, so the table alone says how much of the video had nobody in it.
Columns: time_s, frame, dt_s (seconds of video the row stands for), track_id (person id),
x1, y1, x2, y2, det_score, detected (whether the detector ran on that frame), label (the
smoothed label, with hysteresis), confidence (the top raw probability), raw_<emotion> (the
classifier's output for that frame) and smoothed_<emotion> (after temporal smoothing).
Rows are buffered in one growing float array, not in Python objects, so an hour of video
costs a few MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fer.labels import color_hex, display_name
from fer.results import FrameResult

BASE_COLUMNS = ("time_s", "frame", "dt_s", "track_id", "x1", "y1", "x2", "y2", "det_score", "detected",
                "label", "confidence")


def raw_col(label: str) -> str:
    return f"raw_{label}"


def smoothed_col(label: str) -> str:
    return f"smoothed_{label}"


def labels_of(df: pd.DataFrame) -> tuple[str, ...]:
    """The emotion labels of a timeline table, in column order."""
    return tuple(c[len("raw_"):] for c in df.columns if c.startswith("raw_"))


class TimelineBuilder:
    """Accumulates analysed frames (`FrameResult`s of a video, person ids set) into the timeline table."""

    def __init__(self, labels: tuple[str, ...]):
        self.labels = tuple(labels)
        self._ncols = len(BASE_COLUMNS) + 2 * len(self.labels)
        self._buf = np.empty((1024, self._ncols), np.float64)
        self._n = 0
        self.frames = 0

    def _append(self, row: np.ndarray) -> None:
        if self._n == len(self._buf):
            self._buf = np.concatenate([self._buf, np.empty_like(self._buf)])
        self._buf[self._n] = row
        self._n += 1

    def add(self, record: FrameResult) -> None:
        self.frames += 1
        base = [record.t, record.index, record.dt]
        if not record.faces:
            row = np.full(self._ncols, np.nan)
            row[:3] = base
            row[BASE_COLUMNS.index("detected")] = float(record.detected)
            self._append(row)
            return
        for face in record.faces:
            raw = face.frame_probs
            row = np.array(
                base + [face.track_id if face.track_id is not None else np.nan, *face.box, face.score,
                        float(record.detected), self.labels.index(face.label), max(raw.values())]
                + [raw[k] for k in self.labels] + [face.probs[k] for k in self.labels], np.float64)
            self._append(row)

    def to_frame(self) -> pd.DataFrame:
        cols = list(BASE_COLUMNS) + [raw_col(k) for k in self.labels] + [smoothed_col(k) for k in self.labels]
        df = pd.DataFrame(self._buf[: self._n], columns=cols)
        df["frame"] = df["frame"].astype("int64")
        df["track_id"] = df["track_id"].astype("Int64")
        df["detected"] = df["detected"].astype(bool)
        names = np.asarray(self.labels + ("",), dtype=object)
        idx = df["label"].to_numpy()
        df["label"] = names[np.where(np.isnan(idx), len(self.labels), np.nan_to_num(idx)).astype(int)]
        return df


@dataclass(frozen=True)
class TimelineFiles:
    csv: Path
    parquet: Path | None  # None when pyarrow is not installed


def write_timeline(df: pd.DataFrame, out_dir: str | Path, stem: str) -> TimelineFiles:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / f"{stem}_timeline.csv"
    df.to_csv(csv, index=False, float_format="%.5g")
    parquet = None
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        parquet = out / f"{stem}_timeline.parquet"
        df.to_parquet(parquet, index=False)
    return TimelineFiles(csv, parquet)


def track_ids(df: pd.DataFrame) -> list[int]:
    """Person ids in order of first appearance."""
    faces = df.dropna(subset=["track_id"])
    return [int(i) for i in faces.drop_duplicates("track_id")["track_id"]]


def person_series(df: pd.DataFrame, track_id: int, smoothed: bool = True) -> pd.DataFrame:
    """One person's probabilities over time, with zero rows where they were off screen, so a
    stacked area drops to nothing instead of bridging the gap."""
    labels = labels_of(df)
    col = smoothed_col if smoothed else raw_col
    rows = df[df["track_id"] == track_id]
    p = pd.DataFrame({k: rows[col(k)].to_numpy() for k in labels}, index=rows["time_s"].to_numpy())
    if len(p) < 2:
        return p
    dt = float(np.median(rows["dt_s"]))
    t = p.index.to_numpy()
    gaps = np.flatnonzero(np.diff(t) > 1.5 * dt)
    if len(gaps):
        edges = np.concatenate([t[gaps] + dt / 2, t[gaps + 1] - dt / 2])
        p = pd.concat([p, pd.DataFrame(0.0, index=edges, columns=p.columns)]).sort_index()
    p.index.name = "time_s"
    return p


def plot_timeline_png(df: pd.DataFrame, path: str | Path, ids: list[int] | None = None,
                      title: str = "", max_people: int = 6) -> Path:
    """Stacked smoothed probabilities over time, one panel per person."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    labels = labels_of(df)
    ids = (track_ids(df) if ids is None else list(ids))[:max_people]
    n = max(1, len(ids))
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.8 + 1.6 * n), sharex=True, squeeze=False)
    end = float(df["time_s"].max()) if len(df) else 1.0
    for ax, tid in zip(axes[:, 0], ids):
        p = person_series(df, tid)
        ax.stackplot(p.index, *[p[k] for k in labels], labels=[display_name(k) for k in labels],
                     colors=[color_hex(k) for k in labels], linewidth=0)
        ax.set_ylim(0, 1)
        ax.set_xlim(0, max(end, 1e-3))
        ax.set_ylabel(f"person {tid}")
    if not ids:
        axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center", transform=axes[0, 0].transAxes)
    axes[-1, 0].set_xlabel("time (s)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.94), ncol=len(names),
                   fontsize=8, frameon=False)
    fig.suptitle(title, y=0.99, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plotly_figure(df: pd.DataFrame, track_id: int, title: str | None = None):
    """An interactive stacked area of one person's smoothed emotions over time."""
    import plotly.graph_objects as go

    p = person_series(df, track_id)
    fig = go.Figure()
    for k in labels_of(df):
        fig.add_trace(go.Scatter(x=p.index, y=p[k], name=display_name(k), mode="lines", stackgroup="one",
                                 line=dict(width=0.5, color=color_hex(k)),
                                 hovertemplate="%{x:.1f}s: %{y:.0%}"))
    fig.update_layout(title=title if title is not None else f"Person {track_id}", xaxis_title="time (s)",
                      yaxis=dict(range=[0, 1], tickformat=".0%", title="probability"),
                      hovermode="x unified", margin=dict(l=40, r=10, t=40, b=40), height=280)
    return fig

