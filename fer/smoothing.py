"""Per-face smoothing of emotion probabilities over time, so labels do not flicker.

An exponential moving average whose weight follows elapsed time (a half-life in seconds, not
frames), so the result is the same at 10 fps and at 30 fps. On top, the shown label has
hysteresis: it changes only when another emotion leads by `switch_margin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fer.results import FaceEmotion


@dataclass
class _State:
    probs: np.ndarray
    label: str
    last_t: float


@dataclass
class EmotionSmoother:
    half_life_s: float = 0.5
    switch_margin: float = 0.1
    forget_after_s: float = 2.0
    _states: dict[int, _State] = field(default_factory=dict, repr=False)

    def update(self, faces: list[FaceEmotion], t: float) -> list[FaceEmotion]:
        """Smooth tracked faces (those with a `track_id`) at time `t` seconds; others pass through."""
        out = []
        for face in faces:
            if face.track_id is None:
                out.append(face)
                continue
            labels = list(face.probs)
            p = np.fromiter(face.probs.values(), np.float64, len(labels))
            st = self._states.get(face.track_id)
            if st is None or len(st.probs) != len(p) or t - st.last_t > self.forget_after_s:
                st = _State(p, labels[int(p.argmax())], t)
            else:
                dt = max(t - st.last_t, 0.0)
                alpha = 1.0 if self.half_life_s <= 0 else 1.0 - 0.5 ** (dt / self.half_life_s)
                st.probs = (1 - alpha) * st.probs + alpha * p
                st.last_t = t
                lead = labels[int(st.probs.argmax())]
                if lead != st.label and st.probs.max() - st.probs[labels.index(st.label)] >= self.switch_margin:
                    st.label = lead
            self._states[face.track_id] = st
            probs = {lab: float(v) for lab, v in zip(labels, st.probs / st.probs.sum())}
            smoothed = face.with_probs(probs)
            out.append(replace(smoothed, label=st.label))
        self._states = {k: s for k, s in self._states.items() if t - s.last_t <= self.forget_after_s}
        return out

    def reset(self) -> None:
        self._states.clear()

