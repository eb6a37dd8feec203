"""Example media shipped with the app, so a visitor without a camera (or a video) can try it.

Both are public domain (sources in README.md beside them) and small enough to ship in the wheel;
nothing here needs scikit-image or the shared clips at run time.
"""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
PHOTO = "astronaut.jpg"
VIDEO = "white_house_clip.mp4"
PHOTO_CREDIT = "Astronaut Eileen Collins (NASA, public domain)"
VIDEO_CREDIT = "A 4 s cut of a White House recording (US government work, public domain)"


def example_photo_path() -> Path:
    """The example photo: one smiling face, 400x400 JPEG."""
    return EXAMPLES / PHOTO


def example_video_path() -> Path:
    """The example video: 4 s, 640x360 H.264 MP4, one face and then four."""
    return EXAMPLES / VIDEO
