"""Rebuild the app's example photo and video (fer/app/examples/) from their public-domain sources.

Needs scikit-image (the photo's source, a dev dependency) and the clips in ../shared/data/clips;
the app itself only reads the files written here. Run: `python scripts/make_app_examples.py`.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.app.examples import EXAMPLES, PHOTO, VIDEO
from fer.data.locations import dataset_dir

PHOTO_SIDE = 400
VIDEO_FROM_S, VIDEO_TO_S = 4.85, 9.2  # one face, then four: the clip's last shot plus the stage
CRF = "30"


def make_photo() -> None:
    from skimage import data

    Image.fromarray(data.astronaut()).resize((PHOTO_SIDE, PHOTO_SIDE), Image.LANCZOS).save(
        EXAMPLES / PHOTO, "JPEG", quality=85, optimize=True)


def make_video() -> None:
    source = dataset_dir("clips") / "short_hamilton_clip.mp4"
    with av.open(str(source)) as src, av.open(str(EXAMPLES / VIDEO), "w",
                                              options={"movflags": "+faststart"}) as dst:
        vin = src.streams.video[0]
        out = dst.add_stream("libx264", rate=30, options={"crf": CRF, "preset": "slow"})
        out.width, out.height, out.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        n = 0
        for frame in src.decode(vin):
            t = float(frame.pts * vin.time_base)
            if t < VIDEO_FROM_S:
                continue
            if t > VIDEO_TO_S:
                break
            new = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            new.pts, new.time_base = n, Fraction(1, 30)
            n += 1
            dst.mux(out.encode(new))
        dst.mux(out.encode(None))


if __name__ == "__main__":
    make_photo()
    make_video()
    for name in (PHOTO, VIDEO):
        print(name, (EXAMPLES / name).stat().st_size // 1024, "KiB")
