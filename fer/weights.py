"""Weights on disk and the typed model card beside them.

Each shipped model is three files: `<name>.safetensors` (fp16 state dict, for training and the
torch backend), `<name>.onnx` (the runtime graph, written by `python -m fer publish`) and
`<name>.json`, the model card; a fourth, `<name>.int8.onnx`, where publish quantised it. This module reads and writes cards without importing torch, so
the ONNX runtime path stays light; torch state I/O lives in `fer.models.state`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

# Installed from the wheel, the weights are package data (fer/_weights, see pyproject.toml);
# in a source checkout they are the repository's weights/ folder.
_PACKAGED = Path(__file__).resolve().parent / "_weights"
WEIGHTS_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "weights"

# The weights `EmotionRecognizer()` loads when none are named.
DEFAULT_WEIGHTS = "joint_resnet_m"
DEFAULT_ALIGNMENT = "fer.align (eyes level, FER-2013 geometry)"


def metric_key(split: str, tta: str = "none") -> str:
    """The card's key for a split evaluated with a test-time augmentation policy."""
    return split if tta == "none" else f"{split} + {tta} TTA"


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class SplitMetrics:
    """Scores on one evaluation split, as `publish` measured them."""

    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class_recall: dict[str, float] = field(default_factory=dict)
    per_class_f1: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> SplitMetrics:
        return cls(n=int(d["n"]), accuracy=float(d["accuracy"]), macro_f1=float(d["macro_f1"]),
                   weighted_f1=float(d["weighted_f1"]), per_class_recall=dict(d.get("per_class_recall", {})),
                   per_class_f1=dict(d.get("per_class_f1", {})))

    def to_dict(self) -> dict:
        return {"n": self.n, "accuracy": self.accuracy, "macro_f1": self.macro_f1, "weighted_f1": self.weighted_f1,
                "per_class_recall": dict(self.per_class_recall), "per_class_f1": dict(self.per_class_f1)}


