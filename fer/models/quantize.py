"""Int8 static quantisation of a classifier for ONNX Runtime (the route to a cheaper face).

The float model is exported to a plain fp32 ONNX graph (logits only), pre-processed (shape
inference, Conv+BatchNorm folding), and quantised statically: int8 weights per output channel,
uint8 activations whose ranges are calibrated on real aligned training faces. Weights use 7 bits
(`reduce_range`), which CPUs without VNNI (AVX2's u8 x s8 multiply-add saturates at 16 bits) need
for exact integer arithmetic. `parity` checks a quantised graph against the float model: top-1
agreement and accuracy on labelled faces; `quantize_weights` does both for a weights file and
returns the card's `int8` section (`python -m fer publish` calls it).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer.weights import Int8Info, OnnxInfo, card_of, int8_path, sha256_of

CALIBRATION_FACES = 512


def _normalise(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    x = images.astype(np.float32)[:, None] / 255.0
    return np.ascontiguousarray((x - np.float32(mean[0])) / np.float32(std[0]))


class _Faces:
    """onnxruntime's CalibrationDataReader over normalised faces, in batches."""

    def __init__(self, x: np.ndarray, batch: int = 64):
        self._batches = iter([{"x": x[i : i + batch]} for i in range(0, len(x), batch)])

    def get_next(self):
        return next(self._batches, None)

    def rewind(self):  # pragma: no cover - only some calibrators call it
        pass


def _ends(graph_path: Path) -> list[str]:
    """The nodes that read the input and that write the logits: left in float (the first conv sees
    one channel and the last layer is tiny, so int8 saves little there and costs the most accuracy)."""
    import onnx

    g = onnx.load(str(graph_path)).graph
    return [n.name for n in g.node if "x" in n.input or "logits" in n.output]


def quantize_int8(model: nn.Module, calibration_faces: np.ndarray, out: str | Path,
                  mean: tuple[float, ...] = (0.5,), std: tuple[float, ...] = (0.25,),
                  method: str = "percentile", keep_ends_float: bool = True) -> Path:
    """Write `model` as a statically quantised int8 ONNX graph (input `x`, output `logits`).

    `calibration_faces`: (N, S, S) uint8 aligned grey faces, a few hundred from the training split;
    `method`: activation ranges from their minmax, or a high percentile, or entropy."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = Path(out)
    model = model.float().eval()
    s = calibration_faces.shape[-1]
    with tempfile.TemporaryDirectory() as tmp:
        fp32, pre = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx"
        torch.onnx.export(model, (torch.zeros(1, 1, s, s),), str(fp32), input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
        quant_pre_process(str(fp32), str(pre))
        methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                   "entropy": CalibrationMethod.Entropy}
        quantize_static(str(pre), str(out), _Faces(_normalise(calibration_faces, mean, std)),
                        quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=methods[method], nodes_to_exclude=_ends(pre) if keep_ends_float else None)
    return out


@dataclass(frozen=True)
class Parity:
    n: int
    top1_agreement: float  # share of faces where int8 and float pick the same class
    float_accuracy: float
    int8_accuracy: float

    @property
    def accuracy_drop(self) -> float:
        return self.float_accuracy - self.int8_accuracy


def parity(model: nn.Module, graph: str | Path, faces: np.ndarray, labels: np.ndarray,
           mean: tuple[float, ...] = (0.5,), std: tuple[float, ...] = (0.25,)) -> Parity:
    """The int8 graph against the float model on labelled faces."""
    import onnxruntime as ort

    x = _normalise(faces, mean, std)
    with torch.inference_mode():
        ref = torch.cat([model.float().eval()(torch.from_numpy(x[i : i + 512])) for i in range(0, len(x), 512)])
    sess = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    q = np.concatenate([sess.run(["logits"], {"x": x[i : i + 512]})[0] for i in range(0, len(x), 512)])
    a, b = ref.numpy().argmax(1), q.argmax(1)
    return Parity(n=len(x), top1_agreement=float((a == b).mean()), float_accuracy=float((a == labels).mean()),
                  int8_accuracy=float((b == labels).mean()))


def quantize_weights(weights: str | Path, train, val, val_split: str = "PublicTest", seed: int = 0) -> Int8Info:
    """Write `<name>.int8.onnx` beside `weights`, calibrated on `CALIBRATION_FACES` faces drawn
    from `train` and checked on `val` (fer.data.FaceArrays in the model's label order)."""
    from fer.models.export import OPSET
    from fer.models.state import load_model

    weights = Path(weights)
    card = card_of(weights)
    model = load_model(card.architecture, len(card.labels), weights)
    n = min(CALIBRATION_FACES, len(train))
    calib = train.images[np.random.default_rng(seed).choice(len(train), n, replace=False)]
    out = quantize_int8(model, calib, int8_path(weights), card.mean, card.std)
    p = parity(model, out, val.images, val.labels, card.mean, card.std)
    return Int8Info(graph=OnnxInfo(file=out.name, sha256=sha256_of(out), opset=OPSET, outputs=("logits",)),
                    calibrated_on=f"{n} training faces (seed {seed})", parity_split=val_split, n=p.n,
                    top1_agreement=round(p.top1_agreement, 4), float_accuracy=round(p.float_accuracy, 4),
                    int8_accuracy=round(p.int8_accuracy, 4))
