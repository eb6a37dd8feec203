"""Evaluate every shipped model (and the HOG + SVM baseline) on its own test split and, through
the whole pipeline, on in-the-wild photos: one table.

The test split (FER-2013 PrivateTest for 7-class models, FER+ PrivateTest for 8-class ones) says
how well a model learnt its data set; the in-the-wild photos (shared/data/wild, loosely cropped,
noisily labelled, run through MTCNN like a user's photo) say how far that carries to other
faces. A wild photo without a found face counts as wrong. Faces are detected once and shared by
every model.

The yardstick (one view, every model in the seven FER-2013 classes: an 8-class model's contempt
is left out, and so are FER+ faces labelled contempt): FER-2013 PrivateTest, FER+ PrivateTest, the wild photos through the whole
pipeline, and on the real clips (no labels: figures to watch, not to tune against) the share of
face-frames the live pipeline shows as a negative emotion and as 'uncertain'. The selection rule
for the default model (`--select`): the highest mean macro-F1 over the three labelled domains,
among the models whose accuracy is on no domain more than one point below today's default's and
whose negative share on the clips is at most one point above its (the clips can veto, never choose).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = ("compare all shipped models on their test split and on in-the-wild photos: accuracy, macro-F1, "
        "disgust/fear recall, ECE, CPU ms/face")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(DEFAULT_DATA / "fer2013"), help="FER-2013 (for 7-class models)")
    p.add_argument("--ferplus", default=str(DEFAULT_DATA / "ferplus"), help="FER+ root (for 8-class models)")
    p.add_argument("--wild", default=str(DEFAULT_DATA / "wild"),
                   help="photos in class folders, evaluated with face detection ('' to leave out)")
    p.add_argument("--split", default="PrivateTest")
    p.add_argument("--models", nargs="*", help="names in weights/ (default: all shipped models)")
    p.add_argument("--tta", nargs="*", default=None, help="TTA policies to list (default: all)")
    p.add_argument("--baseline", default="weights/baseline_hog_svm.npz")
    p.add_argument("--clips", default=str(DEFAULT_DATA / "clips"),
                   help="real clips (*.mp4) for the negative and 'uncertain' shares of the live pipeline ('' to leave out)")
    p.add_argument("--max-frames", type=int, default=None, help="frames per clip (default: all)")
    p.add_argument("--default", default=None, help="today's default model, for --select (default: the shipped default)")
    p.add_argument("--precision", default="auto", choices=["auto", "float", "int8"],
                   help="each model's graph: auto (int8 where its card's parity is good, as users get it)")
    p.add_argument("--write-cards", action="store_true",
                   help="write each shipped model's yardstick row into its card (the app's sidebar shows it)")
    p.add_argument("--select", action="store_true", help="apply the selection rule and name the winner")
    p.add_argument("--ensembles", action="store_true",
                   help="also rows for the best 2- and 3-model logit ensembles of the compared models "
                        "(by the selection score; never the default: one model runs everywhere)")
    p.add_argument("--json", help="write the table as JSON")
    p.add_argument("--markdown", help="write the table as Markdown")


def _ms_per_face(predict, crop, n: int = 200) -> float:
    for _ in range(10):
        predict(crop)
    t = time.perf_counter()
    for _ in range(n):
        predict(crop)
    return (time.perf_counter() - t) / n * 1000


def _summary(report) -> dict:
    """The columns of one evaluation; per-class recall and no-face counts for the JSON."""
    return {"n": report.n, "accuracy": report.accuracy, "macro_f1": report.macro_f1,
            "recall_disgust": report.per_class["disgust"].recall if "disgust" in report.per_class else None,
            "recall_fear": report.per_class["fear"].recall if "fear" in report.per_class else None,
            "ece": report.ece, "recall": {k: m.recall for k, m in report.per_class.items()},
            "no_face": report.n_no_prediction, "accuracy_found_faces": report.answered_accuracy}


def _markdown(rows: list[dict]) -> str:
    def pct(v):
        return "-" if v is None else f"{v:.1%}"

    def num(v, f):
        return "-" if v is None else format(v, f)

    lines = [("| model | test split | accuracy | macro-F1 | recall disgust | recall fear | ECE | "
              "wild accuracy | wild macro-F1 | ms/face (CPU, batch 1) |"), "|" + "---|" * 10]
    for r in rows:
        t, w = r["test"], r.get("wild") or {}
        cells = [_shown(r), r["test_split"], pct(t["accuracy"]), num(t["macro_f1"], ".3f"),
                 num(t["recall_disgust"], ".2f"), num(t["recall_fear"], ".2f"), num(t["ece"], ".3f"),
                 pct(w.get("accuracy")), num(w.get("macro_f1"), ".3f"), f"{r['ms_per_face']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


SELECT_MAX_DROP = 0.01  # a candidate may be at most one point below the default on any domain
# The real clips have no labels, so they never choose a model; but a candidate that shows more of
# their face-frames as a negative emotion (the costly misreading for the interview use) is vetoed.
SELECT_MAX_NEGATIVE_RISE = 0.01
DOMAINS = ("fer2013", "ferplus", "wild")


def domain_probs(clf, faces, seven: bool):
    """(faces in the scored labels, probabilities) with one view; `seven`: in the FER-2013 classes
    (data without contempt)."""
    import numpy as np

    from fer.ensemble import seven_class_view
    from fer.evaluate import to_model_labels
    from fer.labels import FER2013_LABELS

    faces = to_model_labels(faces, FER2013_LABELS if seven else clf.labels)
    probs = clf.predict_proba(faces.images, tta="none") if len(faces) else np.zeros((0, len(clf.labels)), np.float32)
    return faces, seven_class_view(probs, clf.labels) if seven else probs


def seven_class_summary(faces, probs) -> dict:
    """The table's columns for faces labelled in the seven FER-2013 classes and 7-class probabilities."""
    from fer.evaluate import predictions_report
    from fer.labels import FER2013_LABELS

    return _summary(predictions_report(faces, FER2013_LABELS, probs.argmax(1), probs))


