"""What the live path does to a face before the classifier sees it, as batched tensor ops.

Training faces are clean studio-like crops; faces that reach the classifier from a webcam or a
video file were found by MTCNN and aligned by `fer.align` from a moving, compressed, often dim
frame. `degrade` applies, each with probability `p` per face: an occluder (a hand or phone: a
smooth patch, mostly over the lower face or a side), motion blur, a lower resolution (the face
was small), low light (gamma, gain, sensor noise) and JPEG-style 8x8 block compression, in the
order a camera would (`STEPS`, after the training warp); and glasses (`FACE_STEPS`, before it, so
they sit on the eyes of the untransformed face). `head_turn_scale` gives the horizontal squeeze
of a turned head, for the training warp (`fer.train.augment`) to fold into its affine transform
at no extra cost. Each step takes the faces it changes; input and output: (B, 1, H, W) floats in
[0, 1], H and W multiples of 8. The same on CPU and GPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fer.align import TEMPLATE_48

# The JPEG standard's luminance quantisation table (quality 50).
_JPEG_Q50 = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float32)


def _dct_matrix(n: int = 8) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float32)
    d = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


_DCT2 = torch.kron(_dct_matrix(), _dct_matrix())


def _u(gen: torch.Generator, dev, *shape) -> torch.Tensor:
    return torch.rand(*shape, generator=gen, device=dev)


def head_turn_scale(b: int, p: float, gen: torch.Generator, dev, squeeze: float = 0.2) -> torch.Tensor:
    """(B,) horizontal sampling steps: 1 + up to `squeeze` for a share `p` of faces (a face turned
    up to ~35 degrees looks narrower), 1 for the others."""
    on = torch.rand(b, generator=gen, device=dev) < p
    return torch.where(on, 1 + squeeze * _u(gen, dev, b), torch.ones(b, device=dev))


def occlude(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A smooth grey ellipse (hand, phone, microphone) over 8-25% of the face, mostly low or to a side."""
    b, dev = x.shape[0], x.device
    h, w = x.shape[-2:]
    yy = torch.linspace(0, 1, h, device=dev)[None, :, None]
    xx = torch.linspace(0, 1, w, device=dev)[None, None, :]
    cy = (0.45 + 0.55 * _u(gen, dev, b))[:, None, None]  # the lower face more often than the eyes
    cx = _u(gen, dev, b)[:, None, None]
    ry = (0.15 + 0.2 * _u(gen, dev, b))[:, None, None]
    rx = (0.15 + 0.25 * _u(gen, dev, b))[:, None, None]
    inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
    level = (0.15 + 0.7 * _u(gen, dev, b))[:, None, None]
    shade = level + 0.15 * (yy - cy) * (_u(gen, dev, b)[:, None, None] * 2 - 1)  # a soft light gradient
    return torch.where(inside[:, None], shade.clamp(0, 1)[:, None], x)


# Where the eyes sit in a 48x48 FER-2013 face: the alignment template's, measured with MTCNN.
EYES_48 = TEMPLATE_48[:2].astype(float).round(2).tolist()  # [[x, y] left, [x, y] right]


