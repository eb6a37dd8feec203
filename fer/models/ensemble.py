"""Several independently trained networks as one model that averages their logits.

On FER-2013, two runs of the same architecture from different seeds disagree on about one face
in five, and their mean is right more often than either. One module means one weights file,
one ONNX graph and one forward call: callers cannot tell it from a single network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class LogitMean(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.members[0](x)
        for m in self.members[1:]:
            out = out + m(x)
        return out / len(self.members)


def ensemble_builder(member: Callable[..., nn.Module], n: int) -> Callable[..., nn.Module]:
    """A registry builder making `n` members with the same arguments."""

    def build(num_classes: int, in_channels: int = 1, **kwargs) -> LogitMean:
        return LogitMean([member(num_classes=num_classes, in_channels=in_channels, **kwargs) for _ in range(n)])

    return build


def merge_member_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The state dict of a `LogitMean` from its members' own state dicts, in order."""
    return {f"members.{i}.{k}": v for i, s in enumerate(states) for k, v in s.items()}
