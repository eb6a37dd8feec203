"""Grad-CAM: which parts of the aligned face drove the score of one emotion.

For the shipped networks (global average pooling, then one linear layer) Grad-CAM's channel
weights are the head's weights for the class, so the map is ReLU(sum_k w_ck A_k) over the last
feature maps A: the ONNX graph returns those maps (`cam`, see `fer.models.export`) and no
gradient, hook or torch is needed. Other networks fall back (logged) to gradients in PyTorch.
Every call is a pure function of its inputs: nothing is attached to the shared model, so
sessions and threads can explain at the same time.

A Vision Transformer's final tokens have each seen the whole face through attention, so its
class activation map is flat (every token scores the class about equally): for those networks
the map is occlusion sensitivity instead, how much the emotion's probability drops when a grey
square hides each part of the face (49 forward passes, still no torch).

A map shows where the evidence was, not why the person feels anything; read it with the
probabilities.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from fer.align import align_faces
from fer.classifier import EmotionClassifier, softmax
from fer.results import Face

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CamResult:
    heatmap: np.ndarray  # (S, S) float32 in [0, 1], same size as the crop
    target: str  # the emotion explained
    probs: dict[str, float]
    method: str = "onnx"  # "onnx": activation maps from the graph; "torch": gradients; "occlusion"

    @property
    def method_name(self) -> str:
        """How the map was made, in the words a caption uses."""
        return "occlusion" if self.method == "occlusion" else "Grad-CAM"


# Architectures (model card) explained by occlusion: their activation maps do not localise.
OCCLUSION_ARCHITECTURES = ("vit_",)


def target_index(labels: tuple[str, ...], target: str | None, logits: np.ndarray) -> int:
    """Index of `target`, or of the predicted emotion when None."""
    if target is None:
        return int(np.argmax(logits))
    if target not in labels:
        raise ValueError(f"unknown emotion {target!r}; this model knows {', '.join(labels)}")
    return labels.index(target)


def torch_grad_cam(model, x: np.ndarray, labels: tuple[str, ...], target: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Grad-CAM by autograd on a model of the form head(features(x)): (logits (C,), map (h, w)
    before upsampling, class index). Takes the gradient of the class logit with respect to the
    feature maps only, so the model's parameters and their `.grad` are never touched."""
    import torch

    features = getattr(model, "features", None)
    if not callable(features) or not hasattr(model, "head"):
        raise ValueError(f"Grad-CAM needs a convolutional model; {type(model).__name__} has no feature maps")
    param = next(model.parameters())
    with torch.enable_grad():
        a = features(torch.from_numpy(x).to(param.device, param.dtype))
        if a.dim() != 4:
            raise ValueError(f"Grad-CAM needs spatial feature maps; {type(model).__name__} gives shape {tuple(a.shape)}")
        logits = model.head(a)
        idx = target_index(labels, target, logits[0].detach().cpu().numpy())
        (grad,) = torch.autograd.grad(logits[0, idx], a)
    weights = grad[0].mean((1, 2), keepdim=True)
    cam = torch.relu((weights * a[0].detach()).sum(0))
    return logits[0].detach().float().cpu().numpy(), cam.float().cpu().numpy(), idx


def upsample(cam: np.ndarray, size: int) -> np.ndarray:
    """(h, w) activation map -> (size, size) in [0, 1] (divided by its maximum where positive)."""
    cam = np.maximum(cam.astype(np.float32), 0)
    cam = np.clip(cv2.resize(cam, (size, size), interpolation=cv2.INTER_CUBIC), 0, None)
    return (cam / cam.max() if cam.max() > 0 else cam).astype(np.float32)


def grad_cam(classifier: EmotionClassifier, crop: np.ndarray, target: str | None = None) -> CamResult:
    """Heat map for `target` (default: the predicted emotion) on one aligned grey crop."""
    x = classifier.preprocess(crop[None] if crop.ndim == 2 else crop)[:1]
    if classifier.card.architecture.startswith(OCCLUSION_ARCHITECTURES):
        logits, cam, idx = occlusion_map(classifier, crop, target)
        method = "occlusion"
    elif "cam" in classifier.outputs:
        logits, cams = classifier.run(x, ("logits", "cam"))
        logits = logits[0]
        idx = target_index(classifier.labels, target, logits)
        cam, method = cams[0, idx], "onnx"
    else:
        if classifier.session is not None:  # an ONNX graph without maps: say so, it costs torch
            log.warning("%s: the ONNX graph has no activation maps (the network does not end in global "
                        "average pooling + linear, or was exported without them); using PyTorch gradients",
                        classifier.weights_path.name)
        try:
            model = classifier.model
        except ModuleNotFoundError as e:
            raise RuntimeError(f"Grad-CAM for {classifier.weights_path.name} needs PyTorch: its ONNX graph "
                               "has no activation maps") from e
        logits, cam, idx = torch_grad_cam(model, x, classifier.labels, target)
        method = "torch"
    probs = softmax(logits[None], classifier.temperature)[0]
    return CamResult(upsample(cam, crop.shape[-1]), classifier.labels[idx],
                     {lab: float(p) for lab, p in zip(classifier.labels, probs)}, method)


def occlusion_map(classifier: EmotionClassifier, crop: np.ndarray, target: str | None = None,
                  patch: int = 12, stride: int = 6) -> tuple[np.ndarray, np.ndarray, int]:
    """(logits of the whole crop, (S, S) map, class index) like `torch_grad_cam`: the map is the
    drop in `target`'s probability (default: the predicted emotion) when a `patch`-pixel square
    of the crop is set to the crop's mean grey, averaged over the squares covering each pixel.
    One batch: row 0 is the whole crop."""
    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    size = grey.shape[0]
    corners = [(y, x) for y in range(0, size - patch + 1, stride) for x in range(0, size - patch + 1, stride)]
    hidden = np.repeat(grey[None], len(corners) + 1, 0)
    for i, (y, x) in enumerate(corners, 1):
        hidden[i, y:y + patch, x:x + patch] = int(grey.mean())
    logits = classifier.forward(classifier.preprocess(hidden), tta="none")
    idx = target_index(classifier.labels, target, logits[0])
    probs = softmax(logits, classifier.temperature)[:, idx]
    drop, cover = np.zeros((size, size), np.float32), np.zeros((size, size), np.float32)
    for (y, x), p in zip(corners, probs[1:]):
        drop[y:y + patch, x:x + patch] += probs[0] - p
        cover[y:y + patch, x:x + patch] += 1
    return logits[0], drop / np.maximum(cover, 1), idx


def explain_face(classifier: EmotionClassifier, image: np.ndarray, face: Face,
                 target: str | None = None) -> tuple[np.ndarray, CamResult]:
    """Grad-CAM for a face found in `image` (a `Face` or an analysed `FaceEmotion`'s `.face`),
    on the crop aligned exactly as the classifier saw it: (aligned crop, result)."""
    crop = align_faces(image, [face], classifier.input_size)[0]
    return crop, grad_cam(classifier, crop, target)


def overlay(crop: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45, size: int = 192) -> np.ndarray:
    """RGB picture of the crop with the heat map on top, enlarged for viewing."""
    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    base = cv2.cvtColor(cv2.resize(grey, (size, size), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
    heat = cv2.applyColorMap((cv2.resize(heatmap, (size, size)) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(base, 1 - alpha, heat, alpha, 0)