@dataclass(frozen=True)
class Calibration:
    """Softmax temperature and, once `calibrate` fitted it, what it did to the validation split."""

    temperature: float = 1.0
    fitted_on: str | None = None
    ece_before: float | None = None
    ece_after: float | None = None
    nll_before: float | None = None
    nll_after: float | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_dict(self) -> dict:
        return _drop_none({f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class OnnxInfo:
    """The runtime graph beside the card. `outputs` holds "logits" and, for networks that end in
    global average pooling and one linear layer, "cam": the class activation maps
    sum_k w_ck A_k over the last feature maps A, from which Grad-CAM needs no gradients."""

    file: str  # name of the .onnx file, in the card's folder
    sha256: str
    opset: int
    outputs: tuple[str, ...]
    weights: str | None = None  # file holding the graph's tensors (external data), None if inside
    weights_sha256: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> OnnxInfo:
        return cls(file=d["file"], sha256=d["sha256"], opset=int(d["opset"]), outputs=tuple(d["outputs"]),
                   weights=d.get("weights"), weights_sha256=d.get("weights_sha256"))

    def to_dict(self) -> dict:
        return _drop_none({"file": self.file, "sha256": self.sha256, "opset": self.opset,
                           "outputs": list(self.outputs), "weights": self.weights,
                           "weights_sha256": self.weights_sha256})


@dataclass(frozen=True)
class Int8Info:
    """An int8 copy of the runtime graph (`fer.models.quantize`) and how far it is from the float
    one on labelled faces: the runtime prefers it only where this parity meets the targets."""

    graph: OnnxInfo  # logits only: explanations run on the float graph
    calibrated_on: str  # which faces set the activation ranges
    parity_split: str  # where top-1 agreement and accuracies were measured
    n: int
    top1_agreement: float  # share of faces where int8 and float pick the same class
    float_accuracy: float
    int8_accuracy: float

    AGREEMENT_MIN = 0.99  # issue 21: top-1 agreement with the float model
    DROP_MAX = 0.003  # ... and accuracy within 0.3 points

    @property
    def parity_ok(self) -> bool:
        return (self.top1_agreement >= self.AGREEMENT_MIN
                and abs(self.float_accuracy - self.int8_accuracy) <= self.DROP_MAX + 1e-9)

    @classmethod
    def from_dict(cls, d: dict) -> Int8Info:
        p = d["parity"]
        return cls(graph=OnnxInfo.from_dict(d["graph"]), calibrated_on=d["calibrated_on"], parity_split=p["split"],
                   n=int(p["n"]), top1_agreement=float(p["top1_agreement"]),
                   float_accuracy=float(p["float_accuracy"]), int8_accuracy=float(p["int8_accuracy"]))

    def to_dict(self) -> dict:
        return {"graph": self.graph.to_dict(), "calibrated_on": self.calibrated_on,
                "parity": {"split": self.parity_split, "n": self.n, "top1_agreement": self.top1_agreement,
                           "float_accuracy": self.float_accuracy, "int8_accuracy": self.int8_accuracy}}


@dataclass(frozen=True)
class DomainScore:
    n: int
    accuracy: float
    macro_f1: float


YARDSTICK_DOMAINS = ("fer2013", "ferplus", "wild")


@dataclass(frozen=True)
class Yardstick:
    """`python -m fer compare --tta none --write-cards`: one view, the seven FER-2013 classes, on
    every domain the default is chosen by (FER-2013 and FER+ PrivateTest, the in-the-wild dev
    photos through the whole pipeline), and the real clips' shares of face-frames shown as a
    negative emotion and as 'uncertain' (no labels there: figures to watch)."""

    domains: dict[str, DomainScore]  # keys from YARDSTICK_DOMAINS
    clips_negative_share: float | None = None
    clips_uncertain_share: float | None = None
    clip_face_frames: int | None = None
    measured: str = ""  # the command and the date

    @classmethod
    def from_dict(cls, d: dict) -> Yardstick:
        clips = d.get("clips") or {}
        return cls(domains={k: DomainScore(int(v["n"]), float(v["accuracy"]), float(v["macro_f1"]))
                            for k, v in d.get("domains", {}).items()},
                   clips_negative_share=clips.get("negative_share"), clips_uncertain_share=clips.get("uncertain_share"),
                   clip_face_frames=clips.get("face_frames"), measured=d.get("measured", ""))

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"domains": {k: {"n": v.n, "accuracy": v.accuracy, "macro_f1": v.macro_f1}
                                         for k, v in self.domains.items()}}
        if self.clip_face_frames is not None:
            d["clips"] = {"face_frames": self.clip_face_frames, "negative_share": self.clips_negative_share,
                          "uncertain_share": self.clips_uncertain_share}
        d["measured"] = self.measured
        return d


_CARD_KEYS = ("name", "architecture", "description", "labels", "preprocessing", "calibration", "training", "data",
              "metrics", "onnx", "int8", "yardstick")


@dataclass(frozen=True)
class ModelCard:
    """Everything the code needs to know about a weights file; the JSON beside it is its
    serialisation (`read`/`to_dict`/`write`, keys unchanged from the earlier loose cards).
    Cards are values: the `with_*` methods return an updated copy."""

    name: str
    architecture: str  # a name in fer.models
    labels: tuple[str, ...]
    input_size: int
    in_channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    description: str = ""
    colour: str = "grey"
    alignment: str = DEFAULT_ALIGNMENT
    calibration: Calibration = field(default_factory=Calibration)
    training: dict[str, Any] = field(default_factory=dict)  # recipe (fer.train.TrainConfig), epochs, best epoch
    data: dict[str, str] = field(default_factory=dict)  # which splits trained, selected and tested it
    metrics_data: str | None = None  # what the metrics were measured on
    metrics: dict[str, SplitMetrics] = field(default_factory=dict)  # by `metric_key(split, tta)`
    onnx: OnnxInfo | None = None
    int8: Int8Info | None = None
    yardstick: Yardstick | None = None

    @property
    def temperature(self) -> float:
        return self.calibration.temperature

    def metric(self, split: str, tta: str = "none") -> SplitMetrics | None:
        """Published scores on `split` ("PrivateTest", ...) with that TTA policy, if measured."""
        return self.metrics.get(metric_key(split, tta))

    @classmethod
    def from_dict(cls, d: dict) -> ModelCard:
        unknown = set(d) - set(_CARD_KEYS)
        if unknown:
            raise ValueError(f"model card {d.get('name')!r} has unknown keys: {', '.join(sorted(unknown))}")
        pre = d["preprocessing"]
        metrics = dict(d.get("metrics", {}))
        metrics_data = metrics.pop("data", None)
        return cls(name=d["name"], architecture=d["architecture"], labels=tuple(d["labels"]),
                   input_size=int(pre["input_size"]), in_channels=int(pre["channels"]),
                   mean=tuple(float(v) for v in pre["mean"]), std=tuple(float(v) for v in pre["std"]),
                   description=d.get("description", ""), colour=pre.get("colour", "grey"),
                   alignment=pre.get("alignment", DEFAULT_ALIGNMENT),
                   calibration=Calibration.from_dict(d.get("calibration", {})),
                   training=dict(d.get("training", {})), data=dict(d.get("data", {})), metrics_data=metrics_data,
                   metrics={k: SplitMetrics.from_dict(v) for k, v in metrics.items()},
                   onnx=OnnxInfo.from_dict(d["onnx"]) if d.get("onnx") else None,
                   int8=Int8Info.from_dict(d["int8"]) if d.get("int8") else None,
                   yardstick=Yardstick.from_dict(d["yardstick"]) if d.get("yardstick") else None)

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "name": self.name, "architecture": self.architecture, "description": self.description,
            "labels": list(self.labels),
            "preprocessing": {"input_size": self.input_size, "channels": self.in_channels, "mean": list(self.mean),
                              "std": list(self.std), "colour": self.colour, "alignment": self.alignment},
            "calibration": self.calibration.to_dict(),
            "training": self.training,
            "data": self.data,
        }
        if self.metrics or self.metrics_data:
            d["metrics"] = _drop_none({"data": self.metrics_data}) | {k: m.to_dict() for k, m in self.metrics.items()}
        if self.onnx is not None:
            d["onnx"] = self.onnx.to_dict()
        if self.int8 is not None:
            d["int8"] = self.int8.to_dict()
        if self.yardstick is not None:
            d["yardstick"] = self.yardstick.to_dict()
        return d

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def with_metrics(self, metrics: dict[str, SplitMetrics], data: str | None = None) -> ModelCard:
        """A copy whose metrics are exactly `metrics` (keys from `metric_key`), measured on `data`."""
        return replace(self, metrics=dict(metrics), metrics_data=data if data is not None else self.metrics_data)

    def with_calibration(self, calibration: Calibration) -> ModelCard:
        return replace(self, calibration=calibration)

    def with_onnx(self, onnx: OnnxInfo | None) -> ModelCard:
        return replace(self, onnx=onnx)

    def with_int8(self, int8: Int8Info | None) -> ModelCard:
        return replace(self, int8=int8)

    def with_yardstick(self, yardstick: Yardstick | None) -> ModelCard:
        return replace(self, yardstick=yardstick)

    def renamed(self, name: str) -> ModelCard:
        return replace(self, name=name)


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def card_path(weights_path: str | Path) -> Path:
    p = Path(weights_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".json")