def eyewear(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Glasses drawn on the eyes: thin frames (two rims, a bridge, the temples), a third of them
    sunglasses with dark lenses. FER-2013 has few faces in glasses, and a model trained on it
    reads glasses as a frown (most neutral wild photos it calls angry are men in glasses). Apply
    before the training warp so the glasses turn and shift with the face."""
    b, dev = x.shape[0], x.device
    h, w = x.shape[-2:]
    k = w / 48.0
    yy = torch.arange(h, device=dev, dtype=torch.float32)[None, :, None]
    xx = torch.arange(w, device=dev, dtype=torch.float32)[None, None, :]

    def per_face(lo, hi):
        return (lo + (hi - lo) * _u(gen, dev, b))[:, None, None]

    cy = EYES_48[0][1] * k + per_face(-1.5, 1.5) * k
    mid = 24.0 * k + per_face(-1.0, 1.0) * k
    half = (EYES_48[1][0] - EYES_48[0][0]) / 2 * k * per_face(0.92, 1.08)
    rx = per_face(5.5, 7.5) * k
    ry = rx * per_face(0.6, 0.85)
    rim = per_face(0.1, 0.6) * k  # frame half-thickness, pixels (plus a half-pixel ramp)
    frame = torch.where(_u(gen, dev, b)[:, None, None] < 0.8, per_face(0.0, 0.2), per_face(0.6, 0.85))
    # Soft (anti-aliased) masks: 1 inside, 0 outside, a one-pixel ramp between.
    lens, ring = torch.zeros(b, h, w, device=dev), torch.zeros(b, h, w, device=dev)
    for side in (-1, 1):
        d = (((xx - (mid + side * half)) / rx) ** 2 + ((yy - cy) / ry) ** 2).sqrt()
        lens = torch.maximum(lens, ((1 - d) * ry + 0.5).clamp(0, 1))
        ring = torch.maximum(ring, (rim - (d - 1).abs() * ry + 0.5).clamp(0, 1))
    bar = (rim - (yy - (cy - 0.3 * ry)).abs() + 0.5).clamp(0, 1)
    inner = half - rx  # from the middle to each lens's inner edge
    bars = bar * (((xx - mid).abs() <= inner) | ((xx - mid).abs() >= half + rx))  # bridge, temples
    sun = (_u(gen, dev, b) < 1 / 3)[:, None, None]
    dark = (per_face(0.03, 0.25) + 0.1 * (yy - cy) / h).clamp(0, 1)  # tinted lenses, lighter below
    glare = per_face(0.0, 0.15)  # clear lenses reflect a little
    out = x[:, 0]
    seen = torch.where(sun, dark, out * (1 - glare) + glare)
    out = out + lens * (seen - out)
    edge = torch.maximum(ring, bars)
    out = out + edge * (frame - out)
    return out[:, None].clamp(0, 1)


def motion_blur(x: torch.Tensor, gen: torch.Generator, size: int = 7) -> torch.Tensor:
    """Blur along a random line of 2 to `size` pixels (a moving head or camera)."""
    b, dev = x.shape[0], x.device
    r = size // 2
    k = torch.arange(-r, r + 1, device=dev, dtype=torch.float32)
    ky, kx = k[None, :, None], k[None, None, :]
    ang = _u(gen, dev, b)[:, None, None] * math.pi
    half = (1 + (r - 1) * _u(gen, dev, b))[:, None, None]
    along = kx * ang.cos() + ky * ang.sin()
    across = (-kx * ang.sin() + ky * ang.cos()).abs()
    kern = (1 - across).clamp(min=0) * (along.abs() <= half)
    kern = kern / kern.sum((1, 2), keepdim=True)
    y = F.conv2d(F.pad(x.transpose(0, 1), (r, r, r, r), mode="replicate"), kern[:, None], groups=b)
    return y.transpose(0, 1)


def low_resolution(x: torch.Tensor, gen: torch.Generator, smallest: int = 14) -> torch.Tensor:
    """Down to one random size between `smallest` and 3/4 of the side, and back up."""
    h, w = x.shape[-2:]
    side = int(smallest + (0.75 * h - smallest) * float(_u(gen, x.device, 1)))
    small = F.interpolate(x, size=(side, side * w // h), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def low_light(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Gamma 0.7-2.2, gain 0.35-1 and sensor noise up to 5% (what a dim room does to a webcam)."""
    b, dev = x.shape[0], x.device
    gamma = (0.7 + 1.5 * _u(gen, dev, b))[:, None, None, None]
    gain = (0.35 + 0.65 * _u(gen, dev, b))[:, None, None, None]
    sigma = (0.05 * _u(gen, dev, b))[:, None, None, None]
    return (x.clamp(min=1e-4) ** gamma * gain + sigma * torch.randn(x.shape, generator=gen, device=dev)).clamp(0, 1)


def jpeg(x: torch.Tensor, gen: torch.Generator, quality: tuple[int, int] = (10, 60)) -> torch.Tensor:
    """8x8 block DCT quantised with the JPEG luminance table at a random quality (per face)."""
    b, dev = x.shape[0], x.device
    h, w = x.shape[-2:]
    q = quality[0] + (quality[1] - quality[0]) * _u(gen, dev, b)
    scale = torch.where(q < 50, 50 / q, 2 - q / 50)[:, None, None, None]  # libjpeg's quality rule
    table = (_JPEG_Q50.to(dev) * scale[:, 0]).clamp(min=1)  # (B, 1, 8, 8)
    d2 = _DCT2.to(dev)  # the 2-D DCT of a flattened 8x8 block as one 64x64 matrix
    blocks = (x[:, 0] * 255 - 128).reshape(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4).reshape(b, -1, 64)
    coef = blocks @ d2.T
    table = table.reshape(b, 1, 64)
    coef = torch.round(coef / table) * table
    y = (coef @ d2).reshape(b, h // 8, w // 8, 8, 8).permute(0, 1, 3, 2, 4).reshape(b, 1, h, w)
    return ((y + 128) / 255).clamp(0, 1)


def degrade(x: torch.Tensor, p: float, gen: torch.Generator, steps=None) -> torch.Tensor:
    """Each live-path degradation (`steps`, default STEPS) with probability `p` per face, in order."""
    if p <= 0:
        return x
    x = x.clone()
    for step in STEPS if steps is None else steps:
        idx = torch.nonzero(torch.rand(x.shape[0], generator=gen, device=x.device) < p)[:, 0]
        if len(idx):
            x[idx] = step(x[idx], gen)
    return x


STEPS = (occlude, motion_blur, low_resolution, low_light, jpeg)  # after the training warp
FACE_STEPS = (eyewear,)  # before it: drawn where the eyes are, then turned with the face
