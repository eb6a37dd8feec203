"""Grad-CAM: which parts of the aligned face drove the score of one emotion.

Computed on the PyTorch model (ONNX Runtime has no gradients), at the output of the last
convolutional stage, upsampled to the crop. A map shows where the evidence was, not why the
person feels anything; read it with the probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from fer.classifier import EmotionClassifier


@dataclass(frozen=True)
class CamResult:
    heatmap: np.ndarray  # (S, S) float32 in [0, 1], same size as the crop
    target: str  # the emotion explained
    probs: dict[str, float]


def cam_layer(model: nn.Module) -> nn.Module:
    """The last convolutional stage, whose spatial maps Grad-CAM weighs."""
    if hasattr(model, "stages"):
        return model.stages[-1]
    if isinstance(getattr(model, "features", None), nn.Sequential):
        return model.features[-1]
    raise ValueError(f"Grad-CAM needs a convolutional model; {type(model).__name__} has no conv stage")


def grad_cam(classifier: EmotionClassifier, crop: np.ndarray, target: str | None = None) -> CamResult:
    """Heat map for `target` (default: the predicted emotion) on one aligned grey crop."""
    model = classifier.model.float().eval()
    layer = cam_layer(model)
    store: dict[str, torch.Tensor] = {}

    def hook(_m, _inp, out):
        out.retain_grad()
        store["a"] = out

    handle = layer.register_forward_hook(hook)
    try:
        x = torch.from_numpy(classifier.preprocess(crop[None] if crop.ndim == 2 else crop)).to(
            next(model.parameters()).device)
        with torch.enable_grad():
            logits = model(x)
            probs = torch.softmax(logits.detach() / classifier.temperature, 1)[0].cpu().numpy()
            idx = int(probs.argmax()) if target is None else classifier.labels.index(target)
            model.zero_grad(set_to_none=True)
            logits[0, idx].backward()
        a, g = store["a"].detach()[0], store["a"].grad[0]
    finally:
        handle.remove()
    weights = g.mean((1, 2), keepdim=True)
    cam = torch.relu((weights * a).sum(0)).cpu().numpy().astype(np.float32)
    size = crop.shape[-1]
    cam = cv2.resize(cam, (size, size), interpolation=cv2.INTER_CUBIC)
    cam = np.clip(cam, 0, None)
    cam = cam / cam.max() if cam.max() > 0 else cam
    return CamResult(cam.astype(np.float32), classifier.labels[idx],
                     {lab: float(p) for lab, p in zip(classifier.labels, probs)})


def overlay(crop: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45, size: int = 192) -> np.ndarray:
    """RGB picture of the crop with the heat map on top, enlarged for viewing."""
    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    base = cv2.cvtColor(cv2.resize(grey, (size, size), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
    heat = cv2.applyColorMap((cv2.resize(heatmap, (size, size)) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(base, 1 - alpha, heat, alpha, 0)
