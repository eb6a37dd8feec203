import pytest

from fer.labels import (
    ALIASES,
    COLORS_RGB,
    DISPLAY_NAMES,
    FER2013_LABELS,
    FERPLUS_LABELS,
    VALENCE,
    canonical_label,
    color_bgr,
    color_hex,
    color_rgb,
)


def test_fer2013_order_is_the_datasets():
    assert FER2013_LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert FERPLUS_LABELS[:7] == FER2013_LABELS and FERPLUS_LABELS[7] == "contempt"


@pytest.mark.parametrize("alias,label", [
    ("Anger", "angry"), ("happiness", "happy"), ("SADNESS", "sad"), ("fearful", "fear"),
    ("disgusted", "disgust"), ("surprised", "surprise"), ("Neutral", "neutral"), ("contempt", "contempt"),
    (" Happy ", "happy"), ("sad_", "sad"),
])
def test_aliases(alias, label):
    assert canonical_label(alias) == label


def test_unknown_names_are_none():
    assert canonical_label("bored") is None
    assert canonical_label("") is None


def test_every_label_has_name_colour_and_valence():
    for lab in FERPLUS_LABELS:
        assert lab in DISPLAY_NAMES and lab in COLORS_RGB and lab in VALENCE
        assert ALIASES[lab] == lab
    assert len({COLORS_RGB[lab] for lab in FERPLUS_LABELS}) == len(FERPLUS_LABELS)  # distinct colours


def test_colour_formats_agree():
    r, g, b = color_rgb("happy")
    assert color_bgr("happy") == (b, g, r)
    assert color_hex("happy") == f"#{r:02x}{g:02x}{b:02x}"


def test_dataset_of_a_label_set():
    from fer.labels import DATASET_NAMES, dataset_of

    assert dataset_of(FER2013_LABELS) == "fer2013" and dataset_of(FERPLUS_LABELS) == "ferplus"
    assert set(DATASET_NAMES) == {"fer2013", "ferplus"}
