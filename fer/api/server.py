"""A real uvicorn server on 127.0.0.1 in a background thread, on a free port: for tests and
benchmarks that talk HTTP to the API exactly as clients do."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


class LocalServer:
    """`with LocalServer(app) as url:` serves `app` until the block ends."""

    def __init__(self, app, start_timeout_s: float = 60.0):
        self.app = app
        self.start_timeout_s = start_timeout_s
        self.url = ""

    def __enter__(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                                    timeout_keep_alive=30))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self._sock.close()
