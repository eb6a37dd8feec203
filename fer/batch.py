"""Folders of videos: every video analysed exactly as `fer video` does it, in parallel, resumable.

Each video is one task that runs `fer video`'s own analysis (`fer.commands.video.analyse_file`,
over `fer.analysis`) on that one file, with the same typed `AnalysisSettings` (so the results are
`fer video`'s, byte for byte), into OUT/.partial/<file name>/, and moves the folder to
OUT/<file name>/ only when it succeeded. A finished folder is never redone (resume); a video
that fails leaves no folder and a row in OUT/failures.csv, and the others carry on. OUT/summary.csv
has one row per finished video of the whole folder, this run's and earlier runs'.

Videos are untrusted, as in `fer video` (fer.video_guard: MP4/MOV, Matroska/WebM or AVI by
content, nothing that opens another file or a URL); a refused one fails alone, with the reason in
failures.csv. `--trusted-input` opens the folder's files in any format FFmpeg reads.

Engines: "local" (a process pool on this machine) or "ray" (one Ray task per video, on a local Ray
instance or, with `address`, on an existing cluster whose nodes have this package installed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from fer.runtime import available_cores, threads

if TYPE_CHECKING:
    from fer.analysis import AnalysisSettings

log = logging.getLogger(__name__)

PARTIAL = ".partial"
LOG_NAME = "log.txt"
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class VideoTask:
    video: Path
    out: Path  # the batch's output folder
    settings: AnalysisSettings
    annotate: bool = False  # also write an annotated copy

    @property
    def name(self) -> str:
        return self.video.name  # unique within one input folder, unlike the stem (a.mp4, a.avi)

    @property
    def final(self) -> Path:
        return self.out / self.name

    @property
    def partial(self) -> Path:
        return self.out / PARTIAL / self.name

    @property
    def done(self) -> bool:
        return (self.final / "summary.csv").is_file()


@dataclass(frozen=True)
class VideoOutcome:
    video: str
    ok: bool
    seconds: float
    error: str | None = None


@dataclass
class BatchReport:
    out: Path
    total: int
    skipped: list[str] = field(default_factory=list)  # finished by an earlier run
    outcomes: list[VideoOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[VideoOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def analysed(self) -> list[VideoOutcome]:
        return [o for o in self.outcomes if o.ok]


def default_workers() -> int:
    """Parallel videos: every core busy with `threads()` math threads per video."""
    return max(1, available_cores() // threads())


def plan(in_dir: str | Path, out: str | Path, settings: AnalysisSettings, annotate: bool = False) -> list[VideoTask]:
    from fer.commands.video import find_videos

    in_dir = Path(in_dir)
    if not in_dir.is_dir():
        raise FileNotFoundError(f"input folder not found: {in_dir}")
    return [VideoTask(p, Path(out), settings, annotate) for p in find_videos(str(in_dir))]


def run_one(task: VideoTask) -> VideoOutcome:
    """Analyse one video as `fer video` does; its progress output goes to the video's log.txt.
    Top-level and free of shared state, so a process pool or a Ray worker can run it."""
    from fer.analysis import ModelCache
    from fer.commands.video import analyse_file

    start = time.perf_counter()
    shutil.rmtree(task.partial, ignore_errors=True)  # a run that died half-way starts again
    task.partial.mkdir(parents=True)
    error = None
    with open(task.partial / LOG_NAME, "w") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            recognizer = ModelCache().recognizer(task.settings)
            row = analyse_file(task.video, task.video.stem, task.settings, recognizer, task.partial, task.annotate)
            pd.DataFrame([row]).to_csv(task.partial / "summary.csv", index=False)
        except Exception as e:  # one video fails alone, with its reason
            out.write(f"error: {type(e).__name__}: {e}\n")  # the video's own log
            error = str(e) if isinstance(e, (ValueError, OSError)) else f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - start
    if error is None:
        shutil.rmtree(task.final, ignore_errors=True)
        os.replace(task.partial, task.final)
    else:
        shutil.rmtree(task.partial, ignore_errors=True)
    return VideoOutcome(task.name, error is None, round(seconds, 2), error)


def run_local(tasks: list[VideoTask], workers: int) -> Iterator[VideoOutcome]:
    """A pool of fresh processes ('spawn': no inherited model or thread state); results as they end."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if workers == 1:  # no pool to start: simplest to debug, same results
        yield from map(run_one, tasks)
        return
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_one, t): t for t in tasks}
        for f in as_completed(futures):
            try:
                yield f.result()
            except Exception as e:  # the worker process itself died (e.g. out of memory)
                yield VideoOutcome(futures[f].name, False, 0.0, f"worker process failed: {type(e).__name__}: {e}")


def start_ray(workers: int, address: str | None = None) -> bool:
    """Connect to `address`, or start a private local Ray instance with `workers` CPUs whose workers
    import this checkout of `fer`. False when Ray was already running (the caller owns it)."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address:
        ray.init(address=address, **quiet)
    else:
        repo = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
        ray.init(num_cpus=workers, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}}, **quiet)
    return True


def run_ray(tasks: list[VideoTask], workers: int, address: str | None = None) -> Iterator[VideoOutcome]:
    """One Ray task per video (1 CPU each). Local: a private Ray instance with `workers` CPUs;
    `address`: join that cluster, whose nodes run the tasks with their own installed `fer`."""
    import ray

    started = start_ray(workers, address)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
        pending = {remote.remote(t): t for t in tasks}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as e:  # the task's worker died
                    yield VideoOutcome(task.name, False, 0.0, f"Ray task failed: {type(e).__name__}: {e}")
    finally:
        if started:
            ray.shutdown()


def write_tables(out: Path, tasks: Iterable[VideoTask], failures: list[VideoOutcome]) -> tuple[Path, Path]:
    """OUT/summary.csv from every finished video's own summary.csv; OUT/failures.csv."""
    frames = [pd.read_csv(t.final / "summary.csv") for t in tasks if t.done]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["video"])
    summary, failed = out / "summary.csv", out / "failures.csv"
    table.to_csv(summary, index=False)
    pd.DataFrame([{"video": f.video, "error": f.error, "seconds": f.seconds} for f in failures],
                 columns=["video", "error", "seconds"]).to_csv(failed, index=False)
    return summary, failed


def run_batch(in_dir: str | Path, out: str | Path, settings: AnalysisSettings, engine: str = "local",
              workers: int | None = None, address: str | None = None,
              on_done: Callable[[VideoOutcome, int, int], None] | None = None,
              annotate: bool = False) -> BatchReport:
    """Analyse every video of `in_dir` not finished yet; `on_done(outcome, n_done, n_todo)` reports progress."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    tasks = plan(in_dir, out, settings, annotate)
    out.mkdir(parents=True, exist_ok=True)
    todo = [t for t in tasks if not t.done]
    report = BatchReport(out, len(tasks), skipped=[t.name for t in tasks if t.done])
    if todo:
        runner = run_ray(todo, workers, address) if engine == "ray" else run_local(todo, workers)
        for outcome in runner:
            report.outcomes.append(outcome)
            if on_done:
                on_done(outcome, len(report.outcomes), len(todo))
    shutil.rmtree(out / PARTIAL, ignore_errors=True)
    write_tables(out, tasks, report.failed)
    return report
