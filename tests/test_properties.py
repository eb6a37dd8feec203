"""Property-based: any NumPy array handed to `analyze` gives valid faces or an `ImageError`,
never another exception, never probabilities that do not sum to 1 or boxes off the image."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fer.imageio import ImageError, as_rgb_array
from fer.results import FaceEmotion

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64,
                          np.float16, np.float32, np.float64, np.bool_, np.complex64, np.str_, np.object_])
# Mostly image-like shapes, some absurd ones: 0-d, 1-d, 4-d, empty sides, 2 or 5 channels.
SHAPES = st.one_of(
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=80),
    st.tuples(st.integers(0, 80), st.integers(0, 80), st.sampled_from([1, 2, 3, 4, 5])),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
)


@st.composite
def arrays(draw):
    dtype, shape = draw(DTYPES), draw(SHAPES)
    if dtype is np.str_:
        return np.full(shape, draw(st.text(max_size=3)), dtype="<U3")
    if dtype is np.object_:
        return np.full(shape, draw(st.sampled_from([None, "x", 1, 2.5])), dtype=object)
    if dtype is np.complex64:
        return (np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(shape) * 300).astype(np.complex64)
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=_elements(np.dtype(dtype))))


def _elements(dtype: np.dtype):
    if dtype.kind == "f":  # NaN and inf included: they must be refused, not crash
        return hnp.from_dtype(dtype, allow_nan=True, allow_infinity=True)
    return hnp.from_dtype(dtype)


def check_faces(faces, shape) -> None:
    assert isinstance(faces, list)
    h, w = shape[:2]
    for f in faces:
        assert isinstance(f, FaceEmotion)
        assert abs(sum(f.probs.values()) - 1) < 1e-4
        assert all(0 <= p <= 1 for p in f.probs.values())
        assert f.label == max(f.probs, key=f.probs.get)
        x1, y1, x2, y2 = f.box
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(arrays())
def test_as_rgb_array_gives_rgb_uint8_or_image_error(a):
    try:
        rgb = as_rgb_array(a)
    except ImageError:
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.shape[:2] == a.shape[:2]
    assert rgb.flags.c_contiguous


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(arrays())
def test_analyze_gives_valid_faces_or_image_error(recognizer, a):
    try:
        faces = recognizer.analyze(a)
    except ImageError:
        return
    check_faces(faces, a.shape)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3), st.integers(-60, 400), st.integers(-60, 400))
def test_analyze_on_photos_with_a_face_pasted_anywhere(recognizer, astronaut, seed, flips, dx, dy):
    """A real face at random places, partly outside the frame: boxes stay inside the image."""
    rng = np.random.default_rng(seed)
    scene = rng.integers(0, 255, (360, 480, 3), np.uint8)
    head = astronaut[20:240, 120:330]
    head = head[::-1] if flips & 1 else head
    head = head[:, ::-1] if flips & 2 else head
    y0, x0 = max(0, dy), max(0, dx)
    sy, sx = y0 - dy, x0 - dx
    hh, ww = min(head.shape[0] - sy, 360 - y0), min(head.shape[1] - sx, 480 - x0)
    if hh > 0 and ww > 0:
        scene[y0:y0 + hh, x0:x0 + ww] = head[sy:sy + hh, sx:sx + ww]
    check_faces(recognizer.analyze(scene), scene.shape)
