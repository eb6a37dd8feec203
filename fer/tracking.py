"""Give each face a stable id across video frames, so smoothing and summaries are per person.

Boxes are matched frame to frame by IoU with an optimal assignment; a track survives a few
missed frames (a blink of the detector) before it is dropped. Ids are never reused.
A face that moved further than its boxes overlap between two detections (a quick head turn,
or a live loop that detects less often on a busy CPU) is still the same person when its centre
is within `max_shift` face widths and its size within `max_scale` of the track's, provided the
track was seen within the last `max_blink` detections (a missed detection or two on a blurred
frame; a face that came back after a longer absence is `fer.reid`'s question, not the
tracker's): such pairs rank below every overlapping pair, so they never take a match from one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from fer.results import Box, FaceEmotion


def iou_matrix(a: list[Box], b: list[Box]) -> np.ndarray:
    if not a or not b:
        return np.zeros((len(a), len(b)), np.float32)
    a_, b_ = np.asarray(a, np.float32)[:, None], np.asarray(b, np.float32)[None]
    iw = np.clip(np.minimum(a_[..., 2], b_[..., 2]) - np.maximum(a_[..., 0], b_[..., 0]), 0, None)
    ih = np.clip(np.minimum(a_[..., 3], b_[..., 3]) - np.maximum(a_[..., 1], b_[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    return inter / np.maximum(area(a_) + area(b_) - inter, 1e-6)


@dataclass
class _Track:
    id: int
    box: Box
    missed: int = 0


def centre_distance_matrix(a: list[Box], b: list[Box], max_scale: float) -> np.ndarray:
    """Centre distance in widths of the larger face; inf where the sizes differ by more than
    `max_scale` times."""
    if not a or not b:
        return np.zeros((len(a), len(b)), np.float32)
    a_, b_ = np.asarray(a, np.float32)[:, None], np.asarray(b, np.float32)[None]
    wa, wb = np.maximum(a_[..., 2] - a_[..., 0], 1e-6), np.maximum(b_[..., 2] - b_[..., 0], 1e-6)
    dx = (a_[..., 0] + a_[..., 2] - b_[..., 0] - b_[..., 2]) / 2
    dy = (a_[..., 1] + a_[..., 3] - b_[..., 1] - b_[..., 3]) / 2
    d = np.hypot(dx, dy) / np.maximum(wa, wb)
    ratio = np.maximum(wa, wb) / np.minimum(wa, wb)
    return np.where(ratio <= max_scale, d, np.inf).astype(np.float32)


class IoUTracker:
    """Frame-to-frame IoU tracker; `update` returns the faces with `track_id` set."""

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 10, max_shift: float = 1.0,
                 max_scale: float = 1.5, max_blink: int = 2):
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.max_shift = max_shift
        self.max_scale = max_scale
        self.max_blink = max_blink
        self._tracks: list[_Track] = []
        self._next_id = 1

    def affinity(self, tracks: list[Box], boxes: list[Box], recent: list[bool]) -> np.ndarray:
        """> 0 where a track may take a box: IoU above the threshold, else, for a track seen within
        the last `max_blink` detections (`recent`), a nearby centre (scored below the IoU threshold, closer is
        better); 0 where it may not."""
        iou = iou_matrix(tracks, boxes)
        near = centre_distance_matrix(tracks, boxes, self.max_scale)
        by_centre = self.iou_threshold * (1 - near / (self.max_shift * 1.001)) * 0.99
        by_centre = np.where(np.asarray(recent, bool).reshape(-1, 1), by_centre, 0) if len(tracks) else by_centre
        return np.where(iou >= self.iou_threshold, iou, np.clip(by_centre, 0, None)).astype(np.float32)

    def update(self, faces: list[FaceEmotion]) -> list[FaceEmotion]:
        boxes = [f.box for f in faces]
        score = self.affinity([t.box for t in self._tracks], boxes, [t.missed <= self.max_blink for t in self._tracks])
        assigned: dict[int, int] = {}
        if score.size:
            rows, cols = linear_sum_assignment(-score)
            assigned = {c: r for r, c in zip(rows, cols) if score[r, c] > 0}
        matched_tracks = set(assigned.values())
        for i, t in enumerate(self._tracks):
            if i not in matched_tracks:
                t.missed += 1
        out = []
        for j, face in enumerate(faces):
            if j in assigned:
                track = self._tracks[assigned[j]]
                track.box, track.missed = face.box, 0
            else:
                track = _Track(self._next_id, face.box)
                self._next_id += 1
                self._tracks.append(track)
            out.append(replace(face, track_id=track.id))
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return out

    def rescale(self, sx: float, sy: float) -> None:
        """The frames changed size but not content (WebRTC lowers a stream's resolution when the
        CPU or the network is short): move the tracks with them, so ids survive."""
        for t in self._tracks:
            x1, y1, x2, y2 = t.box
            t.box = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)

    @property
    def active_ids(self) -> list[int]:
        return [t.id for t in self._tracks]

    def reset(self) -> None:
        self._tracks.clear()
