"""Hostile input: a corpus of crafted files through the library, the app's upload handlers and the
HTTP API, with peak memory and time per file (issue 16).

Run: python benchmarks/bench_hostile.py [--quick] [--handlers library,app,api] [--out FILE]
The corpus (built in a temporary folder, nothing downloaded): formats outside the allow-list
under image names, decompression bombs (pixels, bytes, text chunks), truncations, lying headers,
huge frame sizes, a variable-frame-rate WebM, a long video, zero-length and mislabelled files, a
crowd photo, and (issue 22) files that would make FFmpeg open something else: HLS playlists naming
a video on disk (also renamed .mp4, also a missing target), a concat list, URLs, an MPEG-TS
segment. Those must be refused with a message that does not depend on what exists on disk.
Each file must be answered (a result, or a refusal with a message: ImageError,
VideoError, an HTTP 4xx with a JSON error), never crash (any other exception, an HTTP 5xx), use
under 500 MB of memory over the process's resting size and take under 10 s.

Peak memory is the kernel's high-water mark (VmHWM), reset before each file (/proc/self/clear_refs)
after returning freed memory to the system (malloc_trim), minus the resident size at that moment.
--quick runs the library and the app handlers (no API server) on the whole corpus.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import struct
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks.hostile_videos import concat_list, hls_playlist, mpegts_copy

# Files that point elsewhere: answering them with a result is a failure too (issue 22).
MUST_REFUSE = ("segment.ts", "playlist.m3u8", "playlist_missing.m3u8", "playlist_as.mp4", "concat_as.mp4",
               "url_as.mp4", "sdp_as.mp4")
MEMORY_LIMIT_MB = 500.0
TIME_LIMIT_S = 10.0
VIDEO_NAMES = (".mp4", ".webm", ".avi", ".mov", ".m4a", ".mkv", ".m3u8", ".ts")


# --------------------------------------------------------------------------------- the corpus

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, body: bytes, extra: bytes = b"", depth: int = 1, colour: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + extra + _png_chunk(b"IDAT", body)
            + _png_chunk(b"IEND", b""))


def png_bomb(side: int = 20000) -> bytes:
    """1-bit, side x side black pixels: ~20 KB on disk, 400 MP decoded."""
    row = b"\x00" * (1 + (side + 7) // 8)
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row * 1000) for _ in range(side // 1000)) + z.flush()
    return _png(side, side, body)


def png_text_bomb() -> bytes:
    """A 16x16 PNG with a zTXt chunk that inflates to 100 MB of text."""
    z = zlib.compressobj(9)
    text = b"".join(z.compress(b"A" * 1_000_000) for _ in range(100)) + z.flush()
    body = zlib.compress(b"\x00" * (1 + 2) * 16)
    return _png(16, 16, body, _png_chunk(b"zTXt", b"Comment\x00\x00" + text))


def encode(rgb: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(np.zeros((16, 16, 3), np.uint8), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(np.zeros((4, 4, 3), np.uint8), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(np.zeros((4, 4, 3), np.uint8), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def tiff_claiming(width: int, height: int) -> bytes:
    """An 8x8 TIFF whose IFD is patched to say width x height (strip data stays 64 bytes)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack("<HH", data[entry:entry + 4])
        if tag in (256, 257):
            value = width if tag == 256 else height
            data[entry + 8:entry + 12] = struct.pack("<I" if kind == 4 else "<HH", *((value,) if kind == 4 else (value, 0)))
    return bytes(data)


def crowd_photo(faces: int = 100) -> bytes:
    """100 real faces (scikit-image's LFW subset) on a 10x10 grid, 72 px each."""
    from skimage import data

    lfw = data.lfw_subset()[:faces]
    side = int(np.ceil(np.sqrt(faces)))
    grid = np.full((side * 80, side * 80), 128, np.uint8)
    for i, face in enumerate(lfw):
        y, x = divmod(i, side)
        grid[y * 80 + 4:y * 80 + 76, x * 80 + 4:x * 80 + 76] = cv2.resize((face * 255).astype(np.uint8), (72, 72))
    return encode(np.repeat(grid[..., None], 3, 2), "JPEG", quality=90)


def write_video(path: Path, frames, fps: float, fourcc: str) -> Path:
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    for f in [first, *frames]:
        out.write(f)
    out.release()
    return path


def vfr_webm(path: Path) -> Path:
    """A browser-style WebM: 1 ms timebase, frames 25-41 ms apart, the astronaut's face."""
    import fractions

    import av
    from skimage import data

    face = cv2.resize(data.astronaut()[20:220, 150:330], (90, 100))
    with av.open(str(path), "w", format="webm") as c:
        s = c.add_stream("libvpx", rate=1000)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        s.time_base = fractions.Fraction(1, 1000)
        t = 0
        for i in range(60):
            img = np.full((240, 320, 3), 128, np.uint8)
            img[70:170, 20 + 3 * i:110 + 3 * i] = face
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = t, fractions.Fraction(1, 1000)
            for p in s.encode(frame):
                c.mux(p)
            t += (25, 33, 41, 34)[i % 4]
        for p in s.encode(None):
            c.mux(p)
    return path


def audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for p in [*s.encode(frame), *s.encode(None)]:
            c.mux(p)
    return path


def build_corpus(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, what it tests). File names are what an attacker would call them."""
    from skimage import data

    astronaut = data.astronaut()
    jpeg = encode(astronaut, "JPEG", quality=90)
    png = encode(astronaut, "PNG")
    corrupt = bytearray(png)
    corrupt[len(png) // 2:len(png) // 2 + 64] = bytes(64)
    grey16 = np.tile((np.arange(2000, dtype=np.uint16) * 32)[None], (2000, 1))
    eps = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n%%EndComments\n"
           b"newpath 0 0 moveto 64 64 lineto stroke\nshowpage\n%%EOF\n")
    bad_exif = Image.Exif()
    bad_exif[0x0112] = 99
    images = {
        "eps_as.png": (eps, "EPS (PostScript) content named .png: must never reach Ghostscript"),
        "ppm_as.jpg": (encode(astronaut, "PPM"), "PPM, a format outside the allow-list"),
        "pcx_as.png": (encode(astronaut, "PCX"), "PCX, a format outside the allow-list"),
        "svg_as.png": (b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
                       "SVG/XML text named .png"),
        "zip_as.jpg": (b"PK\x03\x04" + bytes(range(256)) * 40, "a zip archive named .jpg"),
        "png_bomb_20000.png": (png_bomb(), "1-bit PNG, 20000x20000 (400 MP) in 20 KB"),
        "png_text_bomb.png": (png_text_bomb(), "zTXt chunk inflating to 100 MB"),
        "png16_4mp.png": (encode(grey16, "PNG"), "16-bit grey 4 MP PNG in a few KB (was 91 MiB in NumPy)"),
        "jpeg_header_7000.jpg": (jpeg_claiming(7000, 7000), "JPEG header claiming 7000x7000 RGB (49 MP, 327 MiB)"),
        "jpeg_header_65000.jpg": (jpeg_claiming(65000, 65000), "JPEG header claiming 65000x65000"),
        "bmp_header_30000.bmp": (bmp_claiming(30000, 30000), "BMP header claiming 30000x30000"),
        "gif_screen_65535.gif": (gif_claiming(65535, 65535), "GIF logical screen 65535x65535"),
        "tiff_header_60000.tif": (tiff_claiming(60000, 60000), "TIFF IFD claiming 60000x60000"),
        "truncated.jpg": (jpeg[: len(jpeg) // 3], "JPEG cut to a third"),
        "truncated.png": (png[: len(png) // 2], "PNG cut in half"),
        "corrupt_idat.png": (bytes(corrupt), "PNG with 64 zeroed bytes in the compressed data"),
        "text_as.jpg": (b"This is a text file, not a photo.\n" * 20, "text named .jpg"),
        "empty.jpg": (b"", "zero-length image"),
        "tiny_1x1.png": (encode(np.full((1, 1, 3), 200, np.uint8), "PNG"), "a 1x1 image"),
        "tiny_10x10.png": (encode(np.full((10, 10, 3), 200, np.uint8), "PNG"), "a 10x10 image"),
        "webp_as.jpg": (encode(astronaut, "WEBP"), "a real WebP photo named .jpg (wrong extension, allowed format)"),
        "bad_exif.jpg": (encode(astronaut, "JPEG", exif=bad_exif), "EXIF orientation 99"),
        "crowd_100.jpg": (crowd_photo(), "100 real faces: max_faces must bound the work"),
    }
    out = {}
    for name, (blob, what) in images.items():
        (folder / name).write_bytes(blob)
        out[name] = (folder / name, what)
    clip = np.full((240, 320, 3), 128, np.uint8)
    clip[70:170, 20:110] = cv2.resize(astronaut[20:220, 150:330], (90, 100))[..., ::-1]
    good = write_video(folder / "good.mp4", [clip] * 20, 10, "mp4v")
    videos = {
        "vfr_browser.webm": (vfr_webm(folder / "vfr_browser.webm"), "variable frame rate, 1 ms timebase (claims 1000 fps)"),
        "huge_8192.avi": (write_video(folder / "huge_8192.avi", [np.zeros((8192, 8192, 3), np.uint8)], 1, "MJPG"),
                          "8192x8192 frames (200 MB each decoded)"),
        "long_2h_1fps.avi": (write_video(folder / "long_2h_1fps.avi", (np.full((48, 64, 3), i % 255, np.uint8)
                                                                        for i in range(7200)), 1, "MJPG"),
                             "2 hours at 1 fps: the duration cap must stop it"),
        "truncated.mp4": (None, "MP4 cut in half (index missing)"),
        "empty.mp4": (None, "zero-length video"),
        "text_as.mp4": (None, "text named .mp4"),
        "random_as.webm": (None, "random bytes named .webm"),
        "audio_only.m4a": (audio_only(folder / "audio_only.m4a"), "audio, no video stream"),
        "image_as.mp4": (None, "a JPEG photo named .mp4"),
    }
    segment = mpegts_copy(good, folder / "segment.ts", max_frames=None)
    videos.update({
        "segment.ts": (segment, "MPEG-TS (an HLS segment): outside the allow-list"),
        "playlist.m3u8": (None, "HLS playlist naming a video on this disk, claiming 1 s"),
        "playlist_missing.m3u8": (None, "HLS playlist naming a file that does not exist (same answer)"),
        "playlist_as.mp4": (None, "HLS playlist with a file:// URL, saved as .mp4"),
        "concat_as.mp4": (None, "FFmpeg concat list naming the video beside it, saved as .mp4"),
        "url_as.mp4": (None, "an http:// URL saved as .mp4"),
        "sdp_as.mp4": (None, "an SDP description (RTP over the network) saved as .mp4"),
    })
    raw = good.read_bytes()
    rng = np.random.default_rng(0)
    blobs = {"truncated.mp4": raw[: len(raw) // 2], "empty.mp4": b"", "text_as.mp4": b"not a video\n" * 100,
             "random_as.webm": rng.integers(0, 256, 50_000, np.uint8).tobytes(), "image_as.mp4": jpeg,
             "playlist.m3u8": hls_playlist(str(segment)), "playlist_missing.m3u8": hls_playlist(str(folder / "missing.ts")),
             "playlist_as.mp4": hls_playlist(segment.as_uri()),
             "concat_as.mp4": concat_list("good.mp4"),
             "url_as.mp4": b"http://127.0.0.1:9/interview.mp4\n",
             "sdp_as.mp4": (b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\n"
                            b"m=video 5004 RTP/AVP 96\r\n")}
    for name, (path, what) in videos.items():
        if path is None:
            path = folder / name
            path.write_bytes(blobs[name])
        out[name] = (path, what)
    return out


# --------------------------------------------------------------------------------- measuring

def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> int:
    """Hand freed memory back, reset the high-water mark, return the resident size now."""
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status("VmRSS")


@dataclass
class Outcome:
    file: str
    handler: str
    what: str
    size_bytes: int
    outcome: str  # "ok", "refused" (a message for the user) or "CRASH"
    message: str
    seconds: float
    peak_mb: float
    passed: bool


def measure(name: str, handler: str, what: str, path: Path, fn) -> Outcome:
    base = _reset_peak()
    start = time.perf_counter()
    try:
        outcome, message = fn(path)
    except Exception as e:  # noqa: BLE001 - anything else is what the benchmark looks for
        outcome, message = "CRASH", "".join(traceback.format_exception_only(type(e), e)).strip()
    seconds = time.perf_counter() - start
    peak = max(0, _status("VmHWM") - base) / 2**20
    passed = (outcome != "CRASH" and peak < MEMORY_LIMIT_MB and seconds < TIME_LIMIT_S
              and (name not in MUST_REFUSE or outcome == "refused"))
    return Outcome(name, handler, what, path.stat().st_size, outcome, message[:300], round(seconds, 3),
                   round(peak, 1), passed)


def library_handler(recognizer):
    from fer.analysis import AnalysisOptions, analyze_video
    from fer.imageio import ImageError
    from fer.video import VideoError

    def run(path: Path):
        try:
            if path.suffix in VIDEO_NAMES:
                result = analyze_video(path, recognizer, AnalysisOptions(max_duration_s=600))
                return "ok", f"{result.frames_analysed} frames, {result.analysed_s:.1f} s of video" + (
                    f", stopped by {result.stopped_by}" if result.stopped_by else "")
            faces = recognizer.analyze(path, tta="flip_zoom")
            return "ok", f"{len(faces)} faces"
        except (ImageError, VideoError) as e:
            return "refused", str(e)
    return run


def app_handler(recognizer):
    from fer.app.photo import analyze_photo, no_face_message
    from fer.app.sidebar import AppSettings
    from fer.app.video_tab import analyse_upload, analysis_settings
    from fer.imageio import ImageError
    from fer.video import VideoError

    settings = AppSettings()

    def run(path: Path):
        data = path.read_bytes()
        try:
            if path.suffix in VIDEO_NAMES:
                report = analyse_upload(data, path.name, recognizer, analysis_settings(settings, None))
                return "ok", f"{report.analysis.frames_analysed} frames, {len(report.summary.people)} people"
            analysis = analyze_photo(recognizer, data, path.name, settings)
            if not analysis.faces:
                return "ok", no_face_message(analysis, settings)
            return "ok", f"{len(analysis.faces)} of {analysis.faces_found} faces analysed"
        except (ImageError, VideoError) as e:
            return "refused", str(e)
    return run


def api_handler(client):
    def run(path: Path):
        files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
        if path.suffix in VIDEO_NAMES:
            r = client.post("/v1/videos", files=files)
            if r.status_code != 202:
                return _api_answer(r)
            job = r.json()["id"]
            deadline = time.perf_counter() + 2 * TIME_LIMIT_S
            while time.perf_counter() < deadline:
                status = client.get(f"/v1/videos/{job}").json()
                if status.get("status") in ("done", "failed"):
                    outcome = "ok" if status["status"] == "done" else "refused"
                    client.delete(f"/v1/videos/{job}")
                    return outcome, json.dumps(status)[:300]
                time.sleep(0.1)
            return "CRASH", f"job {job} did not finish in {2 * TIME_LIMIT_S:.0f} s"
        return _api_answer(client.post("/v1/analyze", files=files))
    return run


def _api_answer(r):
    if r.status_code >= 500:
        return "CRASH", f"HTTP {r.status_code}: {r.text[:200]}"
    if r.status_code >= 400:
        error = r.json().get("error", {})
        return "refused", f"HTTP {r.status_code}: {error.get('message', r.text) if isinstance(error, dict) else error}"
    body = r.json()
    return "ok", f"HTTP {r.status_code}: {sum(len(i.get('faces', [])) for i in body.get('images', []))} faces"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="library and app handlers only (no API server)")
    ap.add_argument("--handlers", default=None, help="comma-separated: library, app, api (default: all)")
    ap.add_argument("--out", default=None, help="JSON results (default: benchmarks/results_hostile[_quick].json)")
    args = ap.parse_args()
    handlers = (args.handlers or ("library,app" if args.quick else "library,app,api")).split(",")
    out = Path(args.out or ROOT / "benchmarks" / f"results_hostile{'_quick' if args.quick else ''}.json")

    from fer.recognizer import EmotionRecognizer

    library = EmotionRecognizer()
    app = EmotionRecognizer(min_face_size=40)  # the sidebar's default
    runners = {"library": library_handler(library), "app": app_handler(app)}
    client = None
    if "api" in handlers:
        try:
            from fastapi.testclient import TestClient

            from fer.api import ApiSettings, create_app
        except ImportError as e:
            print(f"API handler skipped: {e}")
            handlers.remove("api")
        else:
            client = TestClient(create_app(ApiSettings(max_video_s=600.0))).__enter__()
            runners["api"] = api_handler(client)
    results: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="fer_hostile_") as tmp:
        corpus = build_corpus(Path(tmp))
        print(f"{len(corpus)} files; handlers: {', '.join(handlers)}")
        for warm in (library, app):  # model warm-up is not a cost of the first hostile file
            warm.analyze(np.zeros((64, 64, 3), np.uint8))
        for name, (path, what) in corpus.items():
            for h in handlers:
                r = measure(name, h, what, path, runners[h])
                results.append(r)
                flag = "ok  " if r.passed else "FAIL"
                print(f"{flag} {h:7s} {name:24s} {r.outcome:8s} {r.seconds:6.2f} s {r.peak_mb:7.1f} MB  "
                      f"{r.message[:90]}", flush=True)
    if client is not None:
        client.__exit__(None, None, None)
    # Whether a playlist's target exists must not show: both playlists get the same answer.
    said = {(r.handler, r.file): r.message.replace(r.file, "NAME") for r in results}
    same = all(said[(h, "playlist.m3u8")] == said[(h, "playlist_missing.m3u8")] for h in handlers)
    if not same:
        print("FAIL the answers to an existing and a missing playlist target differ")
    failed = [r for r in results if not r.passed]
    summary = {"files": len(corpus), "handlers": handlers, "runs": len(results), "failed": len(failed),
               "playlist_answers_identical": same,
               "max_peak_mb": max(r.peak_mb for r in results), "max_seconds": max(r.seconds for r in results),
               "limits": {"peak_mb": MEMORY_LIMIT_MB, "seconds": TIME_LIMIT_S}, "quick": args.quick,
               "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}
    out.write_text(json.dumps({"summary": summary, "results": [asdict(r) for r in results]}, indent=2) + "\n")
    print(f"{len(results) - len(failed)} of {len(results)} runs passed; max peak {summary['max_peak_mb']:.0f} MB, "
          f"max time {summary['max_seconds']:.1f} s; wrote {out}")
    return 1 if failed or not same else 0


if __name__ == "__main__":
    sys.exit(main())
