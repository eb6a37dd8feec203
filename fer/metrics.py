"""Classification metrics (scikit-learn underneath) and calibration, as one typed report.

Classes absent from the evaluated data are reported and left out of the averages, so a folder
without 'disgust' is not penalised for it. A sample the pipeline gave no answer for (a photo
where no face was found) counts as wrong, so a detector that misses hard photos cannot flatter
the figure by shrinking n.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

NO_PREDICTION = -1  # a y_pred value: no answer for this sample (e.g. no face found in the photo)


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class EvaluationReport:
    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, ClassMetrics]
    labels: list[str]  # row/column order of the confusion matrix
    confusion_matrix: list[list[int]]  # rows: true, columns: predicted
    missing_classes: list[str] = field(default_factory=list)
    ece: float | None = None  # over the samples with a prediction
    nll: float | None = None
    # true class -> samples without a prediction (counted as wrong above); empty when there were none
    no_prediction: dict[str, int] = field(default_factory=dict)
    answered_accuracy: float | None = None  # accuracy over the samples with a prediction, if some had none
    extra: dict = field(default_factory=dict)

    @property
    def n_no_prediction(self) -> int:
        return sum(self.no_prediction.values())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["per_class"] = {k: asdict(v) for k, v in self.per_class.items()}
        return d

    def to_text(self) -> str:
        lines = [f"n={self.n}  accuracy={self.accuracy:.4f}  macro-F1={self.macro_f1:.4f}  "
                 f"weighted-F1={self.weighted_f1:.4f}"]
        if self.ece is not None:
            lines[0] += f"  ECE={self.ece:.4f}  NLL={self.nll:.4f}"
        if self.no_prediction:
            per = ", ".join(f"{k} {v}" for k, v in self.no_prediction.items() if v)
            lines.append(f"no face found: {self.n_no_prediction} of {self.n} (counted as wrong; {per}); "
                         f"accuracy on the others {self.answered_accuracy:.4f}")
        lines.append(f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
        for name, m in self.per_class.items():
            lines.append(f"{name:<10}{m.precision:>10.3f}{m.recall:>10.3f}{m.f1:>10.3f}{m.support:>9d}")
        if self.missing_classes:
            lines.append(f"not in the data (left out of the averages): {', '.join(self.missing_classes)}")
        return "\n".join(lines)


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...],
                          probs: np.ndarray | None = None) -> EvaluationReport:
    """Metrics over the classes present in `y_true` (indices into `labels`).

    `y_pred` may hold NO_PREDICTION: such a sample is wrong (it lowers accuracy and its class's
    recall and F1, not any class's precision) and is counted in `no_prediction`; the confusion
    matrix has no column for it. `probs`, for ECE and NLL, has one row per sample *with* a
    prediction, in order."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        raise ValueError("nothing to evaluate: no samples")
    answered = y_pred != NO_PREDICTION
    present = sorted(set(y_true.tolist()))
    missing = [labels[i] for i in range(len(labels)) if i not in present]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=present, zero_division=0)
    per_class = {labels[c]: ClassMetrics(float(p[i]), float(r[i]), float(f[i]), int(s[i]))
                 for i, c in enumerate(present)}
    all_idx = list(range(len(labels)))
    cm = confusion_matrix(y_true, y_pred, labels=all_idx)
    report = EvaluationReport(
        n=len(y_true),
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        weighted_f1=float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
        per_class=per_class, labels=list(labels), confusion_matrix=cm.tolist(), missing_classes=missing)
    if not answered.all():
        report.no_prediction = {labels[c]: int((~answered & (y_true == c)).sum()) for c in present}
        report.answered_accuracy = float((y_pred == y_true)[answered].mean()) if answered.any() else 0.0
    if probs is not None:
        if len(probs) != answered.sum():
            raise ValueError(f"probs has {len(probs)} rows for {int(answered.sum())} predicted samples")
        if len(probs):
            report.ece = expected_calibration_error(probs, y_true[answered])
            report.nll = negative_log_likelihood(probs, y_true[answered])
    return report


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y_true
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def negative_log_likelihood(probs: np.ndarray, y_true: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(y_true)), y_true], 1e-12, None)).mean())


def reliability_bins(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> list[dict]:
    conf = probs.max(1)
    correct = probs.argmax(1) == y_true
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    return [{"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": int((which == b).sum()),
             "accuracy": float(correct[which == b].mean()) if (which == b).any() else None,
             "confidence": float(conf[which == b].mean()) if (which == b).any() else None}
            for b in range(bins)]


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature minimising validation NLL (1-D bounded search; logits are unchanged in rank)."""
    from scipy.optimize import minimize_scalar

    from fer.classifier import softmax

    def nll(log_t: float) -> float:
        return negative_log_likelihood(softmax(logits, float(np.exp(log_t))), y_true)

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def save_confusion_png(report: EvaluationReport, path, title: str = "", normalise: bool = True) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fer.labels import display_name

    cm = np.asarray(report.confusion_matrix, float)
    keep = [i for i, lab in enumerate(report.labels) if lab not in report.missing_classes]
    cm = cm[np.ix_(keep, keep)]
    names = [display_name(report.labels[i]) for i in keep]
    columns = list(names)
    if report.no_prediction:  # rows still sum to each class's support
        cm = np.column_stack([cm, [report.no_prediction.get(report.labels[i], 0) for i in keep]])
        columns.append("no face")
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalise else cm
    fig, ax = plt.subplots(figsize=(6.4 + 0.6 * (len(columns) - len(names)), 5.4), dpi=110)
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(names)):
        for j in range(len(columns)):
            v = shown[i, j]
            ax.text(j, i, f"{v:.2f}" if normalise else f"{int(v)}", ha="center", va="center",
                    color="white" if v > (0.5 if normalise else shown.max() / 2) else "black", fontsize=8)
    ax.set_title(title or f"accuracy {report.accuracy:.1%}, macro-F1 {report.macro_f1:.3f} (n={report.n})")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_reliability_png(probs_before: np.ndarray, probs_after: np.ndarray | None, y_true: np.ndarray,
                         path, bins: int = 15) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for probs, name in ((probs_before, "raw"), (probs_after, "temperature-scaled")):
        if probs is None:
            continue
        b = [x for x in reliability_bins(probs, y_true, bins) if x["n"] > 0]
        ece = expected_calibration_error(probs, y_true, bins)
        ax.plot([x["confidence"] for x in b], [x["accuracy"] for x in b], "o-", label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
