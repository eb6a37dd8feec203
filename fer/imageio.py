"""Turn whatever a user hands us (path, bytes, PIL image, NumPy array) into an RGB uint8 array.

Every failure is an `ImageError` with a message a person can act on, so the app and the CLI
can report it and carry on.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

ImageInput = Union[str, Path, bytes, bytearray, BinaryIO, Image.Image, np.ndarray]

# Larger images are refused before decoding: 50 MP is a 8K photo; anything bigger is far more
# likely a decompression bomb than a portrait.
MAX_PIXELS = 50_000_000
# Pixels alone do not bound memory: a 16-bit or RGBA image needs more bytes a pixel than a grey
# one. This caps what decoding and conversion to RGB hold at once (see `decode_bytes`).
MAX_DECODE_BYTES = 320 * 2**20
# Pillow identifies files by content and can open ~40 formats, some through external programs
# (EPS runs Ghostscript). Only these are ever opened, whatever a file is called.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
FORMAT_NAMES = "JPEG, PNG, WebP, BMP, TIFF, GIF"
STRIP_ROWS = 256  # rows converted at a time: temporaries stay small whatever the image size


class ImageError(ValueError):
    """The input could not be used as an image; the message says why, `kind` says what went wrong
    for code that must react to it (the API maps it to an HTTP status)."""

    UNREADABLE = "unreadable"  # missing, empty, corrupt, truncated, a bad array
    NOT_AN_IMAGE = "not_an_image"  # some other kind of file
    TOO_LARGE = "too_large"  # over a pixel or memory limit

    def __init__(self, message: str, kind: str = UNREADABLE):
        super().__init__(message)
        self.kind = kind


def stored_bytes_per_pixel(mode: str) -> int:
    """Bytes a pixel of this mode takes in Pillow's memory (1-byte modes, 16-bit grey, else 4)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decode_bytes(mode: str, width: int, height: int) -> int:
    """Peak bytes `load_image` holds for an image of this mode and size: the decoded pixels plus
    the RGB result (3 bytes a pixel); conversion works in strips of `STRIP_ROWS` rows."""
    return width * height * (stored_bytes_per_pixel(mode) + 3)


