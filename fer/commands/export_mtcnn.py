"""Write facenet-pytorch's MTCNN networks (P-Net, R-Net, O-Net) as ONNX files for `fer.mtcnn`.

The weights are facenet-pytorch's own, unchanged: the runtime detector is the same MTCNN, only
run by ONNX Runtime instead of PyTorch, so the app and CLI need no torch. Run this once after a
facenet-pytorch upgrade; it also writes the README with provenance and sha256 of each file.
Needs torch and facenet-pytorch (development dependencies only)."""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

HELP = "export facenet-pytorch's MTCNN (P/R/O-Net) to ONNX files under weights/mtcnn"

log = logging.getLogger(__name__)

OPSET = 17
# name -> (input names, output names, example input side); outputs keep facenet-pytorch's order.
NETS = {
    "pnet": (["reg", "prob"], 12),
    "rnet": (["reg", "prob"], 24),
    "onet": (["reg", "landmarks", "prob"], 48),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="output folder (default: weights/mtcnn of this project)")


def run(args) -> int:
    from fer.weights import WEIGHTS_DIR

    out = Path(args.out) if args.out else WEIGHTS_DIR / "mtcnn"
    for path in export_mtcnn(out):
        print(f"{path}  sha256 {sha256(path)}")
    return 0


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_mtcnn(out: Path) -> list[Path]:
    """Export the three networks to `out`/{pnet,rnet,onet}.onnx, write `out`/README.md; returns the files."""
    import torch
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, net_cls in (("pnet", PNet), ("rnet", RNet), ("onet", ONet)):
        outputs, side = NETS[name]
        net = net_cls(pretrained=True).eval()
        dummy = torch.zeros(1, 3, side, side)
        dynamic = {"x": {0: "n"}, **{o: {0: "n"} for o in outputs}}
        if name == "pnet":  # fully convolutional: one graph for every pyramid level
            dynamic = {"x": {0: "n", 2: "h", 3: "w"}, **{o: {0: "n", 2: "oh", 3: "ow"} for o in outputs}}
        path = out / f"{name}.onnx"
        with torch.no_grad():
            torch.onnx.export(net, (dummy,), str(path), input_names=["x"], output_names=outputs,
                              dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
        log.info("wrote %s", path)
        paths.append(path)
    (out / "README.md").write_text(provenance(paths))
    return paths


def provenance(paths: list[Path]) -> str:
    """The README shipped beside the ONNX files: where the weights come from and under what licence."""
    from importlib import metadata

    import torch

    dist = metadata.distribution("facenet-pytorch")
    meta = dist.metadata
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License")]
    licence_file = next((f for f in dist.files or [] if f.name.upper().startswith("LICENSE")), None)
    licence_text = dist.read_text(licence_file.name) if licence_file else None
    first_line = licence_text.strip().splitlines()[0] if licence_text else "not found"
    copyright_line = next((line for line in (licence_text or "").splitlines() if "Copyright" in line),
                          "not found")
    rows = "\n".join(f"| `{p.name}` | {p.stat().st_size:,} | `{sha256(p)}` |" for p in paths)
    return f"""# MTCNN networks (ONNX)

`pnet.onnx`, `rnet.onnx` and `onet.onnx` are the P-Net, R-Net and O-Net of MTCNN exactly as
facenet-pytorch ships them, exported to ONNX (opset {OPSET}) by `python -m fer export-mtcnn`
(`fer/commands/export_mtcnn.py`) so that the face detector (`fer/mtcnn.py`) runs on ONNX Runtime
without PyTorch. The weights are not retrained or changed. `tests/test_mtcnn.py` checks that
the ONNX detector finds the same faces as facenet-pytorch's `MTCNN.detect`.

## Provenance

- Networks and weights: facenet-pytorch {meta["Version"]} (`{meta["Home-page"]}`, author {meta["Author"]}),
  files `facenet_pytorch/data/{{pnet,rnet,onet}}.pt`, loaded with `PNet/RNet/ONet(pretrained=True)`.
- facenet-pytorch's weights are a conversion of the original MTCNN networks of K. Zhang, Z. Zhang,
  Z. Li and Y. Qiao, *Joint Face Detection and Alignment Using Multitask Cascaded Convolutional
  Networks*, IEEE Signal Processing Letters 23(10), 2016 (reference 5 of the package's README),
  by way of David Sandberg's facenet repository, as that README describes.
- Exported with torch {torch.__version__.split("+")[0]} (TorchScript exporter). Inputs: `x`, float32
  NCHW RGB scaled as `(pixel - 127.5) / 128`. P-Net takes any batch, height and width.

## Licence

What the installed facenet-pytorch {meta["Version"]} package metadata says:
- trove classifier: {"; ".join(classifiers) or "none"};
- licence file `{licence_file.name if licence_file else "-"}`: "{first_line}", "{copyright_line.strip()}".

Not in the package, so not checked by the export: the LICENSE files of the upstream repositories
`kpzhang93/MTCNN_face_detection_alignment` (the original Caffe networks: "MIT License, Copyright (c)
2016 Kaipeng Zhang") and `davidsandberg/facenet` (the TensorFlow conversion: "MIT License, Copyright
(c) 2016 David Sandberg"), as read from their public sources. Keep the copyright notices with the
files when redistributing them.

## Files

| file | bytes | sha256 |
|---|---|---|
{rows}
"""
