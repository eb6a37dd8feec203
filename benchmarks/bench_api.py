"""HTTP API throughput and latency: POST /v1/analyze with a 640x480 one-face photo at several
client concurrencies, against a real `python -m fer serve` process on 127.0.0.1.

Run: python benchmarks/bench_api.py [--requests 200] [--concurrency 1,4,8] [--tta flip_zoom]
     [--quick] [--json benchmarks/results_api.json]
Prints images/s, p50/p95/max latency, non-200 answers and the server's CPU ms per image (the better
predictor on a machine shared with other work), and writes them as JSON. --quick: 16 requests
per level, to check that the script works; figures for the README come from a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def photo_jpeg() -> bytes:
    """The astronaut photo (one real face), cropped to 4:3 and scaled to 640x480, as a JPEG."""
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()[64:448]).resize((640, 480)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, max_queue: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "fer", "serve", "--port", str(port), "--max-queue", str(max_queue)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not answer in time")


async def load(url: str, body: bytes, n: int, concurrency: int, tta: str) -> tuple[float, list[float], list[int]]:
    import httpx

    gate = asyncio.Semaphore(concurrency)
    latencies, codes = [], []
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=httpx.Limits(max_connections=concurrency)) as c:
        async def one() -> None:
            async with gate:
                t = time.perf_counter()
                r = await c.post("/v1/analyze", content=body, params={"tta": tta})
                latencies.append(time.perf_counter() - t)
                codes.append(r.status_code)

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - start, latencies, codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=200, help="timed requests per concurrency level")
    ap.add_argument("--concurrency", default="1,4,8", help="client concurrency levels (default: %(default)s)")
    ap.add_argument("--tta", default="flip_zoom", help="the API's default (four classifier views per face)")
    ap.add_argument("--quick", action="store_true", help="16 requests per level: a check that it runs")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results_api.json"))
    args = ap.parse_args()
    import psutil

    n = 16 if args.quick else args.requests
    levels = [int(c) for c in args.concurrency.split(",")]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(port, max_queue=max(levels) * 2)
    body = photo_jpeg()
    rows = []
    try:
        wait_ready(url, proc)
        server = psutil.Process(proc.pid)
        asyncio.run(load(url, body, 8, 2, args.tta))  # warm-up: models loaded, caches filled
        print(f"{'concurrency':>11} {'images/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'non-200':>8} "
              f"{'server CPU ms/img':>18}")
        for c in levels:
            cpu0 = sum(server.cpu_times()[:2])
            wall, lat, codes = asyncio.run(load(url, body, n, c, args.tta))
            cpu = sum(server.cpu_times()[:2]) - cpu0
            ms = np.asarray(lat) * 1000
            row = {"concurrency": c, "requests": n, "images_per_s": round(n / wall, 2),
                   "p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1),
                   "max_ms": round(float(ms.max()), 1), "non_200": sum(code != 200 for code in codes),
                   "server_cpu_ms_per_image": round(cpu * 1000 / n, 1)}
            rows.append(row)
            print(f"{c:>11} {row['images_per_s']:>9} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8} "
                  f"{row['non_200']:>8} {row['server_cpu_ms_per_image']:>18}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result = {"benchmark": "api_analyze", "image": "640x480 JPEG, one real face (skimage astronaut)",
              "tta": args.tta, "quick": args.quick, "cores": len(os.sched_getaffinity(0)),
              "cpu": platform.processor() or platform.machine(), "load_avg_1m": round(os.getloadavg()[0], 2),
              "levels": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json} (load average {result['load_avg_1m']} on {result['cores']} cores)")


if __name__ == "__main__":
    main()
