"""Train the CaloClouds II-style generator of models/showers_cc2.toml (codesign/zoo/showers_cc2.py).

train   the shower flow (maximum likelihood, Adam) and the teacher denoiser (EDM loss, AdamW) on the
        training showers; the teacher used is the exponential moving average of its weights
        (torch.optim.swa_utils.AveragedModel: already in torch, no extra package for one EMA).
        The flow and teacher do not depend on [model.distil]: they are cached under a key without
        it (build/train/<name>-teacher-<key>/), so a changed distillation reuses them.
distil  consistency distillation (Song et al. 2023, CD with the Heun solver): the student starts
        as the teacher; for a random pair of adjacent noise levels σ_hi > σ_lo, the student at
        (x0 + σ_hi z, σ_hi) is pulled to the EMA target network at the teacher's Heun step to σ_lo.
        The student is exported to ONNX and checked in onnxruntime.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from .. import paths
from ..analysis import single_thread
from ..data import showers as data
from ..zoo import showers_cc2 as cc2


def _torch():
    import torch

    return torch


def _progress(total: int, what: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(f"[bold]{what}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return bar, bar.add_task(what, total=total)


def teacher_key(card) -> str:
    dump = card.model_dump(mode="json", exclude={"source", "presets", "description", "name"})
    dump = {"data": dump["data"], "training": dump["training"],
            "model": {k: v for k, v in dump["model"].items() if k not in ("distil", "response_energies", "response_showers",
                                                                            "classifier_folds")}}  # fmt: skip
    return hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()[:12]


def train(card, arrays: dict, out: Path, progress: bool = True) -> dict:
    with single_thread():
        cache = paths.build_dir() / "train" / f"{card.name}-teacher-{teacher_key(card)}"
        if not (cache / "teacher.json").exists():
            with paths.atomic_dir(cache, replace=False) as tmp:
                record = _train(card, arrays, tmp, progress)
                (tmp / "teacher.json").write_text(json.dumps(record, indent=1))
        record = json.loads((cache / "teacher.json").read_text())
        shutil.copy(cache / "teacher.pt", out / "teacher.pt")
        test = data.select(arrays, 1)
        np.savez(out / "reference.npz", incident_energy=test["incident_energy"])
        return {**record, "teacher_cache": str(cache)}


def _standardise(x: np.ndarray):
    mean, std = x.mean(0), x.std(0)
    return mean, np.maximum(std, 1e-3)


def _train(card, arrays: dict, out: Path, progress: bool) -> dict:
    torch = _torch()
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    spec, tr, d = card.model, card.training, card.data
    t0 = time.time()
    torch.manual_seed(tr.seed)
    rng = np.random.default_rng(tr.seed)
    train_set = data.select(arrays, 0)
    e_inc, pts, offs = train_set["incident_energy"], train_set["points"], train_set["point_offsets"]
    keep = np.diff(offs) > 0
    feats = cc2.shower_features(*_nonempty(pts, offs, keep), e_inc[keep])
    s_mean, s_std = _standardise(feats)
    pf = cc2.point_features(pts, rng)
    p_mean, p_std = _standardise(pf)
    norm = {"shower_mean": s_mean, "shower_std": s_std, "point_mean": p_mean, "point_std": p_std}
    e_range = (d.e_min, d.e_max)

    # --- shower flow: maximum likelihood
    flow = cc2.build_flow(spec)
    xs = torch.from_numpy(((feats - s_mean) / s_std).astype(np.float32))
    ctx = torch.from_numpy(cc2.flow_context(e_inc[keep], e_range))
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, spec.flow_epochs)
    flow_loss = []
    bar, task = _progress(spec.flow_epochs, "shower flow")
    with bar if progress else _null():
        for _ in range(spec.flow_epochs):
            perm = torch.randperm(len(xs))
            total = 0.0
            for i in range(0, len(xs), 256):
                b = perm[i : i + 256]
                loss = -flow(ctx[b]).log_prob(xs[b]).mean()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
                opt.step()
                total += float(loss.detach()) * len(b)
            sched.step()
            flow_loss.append(total / len(xs))
            bar.advance(task)

    # --- teacher denoiser: EDM loss
    net = cc2.build_denoiser(spec)
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(spec.teacher_ema))
    xp = torch.from_numpy(((pf - p_mean) / p_std).astype(np.float32))
    n = np.diff(offs)
    cond = torch.from_numpy(np.repeat(cc2.condition(e_inc, np.maximum(n, 1), e_range), n, axis=0))
    opt = torch.optim.AdamW(net.parameters(), lr=tr.learning_rate, weight_decay=1e-4)
    steps = tr.epochs * max(1, len(xp) // tr.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, tr.learning_rate, total_steps=steps, pct_start=0.05)
    losses = []
    bar, task = _progress(steps, "teacher (EDM)")
    with bar if progress else _null():
        for step in range(steps):
            b = torch.randint(0, len(xp), (tr.batch_size,))
            x0, c = xp[b], cond[b]
            sigma = torch.exp(cc2.P_MEAN + cc2.P_STD * torch.randn(len(b)))
            weight = (sigma**2 + cc2.SIGMA_DATA**2) / (sigma * cc2.SIGMA_DATA) ** 2
            denoised = net(x0 + sigma[:, None] * torch.randn_like(x0), sigma, c)
            loss = (weight[:, None] * (denoised - x0) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            ema.update_parameters(net)
            losses.append(float(loss.detach()))
            if step % 50 == 0:
                bar.advance(task, 50 if step else 1)
    teacher = ema.module.eval()
    cc2.save(out / "teacher.pt", cc2.Generator(spec, e_range, flow.eval(), teacher, None, norm))
    return {"n_train": int(len(e_inc)), "n_test": int((arrays["split"] == 1).sum()),
            "n_floor": int((arrays["split"] == 2).sum()), "n_train_points": int(len(xp)),
            "flow_nll": [round(v, 4) for v in flow_loss], "teacher_steps_trained": steps,
            "teacher_loss_last": float(np.mean(losses[-200:])), "teacher_loss_first": float(np.mean(losses[:200])),
            "train_seconds": round(time.time() - t0, 1)}  # fmt: skip


def _nonempty(pts, offs, keep):
    counts = np.diff(offs)
    rows = np.repeat(keep, counts)
    return pts[rows], np.concatenate([[0], np.cumsum(counts[keep])])


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


# ----------------------------------------------------------------------------- distillation


def distil(point, out: Path) -> dict:
    with single_thread():
        return _distil(point, out)


def _distil(point, out: Path, progress: bool = True) -> dict:
    import copy

    torch = _torch()
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from ..flow import load_data

    card = point.card
    spec = card.model.distil
    t0 = time.time()
    gen = cc2.load(point.train_dir / "teacher.pt", card.model)
    teacher = gen.teacher
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = copy.deepcopy(teacher)
    student.consistency = True
    for p in student.parameters():
        p.requires_grad_(True)
    target = AveragedModel(student, multi_avg_fn=get_ema_multi_avg_fn(spec.target_ema))
    arrays = load_data(point)
    train_set = data.select(arrays, 0)
    rng = np.random.default_rng(spec.seed)
    torch.manual_seed(spec.seed)
    pf = cc2.point_features(train_set["points"], rng)
    xp = torch.from_numpy(((pf - gen.norm["point_mean"]) / gen.norm["point_std"]).astype(np.float32))
    n = np.diff(train_set["point_offsets"])
    cond = torch.from_numpy(np.repeat(cc2.condition(train_set["incident_energy"], np.maximum(n, 1), gen.e_range), n, 0))
    sig = cc2.karras_sigmas(spec.levels)  # decreasing, SIGMA_MAX .. SIGMA_MIN
    opt = torch.optim.Adam(student.parameters(), lr=spec.learning_rate)
    losses = []
    bar, task = _progress(spec.steps, "consistency distillation")
    with bar if progress else _null():
        for step in range(spec.steps):
            b = torch.randint(0, len(xp), (spec.batch_size,))
            x0, c = xp[b], cond[b]
            i = torch.randint(0, spec.levels - 1, (len(b),))
            s_hi, s_lo = sig[i], sig[i + 1]
            x_hi = x0 + s_hi[:, None] * torch.randn_like(x0)
            with torch.no_grad():
                x_lo = cc2.heun_step(teacher, x_hi, s_hi, s_lo, c)
                want = target.module(x_lo, s_lo, c)
            loss = ((student(x_hi, s_hi, c) - want) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            opt.step()
            target.update_parameters(student)
            losses.append(float(loss.detach()))
            if step % 50 == 0:
                bar.advance(task, 50 if step else 1)
    student = target.module.eval()  # the target network is the student's EMA
    student.consistency = True
    gen.student = student
    cc2.save(out / "model.pt", gen)
    # The hand-over: flow, teacher and student as ONNX, each checked in onnxruntime against torch on test inputs.
    files = gen.export_onnx(out)
    diffs = onnx_check(gen, cc2.sessions(files), data.select(arrays, 1))
    return {"steps": spec.steps, "loss_first": float(np.mean(losses[:50])), "loss_last": float(np.mean(losses[-50:])),
            "onnx": {k: Path(v).name for k, v in files.items()}, "onnxruntime_max_abs_diff": diffs,
            "distil_seconds": round(time.time() - t0, 1)}  # fmt: skip


def onnx_check(gen, sessions: dict, test: dict) -> dict:
    """Largest |torch - onnxruntime| of each network on inputs of the test showers (their conditions,
    unit-normal noise, noise levels of the teacher's schedule)."""
    torch = _torch()
    rng = np.random.default_rng(0)
    n = np.diff(test["point_offsets"])
    cond = np.repeat(cc2.condition(test["incident_energy"], np.maximum(n, 1), gen.e_range), n, 0)
    npf, nf = len(cc2.POINT_FEATURES), len(cc2.SHOWER_FEATURES)
    sig = cc2.karras_sigmas(gen.spec.teacher_steps).numpy()
    noisy = rng.standard_normal((len(cond), npf)) * sig[rng.integers(0, len(sig), len(cond))][:, None]
    inputs = {"flow": np.column_stack([rng.standard_normal((len(n), nf)), cc2.flow_context(test["incident_energy"],
                                                                                            gen.e_range)]),
              "teacher": np.column_stack([noisy, np.abs(noisy[:, :1]) * 0 + sig[rng.integers(0, len(sig), len(cond))][:, None],
                                          cond]),
              "student": np.column_stack([rng.standard_normal((len(cond), npf)), cond])}  # fmt: skip
    out = {}
    for name, sess in sessions.items():
        x = inputs[name].astype(np.float32)
        with torch.no_grad():
            want = gen.modules[name](torch.from_numpy(x)).numpy()
        out[name] = float(np.max(np.abs(sess.run(None, {"x": x})[0] - want)))
    return out
