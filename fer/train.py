"""Train a registered classifier on in-memory face arrays.

Augmentation runs on the training device as batched tensor ops (affine warp, flip,
brightness/contrast, random erasing), so a GPU is never starved by a CPU data loader and a CPU
run needs no worker processes. Checkpoints are written every epoch; `resume=True` continues.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from fer.data.augment import FACE_STEPS, degrade, head_turn_scale
from fer.data.datasets import FaceArrays
from fer.models import create_model, get_spec
from fer.weights import ModelCard

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    # Defaults: the recipe of fer2013_resnet_m, the first shipped ResNet-M (SGD at lr 0.1 sat at the class prior here).
    model: str = "resnet_m"
    epochs: int = 50
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    optimizer: str = "adamw"  # sgd | adamw
    schedule: str = "onecycle"  # onecycle | cosine
    warmup_epochs: float | None = None  # LR warm-up; None: onecycle's 15% of the run, none before cosine
    label_smoothing: float = 0.1
    imbalance: str = "none"  # none | class_weights | focal | oversample
    imbalance_power: float = 0.5  # 1 = inverse frequency, 0.5 = its square root (milder)
    focal_gamma: float = 2.0
    soft_targets: bool = False  # train on `soft`: FER+ votes, or FER-2013 labels mixed with teachers
    ema_decay: float = 0.999
    # The EMA's decay grows as (1 + n) / (10 + n) up to ema_decay over its first updates (timm's
    # warm-up): at a fixed 0.999 a network trained from scratch kept a fifth of its random start
    # after 7 epochs, and its BN statistics no longer matched (effnet_b0: constant predictions).
    ema_warmup: bool = True
    rotate_deg: float = 15.0
    scale: float = 0.15
    shift: float = 0.1
    erase_p: float = 0.25
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    init: str | None = None  # weights to start from (e.g. the FER-2013 model for FER+); the head is new
    # Joint recipe (fer.data.targets): the output is several heads side by side, each trained on
    # its own block of the soft targets (e.g. (7, 8): a FER-2013 head and a FER+ head).
    heads: tuple[int, ...] | None = None
    # The teachers' share of each soft target (recorded here, applied by fer.data.targets): the joint
    # recipe, or the FER-2013 task with soft targets (labels mixed with the teachers' distributions).
    distill: float = 0.0
    teachers: tuple[str, ...] = ()  # their names, for the card
    # Joint recipe: "all" teachers shape the FER-2013 head's target (FER+ ones over 7 classes), or
    # "own": only the 7-class ones where there are any (fer.data.targets.joint_teachers).
    teacher_heads: str = "all"
    degrade: float = 0.0  # probability of each live-path degradation per face (fer.data.augment)


def init_from(model: nn.Module, weights: str | Path) -> list[str]:
    """Copy every tensor whose name and shape match; returns the names left as initialised
    (the classifier head when the label sets differ)."""
    from fer.models.state import load_state
    from fer.weights import weights_path

    own = model.state_dict()
    given = load_state(weights_path(weights))
    matched = {k: v for k, v in given.items() if k in own and own[k].shape == v.shape}
    if not any(v.is_floating_point() for v in matched.values()):  # BN counters alone do not count
        raise ValueError(f"no tensor of {weights} fits a {type(model).__name__}")
    model.load_state_dict(matched, strict=False)
    return sorted(set(own) - set(matched))


def init_heads_from(model: nn.Module, weights: str | Path, heads: tuple[int, ...]) -> None:
    """Start every head of a joint model as the final layer of `weights` (its first rows where a
    head has fewer classes: e.g. the FER+ model's 8-class layer for a FER+ head and, without
    contempt, for a FER-2013 head), so fine-tuning starts from a working classifier."""
    from fer.models.heads import HEAD_BIAS, HEAD_WEIGHT
    from fer.models.state import load_state
    from fer.weights import weights_path

    given = load_state(weights_path(weights))
    own = model.state_dict()
    w, b = own[HEAD_WEIGHT].clone(), own[HEAD_BIAS].clone()
    if given[HEAD_WEIGHT].shape[1] != w.shape[1]:
        raise ValueError(f"the final layer of {weights} does not fit this model")
    start = 0
    for k in heads:
        n = min(k, len(given[HEAD_WEIGHT]))
        w[start : start + n] = given[HEAD_WEIGHT][:n]
        b[start : start + n] = given[HEAD_BIAS][:n]
        start += k
    model.load_state_dict({**own, HEAD_WEIGHT: w, HEAD_BIAS: b})


def use_amp(cfg_amp: bool, device: torch.device, cpu_bf16: bool = True) -> bool:
    """bf16 autocast on CUDA, and on CPUs with native bf16 (AMX/AVX-512 BF16), where it halves step
    time, unless the architecture says otherwise (`ModelSpec.cpu_bf16`)."""
    if not cfg_amp:
        return False
    if device.type == "cuda":
        return True
    try:
        return device.type == "cpu" and cpu_bf16 and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig, steps: int):
    """Per-step LR schedule. Transformers trained from scratch want a longer warm-up (DeiT: 5 of
    300 epochs; here ~5 of 50) than the ResNet recipe's default."""
    lrs = torch.optim.lr_scheduler
    warm = cfg.warmup_epochs
    if cfg.schedule == "onecycle":
        pct = 0.15 if warm is None else warm / cfg.epochs
        if not 0 < pct < 1:
            raise ValueError(f"onecycle needs a warm-up shorter than the run: {warm} of {cfg.epochs} epochs")
        return lrs.OneCycleLR(opt, cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps, pct_start=pct)
    n_warm = round((warm or 0) * steps)
    if n_warm <= 0:
        return lrs.CosineAnnealingLR(opt, cfg.epochs * steps)
    if n_warm >= cfg.epochs * steps:
        raise ValueError(f"the warm-up ({warm} epochs) must be shorter than the run ({cfg.epochs})")
    return lrs.SequentialLR(opt, [lrs.LinearLR(opt, 0.01, 1.0, n_warm),
                                  lrs.CosineAnnealingLR(opt, cfg.epochs * steps - n_warm)], [n_warm])


