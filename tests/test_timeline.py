"""The timeline table: columns, faceless rows, files and plots, from real analysed frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic_faces import face, timeline

from fer.labels import FER2013_LABELS
from fer.timeline import labels_of, person_series, plot_timeline_png, plotly_figure, track_ids, write_timeline

LABELS = FER2013_LABELS


def test_columns_rows_and_faceless_frames():
    df = timeline([[face(1, "happy")], [], [face(1, "sad"), face(2, "neutral", x=100)]])
    assert list(df.columns[:12]) == ["time_s", "frame", "dt_s", "track_id", "x1", "y1", "x2", "y2",
                                     "det_score", "detected", "label", "confidence"]
    assert labels_of(df) == LABELS
    assert [f"raw_{k}" in df for k in LABELS] == [True] * 7 and "smoothed_neutral" in df
    assert len(df) == 4 and df["frame"].tolist() == [0, 1, 2, 2]
    assert df["track_id"].isna().tolist() == [False, True, False, False]
    assert df.loc[1, "label"] == "" and np.isnan(df.loc[1, "raw_happy"])
    assert df["label"].tolist()[2:] == ["sad", "neutral"]
    assert df.loc[0, "raw_happy"] == pytest.approx(0.8) and df.loc[0, "confidence"] == pytest.approx(0.8)
    assert track_ids(df) == [1, 2]


def test_builder_grows_past_its_first_buffer():
    df = timeline([[face(1, "happy")]] * 3000, dt=1 / 30)
    assert len(df) == 3000 and df["time_s"].iloc[-1] == pytest.approx(2999 / 30)


def test_person_series_drops_to_zero_while_off_screen():
    frames = [[face(1, "happy")]] * 5 + [[]] * 10 + [[face(1, "happy")]] * 5
    p = person_series(timeline(frames), 1)
    assert p.index.is_monotonic_increasing
    gap = p[(p.index > 0.41) & (p.index < 1.49)]
    assert len(gap) == 2 and (gap.to_numpy() == 0).all()
    assert p.loc[0.0, "happy"] == pytest.approx(0.8)


def test_csv_parquet_png_and_plotly(tmp_path):
    df = timeline([[face(1, "happy"), face(2, "sad", x=100)]] * 10 + [[face(1, "surprise")]] * 10)
    files = write_timeline(df, tmp_path, "clip")
    back = pd.read_csv(files.csv)
    assert back.shape == df.shape and back["track_id"].tolist()[:2] == [1, 2]
    pytest.importorskip("pyarrow")
    assert files.parquet is not None
    pq = pd.read_parquet(files.parquet)
    assert str(pq["track_id"].dtype) == "Int64" and pq.shape == df.shape
    png = plot_timeline_png(df, tmp_path / "clip.png", title="clip")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    fig = plotly_figure(df, 1)
    assert [t.name for t in fig.data] == ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    assert all(t.stackgroup == "one" for t in fig.data)
    happy = fig.data[3]
    assert max(happy.y) == pytest.approx(0.8)


def test_png_without_any_face(tmp_path):
    png = plot_timeline_png(timeline([[], []]), tmp_path / "empty.png")
    assert png.stat().st_size > 1000
