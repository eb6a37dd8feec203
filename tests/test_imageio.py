"""`fer.imageio` against hostile files: only the documented formats are ever parsed, whatever the
file is called, and decoding memory is bounded in bytes, not only in pixels (issue 16, items 1-2)."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from fer.imageio import FORMATS, MAX_DECODE_BYTES, MAX_PIXELS, ImageError, decode_bytes, load_image

NOT_READABLE = r"is not an image in a format we can read \(JPEG, PNG, WebP, BMP, TIFF, GIF\)"

# A complete, minimal EPS file: Pillow identifies it by content and hands it to Ghostscript.
EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n%%EndComments\n"
       b"newpath 0 0 moveto 64 64 lineto stroke\nshowpage\n%%EOF\n")


def encode(rgb: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(rgb)
    (im.convert(mode) if mode else im).save(buf, fmt)
    return buf.getvalue()


def test_eps_named_png_never_reaches_the_eps_parser(tmp_path, monkeypatch):
    """The hole: EPS bytes called x.png were opened by content and rendered by Ghostscript."""
    reached = []
    original = EpsImagePlugin.EpsImageFile._open
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open",
                        lambda self: reached.append(True) or original(self))
    path = tmp_path / "x.png"
    path.write_bytes(EPS)
    with pytest.raises(ImageError, match="x.png " + NOT_READABLE):
        load_image(path)
    with pytest.raises(ImageError, match=NOT_READABLE):
        load_image(EPS)
    assert reached == [], "the EPS plugin must not even be asked to parse the file"


@pytest.mark.parametrize("fmt, mode", [("PPM", None), ("PCX", None), ("TGA", None), ("SGI", None),
                                       ("ICO", None), ("QOI", None), ("MSP", "1")])
def test_formats_outside_the_allow_list_are_refused(fmt, mode, astronaut):
    data = encode(astronaut[:64, :64], fmt, mode)
    assert Image.open(io.BytesIO(data)).format == fmt  # Pillow itself would read it
    with pytest.raises(ImageError, match=NOT_READABLE):
        load_image(data, name="photo.png")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_documented_format_still_loads(fmt, astronaut):
    rgb = astronaut[:64, :80]
    out = load_image(encode(rgb, fmt))
    assert out.shape == (64, 80, 3) and out.dtype == np.uint8
    tolerance = 40 if fmt in ("JPEG", "WEBP", "GIF") else 0  # lossy or palette formats
    assert np.abs(out.astype(int) - rgb).mean() <= tolerance


def test_sixteen_bit_png_is_converted_without_full_size_temporaries():
    """The hole: a 7.8 KB 16-bit 4 MP PNG peaked at ~24 bytes a pixel in NumPy (int64 copies),
    ~1.1 GB at 50 MP. Now the conversion runs in strips into one RGB array (3 bytes a pixel)."""
    side = 2000
    grey = np.tile((np.arange(side, dtype=np.uint16) * 32)[None], (side, 1))
    png = encode(grey, "PNG")
    assert Image.open(io.BytesIO(png)).mode == "I;16" and len(png) < 50_000
    tracemalloc.start()
    try:
        rgb = load_image(png)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rgb.shape == (side, side, 3)
    assert np.array_equal(rgb[0, :, 0], (grey[0] >> 8).astype(np.uint8))  # the tonal range is kept
    assert peak < 4 * side * side, f"NumPy peak {peak / side / side:.1f} bytes a pixel"


def test_decoded_memory_is_budgeted_in_bytes_whatever_the_mode():
    """Same pixel count, different modes, different memory: the limit is on bytes."""
    assert decode_bytes("L", 100, 100) == 100 * 100 * 4
    assert decode_bytes("I;16", 100, 100) == 100 * 100 * 5
    assert decode_bytes("RGBA", 100, 100) == decode_bytes("RGB", 100, 100) == 100 * 100 * 7
    # The defaults: grey and 16-bit photos up to the pixel limit; 4-byte modes up to ~48 MP.
    assert decode_bytes("I;16", 7000, 7000) <= MAX_DECODE_BYTES and 7000 * 7000 <= MAX_PIXELS
    assert decode_bytes("RGB", 7000, 7000) > MAX_DECODE_BYTES
    rgba = encode(np.zeros((200, 200, 4), np.uint8), "PNG")
    grey = encode(np.zeros((200, 200), np.uint8), "PNG")
    budget = decode_bytes("L", 200, 200)
    assert load_image(grey, max_bytes=budget).shape == (200, 200, 3)
    with pytest.raises(ImageError, match=r"200x200 pixels in mode RGBA: decoding it needs .* MiB limit"):
        load_image(rgba, max_bytes=budget)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) claims another size: the header is all a size
    check may read."""
    data = bytearray(encode(np.zeros((16, 16, 3), np.uint8), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_a_big_rgb_image_under_the_pixel_limit_is_refused_before_decoding(monkeypatch):
    """7000x7000 RGB (49 MP) passes the 50 MP pixel check but not the byte budget; the refusal
    comes from the header, so no pixel is decoded."""
    from PIL import ImageFile

    data = jpeg_claiming(7000, 7000)
    assert Image.open(io.BytesIO(data)).size == (7000, 7000)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    with pytest.raises(ImageError, match="7000x7000 pixels in mode RGB"):
        load_image(data)


def test_uploads_are_named_in_messages(tmp_path):
    with pytest.raises(ImageError, match="^notes.png is not an image"):
        load_image(b"some text" * 10, name="notes.png")
    with pytest.raises(ImageError, match="^the upload is empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="^the upload is not an image"):
        load_image(b"some text" * 10)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    from PIL import ImageOps

    rgb = np.random.default_rng(orientation).integers(0, 255, (5, 7, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))).convert("RGB"))
    assert np.array_equal(load_image(buf.getvalue()), expected)


def test_each_error_says_its_kind_for_callers_that_must_react(tmp_path):
    """The API maps kinds to statuses (415, 413, 400); wording can change freely."""
    from fer.api.errors import image_error_status

    big = Image.new("L", (3000, 3000))
    buf = io.BytesIO()
    big.save(buf, "PNG")
    with pytest.raises(ImageError) as caught:
        load_image(buf.getvalue(), max_pixels=1_000_000)
    assert caught.value.kind == ImageError.TOO_LARGE and image_error_status(caught.value) == 413
    with pytest.raises(ImageError) as caught:
        load_image(b"plain text, not a picture")
    assert caught.value.kind == ImageError.NOT_AN_IMAGE and image_error_status(caught.value) == 415
    with pytest.raises(ImageError) as caught:
        load_image(buf.getvalue()[: len(buf.getvalue()) // 2])  # a real PNG, cut in half
    assert caught.value.kind == ImageError.UNREADABLE and image_error_status(caught.value) == 400
