"""Emotion classifier: aligned 48x48 grey crops in, calibrated probabilities out.

The network is rebuilt from the registry by the name in the model card, loaded from
safetensors, and (by default) exported in memory to ONNX Runtime, which runs these small
convnets 2-4x faster than eager PyTorch on a CPU. `backend="torch"` skips the export.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from fer.tta import merge_views, tta_views
from fer.weights import ModelCard, card_path, default_weights, weights_path


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


_ONNX_CACHE: dict[tuple, bytes] = {}


def _export_onnx(model, in_channels: int, size: int, key: tuple) -> bytes:
    """ONNX bytes of `model`, exported once per weights file and process (export takes seconds)."""
    if key not in _ONNX_CACHE:
        import torch

        buf = io.BytesIO()
        dummy = torch.zeros(1, in_channels, size, size)
        torch.onnx.export(model, (dummy,), buf, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
        _ONNX_CACHE[key] = buf.getvalue()
    return _ONNX_CACHE[key]


class EmotionClassifier:
    """Loads one weights file plus its card; `predict_proba(crops)` is the whole interface."""

    def __init__(self, weights: str | Path | None = None, backend: str = "auto", device: str = "cpu",
                 threads: int | None = None, tta: str = "none"):
        import torch

        from fer.models import create_model
        from fer.weights import load_state

        path = weights_path(weights) if weights else default_weights()
        if not path.is_file():
            raise FileNotFoundError(f"weights not found: {path}")
        cpath = card_path(path)
        if not cpath.is_file():
            raise FileNotFoundError(f"model card not found beside the weights: {cpath}")
        self.card = ModelCard.read(cpath)
        self.weights_path = path
        self.labels: tuple[str, ...] = self.card.labels
        self.input_size = self.card.input_size
        self.tta = tta  # a fer.tta policy: "none", "flip" or "flip_zoom"
        self.temperature = self.card.temperature
        self._mean = np.asarray(self.card.mean, np.float32).reshape(1, -1, 1, 1)
        self._std = np.asarray(self.card.std, np.float32).reshape(1, -1, 1, 1)

        model = create_model(self.card.architecture, len(self.labels))
        model.load_state_dict(load_state(path))
        self.model = model.eval()
        self.device = torch.device(device)
        self.backend = backend
        self._session = None
        if backend in ("auto", "onnx") and self.device.type == "cpu":
            try:
                self._session = self._onnx_session(threads)
                self.backend = "onnx"
            except Exception:
                if backend == "onnx":
                    raise
                self.backend = "torch"
        else:
            self.backend = "torch"
        if self.backend == "torch":
            self.model.to(self.device)

    def _onnx_session(self, threads: int | None):
        import onnxruntime as ort

        st = self.weights_path.stat()
        onnx_bytes = _export_onnx(self.model, self.card.in_channels, self.input_size,
                                  (str(self.weights_path.resolve()), st.st_mtime_ns, st.st_size))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        # Spinning threads wait for cores that a busy machine (WebRTC, Streamlit) never frees.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        return ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S) uint8 grey -> (N, 1, S, S) float32, normalised as in training."""
        crops = np.asarray(crops)
        if crops.ndim == 2:
            crops = crops[None]
        if crops.shape[1:] != (self.input_size, self.input_size):
            raise ValueError(f"expected crops of {self.input_size}x{self.input_size}, got {crops.shape[1:]}")
        x = crops.astype(np.float32)[:, None] / 255.0
        return np.ascontiguousarray((x - self._mean) / self._std)

    def forward(self, x: np.ndarray, tta: str | None = None) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        n = len(x)
        x = tta_views(x, tta or self.tta)
        if self._session is not None:
            logits = self._session.run(None, {"x": np.ascontiguousarray(x)})[0]
        else:
            import torch

            with torch.inference_mode():
                logits = self.model(torch.from_numpy(np.ascontiguousarray(x)).to(self.device)).float().cpu().numpy()
        return merge_views(logits, n)

    def postprocess(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits, self.temperature)

    def predict_logits(self, crops: np.ndarray, batch: int = 256, tta: str | None = None) -> np.ndarray:
        x = self.preprocess(crops)
        if len(x) <= batch:
            return self.forward(x, tta)
        return np.concatenate([self.forward(x[i : i + batch], tta) for i in range(0, len(x), batch)])

    def predict_proba(self, crops: np.ndarray, tta: str | None = None) -> np.ndarray:
        """(N, C) probabilities in `self.labels` order; each row sums to 1. `tta` overrides the
        classifier's own test-time augmentation for this call."""
        return self.postprocess(self.predict_logits(crops, tta=tta))
