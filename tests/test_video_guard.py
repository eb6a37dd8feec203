"""The gate before every decoder (issue 22, finding 1): only MP4/MOV, Matroska/WebM and AVI, by
content; nothing that makes FFmpeg open another file or a URL; a name is a path, never a
protocol. Real files: the real clip, its MPEG-TS copy, crafted playlists and lists beside them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest

from benchmarks.hostile_videos import concat_list, hls_playlist, mpegts_copy, small_video
from fer.video import ContainerRefused, VideoError, iter_frames, probe_video
from fer.video_guard import FFMPEG_OPTIONS, MATROSKA, MP4, check_video_file
from tests.conftest import CLIPS, needs_clips

CLIP = CLIPS / "fer_test_clip.mp4"
av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def segment(tmp_path_factory) -> Path:
    """30 frames of the real clip as MPEG-TS: a file on 'the server's disk' a playlist can name."""
    if not CLIP.is_file():
        pytest.skip(f"real clip not found at {CLIP}")
    return mpegts_copy(CLIP, tmp_path_factory.mktemp("disk") / "private.ts", max_frames=30)


@pytest.fixture
def no_decoder(monkeypatch):
    """Every OpenCV capture and PyAV open, recorded (they still run)."""
    opened: list[tuple] = []
    real_capture, real_open = cv2.VideoCapture, av.open

    def capture(*args):
        opened.append(("cv2", args, {}))
        return real_capture(*args)

    def pyav_open(*args, **kwargs):
        opened.append(("av", args, kwargs))
        return real_open(*args, **kwargs)

    monkeypatch.setattr(cv2, "VideoCapture", capture)
    monkeypatch.setattr(av, "open", pyav_open)
    return opened


@needs_clips
def test_playlists_naming_files_on_disk_are_refused_before_any_decoder(segment, tmp_path, no_decoder):
    """The hole: a playlist.m3u8 made FFmpeg read a video elsewhere on disk (30 of 30 frames here),
    its 'EXTINF:1' passed the duration check, and the error for a missing target differed."""
    cases = {
        "playlist.m3u8": hls_playlist(str(segment)),
        "missing.m3u8": hls_playlist(str(segment.with_name("no_such_file.ts"))),
        "url.m3u8": hls_playlist(segment.as_uri()),
        "renamed.mp4": hls_playlist(str(segment)),  # a playlist saved as .mp4 is still a playlist
        "bom.mp4": b"\xef\xbb\xbf\n" + hls_playlist(segment.as_uri()),
    }
    messages = {}
    for name, body in cases.items():
        (tmp_path / name).write_bytes(body)
        with pytest.raises(ContainerRefused, match="HLS playlist") as refused:
            probe_video(tmp_path / name)
        messages[name] = str(refused.value).replace(name, "NAME")
    assert no_decoder == [], "no decoder may open a refused file"
    assert len(set(messages.values())) == 1, messages  # nothing tells whether the target exists
    assert str(segment.parent) not in messages["playlist.m3u8"]
    # A trusted local file opens as FFmpeg sees fit: what the guard held back is real.
    assert sum(1 for _ in iter_frames(probe_video(tmp_path / "playlist.m3u8", trusted=True))) == 30


@needs_clips
def test_concat_lists_and_image_patterns_are_refused(tmp_path, no_decoder):
    """A concat list opened the real clip beside it (115 frames); 'img%03d.png' read a sequence."""
    shutil.copy(CLIP, tmp_path / "victim.mp4")
    (tmp_path / "list.mp4").write_bytes(concat_list("victim.mp4"))
    small = cv2.resize(next(iter_frames(tmp_path / "victim.mp4")).rgb, (64, 48))
    for i in range(1, 6):
        cv2.imwrite(str(tmp_path / f"img{i:03d}.png"), small)
    shutil.copy(tmp_path / "img001.png", tmp_path / "img%03d.png")
    no_decoder.clear()
    with pytest.raises(ContainerRefused, match="concat list"):
        probe_video(tmp_path / "list.mp4")
    with pytest.raises(ContainerRefused, match="still image"):
        probe_video(tmp_path / "img%03d.png")
    assert no_decoder == []


def test_a_name_is_a_path_never_a_url(tmp_path, monkeypatch):
    """'file:a.mp4' named a.mp4 to FFmpeg (the file: protocol) and 'concat:a.mp4|a.mp4' read a.mp4
    twice; a name must open the file of that name."""
    monkeypatch.chdir(tmp_path)
    small_video(tmp_path / "a.mp4", frames=20)
    for name in ("file:a.mp4", "concat:a.mp4|a.mp4"):
        small_video(tmp_path / name, frames=5)
        info = probe_video(name)
        assert info.frame_count == 5 and sum(1 for _ in iter_frames(info)) == 5, name


