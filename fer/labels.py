"""The one place that defines label sets, their display names, colours and aliases.

Index order follows FER-2013 (angry, disgust, fear, happy, sad, surprise, neutral); the FER+
label set appends contempt so that the first seven indices mean the same in both.
"""

from __future__ import annotations

FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FERPLUS_LABELS: tuple[str, ...] = FER2013_LABELS + ("contempt",)
DATASET_NAMES: dict[str, str] = {"fer2013": "FER-2013", "ferplus": "FER+"}


def dataset_of(labels: tuple[str, ...]) -> str:
    """The data set a model with these labels is evaluated on (its folder in ../shared/data)."""
    return "ferplus" if "contempt" in labels else "fer2013"


DISPLAY_NAMES: dict[str, str] = {
    "angry": "Angry",
    "disgust": "Disgust",
    "fear": "Fear",
    "happy": "Happy",
    "sad": "Sad",
    "surprise": "Surprise",
    "neutral": "Neutral",
    "contempt": "Contempt",
    "uncertain": "Uncertain",
}

# A face whose top probability is below this is shown as 'uncertain' (the app's default threshold,
# also the annotator's; `benchmarks/uncertain_share.py` reports how often that happens on real clips).
UNCERTAIN_BELOW: float = 0.4

# RGB colours, chosen to stay distinguishable for common colour-vision deficiencies.
COLORS_RGB: dict[str, tuple[int, int, int]] = {
    "angry": (213, 62, 79),
    "disgust": (102, 166, 30),
    "fear": (117, 112, 179),
    "happy": (253, 190, 40),
    "sad": (50, 136, 189),
    "surprise": (244, 109, 67),
    "neutral": (170, 170, 170),
    "contempt": (166, 86, 40),
    "uncertain": (240, 240, 240),
}

# Valence sign used by the interview summaries: +1 positive, -1 negative, 0 neither.
VALENCE: dict[str, int] = {
    "angry": -1,
    "disgust": -1,
    "fear": -1,
    "happy": 1,
    "sad": -1,
    "surprise": 0,
    "neutral": 0,
    "contempt": -1,
}

# Folder and file names that people use for the same class, matched case-insensitively.
ALIASES: dict[str, str] = {
    "angry": "angry", "anger": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "smile": "happy",
    "sad": "sad", "sadness": "sad", "unhappy": "sad",
    "surprise": "surprise", "surprised": "surprise", "suprise": "surprise",
    "neutral": "neutral", "calm": "neutral", "none": "neutral",
    "contempt": "contempt", "contemptuous": "contempt",
}


def canonical_label(name: str) -> str | None:
    """Map a folder or user-supplied class name to its canonical label, or None if unknown."""
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    return ALIASES.get(key)


def display_name(label: str) -> str:
    return DISPLAY_NAMES.get(label, label.title())


def color_rgb(label: str) -> tuple[int, int, int]:
    return COLORS_RGB.get(label, (255, 255, 255))


def color_bgr(label: str) -> tuple[int, int, int]:
    r, g, b = color_rgb(label)
    return (b, g, r)


def color_hex(label: str) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color_rgb(label))
