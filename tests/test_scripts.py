"""The developer scripts' own logic: weight averages (scripts/soup_weights.py) and the
person-disjoint probe (scripts/wild_probe.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import soup_weights
import wild_probe


def test_every_mix_sums_to_one_and_none_is_missing():
    grid = soup_weights.mixes(3, 0.1)
    assert len(grid) == 66 == len(set(grid))  # C(12, 2) ways to cut ten tenths into three parts
    assert all(abs(sum(m) - 1) < 1e-9 and min(m) >= 0 for m in grid)
    assert (0.5, 0.2, 0.3) in grid


def test_an_average_is_the_weighted_mean_of_float_tensors_and_keeps_counters():
    from fer.models import create_model

    a, b = create_model("resnet_m", 7).state_dict(), create_model("resnet_m", 7).state_dict()
    b = {k: (v + 1 if v.is_floating_point() else v + 5) for k, v in b.items()}
    mixed = soup_weights.average([a, b], (0.75, 0.25))
    key = "head.3.weight"
    assert torch.allclose(mixed[key], 0.75 * a[key] + 0.25 * b[key])
    counter = next(k for k, v in a.items() if not v.is_floating_point())
    assert torch.equal(mixed[counter], a[counter])


def test_the_ferplus_model_joins_a_soup_through_its_seven_fer2013_rows():
    from fer.labels import FER2013_LABELS, FERPLUS_LABELS
    from fer.models.state import load_state

    state = load_state("weights/ferplus_resnet_m.safetensors")
    seven = soup_weights.seven_class_state(state, FERPLUS_LABELS)
    assert seven["head.3.weight"].shape[0] == len(FER2013_LABELS)
    assert torch.equal(seven["head.3.bias"], state["head.3.bias"][: len(FER2013_LABELS)])  # contempt is last


@pytest.mark.parametrize("name, person", [("happy/Al_Gore_0002.jpg", "Al_Gore"), ("sad/Dileep_71.jpg", "Dileep"),
                                          ("angry/Dwarakish_1.jpg", "Dwarakish")])
def test_a_photo_belongs_to_the_person_in_its_file_name(name, person):
    assert wild_probe.person_of(name) == person


def test_the_probe_never_scores_a_person_it_was_fitted_on():
    """Each person's features identify the person and their label is random: a probe that saw the
    person would be right every time, one that never did can only guess."""
    rng = np.random.default_rng(0)
    people = 60
    person_label = rng.integers(0, 3, people)
    who = np.repeat(np.arange(people), 4)
    x = np.eye(people)[who] * 3 + rng.normal(0, 0.01, (len(who), people))
    y = person_label[who]
    pred, cs = wild_probe.probe_predictions(x, y, [f"p{i}" for i in who], c_grid=(1.0, 10.0))
    assert len(cs) == 5
    assert (pred == y).mean() < 0.6  # chance is about 1/3; a leak would give 1.0
