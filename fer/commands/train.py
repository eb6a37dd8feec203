"""`python -m fer train`: train a registered classifier on FER-2013 or FER+."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = "train a classifier (FER-2013, FER+, or both heads jointly with distillation)"

JOINT_PACK = Path.home() / ".cache" / "fer-runs" / "fer_pack.npz"
TEACHERS = ("joint_resnet_m", "ferplus_resnet_m")
TEACHER_CACHE = Path.home() / ".cache" / "fer-runs" / "teachers"  # = fer.data.teacher.DEFAULT_CACHE


def _joint_data(args):
    """FER-2013 faces with both targets (fer.data.targets): FER-2013 labels and FER+ votes matched
    by pixels (a pack, built once into the cache when none is given), plus the teachers' outputs."""
    from dataclasses import replace

    from fer.data.pack import build_pack, load_pack
    from fer.data.targets import JOINT_LABELS, joint_targets, joint_teachers, validation_targets
    from fer.data.teacher import teacher_probs

    pack = Path(args.pack) if args.pack else JOINT_PACK
    if not pack.is_file():
        pack.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {pack} (FER-2013 + matched FER+ votes)", flush=True)
        build_pack(Path(args.data), Path(args.ferplus), pack, ("Training", "PublicTest"))
    train_set, val_set = load_pack(pack, "Training", "joint"), load_pack(pack, "PublicTest", "joint")
    t7, t8 = joint_teachers(*(teacher_probs(train_set.images, name, tta=args.teacher_tta,
                                            cache_dir=args.teacher_cache) for name in args.teachers),
                            heads=args.teacher_heads)
    soft = joint_targets(train_set.labels, train_set.soft, t7, t8, args.distill, args.label_smoothing)
    return (replace(train_set, soft=soft, label_names=JOINT_LABELS),
            replace(val_set, soft=validation_targets(val_set.labels, val_set.soft), label_names=JOINT_LABELS))


def _distilled(train_set, args):
    """FER-2013 faces whose targets mix their labels with the teachers' outputs (computed once,
    cached, on the un-augmented faces): soft-target distillation of a shipped CNN into the student."""
    from dataclasses import replace

    from fer.data.targets import distilled_targets, teachers_fer2013
    from fer.data.teacher import teacher_probs

    probs = [teacher_probs(train_set.images, name, tta=args.teacher_tta, cache_dir=args.teacher_cache)
             for name in args.teachers]
    soft = distilled_targets(train_set.labels, teachers_fer2013(*probs), args.distill)
    return replace(train_set, soft=soft)


def _load_training_data(args):
    """Train/validation arrays for the task (`--distill`: with the teachers' soft targets)."""
    if args.task == "joint":
        return _joint_data(args)
    train_set, val_set = _plain_data(args)
    return (_distilled(train_set, args) if args.distill else train_set), val_set


def _plain_data(args):
    """Train/validation arrays from a pack, the FER-2013 folders, FER+ folders or fer2013.csv."""
    from fer.data import load_fer2013_csv, load_fer2013_folder, load_ferplus

    if args.pack:
        from fer.data.pack import load_pack

        return load_pack(args.pack, "Training", args.task), load_pack(args.pack, "PublicTest", args.task)
    data = Path(args.data)
    if args.task == "ferplus":
        return load_ferplus(data, "Training"), load_ferplus(data, "PublicTest")
    if data.suffix.lower() == ".csv":
        return load_fer2013_csv(data, "Training"), load_fer2013_csv(data, "PublicTest")
    return load_fer2013_folder(data, "Training"), load_fer2013_folder(data, "PublicTest")


