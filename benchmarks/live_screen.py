"""Read what the live view shows a user, from the browser alone: the label tags in the returned
video's pixels and the panel's text. Nothing here asks the app for its own figures.

A tag is found by comparing the returned frame with the camera frame it came from (the harness
made the fake camera, so it has every frame): the drawing is what differs, and a tag is the part
of it that is a filled block. Its label is the palette colour of its median, its text left out
by the annotator's own rule (black text on light tags, white on dark). Measured with real faces
drawn by the real annotator and sent through libvpx (`tests/test_live_screen.py`): on the live
tests' clip every tag found with its label at 640x480, 480x360 and 320x240, none on undrawn
frames; where four faces' drawings touch, >= 95% of frames read exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from fer.annotate import label_font, tag_layout
from fer.labels import COLORS_RGB, DISPLAY_NAMES

THUMB = (64, 48)  # frames are matched to the camera's on grey thumbnails of this size
DIFF_MIN = 25  # per channel: a pixel this far from the camera's is drawing, not VP8 noise
MIN_TAG_W = 20  # pixels: the narrowest tag ('#1 Sad 9%' on a 320x240 stream) is wider
MIN_TAG_SHARE = 0.5  # of the height a tag has on a frame of that size (a smaller block is a fragment)
COLOUR_MAX = 60  # per channel: a tag further than this from every palette colour has no label
_NAMES = tuple(COLORS_RGB)
_PALETTE = np.asarray([COLORS_RGB[k] for k in _NAMES], np.float32)
_LUMA = np.asarray([0.299, 0.587, 0.114], np.float32)  # the annotator's rule for its text colour


def min_tag_height(shape: tuple[int, ...]) -> int:
    """Rows a tag must show: a share of the height `fer.annotate` gives tags on frames this size."""
    scale, thickness = label_font(shape)
    tag = tag_layout("#1 Happy 87%", (0, shape[0] / 2, 10, shape[0]), shape[1], shape[0], scale, thickness)
    return max(4, int(MIN_TAG_SHARE * (tag.y2 - tag.y1 + 1)))


def thumbnails(frames: list[np.ndarray]) -> np.ndarray:
    return np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), THUMB, interpolation=cv2.INTER_AREA)
                     .astype(np.float32) for f in frames])


@dataclass(frozen=True)
class Camera:
    """The frames the fake camera plays (each once), to tell drawing from picture."""

    frames: tuple[np.ndarray, ...]
    thumbs: np.ndarray

    @classmethod
    def of(cls, frames: list[np.ndarray]) -> Camera:
        return cls(tuple(frames), thumbnails(frames))

    def source_of(self, seen: np.ndarray) -> np.ndarray:
        """The camera frame `seen` was made from, at `seen`'s size (WebRTC may shrink the stream)."""
        i = int(((self.thumbs - thumbnails([seen])[0]) ** 2).mean((1, 2)).argmin())
        src = self.frames[i]
        h, w = seen.shape[:2]
        return src if src.shape[:2] == (h, w) else cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class SeenTag:
    """A label tag seen on the video: where (corners inclusive-exclusive) and its colour's label."""

    label: str
    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def height(self) -> int:
        return self.y2 - self.y1


def nearest_label(rgb: np.ndarray) -> str | None:
    d = np.abs(_PALETTE - rgb).max(1)
    return _NAMES[int(d.argmin())] if d.min() <= COLOUR_MAX else None


def tag_label(block: np.ndarray) -> str | None:
    """The label whose colour a tag has. Its text is black on light colours and white on dark
    ones (`fer.annotate.LabelAnnotator`): each reading leaves that text out and may only name a
    colour of its kind, so small grey-antialiased text cannot turn 'uncertain' into 'neutral'."""
    px = block.reshape(-1, 3).astype(np.float32)
    lum = px @ _LUMA
    best: tuple[float, str] | None = None
    for keep, light in ((lum > 70, True), (lum < 185, False)):
        if keep.sum() < 0.3 * len(px):
            continue
        d = np.abs(_PALETTE - np.median(px[keep], 0)).max(1)
        d[(_PALETTE @ _LUMA > 140) != light] = np.inf
        k = int(d.argmin())
        if d[k] <= COLOUR_MAX and (best is None or d[k] < best[0]):
            best = (float(d[k]), _NAMES[k])
    return best[1] if best else None


