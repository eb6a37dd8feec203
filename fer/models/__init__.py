"""Classifier architectures, registered by name with their input contract."""

from fer.models.cnn import SmallCNN
from fer.models.registry import ModelSpec, create_model, get_spec, list_models, register
from fer.models.resnet import FaceResNet


def _timm(cls: str):
    """A builder that imports timm (2 s, the train extra) only when such a network is made."""

    def build(**kwargs):
        from fer.models import timm_nets

        return getattr(timm_nets, cls)(**kwargs)

    return build


register(ModelSpec("cnn_small", SmallCNN, description="VGG-style 6-conv baseline, 48x48 grey"))
register(ModelSpec("resnet_s", FaceResNet, defaults={"width": 32},
                   description="ResNet-18 layout, width 32, 48x48 grey"))
register(ModelSpec("resnet_m", FaceResNet, defaults={"width": 48},
                   description="ResNet-18 layout, width 48, 48x48 grey"))
register(ModelSpec("resnet_l", FaceResNet, defaults={"width": 64},
                   description="ResNet-18 layout, width 64, 48x48 grey"))
register(ModelSpec("vit_s4", _timm("FaceViT"),
                   description="timm ViT on a conv stem, 4x4-pixel tokens (12x12), dim 192, depth 6, "
                               "3 heads, mean-pooled tokens, 48x48 grey"))
register(ModelSpec("vit_s8", _timm("FaceViT"), defaults={"stem": (48, 96, 144)},
                   description="timm ViT on a 3-conv stem, 8x8-pixel tokens (6x6), dim 192, depth 6, 3 heads, "
                               "mean-pooled tokens, 48x48 grey (4x faster to train than vit_s4)"))
register(ModelSpec("effnet_b0", _timm("FaceEfficientNet"), cpu_bf16=False,  # bf16 depthwise convs: 1.8x slower
                   description="timm EfficientNet-B0 blocks at stride 16 (3x3 final maps), 48x48 grey"))

__all__ = [
                   "FaceResNet",
                   "ModelSpec",
                   "SmallCNN",
                   "create_model",
                   "get_spec",
                   "list_models",
                   "register",
]
