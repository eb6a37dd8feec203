"""Classifier architectures, registered by name with their input contract."""

from fer.models.cnn import SmallCNN
from fer.models.registry import ModelSpec, create_model, get_spec, list_models, register
from fer.models.resnet import FaceResNet
from fer.models.vit import TinyViT

register(ModelSpec("cnn_small", SmallCNN, description="VGG-style 6-conv baseline, 48x48 grey"))
register(ModelSpec("resnet_s", FaceResNet, defaults={"width": 32},
                   description="ResNet-18 layout, width 32, 48x48 grey"))
register(ModelSpec("resnet_m", FaceResNet, defaults={"width": 48},
                   description="ResNet-18 layout, width 48, 48x48 grey"))
register(ModelSpec("resnet_l", FaceResNet, defaults={"width": 64},
                   description="ResNet-18 layout, width 64, 48x48 grey"))
register(ModelSpec("vit_tiny", TinyViT, description="ViT, 6x6 patches, dim 128, depth 6, 48x48 grey"))

__all__ = [
                   "FaceResNet",
                   "ModelSpec",
                   "SmallCNN",
                   "TinyViT",
                   "create_model",
                   "get_spec",
                   "list_models",
                   "register",
]
