"""The video tab as a visitor reads it (issue 23.1, 23.3, 23.7), through `AppTest` with the real
app, models, example video and clips: the example runs without an upload, each person's heading,
table and timeline lane say the same thing by one stated rule, people come most-seen first with
brief faces folded into 'Others', and a refused upload says why on the page. The pure helpers of
`fer.app.video_results` are tested on small tables whose answer is known."""

from __future__ import annotations

import json
import re
from unittest import mock

import pandas as pd
import plotly.graph_objects as go
import pytest
from conftest import CLIPS, ROOT, needs_clips

from fer.app.examples import VIDEO_CREDIT
from fer.app.video_results import (
    MIN_PERSON_S,
    OTHERS,
    RULE,
    clearest_rows,
    label_segments,
    lane_seconds,
    others_text,
    share_table,
    split_people,
)
from fer.insights import summarize_video
from fer.labels import FER2013_LABELS, display_name

HEADING = re.compile(r"\*\*Person (\d+)\*\* · mostly \*\*(\w+)\*\* \((\d+)% of ([\d.]+) s on screen\)")


@pytest.fixture
def app():
    from streamlit.testing.v1 import AppTest

    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
        at.run()
        assert not at.exception, at.exception
        yield at


def page_people(at) -> list[tuple[int, str, int, float, str]]:
    """(id, label named in the heading, its %, seconds, the heading's tooltip), top to bottom."""
    out = []
    for m in at.markdown:
        hit = HEADING.fullmatch(m.value)
        if hit:
            out.append((int(hit[1]), hit[2], int(hit[3]), float(hit[4]), m.proto.help))
    return out


def lane_chart(at) -> go.Figure:
    (chart,) = [c for c in at.get("plotly_chart") if "video_lanes" in c.proto.id]
    return go.Figure(json.loads(chart.proto.spec))


def shares_from_timeline(timeline: pd.DataFrame, track_id: int) -> dict[str, float]:
    """Seconds per smoothed label of one person, straight from the report's table."""
    rows = timeline[timeline["track_id"] == track_id]
    return {display_name(k): float(v) for k, v in rows.groupby("label")["dt_s"].sum().items()}


def person_table(at, track_id: int) -> pd.DataFrame:
    (details,) = [e for e in at.expander if e.label == f"Person {track_id} in detail"]
    return details.dataframe[0].value


def test_example_video_works_without_an_upload(app):
    app.button(key="video_example_button").click().run()
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    assert any(s.value.startswith("Processed ") for s in app.success)
    assert any(c.value == f"Example: {VIDEO_CREDIT}" for c in app.caption)
    assert len(page_people(app)) >= 2  # one face, then four
    assert app.session_state["video_report"].name == "example video.mp4"
    assert not [b for b in app.button if b.key == "video_go"], "the example needs no second click"


def test_heading_table_and_chart_of_each_person_agree_by_the_stated_rule(app):
    """Issue 23.1: 'Person 1 mostly Sad' beside a chart mostly Happy. Now heading, table and lane
    all come from the time each smoothed label was shown; each is checked against the report's
    own timeline, not against the helpers that drew them."""
    app.button(key="video_example_button").click().run()
    timeline = app.session_state["video_report"].timeline
    fig = lane_chart(app)
    people = page_people(app)
    assert people and any(RULE in c.value for c in app.caption)
    for track_id, named, pct, seconds, tooltip in people:
        truth = shares_from_timeline(timeline, track_id)
        total = sum(truth.values())
        leading = max(truth, key=truth.get)
        assert tooltip == RULE
        assert (named, pct, seconds) == (leading, round(100 * truth[leading] / total), round(total, 1))
        table = person_table(app, track_id)
        assert table["Expression"].iloc[0] == named
        assert list(table["Expression"]) == sorted(truth, key=lambda k: -truth[k])
        assert list(table["Time shown"]) == [f"{100 * truth[k] / total:.0f}% · {truth[k]:.1f} s"
                                             for k in table["Expression"]]
        lane = lane_seconds(fig, f"Person {track_id}")
        assert lane.keys() == truth.keys()
        assert all(abs(lane[k] - truth[k]) < 1e-6 for k in truth), (lane, truth)
    assert fig.layout.xaxis.range[1] == pytest.approx(app.session_state["video_report"].analysis.analysed_s)