def domain_report(clf, faces, seven: bool):
    """One view; `seven`: score in the FER-2013 classes (data without contempt)."""
    from fer.evaluate import predictions_report
    from fer.labels import FER2013_LABELS

    faces, probs = domain_probs(clf, faces, seven)
    return predictions_report(faces, FER2013_LABELS if seven else clf.labels, probs.argmax(1), probs)


def ensemble_rows(yard: list[dict], probs: dict[str, dict[str, tuple]], sizes=(2, 3)) -> tuple[list[dict], list[dict]]:
    """Every 2- and 3-model logit ensemble of the compared models on the labelled domains, from the
    members' cached 7-class probabilities: (the best of each size, by the selection score, as
    yardstick rows; every ensemble's score)."""
    from itertools import combinations

    from fer.ensemble import ensemble_name, mean_log_probs

    names = [r["model"] for r in yard if r["model"] in probs]
    scored = []
    for k in sizes:
        for members in combinations(names, k):
            row = {"model": ensemble_name(members), "members": list(members)}
            for domain in DOMAINS:
                if all(domain in probs[m] for m in members):
                    faces = probs[members[0]][domain][0]
                    p = mean_log_probs([probs[m][domain][1] for m in members])
                    row[domain] = seven_class_summary(faces, p)
            f1 = [row[d]["macro_f1"] for d in DOMAINS if row.get(d)]
            row["score"] = sum(f1) / len(f1) if f1 else None
            scored.append(row)
    best = [max((r for r in scored if len(r["members"]) == k and r["score"] is not None),
                key=lambda r: r["score"], default=None) for k in sizes]
    return [r for r in best if r is not None], [{"members": r["members"], "score": r["score"]} for r in scored]


def clip_shares(clf, clips: list[Path], max_frames: int | None) -> dict:
    """Negative and 'uncertain' shares of face-frames over the clips, as the live pipeline shows them."""
    from fer.evaluate import uncertain_share
    from fer.pipeline import EmotionPipeline, PipelineConfig
    from fer.recognizer import EmotionRecognizer
    from fer.video import iter_frames

    pipeline = EmotionPipeline(EmotionRecognizer(classifier=clf), PipelineConfig())
    per = [uncertain_share(pipeline, iter_frames(c, max_frames=max_frames), clip=c.name).to_dict() for c in clips]
    n = sum(r["face_frames"] for r in per)
    return {"face_frames": n, "negative_share": sum(r["negative"] for r in per) / n if n else None,
            "uncertain_share": sum(r["uncertain"] for r in per) / n if n else None, "clips": per}


