"""Turn whatever a user hands us (path, bytes, PIL image, NumPy array) into an RGB uint8 array.

Every failure is an `ImageError` with a message a person can act on, so the app and the CLI
can report it and carry on.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageInput = Union[str, Path, bytes, bytearray, BinaryIO, Image.Image, np.ndarray]

# Larger images are refused before decoding: 50 MP is a 8K photo; anything bigger is far more
# likely a decompression bomb than a portrait.
MAX_PIXELS = 50_000_000


class ImageError(ValueError):
    """The input could not be used as an image; the message says why."""


def load_image(src: ImageInput, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """RGB uint8 (H, W, 3), upright according to EXIF, alpha dropped, grey expanded."""
    if isinstance(src, np.ndarray):
        return as_rgb_array(src)
    if isinstance(src, Image.Image):
        return _pil_to_rgb(src, max_pixels)
    if isinstance(src, (str, Path)):
        path = Path(src)
        if not path.exists():
            raise ImageError(f"file not found: {path}")
        if path.is_dir():
            raise ImageError(f"{path} is a folder, not an image")
        if path.stat().st_size == 0:
            raise ImageError(f"{path.name} is empty (0 bytes)")
        with path.open("rb") as fh:
            return _decode(fh, path.name, max_pixels)
    if isinstance(src, (bytes, bytearray)):
        if not src:
            raise ImageError("the upload is empty (0 bytes)")
        return _decode(io.BytesIO(src), "upload", max_pixels)
    if hasattr(src, "read"):
        data = src.read()
        if not data:
            raise ImageError("the upload is empty (0 bytes)")
        return _decode(io.BytesIO(data), getattr(src, "name", "upload"), max_pixels)
    raise ImageError(f"cannot read an image from a {type(src).__name__}")


def _decode(fh: BinaryIO, name: str, max_pixels: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(fh)
            w, h = im.size
            if w * h > max_pixels:
                raise ImageError(f"{name} is {w}x{h} pixels ({w * h / 1e6:.0f} MP); the limit is "
                                 f"{max_pixels / 1e6:.0f} MP")
            im.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{name} is too large to decode safely ({e})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image in a format we can read (JPEG, PNG, WebP, BMP, TIFF, GIF)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{name} looks like an image but is corrupt or truncated ({e})") from None
    return _pil_to_rgb(im, max_pixels)


def _pil_to_rgb(im: Image.Image, max_pixels: int) -> np.ndarray:
    if im.width * im.height > max_pixels:
        raise ImageError(f"image is {im.width}x{im.height}; the limit is {max_pixels / 1e6:.0f} MP")
    if im.width == 0 or im.height == 0:
        raise ImageError("image has no pixels")
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block should not cost the user the photo
        pass
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit grey: convert() would clip at 255
        g = np.asarray(im).astype(np.int64)
        im = Image.fromarray((g >> (8 if g.max() > 255 else 0)).clip(0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


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
