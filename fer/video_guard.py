"""The one gate every video the project did not create passes before a decoder sees it.

FFmpeg picks a demuxer by content and file name, and some demuxers open further files or URLs:
an HLS playlist (.m3u8), a concat list or a DASH manifest names other paths, an image2 pattern
names a sequence, and `file:`, `http:` or `concat:` in a path are protocols. An upload that is
a playlist made the server read its own files (issue 22). So, for untrusted input:

1. `check_video_file` reads the first bytes and accepts only MP4/MOV, Matroska/WebM and AVI,
   by content whatever the file is called; a playlist renamed .mp4 is still a playlist.
2. Decoders get the demuxer forced (PyAV `format=`) or limited to those three (OpenCV, through
   `OPENCV_FFMPEG_CAPTURE_OPTIONS`, set here once for the process), the `file` protocol only,
   QuickTime external references off, and an absolute path, so no name is read as a URL.

MPEG-TS is refused: no browser, phone or webcam records interviews in it (it is the segment
format of HLS and of broadcast), its signature is one byte every 188, and every accepted format
is demuxer code an attacker can reach. MPEG-PS, ASF/WMV, FLV and the rest are refused too.
A trusted local file (`fer video --trusted-input`, `probe_video(..., trusted=True)`) is not
refused: in one of the three containers it is opened like any other, else by PyAV as FFmpeg
sees fit, playlists included.

Refusals are `ContainerRefused` (a `VideoError`); their text depends only on the file's first
bytes and its name, never on what exists elsewhere on the machine.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path


class VideoError(ValueError):
    """A video that cannot be analysed: missing, empty, truncated, audio-only, no frame rate..."""


class ContainerRefused(VideoError):
    """The file is not in an accepted container (or is a playlist, list or URL pointing elsewhere)."""


@dataclass(frozen=True)
class Container:
    name: str  # what users call it
    demuxer: str  # the FFmpeg demuxer forced when it is opened
    suffixes: tuple[str, ...]  # the names it usually has (for upload dialogs; never trusted)


MP4 = Container("MP4/MOV", "mov", (".mp4", ".m4v", ".mov"))
MATROSKA = Container("Matroska/WebM", "matroska", (".mkv", ".webm"))
AVI = Container("AVI", "avi", (".avi",))
ACCEPTED = (MP4, MATROSKA, AVI)
ACCEPTED_SUFFIXES = tuple(s for c in ACCEPTED for s in c.suffixes)
ACCEPTED_NAMES = "MP4/MOV, Matroska/WebM or AVI"
# Every name FFmpeg gives those three demuxers: a format whitelist matches any of them.
FORMAT_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi"
# Options for every untrusted open: local files only, no demuxer but the three, no QuickTime
# data references to other files (FFmpeg's default, stated so it stays off).
FFMPEG_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": FORMAT_WHITELIST, "enable_drefs": "0"}
SNIFF_BYTES = 4096

_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
_URL = re.compile(rb"^[a-z][a-z0-9+.-]{1,15}:", re.IGNORECASE)


def _opencv_options() -> str:
    """OpenCV reads FFmpeg options from this variable at every open (key;value|key;value); ours
    go last so that they win over anything already there."""
    ours = "|".join(f"{k};{v}" for k, v in FFMPEG_OPTIONS.items())
    current = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")
    return current if current.endswith(ours) else "|".join(filter(None, [current, ours]))


os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = _opencv_options()


def container_of(head: bytes) -> Container | None:
    """The accepted container these first bytes start, or None."""
    if len(head) >= 12 and head[4:8] in _MP4_BOXES:
        return MP4
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return MATROSKA
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    return None


def what_it_is(head: bytes) -> str:
    """A short description of refused content, for the message (from these bytes only)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"#EXTM3U") or b"#EXT-X-" in text[:1024] or b"#EXTINF" in text[:1024]:
        return "an HLS playlist (.m3u8), which would make the decoder open the files or URLs it lists"
    if text.startswith(b"ffconcat"):
        return "an FFmpeg concat list, which would make the decoder open the files it lists"
    if text.startswith(b"<"):
        return "an XML or HTML document (a DASH manifest or SMIL list can point to other files or URLs)"
    if text.startswith(b"v=0"):
        return "a session description (SDP), which would make the decoder open network streams"
    if _URL.match(text):
        return "a URL or a path, not video data"
    if len(head) > 188 * 2 and head[0] == head[188] == head[376] == 0x47:
        return "an MPEG transport stream (.ts), which is not accepted"
    if head[:4] == b"\x00\x00\x01\xba":
        return "an MPEG program stream (.mpg), which is not accepted"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "an ASF/WMV file, which is not accepted"
    if head[:3] == b"FLV" or head[:4] == b"OggS":
        return "an FLV or Ogg file, which is not accepted"
    if head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff" or head[:4] in (b"GIF8", b"BM") \
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "a still image"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512]):
        return "text"
    return "truncated, corrupt or in another format"


def check_video_file(path: str | Path, trusted: bool = False) -> Container | None:
    """Check a video before any decoder opens it; returns the container whose demuxer every
    open must force. Raises `VideoError` (missing, empty, a folder) or `ContainerRefused`
    (anything but MP4/MOV, Matroska/WebM or AVI, by content). A trusted file in another format
    gives None: opened by PyAV as FFmpeg sees fit (OpenCV is limited to the three)."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"video not found: {path}")
    if path.is_dir():
        raise VideoError(f"{path} is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name} is empty (0 bytes)")
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as e:
        raise VideoError(f"{path.name} could not be read ({e.strerror or e})") from None
    container = container_of(head)
    if container is None and not trusted:
        raise ContainerRefused(f"{path.name} is not a readable video: it is {what_it_is(head)}. Videos are "
                               f"accepted as {ACCEPTED_NAMES}, recognised by their content")
    return container


def decoder_path(path: Path) -> str:
    """The path as FFmpeg must see it: absolute, so that 'file:x' or 'concat:a|b' in a name is
    a name and never a protocol."""
    return os.path.abspath(path)


def pyav_open(path: Path, container: Container | None):
    """`av.open` with the demuxer forced and the whitelists set (a trusted file: FFmpeg's choice)."""
    import av

    if container is None:
        return av.open(decoder_path(path))
    return av.open(decoder_path(path), format=container.demuxer, options=dict(FFMPEG_OPTIONS))


_quiet = threading.Lock()


def opencv_capture(path: Path):
    """A `cv2.VideoCapture` on FFmpeg alone (never OpenCV's image-sequence reader, which reads
    numbered names as patterns), limited by the process-wide options above. OpenCV warns on
    stderr when a named backend cannot open a file; our own message says it better."""
    import cv2

    log = cv2.utils.logging
    with _quiet:
        level = log.getLogLevel()
        log.setLogLevel(min(level, log.LOG_LEVEL_ERROR))
        try:
            return cv2.VideoCapture(decoder_path(path), cv2.CAP_FFMPEG)
        finally:
            log.setLogLevel(level)
