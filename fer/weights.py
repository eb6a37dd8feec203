"""Weights on disk: safetensors (fp16 to halve the repo size) plus a JSON model card beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def save_weights(model: nn.Module, path: str | Path, half: bool = True) -> None:
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(path))


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    return {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}


@dataclass(frozen=True)
class ModelCard:
    """What the JSON card beside a weights file says; the classifier trusts it over defaults."""

    name: str
    architecture: str
    labels: tuple[str, ...]
    input_size: int
    in_channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    temperature: float
    raw: dict

    @classmethod
    def read(cls, path: str | Path) -> "ModelCard":
        d = json.loads(Path(path).read_text())
        pre = d["preprocessing"]
        return cls(name=d["name"], architecture=d["architecture"], labels=tuple(d["labels"]),
                   input_size=int(pre["input_size"]), in_channels=int(pre["channels"]),
                   mean=tuple(pre["mean"]), std=tuple(pre["std"]),
                   temperature=float(d.get("calibration", {}).get("temperature", 1.0)), raw=d)


def card_path(weights_path: str | Path) -> Path:
    p = Path(weights_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".json")


# The weights `EmotionRecognizer()` loads when none are named.
DEFAULT_WEIGHTS = "fer2013_resnet_m"


def weights_path(name_or_path: str | Path) -> Path:
    """A shipped weights name ('fer2013_resnet_m') or a path to a .safetensors file."""
    p = Path(name_or_path)
    if p.suffix == ".safetensors" or p.exists():
        return p
    return WEIGHTS_DIR / f"{name_or_path}.safetensors"


def default_weights() -> Path:
    return weights_path(DEFAULT_WEIGHTS)


def list_weights(folder: str | Path = WEIGHTS_DIR) -> list[str]:
    """Names of the weights files that have a model card beside them."""
    return sorted(p.stem for p in Path(folder).glob("*.safetensors") if card_path(p).is_file())


def write_card(path: str | Path, card: dict) -> None:
    Path(path).write_text(json.dumps(card, indent=2) + "\n")
