"""The models in visitors' words: what each is good at and how often it is right, from its card.

Built from the typed model card (`fer.weights.ModelCard`), so the figures are the published ones;
only the one-line titles and strengths are written here (summarising weights/MODEL_CARD.md).
Technical names stay in the details, never in the page's main view (issue 23.5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fer.labels import DATASET_NAMES, dataset_of, display_name
from fer.weights import card_of

REPOSITORY_SETTING = "repository_url"  # Streamlit secret, or FER_REPOSITORY_URL: where the full card is linked
CARD_IN_REPOSITORY = "blob/main/weights/MODEL_CARD.md"

TITLES = {
    "joint_resnet_m": "Standard: 7 expressions",
    "ferplus_resnet_m": "With contempt: 8 expressions",
    "fer2013_cnn_small": "Small and simple: 7 expressions",
    "joint_effnet_b0": "EfficientNet: 7 expressions",
    "joint_vit_s8": "Vision Transformer: 7 expressions",
}
STRENGTHS = {
    "joint_resnet_m": ("Recommended. Learnt from each face's label and from the votes of ten people per face: "
                       "as accurate as the earlier standard on its test faces, and clearly better on natural "
                       "photos and real video, where it far less often reads a calm face as afraid or sad."),
    "ferplus_resnet_m": ("Also knows contempt. Learnt from the votes of ten people per face, so its "
                         "probabilities follow how much people agree; it rarely says contempt or disgust."),
    "fer2013_cnn_small": "A smaller, older network, less accurate; kept to compare against.",
    "joint_effnet_b0": ("Another kind of network (an EfficientNet), learnt here from scratch the same way as the "
                        "standard: less accurate; there to compare the two designs on the same faces."),
    "joint_vit_s8": ("A Vision Transformer (the design behind many recent image models), learnt here from "
                     "scratch the same way as the standard: less accurate on these small faces, which such "
                     "networks need far more of; there to compare designs."),
}
HUMAN_AGREEMENT = {"fer2013": "people who label these faces agree with each other about 65 times in 100"}


@dataclass(frozen=True)
class ModelAbout:
    """One model described for a visitor."""

    name: str  # the weights' name (technical; shown only in the details)
    title: str
    strength: str
    accuracy: float | None  # share of test faces whose top expression was right (one view, as live)
    dataset: str  # display name of the test data
    best: tuple[str, ...]  # expressions it recognises best (by recall), display names
    weakest: tuple[str, ...]
    details: tuple[str, ...]  # technical facts, for the details expander
    natural_accuracy: float | None = None  # the in-the-wild photos, whole pipeline (the card's yardstick)

    def accuracy_line(self) -> str:
        if self.accuracy is None:
            return "Accuracy not measured."
        line = f"Right about {round(100 * self.accuracy)} times in 100 on test faces ({self.dataset})"
        agreement = HUMAN_AGREEMENT.get(dataset_of_name(self.dataset))
        line += (f"; {agreement}." if agreement else
                 "; a different test from FER-2013's, so the two scores do not compare.")
        if self.natural_accuracy is not None:
            line += (f" On natural photos (news photos and film stills, faces found by the detector) about "
                     f"{round(100 * self.natural_accuracy)} times in 100.")
        return line


def dataset_of_name(display: str) -> str:
    return next((k for k, v in DATASET_NAMES.items() if v == display), display)


def model_title(name: str) -> str:
    return TITLES.get(name, name)


def model_about(name: str) -> ModelAbout:
    card = card_of(name)
    dataset = DATASET_NAMES[dataset_of(card.labels)]
    live = card.metric("PrivateTest")
    recall = sorted((live.per_class_recall if live else {}).items(), key=lambda kv: -kv[1])
    best = tuple(display_name(k) for k, _ in recall[:2])
    weakest = tuple(display_name(k) for k, _ in recall[-2:][::-1]) if len(recall) > 2 else ()
    zoom, flip = card.metric("PrivateTest", "flip_zoom"), card.metric("PrivateTest", "flip")
    details = (
        f"Weights: {card.name} ({card.description or card.architecture})",
        (f"Looks at one face at a time, as a {card.input_size}x{card.input_size} {card.colour} image "
         "with the eyes levelled"),
        f"Test data: {dataset}, {live.n} faces" if live else f"Test data: {dataset}",
        *([f"Photos: four views (mirrored and zoomed) averaged, {zoom.accuracy:.0%} right"] if zoom else
          [f"Mirrored views averaged: {flip.accuracy:.0%} right"] if flip else []),
        f"Probabilities calibrated (temperature {card.temperature:.2f})",
        *([yardstick_line(card.yardstick)] if card.yardstick else []),
        *([f"Runs an int8 copy of the network ({card.int8.top1_agreement:.1%} of test faces read the same)"]
          if card.int8 and card.int8.parity_ok else []),
    )
    wild = card.yardstick.domains.get("wild") if card.yardstick else None
    return ModelAbout(name, model_title(name), STRENGTHS.get(name, card.description), live.accuracy if live else None,
                      dataset, best, weakest, details, wild.accuracy if wild else None)


def yardstick_line(y) -> str:
    """The card's `fer compare` yardstick in one line (seven classes, one view)."""
    names = {**DATASET_NAMES, "wild": "natural photos"}
    scores = ", ".join(f"{names[k]} {v.accuracy:.1%}" for k, v in y.domains.items())
    line = f"Every model's yardstick (7 classes, one view): {scores}"
    if y.clips_negative_share is not None:
        line += (f"; on real clips {y.clips_negative_share:.0%} of face-frames shown as angry, disgust, fear or sad "
                 f"and {y.clips_uncertain_share:.0%} as uncertain")
    return line


def card_url(secrets, environ=os.environ) -> str | None:
    """The full model card on the project's repository, when the deployment says where that is."""
    try:
        base = secrets.get(REPOSITORY_SETTING) if secrets is not None else None
    except FileNotFoundError:
        base = None
    base = base or environ.get("FER_REPOSITORY_URL")
    return f"{base.rstrip('/')}/{CARD_IN_REPOSITORY}" if base else None
