"""The ONNX MTCNN (`fer.mtcnn`) is facenet-pytorch's MTCNN: same faces, boxes and landmarks on real
photos and real video frames, at facenet-pytorch's default settings (min face 20 px, thresholds
0.6/0.7/0.7, factor 0.709). Parity bar: >= 98% of faces matched both ways, matched boxes IoU >=
0.95, landmarks within 2 px. The reference is facenet-pytorch's public `MTCNN.detect`."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from clips import clip_frames, spread
from conftest import CLIPS, needs_clips

from fer import mtcnn

facenet_pytorch = pytest.importorskip("facenet_pytorch", reason="the parity reference needs facenet-pytorch")
torch = pytest.importorskip("torch")

MIN_MATCHED = 0.98
MIN_IOU = 0.95
MAX_LANDMARK_PX = 2.0
FRAMES_PER_CLIP = 30


@pytest.fixture(scope="module")
def ours() -> mtcnn.MTCNN:
    return mtcnn.MTCNN()


@pytest.fixture(scope="module")
def reference():
    from fer.runtime import apply_threads

    apply_threads()
    return facenet_pytorch.MTCNN(keep_all=True, post_process=False)


def reference_detect(net, image: np.ndarray) -> mtcnn.Detections:
    boxes, probs, points = net.detect(image, landmarks=True)
    if boxes is None:
        return mtcnn.Detections.empty()
    return mtcnn.Detections(np.asarray(boxes, np.float32).reshape(-1, 4),
                            np.asarray(probs, np.float32).reshape(-1),
                            np.asarray(points, np.float32).reshape(-1, 5, 2))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def match(ref: mtcnn.Detections, got: mtcnn.Detections) -> list[tuple[int, int, float]]:
    """Greedy one-to-one pairs (ref index, our index, IoU) with IoU >= 0.5, best first."""
    pairs = sorted(((iou(a, b), i, j) for i, a in enumerate(ref.boxes) for j, b in enumerate(got.boxes)),
                   reverse=True)
    used_i, used_j, out = set(), set(), []
    for v, i, j in pairs:
        if v >= 0.5 and i not in used_i and j not in used_j:
            used_i.add(i), used_j.add(j), out.append((i, j, v))
    return out


def parity(reference, ours, images: dict[str, np.ndarray]) -> dict:
    """Faces of both detectors over `images`, the matched share both ways and the worst pair."""
    n_ref = n_ours = n_matched = 0
    worst_iou, worst_landmark, worst_score = 1.0, 0.0, 0.0
    unmatched = []  # images where some face of either detector found no partner
    for name, image in images.items():
        ref, got = reference_detect(reference, image), ours.detect(image)
        pairs = match(ref, got)
        if len(pairs) < max(len(ref), len(got)):
            unmatched.append(name)
        n_ref, n_ours, n_matched = n_ref + len(ref), n_ours + len(got), n_matched + len(pairs)
        for i, j, v in pairs:
            worst_iou = min(worst_iou, v)
            worst_landmark = max(worst_landmark, float(np.abs(ref.landmarks[i] - got.landmarks[j]).max()))
            worst_score = max(worst_score, abs(float(ref.scores[i]) - float(got.scores[j])))
    return {"faces_reference": n_ref, "faces_onnx": n_ours, "matched": n_matched,
            "matched_of_reference": n_matched / max(1, n_ref), "matched_of_onnx": n_matched / max(1, n_ours),
            "worst_iou": worst_iou, "worst_landmark_px": worst_landmark, "worst_score_diff": worst_score,
            "images_with_unmatched_faces": unmatched}


def assert_parity(report: dict) -> None:
    assert report["matched_of_reference"] >= MIN_MATCHED, report
    assert report["matched_of_onnx"] >= MIN_MATCHED, report
    assert report["worst_iou"] >= MIN_IOU, report
    assert report["worst_landmark_px"] <= MAX_LANDMARK_PX, report


def lfw_face(i: int, border: int = 40) -> np.ndarray:
    """An LFW face from scikit-image (25x25 grey) enlarged 4x, as RGB with a replicated border:
    MTCNN needs context around a face and more than 25 px."""
    from skimage import data

    face = (data.lfw_subset()[i] * 255).round().astype(np.uint8)
    face = cv2.resize(face, (100, 100), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(np.dstack([face] * 3), border, border, border, border, cv2.BORDER_REPLICATE)


def photos(astronaut: np.ndarray) -> dict[str, np.ndarray]:
    images = {"astronaut": astronaut}
    images |= {f"lfw_{i}": lfw_face(i) for i in (0, 10, 20, 30, 40)}
    rows = [np.concatenate([lfw_face(i, 20) for i in row], 1) for row in ((1, 2, 3), (4, 5, 6))]
    images["lfw_grid_6_faces"] = np.concatenate(rows, 0)
    face = astronaut[20:220, 130:330]
    images["astronaut_twice"] = np.concatenate([face, np.full_like(face, 255), face], 1)
    return images


def test_parity_on_photos(reference, ours, astronaut):
    images = photos(astronaut)
    report = parity(reference, ours, images)
    assert report["faces_reference"] >= 1 + 5 + 6 + 2  # every photo's faces found: the check has teeth
    assert_parity(report)


@needs_clips
@pytest.mark.parametrize("clip", ["fer_test_clip.mp4", "short_hamilton_clip.mp4"])
def test_parity_on_clip_frames(reference, ours, clip):
    if not (CLIPS / clip).is_file():
        pytest.skip(f"{CLIPS / clip} not found (see README: Data)")
    frames = spread(clip_frames(CLIPS / clip), FRAMES_PER_CLIP)
    assert len(frames) >= FRAMES_PER_CLIP
    report = parity(reference, ours, {str(i): f for i, f in enumerate(frames)})
    assert report["faces_reference"] >= len(frames) // 2, report
    assert_parity(report)


def test_area_resize_is_torch_area_interpolation():
    """The pyramid and the crops are torch's `interpolate(mode="area")`, non-integer ratios and
    enlargements included, not OpenCV's INTER_AREA."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    integral = mtcnn.integral_image(image)
    for size in [(69, 93), (24, 24), (12, 17), (150, 200)]:
        want = torch.nn.functional.interpolate(tensor, size=size, mode="area").numpy()
        np.testing.assert_allclose(mtcnn.area_resize(integral, size), want, atol=1e-4)
    windows = np.array([[0, 0, 97, 131], [5, 7, 40, 33], [90, 120, 97, 131], [10, 10, 21, 61]])  # y0 x0 y1 x1
    got = mtcnn.area_resize_many(integral, *windows.T, 24)
    for (y0, x0, y1, x1), crop in zip(windows, got):
        want = torch.nn.functional.interpolate(tensor[:, :, y0:y1, x0:x1], size=(24, 24), mode="area")
        np.testing.assert_allclose(crop, want[0].numpy(), atol=1e-4)


