"""A compact, portable pack of FER-2013 (+ FER+ votes) for training on a remote machine.

The Kaggle JPEG bytes are stored as they are (56 MB for all 35,887 faces) and FER+ votes are
attached to them by matching pixels, since FER+ names images by CSV row while the Kaggle copy
uses other numbers. The pack is a plain .npz (no pickles).

    python -m fer.data.pack --out .gpu/fer_pack.npz --splits Training PublicTest

builds one from the shared data (what `scripts/gpu_train.sh` trains on); training needs only
Training and PublicTest, which keeps the pack small enough to travel with the working tree.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from fer.data.datasets import (
    FERPLUS_SPLIT_FOLDERS,
    SPLITS,
    FaceArrays,
    _read_grey,
    _split_of,
    ferplus_targets,
    read_ferplus_votes,
)
from fer.labels import FER2013_LABELS, FERPLUS_LABELS, canonical_label


def _thumb(images: np.ndarray) -> np.ndarray:
    """12x12 block means: robust to JPEG noise, small enough for brute-force matching."""
    x = images.reshape(len(images), 12, 4, 12, 4).astype(np.float32).mean((2, 4))
    return x.reshape(len(images), -1)


def _nearest(query: np.ndarray, base: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    bn = (base**2).sum(1)
    idx, dist = [], []
    for s in range(0, len(query), chunk):
        q = query[s : s + chunk]
        d = (q**2).sum(1)[:, None] + bn[None] - 2 * q @ base.T
        i = d.argmin(1)
        idx.append(i)
        dist.append(np.sqrt(np.maximum(d[np.arange(len(q)), i], 0) / base.shape[1]))
    return np.concatenate(idx), np.concatenate(dist)


def build_pack(fer2013_root: str | Path, ferplus_root: str | Path | None, out: str | Path,
               keep_splits: tuple[str, ...] = SPLITS) -> dict:
    """Write the pack for `keep_splits` (all three by default) and return what was matched."""
    fer2013_root = Path(fer2013_root)
    blobs, labels, splits, images = [], [], [], []
    for sub in ("train", "test"):
        for class_dir in sorted(p for p in (fer2013_root / sub).iterdir() if p.is_dir()):
            label = canonical_label(class_dir.name)
            for f in sorted(class_dir.iterdir()):
                split = _split_of(f.name)
                if split not in keep_splits or label not in FER2013_LABELS:
                    continue
                data = f.read_bytes()
                blobs.append(data)
                labels.append(FER2013_LABELS.index(label))
                splits.append(SPLITS.index(split))
                images.append(_read_grey(data))
    images_arr = np.stack(images)
    splits_arr = np.asarray(splits, np.int8)
    votes = np.full((len(blobs), 10), np.nan, np.float32)
    report = {"n": len(blobs)}
    if ferplus_root is not None:
        for si, split in enumerate(SPLITS):
            if split not in keep_splits:
                continue
            folder = Path(ferplus_root) / FERPLUS_SPLIT_FOLDERS[split]
            names, v = read_ferplus_votes(folder / "label.csv")
            plus = np.stack([_read_grey(folder / n) for n in names])
            base_idx = np.flatnonzero(splits_arr == si)
            nn, dist = _nearest(_thumb(plus), _thumb(images_arr[base_idx]))
            good = dist < 4.0  # grey levels, RMS over 12x12 means; JPEG noise is far below this
            votes[base_idx[nn[good]]] = v[good]
            report[split] = {"ferplus": len(names), "matched": int(good.sum()),
                             "median_rms": float(np.median(dist))}
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    np.savez(out, jpeg=np.frombuffer(b"".join(blobs), np.uint8), offsets=offsets,
             labels=np.asarray(labels, np.int64), split=splits_arr, ferplus_votes=votes)
    return report


def load_pack(path: str | Path, split: str, task: str = "fer2013") -> FaceArrays:
    """Decode one split of a pack, for 'fer2013' (hard labels), 'ferplus' (vote targets) or 'joint'
    (every FER-2013 face with its FER-2013 label and its FER+ votes, see `_joint`)."""
    z = np.load(path)
    sel = np.flatnonzero(z["split"] == SPLITS.index(split))
    if len(sel) == 0:
        raise ValueError(f"{path} holds no {split} faces (built without that split)")
    jpeg, off = z["jpeg"], z["offsets"]

    def decode(i: int) -> np.ndarray:
        with Image.open(io.BytesIO(jpeg[off[i] : off[i + 1]].tobytes())) as im:
            return np.asarray(im.convert("L"), np.uint8)

    if task == "fer2013":
        return FaceArrays(np.stack([decode(i) for i in sel]), z["labels"][sel], FER2013_LABELS)
    if task == "joint":
        return _joint(np.stack([decode(i) for i in sel]), z["labels"][sel], z["ferplus_votes"][sel])
    votes = z["ferplus_votes"][sel]
    has = ~np.isnan(votes).any(1)
    keep, soft = ferplus_targets(np.nan_to_num(votes))
    keep &= has
    sel, soft = sel[keep], soft[keep]
    return FaceArrays(np.stack([decode(i) for i in sel]), soft.argmax(1).astype(np.int64), FERPLUS_LABELS,
                      soft=soft)


def _joint(images: np.ndarray, labels: np.ndarray, votes: np.ndarray) -> FaceArrays:
    """Every FER-2013 face with its FER-2013 label and, in `soft`, its FER+ vote distribution
    (a zero row where FER+ has none: no matched file, or a top vote of unknown / not a face)."""
    has = ~np.isnan(votes).any(1)
    keep, soft = ferplus_targets(np.nan_to_num(votes))
    soft[~(keep & has)] = 0.0
    return FaceArrays(images, labels, FER2013_LABELS, soft=soft,
                      skipped={"no_ferplus_votes": int((~(keep & has)).sum())})


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from fer.data.locations import dataset_dir

    ap = argparse.ArgumentParser(prog="python -m fer.data.pack", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fer2013", default=str(dataset_dir("fer2013")))
    ap.add_argument("--ferplus", default=str(dataset_dir("ferplus")), help="'' for no FER+ votes")
    ap.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    report = build_pack(args.fer2013, args.ferplus or None, args.out, tuple(args.splits))
    report["bytes"] = Path(args.out).stat().st_size
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
