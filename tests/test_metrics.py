import numpy as np
import pytest

from fer.metrics import (
    NO_PREDICTION,
    classification_report,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    save_confusion_png,
)

LABELS = ("a", "b", "c")


def test_toy_confusion_matrix_known_answers():
    # true a,a,a,b,b,c ; predicted a,a,b,b,c,c
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    r = classification_report(y_true, y_pred, LABELS)
    assert r.n == 6
    assert r.accuracy == pytest.approx(4 / 6)
    assert r.confusion_matrix == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert r.per_class["a"].precision == pytest.approx(1.0)
    assert r.per_class["a"].recall == pytest.approx(2 / 3)
    assert r.per_class["b"].precision == pytest.approx(0.5)
    assert r.per_class["c"].recall == pytest.approx(1.0)
    f1 = {"a": 0.8, "b": 0.5, "c": 2 / 3}
    assert r.macro_f1 == pytest.approx(np.mean(list(f1.values())))
    assert r.weighted_f1 == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)


def test_missing_class_is_reported_and_left_out_of_averages():
    r = classification_report(np.array([0, 0, 1]), np.array([0, 0, 1]), LABELS)
    assert r.missing_classes == ["c"]
    assert r.macro_f1 == pytest.approx(1.0)
    assert set(r.per_class) == {"a", "b"}


def test_empty_input_is_an_error():
    with pytest.raises(ValueError):
        classification_report(np.array([], int), np.array([], int), LABELS)


def test_calibration_figures():
    y = np.array([0, 1, 0, 1])
    perfect = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, y) == pytest.approx(0.0)
    over = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.1, 0.9]])  # 75% right at 0.9 confidence
    assert expected_calibration_error(over, y) == pytest.approx(0.15)
    assert negative_log_likelihood(perfect * 0.98 + 0.01, y) == pytest.approx(-np.log(0.99))


def test_temperature_recovers_known_scale():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2
    y = np.array([rng.choice(5, p=np.exp(lo) / np.exp(lo).sum()) for lo in true_logits])
    t = fit_temperature(true_logits * 3.0, y)  # over-confident by 3x
    assert t == pytest.approx(3.0, rel=0.15)


def test_confusion_png(tmp_path):
    r = classification_report(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]), LABELS)
    save_confusion_png(r, tmp_path / "cm.png")
    assert (tmp_path / "cm.png").stat().st_size > 1000


def test_no_prediction_counts_as_wrong_with_known_answers():
    # true a,a,a,b,b,c ; predicted a,-,b,b,-,c: two samples got no answer (no face found)
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, NO_PREDICTION, 1, 1, NO_PREDICTION, 2])
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8]])  # 4 answered
    r = classification_report(y_true, y_pred, LABELS, probs)
    assert r.n == 6 and r.accuracy == pytest.approx(3 / 6)
    assert r.no_prediction == {"a": 1, "b": 1, "c": 0} and r.n_no_prediction == 2
    assert r.answered_accuracy == pytest.approx(3 / 4)
    a, b = r.per_class["a"], r.per_class["b"]
    assert a.recall == pytest.approx(1 / 3) and a.precision == pytest.approx(1.0)  # no answer: no false 'a'
    assert b.recall == pytest.approx(1 / 2) and b.precision == pytest.approx(1 / 2)
    f1 = {"a": 2 * 1 * (1 / 3) / (1 + 1 / 3), "b": 0.5, "c": 1.0}
    assert r.macro_f1 == pytest.approx(np.mean(list(f1.values())))
    assert r.confusion_matrix == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]  # no column for 'no answer'
    assert r.nll == pytest.approx(-np.mean(np.log([0.8, 0.2, 0.6, 0.8])))  # answered samples only
    assert "no face found: 2 of 6" in r.to_text()


def test_probs_must_match_the_answered_samples():
    with pytest.raises(ValueError, match="rows"):
        classification_report(np.array([0, 1]), np.array([0, NO_PREDICTION]), LABELS, np.eye(3)[:2])


def test_every_sample_answered_leaves_no_prediction_empty():
    r = classification_report(np.array([0, 1]), np.array([0, 1]), LABELS)
    assert r.no_prediction == {} and r.answered_accuracy is None and r.n_no_prediction == 0


def test_confusion_png_with_no_face_column(tmp_path):
    r = classification_report(np.array([0, 1, 2, 2]), np.array([0, NO_PREDICTION, 2, 1]), LABELS)
    save_confusion_png(r, tmp_path / "cm.png")
    assert (tmp_path / "cm.png").stat().st_size > 1000
