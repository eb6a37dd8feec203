"""A ViT and an EfficientNet-B0 from timm's own classes, sized for 48x48 grey faces, from scratch.

Both end in global average pooling and one linear layer over spatial maps (`head(features(x))`),
so their class activation maps come out of the ONNX graph as the CNNs' do (fer.models.export):
- the ViT embeds the face with a small convolutional stem (early convolutions train a ViT from
  scratch on small data far better than a linear patch embedding): each stride-2 conv halves the
  grid, so two give one token per 4x4 pixels (12x12 = 144 tokens) and three one per 8x8 (6x6 = 36,
  about 4x cheaper to train); no class token: its logits are a linear layer on the mean of the
  final-norm patch tokens, so those tokens, as a (C, h, w) map, give its exact class activation
  map as a CNN's last feature maps do (though after attention every token has seen the whole
  face, so that map is nearly flat: fer.explain uses occlusion for ViTs);
- the EfficientNet keeps B0's blocks but not its last downsampling: ImageNet's /32 would leave a
  48-pixel face 2x2 (1.5 pixels, padded), /16 leaves it 3x3, like the ResNet.

timm is a training dependency only: the runtime reads these networks' ONNX graphs.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import HybridEmbed
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.efficientnet import EfficientNet
from timm.models.vision_transformer import VisionTransformer
from timm.models.vision_transformer_hybrid import ConvStem
from torch import nn


def gap_head(channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """The head fer.models.export.gap_linear_head recognises: its CAM needs no gradients."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                         nn.Linear(channels, num_classes))


class FaceViT(nn.Module):
    """timm's VisionTransformer on a conv stem (one 3x3 conv /2 per `stem` width, then 1x1 to
    `dim`), average pooled patch tokens instead of a class token."""

    def __init__(self, num_classes: int, in_channels: int = 1, image_size: int = 48, dim: int = 192,
                 depth: int = 6, num_heads: int = 3, stem: tuple[int, ...] = (48, 96), dropout: float = 0.1,
                 drop_path: float = 0.1):
        super().__init__()
        convs = ConvStem(in_chans=in_channels, depth=len(stem) + 1, channels=(*stem, dim),
                         kernel_size=(3,) * len(stem) + (1,), stride=(2,) * len(stem) + (1,))
        self.vit = VisionTransformer(
            img_size=image_size, patch_size=1, in_chans=in_channels, num_classes=0, global_pool="avg",
            class_token=False, fc_norm=False,  # the norm before the pool: the pool and head stay linear
            embed_dim=dim, depth=depth, num_heads=num_heads, drop_path_rate=drop_path,
            embed_layer=partial(HybridEmbed, backbone=convs, proj=False))
        self.grid = self.vit.patch_embed.grid_size
        self.head = gap_head(dim, num_classes, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The final-norm patch tokens as (N, dim, h, w) maps."""
        t = self.vit.forward_features(x)
        return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], *self.grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# EfficientNet-B0 (Tan & Le 2019; timm's efficientnet_b0) with its 192-channel stage at stride 1.
B0_FACE = (
    ("ds_r1_k3_s1_e1_c16_se0.25",),
    ("ir_r2_k3_s2_e6_c24_se0.25",),
    ("ir_r2_k5_s2_e6_c40_se0.25",),
    ("ir_r3_k3_s2_e6_c80_se0.25",),
    ("ir_r3_k5_s1_e6_c112_se0.25",),
    ("ir_r4_k5_s1_e6_c192_se0.25",),  # s2 in B0
    ("ir_r1_k3_s1_e6_c320_se0.25",),
)


class FaceEfficientNet(nn.Module):
    """timm's EfficientNet with B0's blocks at /16: 24, 12, 6, then 3 pixels from stage 4 on."""

    def __init__(self, num_classes: int, in_channels: int = 1, dropout: float = 0.2, drop_path: float = 0.1):
        super().__init__()
        self.net = EfficientNet(decode_arch_def([list(s) for s in B0_FACE]), num_classes=0,
                                in_chans=in_channels, num_features=round_channels(1280), stem_size=32,
                                act_layer=nn.SiLU, drop_path_rate=drop_path)
        self.head = gap_head(self.net.num_features, num_classes, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
