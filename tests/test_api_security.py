"""The second security pass of `fer serve` (issue 22), each finding against a real server: uvicorn
in a thread (`LocalServer`) or `python -m fer serve` in its own process, real clips, raw sockets
for slow and vanishing clients, SIGTERM for shutdown."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from benchmarks.hostile_videos import concat_list, hls_playlist, mpegts_copy, small_video
from tests.conftest import CLIPS, ROOT, needs_clips

pytest.importorskip("fastapi", reason="the api extra (fastapi, uvicorn, python-multipart) is not installed")
httpx = pytest.importorskip("httpx", reason="httpx is not installed")

from fer.api import ApiSettings
from fer.api.jobs import INSTANCE, JOB_FILE, STOPPED, Job
from fer.api.uploads import UPLOAD_NAME

CLIP = CLIPS / "fer_test_clip.mp4"
GUARD_S = 120  # how long a test waits for something that must happen before it calls it a failure


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """300 s of 160x120 at 10 fps (3000 frames): a job that is still running when the test acts."""
    return small_video(tmp_path_factory.mktemp("long") / "long.mp4", frames=3000, fps=10)


def assert_error(r, status: int, words: str = ""):
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["status"] == status and words.lower() in body["message"].lower(), body["message"]
    assert "Traceback" not in r.text


def wait_for(condition, what: str):
    deadline = time.monotonic() + GUARD_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {GUARD_S} s")
        time.sleep(0.05)


def job_folders(jobs_dir: Path) -> list[Path]:
    return [p for p in jobs_dir.iterdir() if p.is_dir()]


class SlowClient:
    """A raw HTTP/1.1 client that sends the headers of a big upload and then what it is told to."""

    def __init__(self, url: str, length: int = 1_000_000, path: str = "/v1/videos", headers: str = ""):
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=GUARD_S)
        self.sock.sendall(f"POST {path}?filename=slow.mp4 HTTP/1.1\r\nHost: {host}\r\n{headers}"
                          "Content-Type: application/octet-stream\r\n"
                          f"Content-Length: {length}\r\n\r\n".encode())

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:  # the server closed the connection
            return False

    def answer(self) -> bytes:
        """Everything the server sends until it closes the connection (a reset after the answer,
        for the bytes it never read, ends it too)."""
        chunks = []
        try:
            while chunk := self.sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


# ----------------------------------------------------------- 1. uploads that point elsewhere


@needs_clips
def test_playlists_lists_and_urls_are_refused_with_one_message(serve, tmp_path):
    """The hole: 'a.m3u8' naming a video on the server's disk was accepted (202) and analysed;
    whether a path exists showed in the error text."""
    url, settings = serve()
    segment = mpegts_copy(CLIP, tmp_path / "private.ts")
    uploads = {
        "a.m3u8": hls_playlist(str(segment)),
        "b.m3u8": hls_playlist(str(tmp_path / "no_such_file.ts")),
        "c.m3u8": hls_playlist(segment.as_uri()),
        "d.mp4": hls_playlist(str(segment)),  # a playlist saved as .mp4
        "e.mp4": concat_list(segment.name),
        "f.mp4": b"file://" + str(segment).encode() + b"\n",
    }
    messages = {}
    with httpx.Client(base_url=url, timeout=GUARD_S) as client:
        for name, body in uploads.items():
            r = client.post("/v1/videos", files={"file": (name, body, "video/mp4")})
            assert_error(r, 415, "not a readable video")
            messages[name] = r.json()["error"]["message"]
        raw = client.post("/v1/videos", content=uploads["a.m3u8"], params={"filename": "g.m3u8"})
        assert_error(raw, 415, "HLS playlist")
    assert messages["a.m3u8"].replace("a.m3u8", "X") == messages["b.m3u8"].replace("b.m3u8", "X")
    assert all(str(tmp_path) not in m and UPLOAD_NAME not in m for m in messages.values()), messages
    assert "HLS playlist" in messages["d.mp4"] and "concat list" in messages["e.mp4"]
    assert "URL" in messages["f.mp4"]
    assert job_folders(settings.jobs_dir) == []  # refused uploads leave nothing behind


# ----------------------------------------------------------- 2. jobs belong to their key


@needs_clips
def test_jobs_belong_to_the_key_that_created_them(serve, long_video):
    """The hole: a job made with key A was read (200) and deleted (204) with key B."""
    url, settings = serve(api_keys=("key-a-0123456789", "key-b-0123456789"), max_video_jobs=4,
                          max_video_jobs_per_key=1)
    a = {"Authorization": "Bearer key-a-0123456789"}
    b = {"Authorization": "Bearer key-b-0123456789"}
    with httpx.Client(base_url=url, timeout=GUARD_S) as client:
        busy = client.post("/v1/videos", headers=b, files={"file": ("long.mp4", long_video.read_bytes())})
        assert busy.status_code == 202, busy.text  # B's long job keeps the one worker busy
        mine = client.post("/v1/videos", headers=a, files={"file": ("clip.mp4", CLIP.read_bytes())})
        assert mine.status_code == 202, mine.text
        job = mine.json()
        # A's second job exceeds A's share (1), while the server still has room (4): 429 for A only.
        assert_error(client.post("/v1/videos", headers=a, content=CLIP.read_bytes()), 429, "this key")
        for path in (f"/v1/videos/{job['id']}", job["links"]["summary"], job["links"]["timeline"]):
            assert_error(client.get(path, headers=b), 404, "no video job")
        assert_error(client.delete(f"/v1/videos/{job['id']}", headers=b), 404, "no video job")
        assert client.get(f"/v1/videos/{job['id']}", headers=a).json()["status"] in ("queued", "running")
        stored = (settings.jobs_dir / job["id"] / JOB_FILE).read_text()
        assert "key-a" not in stored and json.loads(stored)["key_hash"]  # a hash, never the key
        assert "key_hash" not in job and "owner" not in job
        assert client.delete(f"/v1/videos/{job['id']}", headers=a).status_code == 204
        assert client.delete(f"/v1/videos/{busy.json()['id']}", headers=b).status_code == 204


# ----------------------------------------------------------- 3. slow uploads


@needs_clips
def test_a_slow_upload_holds_no_video_slot(serve):
    """The hole: two clients dribbling 10 bytes/s kept the video queue full (429 for everyone)."""
    url, settings = serve(max_video_jobs=1, upload_grace_s=600)  # the slow one stays for the test
    slow = SlowClient(url)
    try:
        assert slow.send(b"\x00" * 10)
        wait_for(lambda: len(job_folders(settings.jobs_dir)) == 1, "the slow upload reaching the route")
        with httpx.Client(base_url=url, timeout=GUARD_S) as client:
            r = client.post("/v1/videos", content=CLIP.read_bytes(), params={"filename": "clip.mp4"})
            assert r.status_code == 202, r.text  # the only slot goes to the upload that has arrived
            assert client.delete(f"/v1/videos/{r.json()['id']}").status_code == 204
    finally:
        slow.close()
    wait_for(lambda: job_folders(settings.jobs_dir) == [], "the slow upload's folder being removed")


def test_uploads_too_slow_or_too_long_are_cut_off(serve):
    """A client under the minimum rate, and one within it but past the time limit, each get 408
    and a closed connection; neither leaves a file."""
    url, settings = serve(upload_min_rate=1000, upload_grace_s=1.0, upload_timeout_s=4.0)
    dribbler, steady = SlowClient(url), SlowClient(url, length=10_000_000)
    answers = {}

    def feed(client: SlowClient, chunk: bytes, name: str):
        while client.send(chunk):
            time.sleep(0.5)
        answers[name] = client.answer()

    threads = [threading.Thread(target=feed, args=(dribbler, b"x" * 5, "dribbler"), daemon=True),  # 10 B/s
               threading.Thread(target=feed, args=(steady, b"x" * 2000, "steady"), daemon=True)]  # 4 KB/s
    for t in threads:
        t.start()
    for t in threads:
        t.join(GUARD_S)
    assert set(answers) == {"dribbler", "steady"}, "the server never cut an upload off"
    for name in ("dribbler", "steady"):
        head = answers[name].split(b"\r\n\r\n", 1)
        assert head[0].startswith(b"HTTP/1.1 408"), answers[name][:300]
        assert b"too slowly" in head[1]
    wait_for(lambda: job_folders(settings.jobs_dir) == [], "the cut uploads' folders being removed")


def test_uploads_received_at_once_are_bounded(serve):
    url, settings = serve(max_uploads=1, upload_grace_s=600)
    slow = SlowClient(url)
    try:
        assert slow.send(b"\x00" * 10)
        with httpx.Client(base_url=url, timeout=GUARD_S) as client:
            wait_for(lambda: client.post("/v1/videos", content=b"x").status_code == 429,
                     "a second upload refused")
            r = client.post("/v1/analyze", content=b"not an image")
            assert_error(r, 429, "uploads are being received")
            assert client.get("/v1/health").status_code == 200  # requests without a body are not uploads
    finally:
        slow.close()
    wait_for(lambda: job_folders(settings.jobs_dir) == [], "the slow upload's folder being removed")


# ----------------------------------------------------------- 5. smaller findings


def test_a_client_that_leaves_mid_upload_is_one_log_line(serve, caplog):
    """The hole: every disconnect mid-upload logged two full tracebacks (ClientDisconnect)."""
    url, settings = serve()
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="fer")
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(caplog.handler)
    try:
        slow = SlowClient(url)
        slow.send(b"\x00" * 1000)
        client = "127.0.0.1:%d" % slow.sock.getsockname()[1]
        wait_for(lambda: len(job_folders(settings.jobs_dir)) == 1, "the upload reaching the route")
        slow.close()
        wait_for(lambda: job_folders(settings.jobs_dir) == [], "the abandoned upload being removed")
        wait_for(lambda: any(client in r.getMessage() for r in caplog.records), "the log line")
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    about = [r.getMessage() for r in caplog.records if client in r.getMessage()]
    assert about == [f"{client} disconnected during POST /v1/videos"], about
    assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records if r.exc_info]
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text


def test_a_blank_key_list_refuses_to_start():
    """The hole: FER_API_KEYS=' , ' turned authentication off without a word."""
    with pytest.raises(ValueError, match="FER_API_KEYS is set but holds no key"):
        ApiSettings.from_env({"FER_API_KEYS": " , "})
    assert ApiSettings.from_env({"FER_API_KEYS": ""}).api_keys == ()  # what to_env writes for 'no keys'
    env = {**os.environ, "FER_API_KEYS": " , "}
    proc = subprocess.run([sys.executable, "-m", "fer", "serve", "--port", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=GUARD_S)
    assert proc.returncode == 2, proc.stderr
    assert "FER_API_KEYS is set but holds no key" in proc.stderr and "Traceback" not in proc.stderr


def test_query_secrets_are_redacted():
    from fer.api.logs import redact_query

    assert redact_query("/v1/models?api_key=abc&x=1&token=t&Api%5FKey=z&flag") == \
        "/v1/models?api_key=***&x=1&token=***&Api%5FKey=***&flag"
    assert redact_query("/v1/health") == "/v1/health"


# ----------------------------------------------------------- a real `fer serve` process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fer_serve(log: Path, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FER_API_")}
    proc = subprocess.Popen([sys.executable, "-m", "fer", "serve", "--port", str(port), *args], cwd=ROOT,
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(url + "/v1/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, "the server starting")
    return proc, url


def stop(proc: subprocess.Popen, log: Path) -> None:
    """SIGTERM, and the server's own graceful shutdown (uvicorn then exits by the same signal)."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(GUARD_S) in (0, -signal.SIGTERM), log.read_text()
    assert "Application shutdown complete" in log.read_text(), log.read_text()


