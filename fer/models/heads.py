"""Make a one-head model from a joint one (fer.data.targets: a FER-2013 head and a FER+ head
side by side in one final linear layer).

Both heads read the same pooled features, so any of them, or a weighted mix of their logits, is
again one linear layer: the published model has the ordinary architecture, cost and Grad-CAM
output of a one-head network. The mix of the FER-2013 head with the FER+ head's first seven
classes (contempt left out) is a geometric mixture of their distributions:
softmax(w z_fer2013 + (1 - w) z_ferplus[:7]).
"""

from __future__ import annotations

import torch

from fer.labels import FER2013_LABELS, FERPLUS_LABELS

HEAD_WEIGHT, HEAD_BIAS = "head.3.weight", "head.3.bias"  # FaceResNet's and SmallCNN's final linear layer


def _final_linear(state: dict[str, torch.Tensor]) -> tuple[str, str]:
    if HEAD_WEIGHT in state and HEAD_BIAS in state:
        return HEAD_WEIGHT, HEAD_BIAS
    raise KeyError(f"no final linear layer {HEAD_WEIGHT} in this state dict")


def head_rows(heads: tuple[int, ...], index: int) -> slice:
    start = sum(heads[:index])
    return slice(start, start + heads[index])


def take_head(state: dict[str, torch.Tensor], heads: tuple[int, ...], index: int) -> dict[str, torch.Tensor]:
    """The state dict of the network with only head `index` (e.g. 1: the FER+ head, 8 classes)."""
    w, b = _final_linear(state)
    rows = head_rows(heads, index)
    return {**state, w: state[w][rows].clone(), b: state[b][rows].clone()}


def blend_fer2013(state: dict[str, torch.Tensor], heads: tuple[int, ...], weight: float) -> dict[str, torch.Tensor]:
    """A 7-class head: `weight` x the FER-2013 head + (1 - `weight`) x the FER+ head's seven
    shared classes (heads (7, 8) in FER2013_LABELS and FERPLUS_LABELS order)."""
    if tuple(heads) != (len(FER2013_LABELS), len(FERPLUS_LABELS)):
        raise ValueError(f"expected a FER-2013 head and a FER+ head (7, 8), not {heads}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], not {weight}")
    w, b = _final_linear(state)
    a, p = head_rows(heads, 0), head_rows(heads, 1)
    k = len(FER2013_LABELS)
    mix_w = weight * state[w][a] + (1 - weight) * state[w][p][:k]
    mix_b = weight * state[b][a] + (1 - weight) * state[b][p][:k]
    return {**state, w: mix_w.clone(), b: mix_b.clone()}


def blend_logits(logits: torch.Tensor, heads: tuple[int, ...], weight: float) -> torch.Tensor:
    """The same mix on joint logits (N, 15) -> (N, 7), for choosing `weight` without re-running."""
    a, p = head_rows(heads, 0), head_rows(heads, 1)
    return weight * logits[:, a] + (1 - weight) * logits[:, p][:, : len(FER2013_LABELS)]