def row_runs(row: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of set pixels in a boolean row."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], row.view(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def filled_rectangles(mask: np.ndarray, min_w: int, min_h: int, cover: float = 0.6) -> list[tuple[int, int, int, int]]:
    """Blocks of at least `min_h` consecutive rows that each cover `cover` of the span of the
    run (>= `min_w` long) that started the block: filled rectangles, where a box's outline gives
    lines only (a long run for 2-3 rows, then two short ones). Holes (the text's strokes, VP8's
    blur) do not end a block. The span is the median of its rows' runs. Returns (x1, y1, x2, y2),
    ends exclusive."""
    open_: list[dict] = []
    done: list[dict] = []
    for y, row in enumerate(mask):
        runs = [r for r in row_runs(row) if r[1] - r[0] >= min_w]
        still = []
        for b in open_:
            if row[b["x1"]:b["x2"]].mean() >= cover:
                inside = [r for r in runs if r[0] < b["x2"] and r[1] > b["x1"]]
                if inside:
                    b["spans"].append((min(r[0] for r in inside), max(r[1] for r in inside)))
                b["last"] = y
                still.append(b)
            else:
                done.append(b)
        for r in runs:
            if not any(r[0] < b["x2"] and r[1] > b["x1"] for b in still):
                still.append({"x1": r[0], "x2": r[1], "y1": y, "last": y, "spans": [r]})
        open_ = still
    out = []
    for b in done + open_:
        if b["last"] + 1 - b["y1"] >= min_h:
            starts, ends = zip(*b["spans"])
            out.append((int(np.median(starts)), b["y1"], int(np.median(ends)), b["last"] + 1))
    return out


def split_by_colour(block: np.ndarray, min_w: int) -> list[tuple[int, int, str]]:
    """[x1, x2) and label of each stretch of one colour along a block of tag rows: tags of faces
    side by side touch and come out of `filled_rectangles` as one. Columns are labelled by their
    median colour, smoothed over a few columns (text strokes); a stretch under `min_w` (a letter,
    a colour between two) joins its longer neighbour."""
    columns = np.median(block.astype(np.float32), axis=0)  # (w, 3)
    width = min(9, len(columns)) | 1
    columns = cv2.blur(columns[None], (width, 1))[0]
    stretches: list[list] = []  # [x1, x2, label]
    for x, lab in enumerate(nearest_label(c) for c in columns):
        if stretches and stretches[-1][2] == lab:
            stretches[-1][1] = x + 1
        else:
            stretches.append([x, x + 1, lab])
    while len(stretches) > 1:
        i = min(range(len(stretches)), key=lambda k: stretches[k][1] - stretches[k][0])
        if stretches[i][1] - stretches[i][0] >= min_w:
            break
        neighbours = [k for k in (i - 1, i + 1) if 0 <= k < len(stretches)]
        into = max(neighbours, key=lambda k: stretches[k][1] - stretches[k][0])
        stretches[into] = [min(stretches[i][0], stretches[into][0]), max(stretches[i][1], stretches[into][1]),
                           stretches[into][2]]
        del stretches[i]
        merged = [stretches[0]]
        for st in stretches[1:]:
            if st[2] == merged[-1][2]:
                merged[-1] = [merged[-1][0], st[1], st[2]]
            else:
                merged.append(st)
        stretches = merged
    return [(x1, x2, lab) for x1, x2, lab in stretches if lab is not None and x2 - x1 >= min_w]


def overlap(a: SeenTag, b: SeenTag) -> float:
    """Intersection over the smaller area."""
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min((a.x2 - a.x1) * a.height, (b.x2 - b.x1) * b.height)


def find_tags(seen: np.ndarray, camera: Camera) -> list[SeenTag]:
    """The label tags drawn on `seen` (RGB): where it differs from the camera's frame, filled
    rectangles (the text's gaps closed) of a tag's shape, cut where the colour changes, each
    labelled by its colour; one tag per place (the largest)."""
    src = camera.source_of(seen)
    blur = (3, 3)
    diff = np.abs(cv2.GaussianBlur(seen, blur, 0).astype(np.int16)
                  - cv2.GaussianBlur(src, blur, 0).astype(np.int16)).max(-1)
    mask = cv2.morphologyEx((diff > DIFF_MIN).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((1, 9), np.uint8))
    h = seen.shape[0]
    found = []
    for x1, y1, x2, y2 in filled_rectangles(mask.astype(bool), MIN_TAG_W, min_tag_height(seen.shape)):
        if y2 - y1 > 0.15 * h:
            continue
        block = seen[y1:y2, x1:x2]
        pieces = [(a, b) for a, b, _ in split_by_colour(block, 2 * (y2 - y1))] or [(0, x2 - x1)]
        for a, b in pieces:  # each labelled by its own median: the text's strokes are a minority
            label = tag_label(block[:, a:b])
            if label is not None and b - a >= 2 * (y2 - y1):
                found.append(SeenTag(label, x1 + a, y1, x1 + b, y2))
    return sorted(distinct(found), key=lambda t: (t.y1, t.x1))


def touching(a: SeenTag, b: SeenTag, slack: int = 2) -> bool:
    return a.x1 <= b.x2 + slack and b.x1 <= a.x2 + slack and a.y1 <= b.y2 + slack and b.y1 <= a.y2 + slack


def distinct(found: list[SeenTag]) -> list[SeenTag]:
    """One tag per drawn tag: pieces of one colour that touch are one tag (a tag cut where its
    text confused the colour, or where its rows' extent changed); of overlapping tags of other
    colours the largest stays."""
    pieces = list(found)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(pieces):
            j = next((j for j in range(i + 1, len(pieces)) if pieces[j].label == a.label and touching(a, pieces[j])), None)
            if j is not None:
                b = pieces.pop(j)
                pieces[i] = SeenTag(a.label, min(a.x1, b.x1), min(a.y1, b.y1), max(a.x2, b.x2), max(a.y2, b.y2))
                merged = True
                break
    tags: list[SeenTag] = []
    for t in sorted(pieces, key=lambda t: -(t.x2 - t.x1) * t.height):
        if all(overlap(t, k) < 0.5 for k in tags):
            tags.append(t)
    return tags


# -- the panel beside the video -------------------------------------------------------------------
_LABEL_OF = {v: k for k, v in DISPLAY_NAMES.items()}
READING = re.compile(r"Face #(\d+) · frame (\d+) · (\w+) (\d+)%")
READOUT = re.compile(r"Video (\d+) frames/s · (\d+) analyses/s(?: · labels (\d+) ms behind the picture)?"
                     r"( · the server is busy)?")
FOLLOW_OPTION = re.compile(r"^#(\d+)(?: \(gone\))?$", re.MULTILINE)


@dataclass(frozen=True)
class PanelText:
    """What the live panel says, parsed from its text (`fer.app.live_panel` writes it)."""

    face_id: int | None  # the followed face's id in the reading line, None without a reading
    seq: int | None
    label: str | None  # the reading's label key ('happy', 'uncertain')
    ids: tuple[int, ...]  # face ids offered in the Follow selector
    video_fps: float | None
    analysis_fps: float | None
    lag_ms: float | None
    busy: bool

    @classmethod
    def parse(cls, text: str) -> PanelText:
        r, o = READING.search(text), READOUT.search(text)
        ids = tuple(sorted({int(i) for i in FOLLOW_OPTION.findall(text)}))
        return cls(int(r[1]) if r else None, int(r[2]) if r else None,
                   _LABEL_OF.get(r[3], r[3].lower()) if r else None, ids,
                   float(o[1]) if o else None, float(o[2]) if o else None,
                   float(o[3]) if o and o[3] else None, bool(o and o[4]))
