"""Give each face a stable id across video frames, so smoothing and summaries are per person.

Confirmed tracks, as ByteTrack does it: a box the tracker has not seen before starts a tentative
track, which is shown, counted and given an id only once it was found in `min_hits` detections
in a row. Why: on a lossy, down-scaled webcam stream MTCNN now and then returns a second,
low-scoring box on a lit background for one detection (recorded in the live app: a 40 px 'face'
at 0.918 beside the real one at 1.0), and each such box used to become a new person. Boxes under
`activation_score` may extend a track but never start one. A lost track waits `lost_s` seconds
(seconds, not detections: the live loop detects less often when the CPU is short) to take its
face back, by overlap or, when the face moved further than its boxes overlap, by a nearby
centre. A face back after a longer absence is `fer.reid`'s question, not the tracker's. After a
scene cut (`new_shot`) no track carries over: the same place shows someone else.

Boxes are matched by IoU with an optimal assignment; centre-distance pairs rank below every
overlapping pair, so they never take a match from one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from fer.results import Box, FaceEmotion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerConfig:
    iou_threshold: float = 0.3  # overlap that makes a box the same face
    activation_score: float = 0.95  # detector score a box needs to start a track
    min_hits: int = 3  # detections in a row before a new face is shown, counted and numbered
    lost_s: float = 3.0  # how long a lost face's id waits for it (recorded live gaps: up to 1.7 s)
    max_shift: float = 1.0  # centre distance (face widths) that still links a face that moved
    max_scale: float = 1.5  # size ratio beyond which a box is someone else


def iou_matrix(a: list[Box], b: list[Box]) -> np.ndarray:
    if not a or not b:
        return np.zeros((len(a), len(b)), np.float32)
    a_, b_ = np.asarray(a, np.float32)[:, None], np.asarray(b, np.float32)[None]
    iw = np.clip(np.minimum(a_[..., 2], b_[..., 2]) - np.maximum(a_[..., 0], b_[..., 0]), 0, None)
    ih = np.clip(np.minimum(a_[..., 3], b_[..., 3]) - np.maximum(a_[..., 1], b_[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    return inter / np.maximum(area(a_) + area(b_) - inter, 1e-6)


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


@dataclass
class _Track:
    box: Box
    last_t: float
    hits: int = 1  # detections in a row that found it (counts up to confirmation)
    id: int | None = None  # given at confirmation
    missed: int = 0  # detections since it was last found

    @property
    def confirmed(self) -> bool:
        return self.id is not None


class IoUTracker:
    """`update(faces, t)` returns the faces with `track_id` set for confirmed tracks and None for
    boxes not (yet) confirmed, which callers leave out."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self.reset()

    def reset(self) -> None:
        """A new stream: no tracks, and ids count from 1 again."""
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._fresh = True  # nothing seen yet in this shot: its first faces count at once

    def new_shot(self) -> None:
        """A scene cut: end every track (ids are not reused); the new shot's faces count at once."""
        self._tracks.clear()
        self._fresh = True

    def affinity(self, tracks: list[Box], boxes: list[Box]) -> np.ndarray:
        """> 0 where a track may take a box: IoU above the threshold, else a nearby centre (scored
        below the IoU threshold, closer is better); 0 where it may not."""
        c = self.config
        iou = iou_matrix(tracks, boxes)
        near = centre_distance_matrix(tracks, boxes, c.max_scale)
        by_centre = np.clip(c.iou_threshold * (1 - near / (c.max_shift * 1.001)) * 0.99, 0, None)
        return np.where(iou >= c.iou_threshold, iou, by_centre).astype(np.float32)

    def update(self, faces: list[FaceEmotion], t: float) -> list[FaceEmotion]:
        c = self.config
        score = self.affinity([tr.box for tr in self._tracks], [f.box for f in faces])
        assigned: dict[int, int] = {}  # face index -> track index
        if score.size:
            rows, cols = linear_sum_assignment(-score)
            assigned = {j: i for i, j in zip(rows, cols) if score[i, j] > 0}
        first, self._fresh = self._fresh, False
        matched = set(assigned.values())
        kept = []
        for i, tr in enumerate(self._tracks):
            if i in matched:
                kept.append(tr)
            elif tr.confirmed and t - tr.last_t <= c.lost_s:
                tr.missed += 1
                kept.append(tr)
            # a tentative track that missed a detection was not a face: dropped
        ids: list[int | None] = []
        for j, face in enumerate(faces):
            if j in assigned:
                tr = self._tracks[assigned[j]]
                tr.box, tr.last_t, tr.missed = face.box, t, 0
                tr.hits += 1
            elif face.score >= c.activation_score:
                tr = _Track(face.box, t)
                kept.append(tr)
            else:
                ids.append(None)  # too unsure to start a track
                continue
            if not tr.confirmed and (tr.hits >= c.min_hits or first):
                self._confirm(tr, face)
            ids.append(tr.id)
        self._tracks = kept
        return [replace(f, track_id=i) for f, i in zip(faces, ids)]

    def _confirm(self, track: _Track, face: FaceEmotion) -> None:
        track.id, self._next_id = self._next_id, self._next_id + 1
        others = [tr for tr in self._tracks if tr.confirmed and tr is not track]
        log.info("new face #%d at %s (score %.3f, %d detections); other tracks: %s", track.id,
                 [round(v) for v in face.box], face.score, track.hits,
                 [(tr.id, [round(v) for v in tr.box], f"missed {tr.missed}") for tr in others])

    def rescale(self, sx: float, sy: float) -> None:
        """The frames changed size but not content (WebRTC lowers a stream's resolution when the
        CPU or the network is short): move the tracks with them, so ids survive."""
        for tr in self._tracks:
            x1, y1, x2, y2 = tr.box
            tr.box = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)

    @property
    def pending(self) -> bool:
        """Whether a new face waits for confirmation (the pipeline then detects on the next frames,
        so confirming it takes `min_hits` frames, not `min_hits` detection intervals)."""
        return any(not tr.confirmed for tr in self._tracks)

    @property
    def active_ids(self) -> list[int]:
        """Ids of the confirmed tracks held, in view or waiting for their face."""
        return [tr.id for tr in self._tracks if tr.confirmed]