def test_the_access_log_never_holds_a_secret_from_a_query_string(tmp_path):
    """The hole: '?api_key=...' was written to the access log as sent."""
    log = tmp_path / "server.log"
    proc, url = start_fer_serve(log)
    try:
        assert httpx.get(url + "/v1/health", params={"api_key": "S3CRET-1", "x": "1"}).status_code == 200
        httpx.get(url + "/v1/models", params={"token": "S3CRET-2", "key": "S3CRET-3"})
    finally:
        stop(proc, log)
    text = log.read_text()
    assert "S3CRET" not in text, text
    assert "/v1/health?api_key=***&x=1" in text and "token=***&key=***" in text


@needs_clips
def test_sigterm_fails_unfinished_jobs_and_deletes_their_uploads(tmp_path, long_video):
    """The hole: after SIGTERM, a running and a queued job kept their uploads and job.json until a
    later server's expiry pass. The uploads also carry the server's name, never the client's."""
    jobs, log = tmp_path / "jobs", tmp_path / "server.log"
    proc, url = start_fer_serve(log, "--jobs-dir", str(jobs), "--video-workers", "1")
    try:
        with httpx.Client(base_url=url, timeout=GUARD_S) as client:
            running = client.post("/v1/videos", files={"file": ("long.mp4", long_video.read_bytes())}).json()
            queued = client.post("/v1/videos", files={"file": ("interview.m3u8", CLIP.read_bytes())}).json()
            wait_for(lambda: client.get(f"/v1/videos/{running['id']}").json()["status"] == "running",
                     "the first job running")
        for job in (running, queued):
            assert sorted(p.name for p in (jobs / job["id"]).iterdir()) == [UPLOAD_NAME, JOB_FILE]
    finally:
        stop(proc, log)
    for job in (running, queued):
        assert sorted(p.name for p in (jobs / job["id"]).iterdir()) == [JOB_FILE]  # the upload is gone
        stored = json.loads((jobs / job["id"] / JOB_FILE).read_text())
        assert stored["status"] == "failed" and stored["error"] == STOPPED


