"""Video-shaped files that point elsewhere (issue 22): HLS playlists, concat lists, URLs, and the
real MPEG-TS segment such a playlist would make FFmpeg read from the server's own disk. Shared by
the hostile-input benchmark and the tests."""

from __future__ import annotations

import fractions
from pathlib import Path

import cv2
import numpy as np


def mpegts_copy(src: Path, dst: Path, max_frames: int | None = 30) -> Path:
    """The first frames of a real clip re-encoded as MPEG-2 in MPEG-TS: what an HLS segment is."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mpegts") as out:
        video = inp.streams.video[0]
        stream = out.add_stream("mpeg2video", rate=25)
        stream.width, stream.height = video.codec_context.width // 2 * 2, video.codec_context.height // 2 * 2
        stream.pix_fmt = "yuv420p"
        for i, frame in enumerate(inp.decode(video)):
            if i == max_frames:
                break
            frame = frame.reformat(stream.width, stream.height, "yuv420p")
            frame.pts, frame.time_base = i, fractions.Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dst


def hls_playlist(target: str, claimed_s: float = 1.0) -> bytes:
    """An HLS playlist naming `target` (a path or a file:// URL) as its one segment, claiming a
    length of `claimed_s` whatever the target's real length."""
    return (f"#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:{claimed_s},\n{target}\n#EXT-X-ENDLIST\n").encode()


def concat_list(*names: str) -> bytes:
    """An FFmpeg concat list: the demuxer opens each named file (relative names: beside the list)."""
    return ("ffconcat version 1.0\n" + "".join(f"file {n}\n" for n in names)).encode()


def small_video(path: Path, frames: int = 5, fps: float = 10, fourcc: str = "mp4v",
                size: tuple[int, int] = (160, 120)) -> Path:
    """`frames` grey frames of `size`, for tests where the content does not matter, only its length."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert out.isOpened()
    for i in range(frames):
        out.write(np.full((size[1], size[0], 3), 40 + i % 200, np.uint8))
    out.release()
    return path
