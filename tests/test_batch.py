"""`fer batch` on real clips: the same files as `fer video` one by one, resume, a broken video that
fails alone, and the Ray engine on a local 2-CPU Ray instance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import DATA

CLIPS = DATA / "clips"
ONE_FACE, SEVERAL = CLIPS / "fer_test_clip.mp4", CLIPS / "short_hamilton_clip.mp4"
pytestmark = pytest.mark.skipif(not (ONE_FACE.is_file() and SEVERAL.is_file()),
                                reason=f"real clips not found in {CLIPS} (see README: Data)")
TIMING = ("elapsed_s", "frames_per_second")  # the only fields allowed to differ between two runs


def video_options(*extra: str):
    """The typed settings `fer batch` builds from its options (defaults plus `extra`)."""
    from fer.cli import build_parser
    from fer.commands.video import settings_from

    return settings_from(build_parser(command="batch").parse_args(["batch", "IN", *extra]))


def make_input(folder: Path, clips: dict[str, Path]) -> Path:
    folder.mkdir(parents=True)
    for name, src in clips.items():
        shutil.copy(src, folder / name)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """`fer video` run on each clip by itself: what a batch must reproduce."""
    from fer.cli import main

    root = tmp_path_factory.mktemp("batch")
    inp = make_input(root / "in", {"one.mp4": ONE_FACE, "several.mp4": SEVERAL})
    refs = {}
    for name in ("one.mp4", "several.mp4"):
        assert main(["video", str(inp / name), "--out", str(root / "ref" / name)]) == 0
        refs[name] = root / "ref" / name
    return inp, refs


def assert_same_as_video(batch_dir: Path, ref_dir: Path) -> None:
    stem = ref_dir.name.rsplit(".", 1)[0]
    assert (batch_dir / f"{stem}_timeline.csv").read_bytes() == (ref_dir / f"{stem}_timeline.csv").read_bytes()
    got, want = (json.loads((d / f"{stem}_summary.json").read_text()) for d in (batch_dir, ref_dir))
    for doc in (got, want):
        doc["video"] = Path(doc["video"]).name  # the input path, which may be another folder's copy
        for key in TIMING:
            doc["analysis"].pop(key)
    assert got == want
    assert got["summary"]["people"], "the clip shows at least one person"


def test_local_batch_equals_fer_video_resumes_and_isolates_failures(reference, tmp_path):
    from fer.batch import run_batch
    from fer.cli import main

    inp, refs = reference
    out = tmp_path / "out"
    assert main(["batch", str(inp), "--out", str(out), "--workers", "2"]) == 1  # 1: a video failed
    for name, ref in refs.items():
        assert_same_as_video(out / name, ref)
    failures = pd.read_csv(out / "failures.csv")
    assert failures["video"].tolist() == ["broken.mp4"] and "not a readable video" in failures["error"][0]
    summary = pd.read_csv(out / "summary.csv").sort_values("video")
    want = pd.concat([pd.read_csv(r / "summary.csv") for r in refs.values()]).sort_values("video")
    pd.testing.assert_frame_equal(summary.reset_index(drop=True), want.reset_index(drop=True))
    assert not (out / ".partial").exists() and not (out / "broken.mp4").exists()

    # Resume: finished videos are not redone, the broken one is retried and fails again.
    stamps = {n: (out / n / "summary.csv").stat().st_mtime_ns for n in refs}
    report = run_batch(inp, out, video_options(), workers=1)
    assert sorted(report.skipped) == sorted(refs) and [o.video for o in report.failed] == ["broken.mp4"]
    assert {n: (out / n / "summary.csv").stat().st_mtime_ns for n in refs} == stamps
    assert len(pd.read_csv(out / "summary.csv")) == 2


def test_missing_input_folder_is_a_usage_error(tmp_path):
    from fer.cli import main

    assert main(["batch", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2


def test_ray_engine_on_a_local_two_cpu_instance(reference, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed")
    from fer.batch import run_batch, start_ray

    try:
        start_ray(workers=2)
    except Exception as e:  # no shared memory, no free ports, ...: say why instead of failing
        pytest.skip(f"Ray could not start here: {type(e).__name__}: {e}")
    try:
        assert ray.cluster_resources().get("CPU") == 2
        _, refs = reference
        small = make_input(tmp_path / "in", {"one.mp4": ONE_FACE, "one_again.mp4": ONE_FACE})
        report = run_batch(small, tmp_path / "out", video_options(), engine="ray", workers=2)
    finally:
        ray.shutdown()
    assert sorted(o.video for o in report.analysed) == ["one.mp4", "one_again.mp4"]
    assert [o.video for o in report.failed] == ["broken.mp4"]
    assert_same_as_video(tmp_path / "out" / "one.mp4", refs["one.mp4"])
    assert (tmp_path / "out" / "one_again.mp4" / "one_again_timeline.csv").read_bytes() == \
        (refs["one.mp4"] / "one_timeline.csv").read_bytes()
    assert len(pd.read_csv(tmp_path / "out" / "summary.csv")) == 2
