"""Bad and unusual image files through the library (`ImageError` with a specific message, or a
correct result) and through `python -m fer analyze` (non-zero exit, a message, no traceback)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fer.imageio import ImageError, load_image

ROOT = Path(__file__).resolve().parents[1]
# Where MTCNN finds the astronaut's face in the upright photo (x1, y1, x2, y2), +- a few pixels.
ASTRONAUT_BOX = (181, 62, 268, 172)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = 20000) -> bytes:
    """A valid 1-bit PNG of side x side black pixels: ~20 KB on disk, 400 megapixels decoded."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row * 1000) for _ in range(side // 1000)) + z.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def encode(rgb: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut) -> dict[str, Path]:
    """Every awkward file once, on disk, named by what it is."""
    d = tmp_path_factory.mktemp("awkward")
    jpeg, png = encode(astronaut, "JPEG", quality=90), encode(astronaut, "PNG")
    corrupt_png = bytearray(png)
    mid = len(png) // 2
    corrupt_png[mid:mid + 64] = bytes(64)  # zeroed IDAT bytes: zlib/CRC errors on decode
    sideways = np.ascontiguousarray(np.rot90(astronaut[:, :400], 1))  # stored 90 deg counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 deg clockwise to display
    buf = io.BytesIO()
    Image.fromarray(sideways).save(buf, "JPEG", quality=92, exif=exif)
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0  # a transparent corner
    gif = io.BytesIO()
    frames = [Image.fromarray(astronaut), Image.fromarray(np.zeros_like(astronaut))]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    grey16 = (cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    from skimage import data

    content = {
        "empty.jpg": b"",
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "truncated.png": png[: len(png) // 2],
        "corrupt.png": bytes(corrupt_png),
        "corrupt.jpg": jpeg[:2] + bytes(range(256)) * 8,  # JPEG start marker, then garbage
        "text.jpg": b"This is a text file, not a photo.\n" * 20,
        "bomb.png": bomb_png(),
        "tiny.png": encode(np.full((1, 1, 3), 200, np.uint8), "PNG"),
        "cmyk.jpg": _cmyk_jpeg(astronaut),
        "rgba.png": encode(rgba, "PNG"),
        "palette.png": _palette_png(astronaut),
        "exif_rotated.jpg": buf.getvalue(),
        "animated.gif": gif.getvalue(),
        "no_face.jpg": encode(data.coffee(), "JPEG"),
        "edge.png": encode(np.ascontiguousarray(astronaut[:, 205:]), "PNG"),
    }
    paths = {}
    for name, blob in content.items():
        (d / name).write_bytes(blob)
        paths[name] = d / name
    paths["grey16.png"] = d / "grey16.png"
    Image.fromarray(grey16).save(paths["grey16.png"])  # mode I;16
    paths["rgb16.png"] = d / "rgb16.png"
    cv2.imwrite(str(paths["rgb16.png"]), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    paths["missing.jpg"] = d / "missing.jpg"
    return paths


def _cmyk_jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _palette_png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(buf, "PNG")
    return buf.getvalue()


# What each unusable file must be called: (file, words the message must contain).
BAD = [
    ("empty.jpg", r"empty \(0 bytes\)"),
    ("truncated.jpg", r"corrupt or truncated"),
    ("truncated.png", r"corrupt or truncated"),
    ("corrupt.png", r"corrupt or truncated"),
    ("corrupt.jpg", r"not an image in a format we can read|corrupt or truncated"),
    ("text.jpg", r"not an image in a format we can read"),
    ("bomb.png", r"20000x20000.*limit is 50 MP|too large to decode safely"),
    ("missing.jpg", r"file not found"),
]


# ---------------------------------------------------------------------------------- library


@pytest.mark.parametrize("name, message", BAD)
def test_unusable_files_raise_image_error_naming_the_problem(files, recognizer, name, message):
    with pytest.raises(ImageError, match=message):
        load_image(files[name])
    with pytest.raises(ImageError, match=message):
        recognizer.analyze(files[name])


def test_unusable_bytes_and_streams_raise_image_error(files):
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="not an image"):
        load_image(io.BytesIO(files["text.jpg"].read_bytes()))
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(files["truncated.png"].read_bytes())


def test_decompression_bomb_is_refused_before_decoding(files):
    import psutil

    before = psutil.Process().memory_info().rss
    with pytest.raises(ImageError, match="20000x20000|too large"):
        load_image(files["bomb.png"])
    # Decoding would need 400 MB at least; refusing from the header needs next to nothing.
    assert psutil.Process().memory_info().rss - before < 100 * 2**20
    assert files["bomb.png"].stat().st_size < 200_000  # the test itself stays cheap


def test_one_pixel_image_loads_and_has_no_face(files, recognizer):
    assert load_image(files["tiny.png"]).shape == (1, 1, 3)
    assert recognizer.analyze(files["tiny.png"]) == []


def test_photo_without_a_face_gives_an_empty_list(files, recognizer):
    assert recognizer.analyze(files["no_face.jpg"]) == []


def _assert_astronaut(faces, dx: float = 0.0, tol: float = 15.0):
    assert len(faces) == 1, faces
    box = np.asarray(faces[0].box)
    expect = np.asarray(ASTRONAUT_BOX, float) - [dx, 0, dx, 0]
    assert np.abs(box - expect).max() < tol, (box, expect)
    assert abs(sum(faces[0].probs.values()) - 1) < 1e-4


@pytest.mark.parametrize("name", ["cmyk.jpg", "rgba.png", "palette.png", "animated.gif", "grey16.png", "rgb16.png"])
def test_unusual_modes_are_converted_and_the_face_found(files, recognizer, name):
    rgb = load_image(files[name])
    assert rgb.dtype == np.uint8 and rgb.shape == (512, 512, 3)
    _assert_astronaut(recognizer.analyze(files[name]))


def test_sixteen_bit_keeps_the_full_tonal_range(files, astronaut):
    """A 16-bit photo must come out as the same picture, not clipped to white."""
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY).astype(float)
    for name in ("grey16.png", "rgb16.png"):
        loaded = cv2.cvtColor(load_image(files[name]), cv2.COLOR_RGB2GRAY).astype(float)
        assert np.abs(loaded - grey).mean() < 3, name


def test_rgba_transparency_is_composited_on_white(files):
    rgb = load_image(files["rgba.png"])
    assert (rgb[:40, :40] == 255).all()


def test_animated_gif_gives_its_first_frame(files, astronaut):
    rgb = load_image(files["animated.gif"])
    assert np.abs(rgb.astype(int) - astronaut).mean() < 20  # palette quantisation, not the black frame


def test_exif_rotated_photo_is_read_upright(files, astronaut, recognizer):
    stored = Image.open(files["exif_rotated.jpg"])
    assert stored.size == (512, 400)  # on disk it lies on its side
    rgb = load_image(files["exif_rotated.jpg"])
    upright = astronaut[:, :400]
    assert rgb.shape == upright.shape
    assert np.abs(rgb.astype(int) - upright).mean() < 8
    _assert_astronaut(recognizer.analyze(files["exif_rotated.jpg"]))  # box in upright coordinates


def test_face_cut_by_the_image_edge_has_its_box_clipped(files, recognizer):
    faces = recognizer.analyze(files["edge.png"])
    h, w = load_image(files["edge.png"]).shape[:2]
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    assert x1 == 0.0  # the face starts left of the image
    assert 0 <= y1 < y2 <= h and 0 < x2 <= w
    assert abs(x2 - (ASTRONAUT_BOX[2] - 205)) < 15


# ---------------------------------------------------------------------------------- CLI


def analyze_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer", "analyze", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_cli_reports_every_bad_file_and_still_analyses_the_good_ones(files, tmp_path):
    bad = [files[name] for name, _ in BAD]
    good = [files[n] for n in ("exif_rotated.jpg", "tiny.png", "no_face.jpg", "edge.png", "cmyk.jpg")]
    out = tmp_path / "out.json"
    proc = analyze_cli(*bad, *good, "--json", out, "--annotate", tmp_path / "annotated")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    err_lines = proc.stderr.splitlines()
    import re

    for (name, message), path in zip(BAD, bad):
        line = next((x for x in err_lines if x.startswith(f"error: {path}:")), None)
        assert line is not None, (name, proc.stderr)
        assert re.search(message, line), (name, line)
    assert f"{len(bad)} of {len(bad) + len(good)} file(s) could not be analysed" in proc.stderr
    # The good files, in order, after the bad ones.
    assert f"{files['exif_rotated.jpg']}: face 1:" in proc.stdout
    assert f"{files['cmyk.jpg']}: face 1:" in proc.stdout
    assert f"no face found in {files['tiny.png']} (the image is only 1x1 pixels)" in proc.stdout
    assert f"no face found in {files['no_face.jpg']}" in proc.stdout
    report = json.loads(out.read_text())["images"]
    assert [r["file"] for r in report] == [str(p) for p in bad + good]
    assert all(r["error"] for r in report[: len(bad)]) and not any(r["error"] for r in report[len(bad):])
    rotated = report[len(bad)]["faces"][0]["box"]
    assert np.abs(np.asarray(rotated) - ASTRONAUT_BOX).max() < 15
    assert report[len(bad)]["size"] == [400, 512]
    assert (tmp_path / "annotated" / "exif_rotated_annotated.png").is_file()


@pytest.mark.parametrize("name", ["text.jpg", "bomb.png"])
def test_cli_single_bad_file_exits_non_zero_without_traceback(files, name):
    proc = analyze_cli(files[name])
    assert proc.returncode != 0
    assert proc.stderr.startswith(f"error: {files[name]}: ")
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""


def test_cli_usage_errors_are_messages_not_tracebacks(files):
    proc = analyze_cli(files["cmyk.jpg"], "--weights", "no_such_model")
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "no_such_model" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------- crowds


def test_a_crowd_photo_is_capped_to_its_largest_faces(recognizer):
    """36 real faces (scikit-image's LFW subset) of two sizes: `max_faces` (default 20) bounds the
    classifier work, and the faces kept are the larger ones, still left to right."""
    from skimage import data

    from fer.recognizer import DEFAULT_MAX_FACES

    lfw = (data.lfw_subset()[:36] * 255).astype(np.uint8)
    grid = np.full((6 * 100, 6 * 100), 128, np.uint8)
    for i, face in enumerate(lfw):
        y, x = divmod(i, 6)
        side = 90 if i % 2 else 64  # every other face larger
        grid[y * 100 + 5:y * 100 + 5 + side, x * 100 + 5:x * 100 + 5 + side] = cv2.resize(face, (side, side))
    rgb = np.repeat(grid[..., None], 3, 2)
    everyone = recognizer.detector.detect(rgb)
    assert len(everyone) > DEFAULT_MAX_FACES, len(everyone)
    faces = recognizer.analyze(rgb)
    assert len(faces) == DEFAULT_MAX_FACES
    widths = sorted((f.box[2] - f.box[0] for f in everyone), reverse=True)
    assert min(f.box[2] - f.box[0] for f in faces) >= widths[DEFAULT_MAX_FACES - 1] - 1e-3
    order = [(f.box[0], f.box[1]) for f in faces]
    assert order == sorted(order)  # the detector's left-to-right order is kept
