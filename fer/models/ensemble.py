"""Several trained networks of one architecture, read as one: their logits are averaged.

Members trained from different starting points disagree on the hard faces, and the average
is more often right than any member (FER+: see the model card). Stored as one weights file
(`members.0.*`, `members.1.*`, ...) so the classifier, ONNX export, calibration and
evaluation treat it like any single model; it costs one member's time per member.
"""

from __future__ import annotations

import torch
from torch import nn


class LogitEnsemble(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)