def onnx_path(weights_path: str | Path, card: ModelCard | None = None) -> Path:
    """The runtime graph beside a weights file: the card's `onnx.file`, else `<name>.onnx`."""
    p = Path(weights_path)
    if card is not None and card.onnx is not None:
        return p.with_name(card.onnx.file)
    return p.with_name(p.name.removesuffix(".safetensors") + ".onnx")


def int8_path(weights_path: str | Path, card: ModelCard | None = None) -> Path:
    """The int8 graph beside a weights file: the card's `int8.graph.file`, else `<name>.int8.onnx`."""
    p = Path(weights_path)
    if card is not None and card.int8 is not None:
        return p.with_name(card.int8.graph.file)
    return p.with_name(p.name.removesuffix(".safetensors") + ".int8.onnx")


def weights_path(name_or_path: str | Path) -> Path:
    """A shipped weights name ('joint_resnet_m') or a path to a .safetensors file."""
    p = Path(name_or_path)
    if p.suffix == ".safetensors" or p.exists():
        return p
    return WEIGHTS_DIR / f"{name_or_path}.safetensors"


def card_of(name_or_path: str | Path) -> ModelCard:
    """The model card beside a shipped name or weights path; a clear error where there is none."""
    path = card_path(weights_path(name_or_path))
    if not path.is_file():
        raise FileNotFoundError(f"no model card for {str(name_or_path)!r} at {path}")
    return ModelCard.read(path)


def default_weights() -> Path:
    return weights_path(DEFAULT_WEIGHTS)


def list_weights(folder: str | Path | None = None) -> list[str]:
    """Names of the weights files that have a model card beside them (in weights/ by default)."""
    return sorted(p.stem for p in Path(folder or WEIGHTS_DIR).glob("*.safetensors") if card_path(p).is_file())