def run(args) -> int:
    import time

    import torch

    from fer.runtime import training_threads
    from fer.train import TrainConfig, measure_epoch_seconds, train

    torch.set_num_threads(training_threads())  # torch is loaded only now: --threads reaches it here

    joint = args.task == "joint"
    if joint and args.imbalance != "none":
        raise ValueError("--task joint trains on soft targets: --imbalance is not supported")
    if args.distill and args.task == "ferplus":
        raise ValueError("--distill needs --task fer2013 or joint")
    from fer.labels import FERPLUS_LABELS
    from fer.weights import card_of

    # The teachers' classes from their cards, so a wrong mix fails before any work (a teacher
    # without a card is a FileNotFoundError, which the CLI reports like a ValueError).
    if joint and not any(len(card_of(t).labels) == len(FERPLUS_LABELS) for t in args.teachers):
        raise ValueError("--task joint needs at least one 8-class (FER+) model among --teachers")
    distilled = not joint and args.distill > 0
    from fer.data.targets import head_sizes

    cfg = TrainConfig(
        model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, optimizer=args.optimizer, schedule=args.schedule,
        label_smoothing=args.label_smoothing, imbalance=args.imbalance,
        imbalance_power=args.imbalance_power, soft_targets=args.task in ("ferplus", "joint") or distilled,
        warmup_epochs=args.warmup,
        seed=args.seed, device=args.device, init=args.init, degrade=args.degrade,
        heads=head_sizes() if joint else None, distill=args.distill,
        teachers=tuple(args.teachers) if args.distill else (),
        teacher_heads=args.teacher_heads if joint and args.distill else "all",
    )
    if not args.quiet:  # the per-epoch lines are fer.train's log; show them unless asked not to
        import logging

        for name in ("fer.train", "fer.data.teacher"):
            logging.getLogger(name).setLevel(logging.INFO)
    t0 = time.time()
    train_set, val_set = _load_training_data(args)
    counts = {k: v for k, v in train_set.class_counts().items() if not (joint and k.startswith("ferplus:"))}
    print(f"loaded {len(train_set)} training and {len(val_set)} validation faces "
          f"in {time.time() - t0:.1f}s: {counts}", flush=True)
    if args.time_budget and not args.resume:
        per_epoch = measure_epoch_seconds(cfg, train_set, len(val_set))
        fit = int(max(1, (args.time_budget - (time.time() - t0)) * 0.92 // per_epoch))
        print(f"~{per_epoch:.1f}s per epoch: {min(fit, cfg.epochs)} epochs fit the budget", flush=True)
        cfg.epochs = min(fit, cfg.epochs)
    result = train(cfg, train_set, val_set, args.out, resume=args.resume, progress=not args.quiet,
                   stop_after=args.stop_after)
    print(json.dumps(result["best"]))
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    from fer.train import TrainConfig

    p.add_argument("--data", default=str(DEFAULT_DATA / "fer2013"),
                   help="FER-2013 folder layout, fer2013.csv, or the FER+ root with --task ferplus")
    p.add_argument("--pack", help="a pack made by fer.data.pack (instead of --data)")
    p.add_argument("--task", choices=["fer2013", "ferplus", "joint"], default="fer2013",
                   help="joint: FER-2013 faces with a FER-2013 head and a FER+ head (7 + 8 outputs; "
                        "`publish --head` makes a 7- or 8-class model of it)")
    p.add_argument("--ferplus", default=str(DEFAULT_DATA / "ferplus"), help="FER+ root (--task joint)")
    p.add_argument("--distill", type=float, default=0.0,
                   help="--task fer2013 or joint: the teachers' share of each target (0: labels only)")
    p.add_argument("--teachers", nargs="+", default=list(TEACHERS), metavar="W",
                   help="names in weights/ or paths, 7-class (FER-2013) or 8-class (FER+) models; their "
                        "distributions are averaged per head (--task joint needs at least one 8-class one)")
    from fer.data.targets import TEACHER_HEADS  # numpy only: cheap at parser time

    p.add_argument("--teacher-heads", choices=TEACHER_HEADS, default=TEACHER_HEADS[0],
                   help="--task joint: the FER-2013 head's target averages all teachers over its 7 classes, "
                        "or only the 7-class ones (own); the FER+ head always takes the 8-class ones")
    p.add_argument("--teacher-tta", default="flip", help="test-time augmentation of the teachers (computed once, cached)")
    p.add_argument("--teacher-cache", default=str(TEACHER_CACHE), help="where the teachers' outputs are cached")
    p.add_argument("--degrade", type=float, default=0.0,
                   help="probability of each live-path degradation per face (head turn, glasses, occluder, motion "
                        "blur, low resolution, low light, JPEG; fer.data.augment)")
    d = TrainConfig()  # the defaults are the shipped model's recipe
    p.add_argument("--model", default=d.model)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default=d.optimizer)
    p.add_argument("--schedule", choices=["onecycle", "cosine"], default=d.schedule)
    p.add_argument("--warmup", type=float, metavar="EPOCHS", help="LR warm-up (default: 15%% of the run with "
                   "onecycle, none with cosine); a ViT from scratch wants ~5")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--imbalance", choices=["none", "class_weights", "focal", "oversample"], default=d.imbalance)
    p.add_argument("--imbalance-power", type=float, default=d.imbalance_power)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--init", metavar="W", help="start from these weights (a name in weights/ or a path); "
                   "layers that do not fit, such as a head with other classes, start fresh")
    p.add_argument("--device", default=d.device)
    p.add_argument("--time-budget", type=float, default=0, help="seconds; fewer epochs if they would not fit")
    p.add_argument("--out", default="runs/train")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--stop-after", type=int, help="end this run after that many epochs (resume later)")
    p.add_argument("--quiet", action="store_true")
