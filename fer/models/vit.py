"""A tiny Vision Transformer for 48x48 faces (6x6 patches -> 64 tokens)."""

from __future__ import annotations

import torch
from torch import nn


class TinyViT(nn.Module):
    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        image_size: int = 48,
        patch: int = 6,
        dim: int = 128,
        depth: int = 6,
        heads: int = 4,
        dropout: float = 0.1,
    ):
        super().__init__()
        n = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(in_channels, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim * 4, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch_embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos
        return self.head(self.norm(self.encoder(t))[:, 0])
