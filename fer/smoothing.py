"""Per-face smoothing of emotion probabilities over time, so labels do not flicker.

An exponential moving average whose weight follows elapsed time (a half-life in seconds, not
frames), so the result is the same at 10 fps and at 30 fps. On top, the shown label has
hysteresis: it changes only when another emotion leads by `switch_margin`; and, given the
'uncertain' threshold, whether the face reads as 'uncertain' has hysteresis too: it turns
uncertain below `threshold - uncertain_margin / 2` and sure again from `threshold +
uncertain_margin / 2`, so a confidence hovering at the threshold does not flip the shown label
every few frames. Last, a shown label (an emotion or 'uncertain') stays at least `min_hold_s`:
one shown for a tenth of a second cannot be read, and a hold, unlike a confirmation delay, adds
no latency to the first change.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fer.results import FaceEmotion, UncertainHold


@dataclass
class _State:
    probs: np.ndarray
    label: str
    last_t: float
    uncertain: bool = False  # the 'uncertain' state with its hysteresis band
    shown: tuple[str, bool] = ("", False)  # (label, uncertain) as last shown
    shown_t: float = 0.0  # when `shown` last changed


@dataclass
class EmotionSmoother:
    half_life_s: float = 0.5
    switch_margin: float = 0.1
    forget_after_s: float = 2.0
    uncertain_below: float | None = None  # None: no 'uncertain' hysteresis (the plain rule applies)
    uncertain_margin: float = 0.1
    min_hold_s: float = 0.4  # 0 with a half-life of 0: smoothing off shows every frame's own label
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
                st.uncertain = self.uncertain_below is not None and p.max() < self.uncertain_below
                st.shown, st.shown_t = (st.label, st.uncertain), t
            else:
                dt = max(t - st.last_t, 0.0)
                alpha = 1.0 if self.half_life_s <= 0 else 1.0 - 0.5 ** (dt / self.half_life_s)
                st.probs = (1 - alpha) * st.probs + alpha * p
                st.last_t = t
                lead = labels[int(st.probs.argmax())]
                if lead != st.label and st.probs.max() - st.probs[labels.index(st.label)] >= self.switch_margin:
                    st.label = lead
            probs = {lab: float(v) for lab, v in zip(labels, st.probs / st.probs.sum())}
            if self.uncertain_below is not None:
                st.uncertain = held_uncertain(st.uncertain, probs[st.label], self.uncertain_below,
                                              self.uncertain_margin)
            hold_s = self.min_hold_s if self.half_life_s > 0 else 0.0
            if (st.label, st.uncertain) != st.shown and t - st.shown_t >= hold_s:
                st.shown, st.shown_t = (st.label, st.uncertain), t
            label, uncertain = st.shown
            hold = UncertainHold(self.uncertain_below, uncertain) if self.uncertain_below is not None else None
            self._states[face.track_id] = st
            out.append(replace(face.with_probs(probs), label=label, hold=hold))
        self._states = {k: s for k, s in self._states.items() if t - s.last_t <= self.forget_after_s}
        return out

    def reset(self) -> None:
        self._states.clear()


def held_uncertain(was_uncertain: bool, confidence: float, threshold: float, margin: float) -> bool:
    """The 'uncertain' state with hysteresis: it changes only once the confidence is `margin / 2`
    past the threshold on the other side."""
    if was_uncertain:
        return confidence < threshold + margin / 2
    return confidence < threshold - margin / 2
