"""Name-keyed model registry: each entry carries what a caller needs to feed it correctly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

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


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


_ENSEMBLE = re.compile(r"^(?P<base>.+)_x(?P<n>[1-9][0-9]*)$")


def get_spec(name: str) -> ModelSpec:
    """A registered name, or '<name>_x<N>': N networks of that architecture, logits averaged."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    m = _ENSEMBLE.match(name)
    if m and m["base"] in _REGISTRY:
        return ensemble_spec(_REGISTRY[m["base"]], int(m["n"]))
    raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))} (or <name>_x<N>)")


def ensemble_spec(base: ModelSpec, n: int) -> ModelSpec:
    from fer.models.ensemble import LogitEnsemble

    def build(num_classes: int, in_channels: int, **kwargs) -> nn.Module:
        return LogitEnsemble([base.builder(num_classes=num_classes, in_channels=in_channels, **kwargs)
                              for _ in range(n)])

    return replace(base, name=f"{base.name}_x{n}", builder=build,
                   description=f"{n} x {base.name} ({base.description}), logits averaged")


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    spec = get_spec(name)
    args = {**spec.defaults, **kwargs}
    return spec.builder(num_classes=num_classes, in_channels=spec.in_channels, **args)
