"""Reading the live view from the browser alone (`benchmarks/live_screen.py`, used by the
end-to-end tests and the live benchmark): tags drawn by the real annotator on real faces, sent
through a real VP8 encoder, are found with their labels, and undrawn frames give none; the
panel's own sentences parse back; the window's figures and agreement rule."""

from __future__ import annotations

import io
from dataclasses import replace

import av
import cv2
import numpy as np
import pytest
from clips import ONE_PERSON, needs_clips
from PIL import Image

from benchmarks.live_harness import Screen, letterbox, summarise
from benchmarks.live_screen import Camera, PanelText, find_tags
from fer.annotate import EmotionAnnotator, label_font, tag_layout
from fer.app.examples import example_photo_path, example_video_path
from fer.app.live_panel import PanelView, readout
from fer.detection import DetectorConfig, FaceDetector
from fer.labels import COLORS_RGB
from fer.live.overlay import LiveStats
from fer.results import FaceEmotion
from fer.video import iter_frames

LABELS = tuple(COLORS_RGB)  # every colour a tag can have, 'uncertain' included


def example_photo() -> np.ndarray:
    """The shipped example photo (one large face) as a 640x480 camera frame."""
    return letterbox(np.asarray(Image.open(example_photo_path()).convert("RGB")))


def vp8_round_trip(frames: list[np.ndarray], size: tuple[int, int], kbps: int) -> list[np.ndarray]:
    """Frames as the browser gets them: encoded by libvpx (WebRTC's VP8) and decoded."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = *size, "yuv420p", kbps * 1000
        for f in frames:
            small = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(small, format="rgb24")))
        out.mux(stream.encode())
    buf.seek(0)
    with av.open(buf) as src:
        return [fr.to_ndarray(format="rgb24") for fr in src.decode(video=0)]


def shown_as(label: str, face, track_id: int) -> FaceEmotion:
    """A face whose tag reads `label` ('uncertain': a top probability under the threshold)."""
    probs = {"neutral": 0.3, "sad": 0.7 - 1e-9} if label == "uncertain" else {label: 0.87, "sad" if label != "sad" else "happy": 0.13}
    top = "neutral" if label == "uncertain" else label
    return FaceEmotion(face.box, face.score, face.landmarks, probs, top, track_id)


def drawn_clip(path, sizes=((640, 480), (480, 360))) -> tuple[Camera, dict, dict, list[list[str]]]:
    """A clip as the camera sends it, and per stream size (the server draws on frames of the size
    it receives: WebRTC may shrink the camera's) each frame with every face's tag drawn by the
    real annotator on MTCNN's boxes, in a label colour that changes every few frames."""
    detector = FaceDetector(DetectorConfig(min_face_size=40))
    camera = [letterbox(f.rgb) for f in iter_frames(path, every=2)]
    plain = {size: [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in camera] for size in sizes}
    frames: dict = {size: [] for size in sizes}
    truth = []
    for i, frame in enumerate(camera):
        faces = [shown_as(LABELS[(i // 3 + k) % len(LABELS)], f, k + 1) for k, f in enumerate(detector.detect(frame))]
        truth.append(sorted(f.shown_label(0.4) for f in faces))
        for size in sizes:
            s = size[0] / frame.shape[1]
            scaled = [replace(f, box=tuple(v * s for v in f.box), landmarks=f.landmarks * s) for f in faces]
            frames[size].append(EmotionAnnotator(uncertain_below=0.4).annotate(plain[size][i].copy(), scaled))
    return Camera.of(camera), plain, frames, truth


@pytest.fixture(scope="module")
def example():
    """The shipped example video: one face, then four whose tags touch each other's boxes."""
    return drawn_clip(example_video_path())


@pytest.mark.parametrize("size", [(640, 480), (480, 360)])
def test_tags_are_found_with_their_labels_after_vp8(example, size):
    camera, plain, frames, truth = example
    assert sum(len(t) > 1 for t in truth) >= 15 and sum(map(len, truth)) >= 80
    seen = vp8_round_trip(frames[size], size, kbps=1500)
    found = [sorted(t.label for t in find_tags(s, camera)) for s in seen]
    single = [(f, t) for f, t in zip(found, truth) if len(t) == 1]
    assert all(f == t for f, t in single)  # the live tests' case: exact
    assert np.mean([f == t for f, t in zip(found, truth)]) >= 0.95, list(zip(found, truth))
    assert not any(find_tags(s, camera) for s in vp8_round_trip(plain[size], size, kbps=1500))


@needs_clips
def test_tags_on_the_live_tests_clip_are_found_exactly():
    """The one-person night clip of the end-to-end tests, bokeh lights and all, at the stream
    sizes seen in the live tests and the smallest WebRTC falls back to."""
    sizes = ((640, 480), (480, 360), (320, 240))
    camera, plain, frames, truth = drawn_clip(ONE_PERSON, sizes)
    for size in sizes:
        seen = vp8_round_trip(frames[size], size, kbps=1000)
        assert [sorted(t.label for t in find_tags(s, camera)) for s in seen] == truth, size
        assert not any(find_tags(s, camera) for s in vp8_round_trip(plain[size], size, kbps=1000)), size


def test_a_tag_narrower_than_its_box_and_one_at_the_top_edge_are_found_whole():
    """A large face (its tag spans part of the box's width) and, 4 px from the top edge, a tag
    drawn inside its box: both found, as tall as a tag is."""
    detect = FaceDetector(DetectorConfig(min_face_size=40)).detect
    photo = example_photo()
    (face,) = detect(photo)
    x1, y1, x2, _ = (int(v) for v in face.box)
    w = x2 - x1  # a view three face-widths wide, at the camera's size: the face ~210 px wide
    close = cv2.resize(photo[max(0, y1 - w): y1 + int(1.25 * w), max(0, x1 - w): x2 + w], (640, 480))
    (big,) = detect(close)
    top = np.roll(photo, -y1 + 4, axis=0)
    (at_top,) = detect(top)
    for scene, f, label in ((close, big, "sad"), (top, at_top, "happy")):
        out = EmotionAnnotator().annotate(scene.copy(), [shown_as(label, f, 1)])
        (tag,) = find_tags(vp8_round_trip([out] * 3, (640, 480), 1500)[-1], Camera.of([scene]))
        scale, thickness = label_font(scene.shape)
        whole = tag_layout("#1 Sad 87%", f.box, 640, 480, scale, thickness)
        assert tag.label == label, tag
        assert abs(tag.y1 - whole.y1) <= 2 and tag.height >= whole.y2 - whole.y1 - 2, (tag, whole)
        if f is big:
            assert f.box[2] - f.box[0] > 2 * (tag.x2 - tag.x1)  # the case meant: a tag under half its box


def test_the_panels_own_sentences_parse_back():
    face = shown_as("happy", FaceDetector(DetectorConfig()).detect(example_photo())[0], 3)
    reading = PanelView("face", 2, (3, 5), face, 812).reading(0.4)
    follow = "Follow\nLargest\n#3\n#5\n#7 (gone)"
    text = f"{follow}\nFace #3 of 2 in view\nHappy 87%\n{reading} · as drawn on the video\n" + readout(
        LiveStats(29.6, 14.2, 123.0, 1, 40.0))
    p = PanelText.parse(text)
    assert (p.face_id, p.seq, p.label, p.ids) == (3, 812, "happy", (3, 5, 7))
    assert (p.video_fps, p.analysis_fps, p.lag_ms, p.busy) == (30, 14, 123, True)
    quiet = PanelText.parse("Faces in view: 0\nNo face in view.\n" + readout(LiveStats(30, 0, float("nan"), 0, 0)))
    assert quiet.face_id is None and quiet.lag_ms is None and not quiet.busy and quiet.analysis_fps == 0


def _screen(t: float, panel_label: str | None, tag_labels: tuple[str, ...], decoded: int) -> Screen:
    from benchmarks.live_screen import SeenTag

    panel = PanelText(1 if panel_label else None, 1, panel_label, (1,), 30.0, 12.0, 100.0 + t, False)
    tags = tuple(SeenTag(lab, 0, 0, 50, 20) for lab in tag_labels)
    return Screen(t, decoded, np.zeros((2, 2, 3), np.uint8), tags, panel)


def test_a_window_of_looks_is_summarised_and_agreement_allows_either_to_lead():
    looks = [_screen(0.2 * i, "happy", ("happy",), 6 * i) for i in range(10)]
    looks += [_screen(2.0, "happy", ("neutral",), 60),  # the video changed label first: fine
              _screen(2.2, "neutral", ("happy",), 66),  # the panel did: fine too
              *[_screen(2.4 + 0.2 * i, "neutral", ("neutral",), 72 + 6 * i) for i in range(6)],
              _screen(3.6, None, (), 108)]
    w = summarise(looks)
    assert w.video_fps_browser == pytest.approx(30) and w.boxed_share == pytest.approx(18 / 19)
    assert w.track_ids == [1] and not w.agreement_failures
    assert w.agreement_checks == 9  # the readings with a second of looks on both sides
    wrong = summarise([*looks[:12], _screen(2.4, "fear", ("neutral",), 72), *looks[12:]])
    assert len(wrong.agreement_failures) == 1 and "fear" in wrong.agreement_failures[0]