@needs_clips
def test_people_are_ranked_by_time_on_screen_with_brief_faces_folded(app):
    """Issue 23.3 on the real 9 s multi-person clip: 'People 7', Person 1-7 in order of first
    appearance, each with a time axis of its own. Now most time first, brief faces under
    Others, one face picture per person and one time axis for everybody."""
    clip = CLIPS / "short_hamilton_clip.mp4"
    app.file_uploader(key="video_upload").set_value((clip.name, clip.read_bytes(), "video/mp4"))
    app.run()
    app.button(key="video_go").click().run()
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    timeline = app.session_state["video_report"].timeline
    seconds = timeline.dropna(subset=["track_id"]).groupby("track_id")["dt_s"].sum()
    named = [p[0] for p in page_people(app)]
    assert named == sorted(named, key=lambda i: -seconds[i]) and len(named) >= 2
    assert all(seconds[i] >= MIN_PERSON_S for i in named)
    brief = [int(i) for i, s in seconds.items() if 0.5 <= s < MIN_PERSON_S]
    assert brief and not set(brief) & set(named)
    assert any(c.value.startswith(f"Others: {len(brief)} more faces") for c in app.caption)
    assert {m.label: m.value for m in app.metric}["People"] == str(len(named))
    fig = lane_chart(app)
    assert list(fig.layout.yaxis.categoryarray)[::-1] == [f"Person {i}" for i in named] + [OTHERS]
    assert len(app.get("image")) == len(named)  # one face picture per named person


def test_refused_video_upload_says_why_in_full(app):
    app.file_uploader(key="video_upload").set_value(("notes.txt", b"meeting notes", "text/plain"))
    app.run()
    assert [e.value for e in app.error] == [
        ("notes.txt was not analysed: only videos in MP4, MOV, WebM, MKV or AVI format can be used "
         "(this is a .txt file).")]
    assert not [b for b in app.button if b.key == "video_go"]


# --- the pure helpers ---------------------------------------------------------------------------------

def _timeline(rows: list[tuple[float, int, str, float]]) -> pd.DataFrame:
    """A timeline table (`fer.timeline`'s columns) of (time, track id, label, detection score)
    rows, each 0.1 s long, the label's probability 1, boxes growing with time."""
    def probs(label: str) -> dict[str, float]:
        return {f"{kind}_{k}": float(k == label) for kind in ("raw", "smoothed") for k in FER2013_LABELS}

    return pd.DataFrame([{"time_s": t, "frame": round(t * 10), "dt_s": 0.1, "track_id": tid, "x1": 0.0, "y1": 0.0,
                          "x2": 10 + t, "y2": 10 + t, "det_score": score, "detected": True, "label": label,
                          "confidence": 1.0, **probs(label)} for t, tid, label, score in rows])


def test_a_missed_stretch_is_a_gap_not_a_change():
    rows = [(t / 10, 1, "happy", 0.99) for t in range(5)] + [(t / 10, 1, "happy", 0.99) for t in range(10, 13)]
    rows += [(t / 10, 1, "sad", 0.99) for t in range(13, 15)]
    segs = label_segments(_timeline(rows), 1)
    assert [(s.label, round(s.start, 1), round(s.seconds, 1), s.after_gap) for s in segs] == [
        ("happy", 0.0, 0.5, True), ("happy", 1.0, 0.3, True), ("sad", 1.3, 0.2, False)]


def test_brief_and_flickering_faces_are_folded_into_others():
    rows = ([(t / 10, 1, "happy", 0.99) for t in range(30)]  # steady, 3 s
            + [(t / 10, 2, "sad", 0.99) for t in range(7)]  # 0.7 s: brief
            + [(t / 10, 3, "sad", 0.99) for t in range(0, 60, 4)])  # 1.5 s over 5.6 s: on and off
    summary = summarize_video(_timeline(rows))
    people = split_people(summary.people)
    assert [p.track_id for p in people.shown] == [1]
    assert sorted(p.track_id for p in people.others) == [2, 3]
    assert others_text(people.others) == "Others: 2 more faces, 2.2 s on screen in all (1 on screen under 1 s, 1 seen only on and off)."
    assert [p.track_id for p in split_people(summary.people, min_seconds=0, min_presence=0).shown] == [1, 3, 2]
    capped = split_people(summary.people, max_people=1, min_seconds=0, min_presence=0)
    assert others_text(capped.others, 0, 0, 1).endswith("(2 beyond the 1 people longest on screen).")


def test_the_clearest_face_is_the_best_detection_then_the_largest():
    rows = [(0.0, 1, "happy", 0.90), (0.1, 1, "happy", 0.999), (0.2, 1, "happy", 0.998), (0.3, 1, "happy", 0.97)]
    assert clearest_rows(_timeline(rows), [1])[1].frame == 2  # 1.00 both (two decimals): the larger box


def test_share_table_has_two_short_columns_in_whole_percent():
    rows = [(t / 10, 1, "happy", 0.99) for t in range(20)] + [(t / 10, 1, "sad", 0.99) for t in range(20, 30)]
    (p,) = summarize_video(_timeline(rows)).people
    table = share_table(p)
    assert list(table.columns) == ["Expression", "Time shown"]
    assert table.values.tolist() == [["Happy", "67% · 2.0 s"], ["Sad", "33% · 1.0 s"]]
