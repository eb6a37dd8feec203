"""Person ids that survive short absences: link a new tracker id to a person who just left.

The IoU tracker drops a track after a few missed detections and never reuses ids, so a
candidate who turns away or leans out of frame for two seconds would come back as a new
person and split their summary in two. `TrackLinker` sits on top of the tracker: when a
tracker id appears for the first time, it is linked to a person who was last seen at most
`max_gap_s` ago near the same place (centre within `max_shift` face widths, width within a
factor `max_scale`), and who is not visible in the same frame. The rule is spatial only: in
an interview the candidate returns to the same seat; two people swapping seats while both
are out of frame would swap ids. Nobody is linked across a scene cut (`new_shot`): after a cut
the same place shows someone else (stage, then audience), so an edited interview that cuts
away and back counts the candidate once per shot rather than merging strangers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fer.results import Box, FaceEmotion


@dataclass
class _Person:
    box: Box
    last_t: float


def _centre_width(box: Box) -> tuple[float, float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, max(box[2] - box[0], 1e-6)


@dataclass
class TrackLinker:
    max_gap_s: float = 5.0
    max_shift: float = 1.5  # centre distance, in face widths
    max_scale: float = 2.0  # allowed ratio between face widths
    _persons: dict[int, _Person] = field(default_factory=dict, repr=False)
    _links: dict[int, int] = field(default_factory=dict, repr=False)  # tracker id -> person id
    _next_id: int = field(default=1, repr=False)

    def _distance(self, person: _Person, box: Box) -> float | None:
        """Centre distance in face widths, or None when the pair is not plausible."""
        px, py, pw = _centre_width(person.box)
        bx, by, bw = _centre_width(box)
        if not 1 / self.max_scale <= bw / pw <= self.max_scale:
            return None
        d = ((px - bx) ** 2 + (py - by) ** 2) ** 0.5 / max(pw, bw)
        return d if d <= self.max_shift else None

    def update(self, faces: list[FaceEmotion], t: float, new_shot: bool = False) -> list[FaceEmotion]:
        """The faces with their tracker id replaced by a person id, linking new tracker ids to a
        person who just left where plausible; `new_shot`: the frame starts a new shot."""
        if new_shot:
            self._persons.clear()
        return [replace(f, track_id=i) for f, i in zip(faces, self._person_ids(faces, t))]

    def _person_ids(self, faces: list[FaceEmotion], t: float) -> list[int | None]:
        visible = {self._links[f.track_id] for f in faces if f.track_id in self._links}
        new = [f for f in faces if f.track_id is not None and f.track_id not in self._links]
        pairs = []
        for f in new:
            for pid, person in self._persons.items():
                if pid in visible or t - person.last_t > self.max_gap_s or person.last_t >= t:
                    continue
                d = self._distance(person, f.box)
                if d is not None:
                    pairs.append((d, f.track_id, pid))
        for _, tid, pid in sorted(pairs):  # greedy, nearest first
            if tid not in self._links and pid not in visible:
                self._links[tid] = pid
                visible.add(pid)
        for f in new:
            if f.track_id not in self._links:
                self._links[f.track_id] = self._next_id
                self._next_id += 1
        ids = [None if f.track_id is None else self._links[f.track_id] for f in faces]
        for f, pid in zip(faces, ids):
            if pid is not None:
                self._persons[pid] = _Person(f.box, t)
        return ids

    def reset(self) -> None:
        self._persons.clear()
        self._links.clear()
        self._next_id = 1
