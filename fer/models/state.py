"""Torch state dicts <-> safetensors files (fp16 on disk, to halve the repository's size).

Kept apart from `fer.weights` so that reading a model card or running the ONNX graph never
imports torch.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def save_weights(model: nn.Module, path: str | Path, half: bool = True) -> None:
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(path))


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in float32 (fp16 -> fp32 is exact, so every backend sees the same numbers)."""
    return {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}


def load_model(architecture: str, num_classes: int, path: str | Path) -> nn.Module:
    """A registered architecture with the weights of `path`, in eval mode."""
    from fer.models.registry import create_model

    model = create_model(architecture, num_classes)
    model.load_state_dict(load_state(path))
    return model.eval()