def load_image(src: ImageInput, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_DECODE_BYTES,
               name: str | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3), upright according to EXIF, alpha composited on white, grey expanded.
    `name` is what messages call the input (default: the file name, else 'the upload')."""
    if isinstance(src, np.ndarray):
        return as_rgb_array(src)
    if isinstance(src, Image.Image):
        return _pil_to_rgb(src, name or "image", max_pixels, max_bytes)
    if isinstance(src, (str, Path)):
        path = Path(src)
        name = name or path.name
        if not path.exists():
            raise ImageError(f"file not found: {path}")
        if path.is_dir():
            raise ImageError(f"{path} is a folder, not an image")
        if path.stat().st_size == 0:
            raise ImageError(f"{name} is empty (0 bytes)")
        try:
            with path.open("rb") as fh:
                return _decode(fh, name, max_pixels, max_bytes)
        except OSError as e:  # unreadable: permissions, a vanished network share
            raise ImageError(f"cannot read {name}: {e.strerror or e}") from None
    if isinstance(src, (bytes, bytearray, memoryview)):
        name = name or "the upload"
        if not len(src):
            raise ImageError(f"{name} is empty (0 bytes)")
        return _decode(io.BytesIO(src), name, max_pixels, max_bytes)
    if hasattr(src, "read"):
        data = src.read()
        name = name or getattr(src, "name", None) or "the upload"
        if not data:
            raise ImageError(f"{name} is empty (0 bytes)")
        return _decode(io.BytesIO(data), str(name), max_pixels, max_bytes)
    raise ImageError(f"cannot read an image from a {type(src).__name__}")


def _decode(fh: BinaryIO, name: str, max_pixels: int, max_bytes: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(fh, formats=FORMATS)
            _check_size(im, name, max_pixels, max_bytes)  # from the header, before any pixel is decoded
            im.load()
            return _pil_to_rgb(im, name, max_pixels, max_bytes, owned=True)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{name} is too large to decode safely ({e})", ImageError.TOO_LARGE) from None
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image in a format we can read ({FORMAT_NAMES})",
                         ImageError.NOT_AN_IMAGE) from None
    except MemoryError:
        raise ImageError(f"{name} needs more memory to decode than this machine has free",
                         ImageError.TOO_LARGE) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
            ZeroDivisionError) as e:  # what Pillow's parsers raise on damaged data
        raise ImageError(f"{name} looks like an image but is corrupt or truncated ({e})") from None


def _check_size(im: Image.Image, name: str, max_pixels: int, max_bytes: int) -> None:
    w, h = im.size
    if w * h > max_pixels:
        raise ImageError(f"{name} is {w}x{h} pixels ({w * h / 1e6:.0f} MP); the limit is "
                         f"{max_pixels / 1e6:.0f} MP", ImageError.TOO_LARGE)
    need = decode_bytes(im.mode, w, h)
    if need > max_bytes:
        raise ImageError(f"{name} is {w}x{h} pixels in mode {im.mode}: decoding it needs "
                         f"{need / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit", ImageError.TOO_LARGE)
    if w == 0 or h == 0:
        raise ImageError(f"{name} has no pixels")


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not cost the user the photo
        return 1


def _pil_to_rgb(im: Image.Image, name: str, max_pixels: int, max_bytes: int,
                owned: bool = False) -> np.ndarray:
    """Convert strip by strip into one preallocated RGB array: no full-size intermediate copies
    (a 16-bit 4 MP PNG used to peak at 90 MiB in int64 temporaries). `owned` images are closed
    as soon as their pixels are copied, before the EXIF rotation allocates its result."""
    _check_size(im, name, max_pixels, max_bytes)
    orientation = _orientation(im)
    w, h = im.size
    out = np.empty((h, w, 3), np.uint8)
    for y in range(0, h, STRIP_ROWS):
        strip = im.crop((0, y, w, min(h, y + STRIP_ROWS)))
        out[y:y + strip.height] = _strip_to_rgb(strip)
    if owned:
        im.close()
    return _apply_orientation(out, orientation)


def _strip_to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":  # 16/32-bit grey: convert("L") would clip at 255
        g = np.asarray(im)
        g = (g >> 8) if g.dtype.itemsize >= 2 and g.max(initial=0) > 255 else g
        return np.repeat(np.clip(g, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if mode == "F":
        return np.repeat(np.clip(np.asarray(im), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        return _on_white(np.asarray(im.convert("RGBA")))
    return np.asarray(im if mode == "RGB" else im.convert("RGB"))


def _on_white(rgba: np.ndarray) -> np.ndarray:
    """Alpha-composite on a white background in integers (exact, no float copies)."""
    a = rgba[..., 3:4].astype(np.uint16)
    rgb = rgba[..., :3].astype(np.uint16) * a + 255 * (255 - a) + 127
    return (rgb // 255).astype(np.uint8)


def _apply_orientation(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation 1-8 as NumPy flips and rotations (Pillow's `exif_transpose` mapping)."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
           7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: np.rot90(a, 1)}
    if orientation not in ops:
        return rgb
    return np.ascontiguousarray(ops[orientation](rgb))


def as_rgb_array(a: np.ndarray) -> np.ndarray:
    """Accept (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) arrays of uint8, uint16, bool or floats in [0, 1]."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":  # strings, objects, complex numbers, dates: not pixel values
        raise ImageError(f"expected an array of numbers, got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError(f"expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), got {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageError(f"image array has no pixels: shape {a.shape}")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError("image array contains NaN or infinite values")
        scale = 255.0 if a.max(initial=0) <= 1.0 else 1.0
        a = np.clip(a * scale, 0, 255).round().astype(np.uint8)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    elif a.shape[2] == 4:
        alpha = a[..., 3:4].astype(np.float32) / 255
        a = (a[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(a)
