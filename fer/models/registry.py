"""Name-keyed model registry: each entry carries what a caller needs to feed it correctly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """Architecture plus the input contract that pre-processing must honour."""

    name: str
    builder: Callable[..., nn.Module]
    input_size: int = 48
    in_channels: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.25,)
    description: str = ""
    defaults: dict = field(default_factory=dict)
    cpu_bf16: bool = True  # bf16 autocast when training on CPUs that have it (False: slower there)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    spec = get_spec(name)
    args = {**spec.defaults, **kwargs}
    return spec.builder(num_classes=num_classes, in_channels=spec.in_channels, **args)
