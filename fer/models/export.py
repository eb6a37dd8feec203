"""Export a classifier to the ONNX graph the runtime loads (`python -m fer publish` calls this).

The graph takes normalised crops `x` (N, C, S, S) and returns `logits` (N, classes). For a
network that ends in global average pooling and one linear layer, the logit of class c is
sum_k w_ck mean(A_k) over the last feature maps A, so the gradient Grad-CAM needs is w_ck / (h w)
and the map is ReLU(sum_k w_ck A_k) up to a positive scale; the graph returns those maps too, as
`cam` (N, classes, h, w), and explanations need neither torch nor gradients.

The graph's tensors are the fp16 values of the safetensors file, cast to fp32 as the graph
starts (exact, so ONNX Runtime and the torch backend see the same numbers). By default they are
not copied: the graph points into the safetensors file beside it (ONNX external data), so each
model's weights are stored once.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer.weights import ModelCard, OnnxInfo, sha256_of

log = logging.getLogger(__name__)

OPSET = 17
INPUT, LOGITS, CAM = "x", "logits", "cam"


def gap_linear_head(model: nn.Module) -> nn.Linear | None:
    """The final linear layer if `model(x) == head(features(x))` with `head` = global average
    pool, flatten, dropout, linear (the form whose Grad-CAM needs no gradients), else None."""
    head = getattr(model, "head", None)
    if not callable(getattr(model, "features", None)) or not isinstance(head, nn.Sequential) or len(head) < 2:
        return None
    pool, *middle, last = list(head)
    if not isinstance(last, nn.Linear) or not isinstance(pool, nn.AdaptiveAvgPool2d):
        return None
    if pool.output_size not in (1, (1, 1)):
        return None
    return last if all(isinstance(m, (nn.Flatten, nn.Dropout, nn.Identity)) for m in middle) else None


class _LogitsAndCam(nn.Module):
    """`model` with its class activation maps as a second output."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        a = self.model.features(x)
        return self.model.head(a), torch.einsum("nkhw,ck->nchw", a, self.model.head[-1].weight)


class _LogitsOnly(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return self.model(x)


def safetensors_layout(path: str | Path) -> dict[str, tuple[str, list[int], int, int]]:
    """name -> (dtype, shape, byte offset in the file, byte length), from the file's JSON header."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return {k: (v["dtype"], v["shape"], 8 + n + v["data_offsets"][0], v["data_offsets"][1] - v["data_offsets"][0])
            for k, v in header.items() if k != "__metadata__"}


def _tensors_from_safetensors(proto, weights: Path, external: bool) -> int:
    """Replace every fp32 initializer that is an fp16 tensor of `weights` by that fp16 tensor
    (inline, or by reference into the file) followed by a Cast to fp32; returns how many."""
    import onnx
    from onnx import helper, numpy_helper
    from safetensors import safe_open

    layout = safetensors_layout(weights)
    casts, kept, replaced = [], [], 0
    with safe_open(str(weights), framework="numpy") as st:
        for init in proto.graph.initializer:
            key = init.name.removeprefix("model.")
            if key not in layout or layout[key][0] != "F16":
                kept.append(init)
                continue
            half = st.get_tensor(key)
            if not np.array_equal(numpy_helper.to_array(init), half.astype(np.float32)):
                raise ValueError(f"graph tensor {init.name} differs from {weights.name}:{key}: export the "
                                 "model loaded from that file (fer.models.state.load_model)")
            t = onnx.TensorProto(name=init.name + "_fp16", data_type=onnx.TensorProto.FLOAT16, dims=list(half.shape))
            if external:
                _, _, offset, length = layout[key]
                t.data_location = onnx.TensorProto.EXTERNAL  # set by hand: the helper would rewrite the file
                for k, v in (("location", weights.name), ("offset", str(offset)), ("length", str(length))):
                    t.external_data.add(key=k, value=v)
            else:
                t.raw_data = np.ascontiguousarray(half).astype("<f2").tobytes()
            kept.append(t)
            casts.append(helper.make_node("Cast", [t.name], [init.name], name=f"fp16_to_fp32/{init.name}",
                                          to=onnx.TensorProto.FLOAT))
            replaced += 1
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    nodes = list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(casts + nodes)
    return replaced


def export_onnx(model: nn.Module, card: ModelCard, weights: str | Path, out: str | Path, cam: bool = True,
                external: bool = True) -> OnnxInfo:
    """Write `model` (loaded from `weights`) as ONNX to `out`; returns the card's `onnx` section.

    `cam=False` leaves out the activation-map output; `external=False` copies the fp16 tensors
    into the graph instead of pointing into `weights` (which must then sit beside `out`)."""
    import onnx

    weights, out = Path(weights), Path(out)
    if external and weights.resolve().parent != out.resolve().parent:
        raise ValueError(f"{out.name} can only point into {weights.name} when both are in the same folder")
    model = model.float().eval()
    with_cam = cam and gap_linear_head(model) is not None
    if cam and not with_cam:
        log.warning("%s does not end in global average pooling + one linear layer: its graph has no "
                    "activation maps, and Grad-CAM will need torch", card.architecture)
    outputs = (LOGITS, CAM) if with_cam else (LOGITS,)
    buf = io.BytesIO()
    dummy = torch.zeros(1, card.in_channels, card.input_size, card.input_size)
    # PRESERVE (the model is in eval mode) keeps BatchNorm as its own node with the stored
    # tensors, so they can be matched to the safetensors file; ONNX Runtime fuses it on load.
    torch.onnx.export((_LogitsAndCam if with_cam else _LogitsOnly)(model), (dummy,), buf, input_names=[INPUT],
                      output_names=list(outputs), dynamic_axes={n: {0: "n"} for n in (INPUT, *outputs)},
                      opset_version=OPSET, dynamo=False, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    proto = onnx.load_from_string(buf.getvalue())
    n = _tensors_from_safetensors(proto, weights, external)
    n_params = sum(1 for k, v in model.state_dict().items() if v.is_floating_point())
    log.info("%s: %d of %d float tensors taken from %s", out.name, n, n_params, weights.name)
    out.write_bytes(proto.SerializeToString())  # not onnx.save, which writes external data back
    onnx.checker.check_model(str(out))
    return OnnxInfo(file=out.name, sha256=sha256_of(out), opset=OPSET, outputs=outputs,
                    weights=weights.name if external else None,
                    weights_sha256=sha256_of(weights) if external else None)