def test_nms_matches_facenet_pytorch():
    from facenet_pytorch.models.utils.detect_face import nms_numpy
    from torchvision.ops import nms as torchvision_nms

    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 300, (400, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(10, 80, (400, 2)).astype(np.float32)], 1)
    scores = rng.uniform(0.6, 1, 400).astype(np.float32)
    for threshold in (0.5, 0.7):
        want = torchvision_nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
        np.testing.assert_array_equal(mtcnn.nms(boxes, scores, threshold), want)
        want = nms_numpy(boxes, scores, threshold, "Min")
        np.testing.assert_array_equal(mtcnn.nms(boxes, scores, threshold, mode="min"), want)
    assert 0 < len(mtcnn.nms(boxes, scores, 0.5)) < len(boxes)  # the data does overlap


def test_onnx_networks_are_facenet_pytorchs():
    """Each shipped ONNX network computes what facenet-pytorch's torch network does."""
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

    net = mtcnn.MTCNN()
    rng = np.random.default_rng(2)
    for name, cls, shape in (("pnet", PNet, (2, 3, 37, 53)), ("rnet", RNet, (5, 3, 24, 24)),
                             ("onet", ONet, (5, 3, 48, 48))):
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        with torch.inference_mode():
            want = [t.numpy() for t in cls(pretrained=True).eval()(torch.from_numpy(x))]
        for got, exp in zip(net._run(name, x), want):
            np.testing.assert_allclose(got, exp, atol=1e-4)


def test_shipped_readme_lists_each_file_hash():
    """The provenance README names the sha256 of the ONNX files that actually ship."""
    from fer.commands.export_mtcnn import sha256

    folder = mtcnn.default_model_dir()
    readme = (folder / "README.md").read_text()
    assert "facenet-pytorch 2.5.3" in readme and "MIT" in readme and "Zhang" in readme
    for name in ("pnet", "rnet", "onet"):
        listed = re.search(rf"`{name}\.onnx` \| [\d,]+ \| `([0-9a-f]{{64}})`", readme)
        assert listed and listed.group(1) == sha256(folder / f"{name}.onnx"), name


def test_crowds_run_the_later_stages_in_chunks_with_the_same_result(ours, astronaut, monkeypatch):
    """R-Net and O-Net see the candidates a few at a time (bounded memory on crowd photos); the
    faces found do not depend on the chunk size."""
    rows = [np.concatenate([lfw_face(i, 20) for i in range(r, r + 4)], 1) for r in range(0, 16, 4)]
    crowd = np.concatenate(rows, 0)
    whole = ours.detect(crowd)
    monkeypatch.setattr(mtcnn, "CHUNK", 7)
    chunked = ours.detect(crowd)
    assert len(whole) >= 12
    np.testing.assert_allclose(chunked.boxes, whole.boxes, atol=1e-4)
    np.testing.assert_allclose(chunked.scores, whole.scores, atol=1e-6)