def test_start_up_sweeps_a_previous_servers_leftovers(serve, tmp_path):
    """What a killed server leaves (unfinished jobs with their uploads, a half-written status, a
    folder without one) is swept when the next server starts; finished jobs keep their results."""
    jobs = tmp_path / "jobs"
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    now = time.time()

    def leftover(job_id: str, files: tuple[str, ...], **fields) -> Path:
        folder = jobs / job_id
        folder.mkdir(parents=True)
        job = Job(job_id, fields.pop("status", "running"), "a.mp4", now, now + 3600, **fields)
        (folder / JOB_FILE).write_text(json.dumps(asdict(job)))
        for name in files:
            (folder / name).write_bytes(b"x")
        return folder

    killed = leftover("a" * 32, (UPLOAD_NAME, f"job.{dead}.tmp"), owner=dead, instance="old")
    reused_pid = leftover("b" * 32, (UPLOAD_NAME,), status="queued", owner=os.getpid(), instance="old")
    done = leftover("c" * 32, ("result_summary.json", "result_timeline.csv"), status="done", owner=dead)
    mine = leftover("d" * 32, (UPLOAD_NAME,), owner=os.getpid(), instance=INSTANCE)  # this process's: alive
    half = jobs / ("e" * 32)
    half.mkdir()
    os.utime(half, (now - 3600, now - 3600))
    foreign = jobs / "not-a-job"
    foreign.mkdir()
    url, _ = serve(jobs_dir=jobs)
    for folder in (killed, reused_pid):
        assert sorted(p.name for p in folder.iterdir()) == [JOB_FILE], folder
        stored = json.loads((folder / JOB_FILE).read_text())
        assert stored["status"] == "failed" and stored["error"] == STOPPED
    assert sorted(p.name for p in done.iterdir()) == [JOB_FILE, "result_summary.json", "result_timeline.csv"]
    assert sorted(p.name for p in mine.iterdir()) == [UPLOAD_NAME, JOB_FILE]
    assert not half.exists() and foreign.exists()
    with httpx.Client(base_url=url, timeout=GUARD_S) as client:
        assert client.get(f"/v1/videos/{'a' * 32}").json()["error"] == STOPPED
