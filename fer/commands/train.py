"""`python -m fer train`: train a registered classifier on FER-2013 or FER+."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = "train a classifier (FER-2013 or FER+)"


def _load_training_data(args):
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

    from fer.train import TrainConfig, measure_epoch_seconds, train

    cfg = TrainConfig(
        model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, optimizer=args.optimizer, schedule=args.schedule,
        label_smoothing=args.label_smoothing, imbalance=args.imbalance,
        imbalance_power=args.imbalance_power, soft_targets=args.task == "ferplus",
        seed=args.seed, device=args.device, init=args.init,
    )
    t0 = time.time()
    train_set, val_set = _load_training_data(args)
    print(f"loaded {len(train_set)} training and {len(val_set)} validation faces "
          f"in {time.time() - t0:.1f}s: {train_set.class_counts()}", flush=True)
    if args.time_budget and not args.resume:
        per_epoch = measure_epoch_seconds(cfg, train_set, len(val_set))
        fit = int(max(1, (args.time_budget - (time.time() - t0)) * 0.92 // per_epoch))
        print(f"~{per_epoch:.1f}s per epoch: {min(fit, cfg.epochs)} epochs fit the budget", flush=True)
        cfg.epochs = min(fit, cfg.epochs)
    if not args.quiet:  # the per-epoch lines are fer.train's log; show them unless asked not to
        import logging

        logging.getLogger("fer.train").setLevel(logging.INFO)
    result = train(cfg, train_set, val_set, args.out, resume=args.resume, progress=not args.quiet,
                   stop_after=args.stop_after)
    print(json.dumps(result["best"]))
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    from fer.train import TrainConfig

    p.add_argument("--data", default=str(DEFAULT_DATA / "fer2013"),
                   help="FER-2013 folder layout, fer2013.csv, or the FER+ root with --task ferplus")
    p.add_argument("--pack", help="a pack made by fer.data.pack (instead of --data)")
    p.add_argument("--task", choices=["fer2013", "ferplus"], default="fer2013")
    d = TrainConfig()  # the defaults are the shipped model's recipe
    p.add_argument("--model", default=d.model)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default=d.optimizer)
    p.add_argument("--schedule", choices=["onecycle", "cosine"], default=d.schedule)
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