def select_default(rows: list[dict], default: str) -> dict:
    """The selection rule over yardstick rows: returns {"winner", "scores", "eligible", "rule"}."""
    base = next((r for r in rows if r["model"] == default), None)
    if base is None:
        raise ValueError(f"the default {default!r} is not among the compared models")
    scores, eligible = {}, []
    for r in rows:
        f1 = [r[d]["macro_f1"] for d in DOMAINS if r.get(d)]
        scores[r["model"]] = sum(f1) / len(f1) if f1 else None
        drops = [base[d]["accuracy"] - r[d]["accuracy"] for d in DOMAINS if r.get(d) and base.get(d)]
        neg, base_neg = _negative_share(r), _negative_share(base)
        rise = neg - base_neg if neg is not None and base_neg is not None else 0.0
        if f1 and all(x <= SELECT_MAX_DROP + 1e-9 for x in drops) and rise <= SELECT_MAX_NEGATIVE_RISE + 1e-9:
            eligible.append(r["model"])
    winner = max(eligible, key=lambda m: scores[m])
    return {"winner": winner, "scores": scores, "eligible": eligible,
            "rule": "highest mean macro-F1 over FER-2013 PrivateTest, FER+ PrivateTest and the wild photos, "
                    f"no domain's accuracy more than {SELECT_MAX_DROP:.0%} below {default}'s, and on the real "
                    f"clips no share of face-frames shown as a negative emotion more than "
                    f"{SELECT_MAX_NEGATIVE_RISE:.0%} above {default}'s"}


def _negative_share(row: dict) -> float | None:
    return (row.get("clips") or {}).get("negative_share")


def write_yardstick(row: dict, measured: str) -> bool:
    """Put one yardstick row into the card of a model in weights/; False for other models."""
    from fer.weights import DomainScore, ModelCard, Yardstick, card_path, list_weights, weights_path

    if row["model"] not in list_weights():
        return False
    clips = row.get("clips") or {}
    y = Yardstick(domains={d: DomainScore(row[d]["n"], round(row[d]["accuracy"], 4), round(row[d]["macro_f1"], 4))
                           for d in DOMAINS if row.get(d)},
                  clips_negative_share=_rounded(clips.get("negative_share")),
                  clips_uncertain_share=_rounded(clips.get("uncertain_share")),
                  clip_face_frames=clips.get("face_frames"), measured=measured)
    path = card_path(weights_path(row["model"]))
    ModelCard.read(path).with_yardstick(y).write(path)
    return True


def training_time(card) -> dict | None:
    """How long the model trained: the run's recorded wall time where publish wrote it, else its
    epochs times its best epoch's seconds (approximate); None for a card without either."""
    t = card.training or {}
    if "train_seconds" in t:
        return {"seconds": t["train_seconds"], "approx": False, "cpu": t.get("trained_on")}
    best, epochs = t.get("best_epoch") or {}, t.get("epochs_run")
    if "seconds" in best and epochs:
        return {"seconds": round(best["seconds"] * epochs), "approx": True, "cpu": None}
    return None


def _duration(t: dict | None) -> str:
    if not t:
        return "-"
    m = t["seconds"] / 60
    return ("~" if t["approx"] else "") + (f"{m:.0f} min" if m < 90 else f"{m / 60:.1f} h")