def augment(x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Batched augmentation of (B, 1, H, W) floats in [0, 1]; the same on CPU and GPU."""
    b, dev = x.shape[0], x.device

    def u(*shape):  # uniform in [-1, 1)
        return torch.rand(*shape, generator=gen, device=dev) * 2 - 1

    flip = torch.rand(b, generator=gen, device=dev) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    x = degrade(x, cfg.degrade, gen, FACE_STEPS)  # glasses on the eyes, before the warp moves them
    ang = u(b) * math.radians(cfg.rotate_deg)
    s = 1 + u(b) * cfg.scale
    t = u(b, 2) * cfg.shift * 2  # affine_grid coordinates span [-1, 1]
    sx = head_turn_scale(b, cfg.degrade, gen, dev) if cfg.degrade > 0 else 1.0  # a turned head is narrower
    theta = torch.stack([
        torch.stack([ang.cos() / s * sx, -ang.sin() / s * sx, t[:, 0]], 1),
        torch.stack([ang.sin() / s, ang.cos() / s, t[:, 1]], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    mean = x.mean((1, 2, 3), keepdim=True)
    x = ((x - mean) * (1 + 0.3 * u(b, 1, 1, 1)) + mean + 0.15 * u(b, 1, 1, 1)).clamp(0, 1)
    if cfg.erase_p > 0:
        h, w = x.shape[-2:]
        area = (0.02 + 0.18 * torch.rand(b, generator=gen, device=dev)) * h * w
        ratio = torch.exp(u(b) * math.log(3))
        eh = (area * ratio).sqrt().clamp(max=h)
        ew = (area / ratio).sqrt().clamp(max=w)
        cy = torch.rand(b, generator=gen, device=dev) * h
        cx = torch.rand(b, generator=gen, device=dev) * w
        yy = torch.arange(h, device=dev)[None, :, None]
        xx = torch.arange(w, device=dev)[None, None, :]
        box = ((yy - cy[:, None, None]).abs() < eh[:, None, None] / 2) & (
            (xx - cx[:, None, None]).abs() < ew[:, None, None] / 2)
        on = torch.rand(b, generator=gen, device=dev) < cfg.erase_p
        noise = torch.rand(x.shape, generator=gen, device=dev)
        x = torch.where((box & on[:, None, None])[:, None], noise, x)
    return degrade(x, cfg.degrade, gen) if cfg.degrade > 0 else x


def normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def class_weights(labels: np.ndarray, n_classes: int, power: float) -> np.ndarray:
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = (counts.sum() / np.maximum(counts, 1) / n_classes) ** power
    return (w / (w * counts).sum() * counts.sum()).astype(np.float32)  # mean weight per sample = 1


def head_slices(heads: tuple[int, ...]) -> list[slice]:
    """The columns of each head in the joint output."""
    from itertools import pairwise

    return [slice(int(a), int(b)) for a, b in pairwise(np.cumsum((0, *heads)))]


def loss_fn(logits, target, cfg: TrainConfig, weight: torch.Tensor | None) -> torch.Tensor:
    if cfg.heads:  # one soft cross-entropy per head; a row whose block of targets is all zero adds nothing
        return sum(F.cross_entropy(logits[:, sl].float(), target[:, sl]) for sl in head_slices(cfg.heads))
    if cfg.imbalance == "focal":
        logp = F.log_softmax(logits.float(), 1)
        tgt = target if target.dim() == 2 else F.one_hot(target, logits.shape[1]).float()
        tgt = tgt * (1 - cfg.label_smoothing) + cfg.label_smoothing / logits.shape[1]
        pt = (logp.exp() * tgt).sum(1)
        return ((1 - pt) ** cfg.focal_gamma * -(tgt * logp).sum(1)).mean()
    w = weight if cfg.imbalance == "class_weights" else None
    return F.cross_entropy(logits.float(), target, weight=w, label_smoothing=cfg.label_smoothing)


def ema_update(decay: float, warmup: bool):
    """AveragedModel's update: a fixed decay, or with warm-up the smaller of `decay` and
    (1 + n) / (10 + n), n being the updates so far."""
    if not warmup:
        return get_ema_multi_avg_fn(decay)

    @torch.no_grad()
    def update(averaged: list, current: list, num_averaged) -> None:
        n = int(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1 - d)
        else:  # integer buffers (BN's batch counter), as torch's own EMA does
            for a, c in zip(averaged, current):
                a.copy_(a * d + c * (1 - d))

    return update


@torch.inference_mode()
def predict_logits(model, images: np.ndarray, mean, std, device, batch: int = 512, flip_tta: bool = False,
                   amp: bool = False) -> np.ndarray:
    """Logits for (N, H, W) uint8 images, optionally averaged with the mirrored image."""
    model.eval()
    out = []
    for s in range(0, len(images), batch):
        x = torch.from_numpy(images[s : s + batch]).to(device).float().div(255).unsqueeze(1)
        x = normalise(x, mean, std)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            y = model(x).float()
            if flip_tta:
                y = (y + model(x.flip(-1)).float()) / 2
        out.append(y.cpu())
    return torch.cat(out).numpy()


def train(cfg: TrainConfig, train_set: FaceArrays, val_set: FaceArrays, out_dir: str | Path,
          resume: bool = False, progress: bool = True, stop_after: int | None = None) -> dict:
    """Train, keep the best epoch by validation accuracy (EMA weights), return its summary.

    `stop_after` ends this call after that many epochs in total (the schedule still spans
    `cfg.epochs`), so a long run can be split across sessions with `resume=True`."""
    from tqdm import tqdm

    from fer.models.state import save_weights

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    device = resolve_device(cfg.device)
    spec = get_spec(cfg.model)
    n_classes = len(train_set.label_names)
    model = create_model(cfg.model, n_classes)
    if cfg.init:
        init_from(model, cfg.init)
        if cfg.heads:
            init_heads_from(model, cfg.init, cfg.heads)
    model = model.to(device).to(memory_format=torch.channels_last)
    ema = AveragedModel(model, multi_avg_fn=ema_update(cfg.ema_decay, cfg.ema_warmup), use_buffers=True)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                              weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = math.ceil(len(train_set) / cfg.batch_size)
    sched = lr_schedule(opt, cfg, steps)

    images = torch.from_numpy(train_set.images).to(device)
    labels = torch.from_numpy(train_set.labels).to(device)
    if cfg.soft_targets and train_set.soft is None:
        raise ValueError("soft_targets is set but the training set has none")
    soft = torch.from_numpy(train_set.soft).to(device) if cfg.soft_targets else None
    cw = class_weights(train_set.labels, n_classes, cfg.imbalance_power)
    weight = torch.from_numpy(cw).to(device)
    sample_w = torch.from_numpy(cw[train_set.labels]).to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    amp = use_amp(cfg.amp, device, spec.cpu_bf16)

    start, best, history, resized = 0, {"val_acc": -1.0}, [], []
    ckpt = out_dir / "last.pt"
    if resume and ckpt.exists():
        state = load_checkpoint(ckpt, device)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"].cpu() if device.type == "cpu" else state["gen"])
        start, best, history = state["epoch"] + 1, state["best"], state["history"]
        resized = list(state.get("resized", []))
        was = int(state["config"]["epochs"])
        if was == cfg.epochs:
            sched.load_state_dict(state["sched"])
        else:  # a run resized to the time left: the new schedule, advanced to where the run is
            if not start < cfg.epochs:
                raise ValueError(f"{ckpt} has run {start} epochs: --epochs must be more than that")
            log.warning("resized from %d to %d epochs after epoch %d", was, cfg.epochs, start)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": on purpose
                for _ in range(start * steps):
                    sched.step()
            resized.append({"after_epoch": start, "epochs_from": was, "epochs_to": cfg.epochs})

    for epoch in range(start, min(cfg.epochs, stop_after or cfg.epochs)):
        model.train()
        t0 = time.time()
        if cfg.imbalance == "oversample":
            order = torch.multinomial(sample_w, len(train_set), replacement=True, generator=gen)
        else:
            order = torch.randperm(len(train_set), generator=gen, device=device)
        total, seen = 0.0, 0
        bar = tqdm(range(steps), desc=f"{cfg.model} {epoch + 1}/{cfg.epochs}", disable=not progress or not sys.stderr.isatty(),
                   leave=False, mininterval=2)
        for i in bar:
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            x = images[idx].float().div(255).unsqueeze(1)
            x = normalise(augment(x, cfg, gen), spec.mean, spec.std)
            target = soft[idx] if soft is not None else labels[idx]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(x)
            loss = loss_fn(logits, target, cfg, weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            ema.update_parameters(model)
            total += loss.item() * len(idx) if i % 20 == 0 else 0.0
            seen += len(idx) if i % 20 == 0 else 0
            if i % 20 == 0:
                bar.set_postfix(loss=f"{total / max(seen, 1):.3f}")
        logits = predict_logits(ema.module, val_set.images, spec.mean, spec.std, device, amp=amp)
        heads_acc = validation_accuracy(logits, val_set, cfg.heads)
        val_acc = float(np.mean(heads_acc))
        rec = {"epoch": epoch + 1, "train_loss": total / max(seen, 1), "val_acc": val_acc,
               "lr": sched.get_last_lr()[0], "seconds": time.time() - t0}
        if cfg.heads:
            rec["val_acc_heads"] = heads_acc
        history.append(rec)
        if val_acc > best["val_acc"]:
            best = dict(rec)
            save_weights(ema.module, out_dir / "best.safetensors")
            training_card(cfg, spec, train_set.label_names, len(train_set), best, len(history),
                          resized).write(out_dir / "best.json")
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "gen": gen.get_state(), "epoch": epoch, "best": best,
                    "history": history, "resized": resized, "config": asdict(cfg)}, out_dir / "last.pt.tmp")
        (out_dir / "last.pt.tmp").replace(ckpt)
        (out_dir / "history.json").write_text(json.dumps({"config": asdict(cfg), "best": best,
                                                          "history": history, "resized": resized}, indent=1))
        if progress:
            log.info("epoch %d/%d loss %.3f val_acc %.4f best %.4f (%.1fs)", epoch + 1, cfg.epochs,
                     rec["train_loss"], val_acc, best["val_acc"], rec["seconds"])
    return {"config": asdict(cfg), "best": best, "history": history, "resized": resized}


def validation_accuracy(logits: np.ndarray, val_set: FaceArrays, heads: tuple[int, ...] | None) -> list[float]:
    """Accuracy of the single head against `labels`, or of each head against the arg-max of its
    block of `val_set.soft` (rows where that block is all zero are not scored)."""
    if not heads:
        return [float((logits.argmax(1) == val_set.labels).mean())]
    if val_set.soft is None or val_set.soft.shape[1] != sum(heads):
        raise ValueError(f"a joint validation set needs soft targets with {sum(heads)} columns")
    accs = []
    for sl in head_slices(heads):
        t = val_set.soft[:, sl]
        scored = t.sum(1) > 0
        accs.append(float((logits[scored, sl].argmax(1) == t[scored].argmax(1)).mean()) if scored.any() else 0.0)
    return accs


def load_checkpoint(path: Path, device: torch.device) -> dict:
    """A `last.pt` written by `train`: tensors and plain data only. Unpickling may not run code
    (a crafted checkpoint could otherwise execute anything on `--resume`)."""
    import pickle

    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path} is not a plain training checkpoint (it holds objects other than tensors "
                         f"and plain data); refusing to load it: {str(e).splitlines()[0]}") from e


def training_card(cfg: TrainConfig, spec, labels: tuple[str, ...], n_train: int, best: dict, epochs_run: int,
                  resized: list[dict] | None = None) -> ModelCard:
    """The model card as training leaves it; calibration, publishing and evaluation add their sections."""
    task = "joint" if cfg.heads else "ferplus" if cfg.soft_targets and not cfg.teachers else "fer2013"
    selected = ("mean PublicTest accuracy of the heads (each on its own labels), EMA weights" if cfg.heads
                else "PublicTest accuracy of the EMA weights")
    return ModelCard(
        name=f"{task}_{cfg.model}", architecture=cfg.model, description=spec.description, labels=tuple(labels),
        input_size=spec.input_size, in_channels=spec.in_channels, mean=tuple(spec.mean), std=tuple(spec.std),
        training={"recipe": asdict(cfg), "epochs_run": epochs_run,
                  "selected_on": selected, "best_epoch": best, **({"resized": resized} if resized else {})},
        data={"train": f"{task} Training split ({n_train} faces)", "validation": "PublicTest",
              "test": "PrivateTest (reported once)"},
    )


def measure_epoch_seconds(cfg: TrainConfig, train_set: FaceArrays, n_val: int, steps: int = 30) -> float:
    """Time a few real training steps (after warm-up) to size the run to a time budget."""
    device = resolve_device(cfg.device)
    spec = get_spec(cfg.model)
    model = create_model(cfg.model, len(train_set.label_names)).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    gen = torch.Generator(device=device).manual_seed(0)
    images = torch.from_numpy(train_set.images[: cfg.batch_size * 4]).to(device)
    labels = torch.from_numpy(train_set.labels[: cfg.batch_size * 4]).to(device)
    soft = None
    if cfg.soft_targets and train_set.soft is not None:
        soft = torch.from_numpy(train_set.soft[: cfg.batch_size * 4]).to(device)
    amp = use_amp(cfg.amp, device, spec.cpu_bf16)

    def step(i):
        sl = slice((i % 4) * cfg.batch_size, (i % 4 + 1) * cfg.batch_size)
        x = normalise(augment(images[sl].float().div(255).unsqueeze(1), cfg, gen), spec.mean, spec.std)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x.contiguous(memory_format=torch.channels_last)).float()
        loss = loss_fn(logits, soft[sl], cfg, None) if soft is not None else F.cross_entropy(logits, labels[sl])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(5):
        step(i)
    t = time.time()
    for i in range(steps):
        step(i)
    per_step = (time.time() - t) / steps
    n_steps = math.ceil(len(train_set) / cfg.batch_size) + math.ceil(n_val / 512) * 0.5
    return per_step * n_steps * 1.1  # EMA update and bookkeeping
