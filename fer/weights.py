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
