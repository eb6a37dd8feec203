"""Training targets for the joint recipe: one FER-2013 head and one FER+ head on a shared backbone.

Every FER-2013 training face carries two targets, side by side in one (N, 7 + 8) matrix:
- the FER-2013 head (7 classes): its FER-2013 label (label-smoothed), mixed with the teacher
  ensemble's 7-class distribution;
- the FER+ head (8 classes): its ten annotators' vote distribution, mixed with the FER+ teacher's;
  a face without FER+ votes (top vote unknown / not a face) takes the teacher's alone.
`distill` is the teacher's share of each target (0: labels and votes only).
The plain FER-2013 task can be distilled the same way (`distilled_targets`): one 7-class head.
"""

from __future__ import annotations

import numpy as np

from fer.labels import FER2013_LABELS, FERPLUS_LABELS

JOINT_HEADS: tuple[tuple[str, ...], ...] = (FER2013_LABELS, FERPLUS_LABELS)
JOINT_LABELS: tuple[str, ...] = tuple(f"{head}:{name}" for head, labels in zip(("fer2013", "ferplus"), JOINT_HEADS)
                                      for name in labels)


def head_sizes(heads: tuple[tuple[str, ...], ...] = JOINT_HEADS) -> tuple[int, ...]:
    return tuple(len(h) for h in heads)


def ferplus_to_fer2013(p8: np.ndarray) -> np.ndarray:
    """An 8-class FER+ distribution over the 7 FER-2013 classes: contempt left out, renormalised."""
    p7 = np.asarray(p8, np.float64)[:, : len(FER2013_LABELS)]
    return (p7 / np.maximum(p7.sum(1, keepdims=True), 1e-12)).astype(np.float32)


def teachers_fer2013(*probs: np.ndarray) -> np.ndarray:
    """The mean of teachers' distributions over the 7 FER-2013 classes (an 8-class FER+ teacher
    without contempt, renormalised)."""
    k7, k8 = len(FER2013_LABELS), len(FERPLUS_LABELS)
    if not probs or any(p.shape[1] not in (k7, k8) for p in probs):
        raise ValueError(f"teachers must give {k7} (FER-2013) or {k8} (FER+) classes")
    return np.mean([p if p.shape[1] == k7 else ferplus_to_fer2013(p) for p in probs], 0).astype(np.float32)


TEACHER_HEADS = ("all", "own")


def joint_teachers(*probs: np.ndarray, heads: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """The joint recipe's two teacher distributions from any mix of 7-class (FER-2013) and 8-class
    (FER+) teachers: the FER+ teachers' mean over the 8 FER+ classes (at least one is needed: faces
    without votes take it alone), and over the 7 FER-2013 classes the mean of every teacher
    (`heads="all"`) or of the 7-class ones only (`"own"`, where there are any), so that the FER-2013
    head can learn FER-2013's own way of labelling while the FER+ head learns the voters'."""
    if heads not in TEACHER_HEADS:
        raise ValueError(f"heads must be one of {TEACHER_HEADS}, not {heads!r}")
    k7, k8 = len(FER2013_LABELS), len(FERPLUS_LABELS)
    p8 = [np.asarray(p, np.float32) for p in probs if p.shape[1] == k8]
    if not p8:
        raise ValueError(f"the joint recipe needs at least one {k8}-class (FER+) teacher")
    p7 = [p for p in probs if p.shape[1] == k7]
    return teachers_fer2013(*(p7 if heads == "own" and p7 else probs)), np.mean(p8, 0).astype(np.float32)


def distilled_targets(labels: np.ndarray, teacher: np.ndarray, distill: float) -> np.ndarray:
    """(N, 7) targets for the FER-2013 task: (1 - `distill`) x one-hot label + `distill` x the
    teachers' distribution (soft-target distillation; the loss adds label smoothing)."""
    if not 0.0 <= distill <= 1.0:
        raise ValueError(f"distill must be in [0, 1], not {distill}")
    hard = np.eye(len(FER2013_LABELS), dtype=np.float32)[labels]
    return ((1 - distill) * hard + distill * np.asarray(teacher, np.float32)).astype(np.float32)


def joint_targets(labels: np.ndarray, votes: np.ndarray, teacher7: np.ndarray | None = None,
                  teacher8: np.ndarray | None = None, distill: float = 0.0,
                  label_smoothing: float = 0.1) -> np.ndarray:
    """(N, 15) targets: [FER-2013 head | FER+ head], each row of each head summing to 1.

    `labels` (N,) FER-2013 indices; `votes` (N, 8) FER+ vote distributions (zero rows where there
    are none); `teacher7` (N, 7) and `teacher8` (N, 8) teacher distributions, needed when
    `distill` > 0 or when some face has no votes."""
    n, k7, k8 = len(labels), len(FER2013_LABELS), len(FERPLUS_LABELS)
    votes = np.asarray(votes, np.float32)
    if votes.shape != (n, k8):
        raise ValueError(f"votes must be ({n}, {k8}), not {votes.shape}")
    if not 0.0 <= distill <= 1.0:
        raise ValueError(f"distill must be in [0, 1], not {distill}")
    has_votes = votes.sum(1) > 0
    need_teacher = distill > 0 or not has_votes.all()
    if need_teacher and (teacher7 is None or teacher8 is None):
        raise ValueError("teacher distributions are needed for distillation and for faces without FER+ votes")
    hard = np.full((n, k7), label_smoothing / k7, np.float32)
    hard[np.arange(n), labels] += 1.0 - label_smoothing
    a, b = hard, votes.copy()
    if need_teacher:
        t7, t8 = np.asarray(teacher7, np.float32), np.asarray(teacher8, np.float32)
        a = (1 - distill) * hard + distill * t7
        b = np.where(has_votes[:, None], (1 - distill) * votes + distill * t8, t8)
    return np.concatenate([a, b], 1).astype(np.float32)


def validation_targets(labels: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """(N, 15) one-hot FER-2013 labels beside the FER+ votes (zero rows stay zero: that head is
    not scored on those faces). Used to score each head on its own labels."""
    hard = np.eye(len(FER2013_LABELS), dtype=np.float32)[labels]
    return np.concatenate([hard, np.asarray(votes, np.float32)], 1)