def _rounded(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _shown(row: dict) -> str:
    """A row's model as the tables name it: the int8 graph says so."""
    return row["model"] + (" (int8)" if row.get("precision") == "int8" else "")


def _yardstick_markdown(rows: list[dict]) -> str:
    def cell(d):
        return "-" if not d else f"{d['accuracy']:.1%} / {d['macro_f1']:.3f}"

    def share(v):
        return "-" if v is None else f"{v:.1%}"

    def num(v, f):
        return "-" if v is None else format(v, f)

    header = ("| model | FER-2013 PrivateTest | FER+ PrivateTest | wild photos (whole pipeline) | "
              "clips: negative | clips: uncertain | ECE (FER-2013) | params (M) | ms/face | training |")
    lines = [header, "|" + "---|" * 10]
    for r in rows:
        c = r.get("clips") or {}
        lines.append(f"| {_shown(r)} | {cell(r.get('fer2013'))} | {cell(r.get('ferplus'))} | {cell(r.get('wild'))} | "
                     f"{share(c.get('negative_share'))} | {share(c.get('uncertain_share'))} | "
                     f"{num((r.get('fer2013') or {}).get('ece'), '.3f')} | {num(r.get('params_m'), '.2f')} | "
                     f"{num(r.get('ms_per_face'), '.2f')} | {_duration(r.get('training'))} |")
    return "\n".join(lines)


def run(args) -> int:
    import numpy as np

    from fer.classifier import EmotionClassifier
    from fer.evaluate import detecting_reader, evaluate, load_eval_data, predictions_report, to_model_labels
    from fer.labels import DATASET_NAMES, FER2013_LABELS, dataset_of
    from fer.tta import TTA_POLICIES
    from fer.weights import list_weights

    names = args.models or list_weights()
    policies = args.tta or list(TTA_POLICIES)
    test_data = {"fer2013": args.data, "ferplus": args.ferplus}
    cache: dict = {}
    wild = None
    if args.wild and Path(args.wild).is_dir():
        from fer.detection import FaceDetector

        t = time.perf_counter()
        wild, _ = load_eval_data(args.wild, args.split, FER2013_LABELS, detecting_reader(FaceDetector()))
        print(f"wild: faces found in {len(wild)} of {len(wild) + len(wild.no_face)} photos "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
    rows = []
    for name in names:
        for tta in policies:
            clf = EmotionClassifier(name, tta=tta, precision=args.precision)
            dataset = dataset_of(clf.labels)
            key = (dataset, clf.labels)
            if key not in cache:
                cache[key] = load_eval_data(test_data[dataset], args.split, clf.labels)[0]
            test, _ = evaluate(clf, cache[key])
            row = {"model": name + ("" if tta == "none" else f" + {tta} TTA"), "weights": name, "tta": tta,
                   "precision": clf.precision,
                   "test_split": f"{DATASET_NAMES[dataset]} {args.split}", "test": _summary(test),
                   "params_m": sum(p.numel() for p in clf.model.parameters()) / 1e6,
                   "ms_per_face": _ms_per_face(clf.predict_proba, cache[key].images[:1]),
                   "load_avg_1min": os.getloadavg()[0]}  # other work on the CPU while it was timed
            if wild is not None:
                row["wild"] = _summary(evaluate(clf, to_model_labels(wild, clf.labels))[0])
            rows.append(row)
            wild_acc = round(row["wild"]["accuracy"], 4) if wild is not None else None
            print(json.dumps({"model": row["model"], "ms_per_face": row["ms_per_face"],
                              "test_accuracy": round(test.accuracy, 4), "wild_accuracy": wild_acc}),
                  flush=True)
    yard = []  # the yardstick: every model, one view, every domain
    member_probs: dict[str, dict[str, tuple]] = {}  # model -> domain -> (faces, 7-class probs)
    timed = {r["weights"]: r for r in rows if r["tta"] == "none"}
    ferplus_ok = Path(args.ferplus).is_dir()
    clips = sorted(Path(args.clips).glob("*.mp4")) if args.clips and Path(args.clips).is_dir() else []
    for name in names:
        clf = EmotionClassifier(name, precision=args.precision)
        row = {"model": name, "precision": clf.precision, "training": training_time(clf.card)}
        for domain, root in (("fer2013", args.data), ("ferplus", args.ferplus if ferplus_ok else None)):
            if root is None:
                continue
            key = ("yard", domain)
            if key not in cache:
                from fer.labels import FERPLUS_LABELS

                cache[key] = load_eval_data(root, args.split, FERPLUS_LABELS if domain == "ferplus" else FER2013_LABELS)[0]
            member_probs.setdefault(name, {})[domain] = domain_probs(clf, cache[key], seven=True)
        if wild is not None:
            member_probs.setdefault(name, {})["wild"] = domain_probs(clf, wild, seven=True)
        for domain, (faces7, p7) in member_probs.get(name, {}).items():
            row[domain] = seven_class_summary(faces7, p7)
        if name in timed:
            row["params_m"], row["ms_per_face"] = timed[name]["params_m"], timed[name]["ms_per_face"]
        if clips:
            row["clips"] = clip_shares(clf, clips, args.max_frames)
        yard.append(row)
        print(json.dumps({"yardstick": name, **{d: round(row[d]["accuracy"], 4) for d in DOMAINS if d in row},
                          **({"negative_share": row["clips"]["negative_share"],
                              "uncertain_share": row["clips"]["uncertain_share"]} if clips else {})}), flush=True)
    ensembles = None
    if args.ensembles:
        from fer.ensemble import EnsembleClassifier

        best, ensembles = ensemble_rows(yard, member_probs)
        crop = next(iter(member_probs.values()))["fer2013"][0].images[:1] if member_probs else None
        for row in best:
            ens = EnsembleClassifier.of(row["members"], precision=args.precision)
            row["precision"] = ens.precision
            row["params_m"] = sum(timed[m]["params_m"] for m in row["members"] if m in timed)
            parts = [r.get("training") for r in yard if r["model"] in row["members"]]
            if parts and all(parts):
                row["training"] = {"seconds": sum(p["seconds"] for p in parts),
                                   "approx": any(p["approx"] for p in parts), "cpu": None}
            if crop is not None:
                row["ms_per_face"] = _ms_per_face(ens.predict_proba, crop)
            if clips:
                row["clips"] = clip_shares(ens, clips, args.max_frames)
            print(json.dumps({"yardstick": row["model"], "score": round(row["score"], 4),
                              **{d: round(row[d]["accuracy"], 4) for d in DOMAINS if d in row}}), flush=True)
        yard.extend(best)
    selection = None
    if args.select:
        from fer.weights import DEFAULT_WEIGHTS

        selection = select_default([r for r in yard if "members" not in r], args.default or DEFAULT_WEIGHTS)
    if Path(args.baseline).is_file():
        from fer.baseline import HogSvm

        svm = HogSvm.load(args.baseline)
        faces = cache.get(("fer2013", svm.labels)) or load_eval_data(args.data, args.split, svm.labels)[0]
        row = {"model": "HOG + linear SVM", "weights": args.baseline, "tta": "none",
               "test_split": f"{DATASET_NAMES['fer2013']} {args.split}",
               "test": _summary(predictions_report(faces, svm.labels, svm.predict(faces.images))),
               "params_m": svm.coef.size / 1e6, "ms_per_face": _ms_per_face(svm.predict, faces.images[:1])}
        if wild is not None:
            w = to_model_labels(wild, svm.labels)
            pred = svm.predict(w.images) if len(w) else np.zeros(0, np.int64)
            row["wild"] = _summary(predictions_report(w, svm.labels, pred))
        rows.append(row)
    table = _markdown(rows)
    wild_note = ""
    if wild is not None:
        wild_note = (f"\nwild: {args.wild} through MTCNN, {len(wild) + len(wild.no_face)} photos, "
                     f"{len(wild.no_face)} without a found face (counted as wrong)")
    print(f"\n{args.split} split of each model's test set\n{table}{wild_note}")
    yard_table = _yardstick_markdown(yard)
    print(f"\nyardstick (one view; accuracy / macro-F1)\n{yard_table}")
    if selection:
        print(f"selection rule: {selection['rule']}\n-> {selection['winner']}")
    if args.write_cards:
        import datetime

        measured = (f"python -m fer compare --tta none --split {args.split} (precision {args.precision}), "
                    f"{datetime.date.today().isoformat()}")
        written = [r["model"] for r in yard if write_yardstick(r, measured)]
        print(f"yardstick written into the cards of: {', '.join(written) or 'none (no shipped model compared)'}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(
            {"split": args.split, "data": test_data, "wild": args.wild or None,
             "wild_photos": None if wild is None else len(wild) + len(wild.no_face),
             "wild_no_face": None if wild is None else wild.no_face_names, "rows": rows,
             "yardstick": yard, "ensembles": ensembles, "selection": selection}, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(table + "\n\n" + yard_table + "\n")
    return 0