@needs_clips
def test_mpeg_ts_and_other_containers_are_refused_unless_trusted(segment, tmp_path):
    with pytest.raises(ContainerRefused, match="MPEG transport stream"):
        probe_video(segment)
    info = probe_video(segment, trusted=True)  # a local file of one's own: any format FFmpeg reads
    assert info.container is None and info.backend == "pyav" and sum(1 for _ in iter_frames(info)) == 30
    others = {"url.mp4": (b"http://127.0.0.1:9/stream.mp4\n", "URL"),
              "sdp.mp4": (b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\nm=video 5004 RTP/AVP 96\r\n", "SDP"),
              "dash.mp4": (b'<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>', "XML"),
              "text.mp4": (b"just some notes\n" * 10, "text")}
    for name, (body, words) in others.items():
        (tmp_path / name).write_bytes(body)
        with pytest.raises(ContainerRefused, match=words):
            probe_video(tmp_path / name)


def test_accepted_containers_are_told_by_content_and_opened_with_their_demuxer(tmp_path, no_decoder):
    """An AVI called .mp4 is an AVI. OpenCV opens through FFmpeg only (its image-sequence reader
    takes numbered names as patterns), with the file protocol and the three demuxers; PyAV, where
    OpenCV cannot read a file, has the demuxer forced."""
    avi = small_video(tmp_path / "clip.avi", frames=6, fourcc="MJPG")
    (tmp_path / "really_avi.mp4").write_bytes(avi.read_bytes())
    info = probe_video(tmp_path / "really_avi.mp4")
    assert info.container.demuxer == "avi" and info.frame_count == 6
    assert check_video_file(small_video(tmp_path / "m.mp4")) is MP4
    (tmp_path / "broken.webm").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(200))  # Matroska by content only
    assert check_video_file(tmp_path / "broken.webm") is MATROSKA
    with pytest.raises(VideoError, match="not a readable video"):
        probe_video(tmp_path / "broken.webm")
    captures = [args for kind, args, _ in no_decoder if kind == "cv2"]
    assert captures and all(len(a) == 2 and a[1] == cv2.CAP_FFMPEG and Path(a[0]).is_absolute()
                            for a in captures)
    pyav = [kw for kind, _, kw in no_decoder if kind == "av"]
    assert pyav and all(kw.get("format") == "matroska" and kw.get("options") == FFMPEG_OPTIONS for kw in pyav)
    import os

    ours = "|".join(f"{k};{v}" for k, v in FFMPEG_OPTIONS.items())
    assert os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"].endswith(ours)
    assert FFMPEG_OPTIONS["protocol_whitelist"] == "file"


@needs_clips
def test_cli_refuses_a_playlist_and_says_how_to_open_a_trusted_file(segment, tmp_path, capsys):
    from fer.cli import main

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "interview.m3u8").write_bytes(hls_playlist(str(segment)))
    assert main(["video", str(tmp_path / "in" / "interview.m3u8"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "HLS playlist" in err and "--trusted-input" in err and "Traceback" not in err
    assert main(["video", str(tmp_path / "in" / "interview.m3u8"), "--out", str(tmp_path / "trusted"),
                 "--trusted-input"]) == 0
    summary = json.loads((tmp_path / "trusted" / "interview_summary.json").read_text())
    assert summary["analysis"]["frames_analysed"] == 30


@needs_clips
def test_batch_fails_renamed_playlists_and_lists_alone(segment, tmp_path):
    """A folder with a real video, a playlist renamed .mp4 and a concat list naming that video."""
    import pandas as pd

    from fer.cli import main

    src = tmp_path / "in"
    src.mkdir()
    small_video(src / "good.mp4", frames=10)
    (src / "evil.mp4").write_bytes(hls_playlist(segment.as_uri()))
    (src / "list.mp4").write_bytes(concat_list("good.mp4"))
    assert main(["batch", str(src), "--out", str(tmp_path / "out"), "--workers", "1"]) == 1
    failures = pd.read_csv(tmp_path / "out" / "failures.csv").set_index("video")["error"]
    assert sorted(failures.index) == ["evil.mp4", "list.mp4"]
    assert "HLS playlist" in failures["evil.mp4"] and "concat list" in failures["list.mp4"]
    assert (tmp_path / "out" / "good.mp4" / "summary.csv").is_file()
