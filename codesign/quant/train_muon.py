"""Training and evaluation of the tracker-muon pre-selectors (kinds muon_full, muon_latent, muon_match).

Events are split (data.test_fraction, data.seed) into test and training events; 15 % of the
training events are the validation events whose loss picks the epoch kept. Plain torch on CPU,
one thread (small tensors): AdamW, one-cycle learning rate, binary cross-entropy per real track
with the muons weighted up by model.muon_weight (they are ~0.2 % of the tracks), gradients
clipped. The pull-matching baseline (zoo/muon_match.py) needs no training: its "train" stage
scores the test events.

Outputs (train stage folder): model.pt (state dict + the card's model section), float_model.onnx
(inputs tracks, track_mask, segments, segment_mask with dynamic event, track and segment axes;
checked in onnxruntime on test events), reference.npz (test tracks: score, baseline score, label,
pt, eta, origin), metrics.json via the stage record: physics/muons.py figures for the model and
for the baseline on the same tracks.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from ..errors import CodesignError
from ..physics import muons as phys
from ..zoo.muon_inputs import Features, check_event

FLOAT_MODEL = "model.pt"
ONNX_FILE = "float_model.onnx"
INPUT_NAMES = ["tracks", "track_mask", "segments", "segment_mask"]


def split(n: int, test_fraction: float, seed: int) -> dict:
    idx = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    rest = idx[n_test:]
    n_val = max(1, int(0.15 * len(rest)))
    return {"train": np.sort(rest[n_val:]), "validation": np.sort(rest[:n_val]), "test": np.sort(idx[:n_test])}


def check_data(data: dict, max_tracks: int, where: str) -> None:
    """Every event's tracks and segments through zoo/muon_inputs.check_event (vectorised first)."""
    counts = data["track_counts"]
    bad = np.flatnonzero(counts > max_tracks)
    flat_bad = ~np.isfinite(data["tracks"]).all(1) | (data["tracks"][:, 0] <= 0)
    seg_bad = ~np.isfinite(data["segments"]).all(1)
    events = set(bad.tolist())
    events |= set((np.searchsorted(data["track_offsets"], np.flatnonzero(flat_bad), side="right") - 1).tolist())
    events |= set((np.searchsorted(data["segment_offsets"], np.flatnonzero(seg_bad), side="right") - 1).tolist())
    for i in sorted(events)[:1]:
        t, s = data["track_offsets"], data["segment_offsets"]
        check_event(
            data["tracks"][t[i] : t[i + 1]], data["segments"][s[i] : s[i + 1]], max_tracks, f"{where}: event {i}"
        )


def event_tracks(data: dict, events) -> np.ndarray:
    """Flat indices of the tracks of `events`, in event order."""
    t = data["track_offsets"]
    return (
        np.concatenate([np.arange(t[i], t[i + 1]) for i in events]).astype(np.int64)
        if len(events)
        else np.zeros(0, int)
    )


def scores(model, feats: Features, events, batch: int = 32) -> np.ndarray:
    """Logits of the tracks of `events` (flat, in event order)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for b in range(0, len(events), batch):
            ev = events[b : b + batch]
            t, tm, s, sm = (torch.from_numpy(a) for a in feats.batch(ev))
            y = model(t, tm, s, sm).numpy()
            out += [y[i, : int(tm[i].sum())] for i in range(len(ev))]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def baseline_scores(data: dict, events, pull: float) -> np.ndarray:
    from ..zoo.muon_match import scores as match

    t, s = data["track_offsets"], data["segment_offsets"]
    out = [match(data["tracks"][t[i] : t[i + 1]], data["segments"][s[i] : s[i + 1]], pull) for i in events]
    return np.concatenate(out) if out else np.zeros(0)


def export_onnx(model, example: tuple, path: Path) -> Path:
    """The model as ONNX with dynamic event, track and segment axes."""
    import torch

    model.eval()
    ev, nt, ns = torch.export.Dim("events"), torch.export.Dim("tracks"), torch.export.Dim("segments")
    shapes = ({0: ev, 1: nt}, {0: ev, 1: nt}, {0: ev, 1: ns}, {0: ev, 1: ns})
    from ..interchange import OPSET

    prog = torch.onnx.export(model, example, input_names=INPUT_NAMES, output_names=["logits"], dynamic_shapes=shapes,
                             opset_version=OPSET, dynamo=True, verbose=False)  # fmt: skip
    prog.save(str(path), external_data=False)
    return Path(path)


def session(path: Path, threads: int = 1):
    """An onnxruntime session on `threads` CPU threads (CMSSW runs one per stream)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_check(model, feats: Features, events, path: Path) -> float:
    """Export, then the largest |torch - onnxruntime| logit over `events` (one padded batch)."""
    import torch

    arrays = feats.batch(events)
    # Example with every dynamic axis > 1 (torch.export specialises size-1 axes to constants).
    export_onnx(model, tuple(torch.from_numpy(a) for a in feats.batch(events[:2])), path)
    got = session(path).run(None, dict(zip(INPUT_NAMES, arrays, strict=True)))[0]
    with torch.no_grad():
        want = model(*(torch.from_numpy(a) for a in arrays)).numpy()
    real = arrays[1] > 0
    return float(np.max(np.abs(got - want)[real])) if real.any() else 0.0


def _fit(model, data, feats, idx, card, progress):
    import torch

    tr = card.training
    rng = np.random.default_rng(tr.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=tr.learning_rate, weight_decay=1e-4)
    steps = tr.epochs * -(-len(idx["train"]) // tr.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, tr.learning_rate, total_steps=max(steps, 1))
    w = card.model.muon_weight

    def loss_of(ev):
        t, tm, s, sm = (torch.from_numpy(a) for a in feats.batch(ev))
        y = torch.from_numpy(data["track_label"][event_tracks(data, ev)].astype(np.float32))
        logit = model(t, tm, s, sm)[tm > 0]
        weight = 1 + (w - 1) * y
        return torch.nn.functional.binary_cross_entropy_with_logits(logit, y, weight=weight), len(y)

    hist, best = {"loss": [], "val_loss": []}, (np.inf, None, -1)
    for ep in range(tr.epochs):
        model.train()
        t0, total, n = time.time(), 0.0, 0
        for b in np.array_split(rng.permutation(idx["train"]), max(1, len(idx["train"]) // tr.batch_size)):
            opt.zero_grad()
            loss, k = loss_of(b)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total, n = total + loss.item() * k, n + k
        model.eval()
        with torch.no_grad():
            parts = [loss_of(b) for b in np.array_split(idx["validation"], max(1, len(idx["validation"]) // 32))]
        vl = sum(float(lo) * k for lo, k in parts) / max(1, sum(k for _, k in parts))
        hist["loss"].append(total / max(n, 1))
        hist["val_loss"].append(vl)
        if vl < best[0]:
            best = (vl, copy.deepcopy(model.state_dict()), ep)
        if progress:
            print(
                f"epoch {ep + 1}/{tr.epochs}: loss {total / max(n, 1):.5f} val_loss {vl:.5f} ({time.time() - t0:.1f}s)"
            )
    model.load_state_dict(best[1])
    hist["best_epoch"] = best[2] + 1
    return hist


def _figures(data, test_tracks, y, base) -> dict:
    label = data["track_label"][test_tracks].astype(np.int64)
    pt, eta = data["tracks"][test_tracks, 0], data["tracks"][test_tracks, 1]
    return {"model": phys.metrics(y, label, pt, eta), "baseline": phys.metrics(base, label, pt, eta),
            "roc": {"model": phys.roc(y, label), "baseline": phys.roc(base, label)}}  # fmt: skip


def _save_reference(out, data, test_tracks, y, base):
    np.savez(out / "reference.npz", y=y, baseline=base, labels=data["track_label"][test_tracks],
             pt=data["tracks"][test_tracks, 0], eta=data["tracks"][test_tracks, 1],
             origin=data["track_origin"][test_tracks])  # fmt: skip


def train(card, data: dict, out: Path, progress: bool = True) -> dict:
    from ..analysis import single_thread

    with single_thread():
        return _train(card, data, out, progress)


def _train(card, data, out, progress):
    import torch

    from ..zoo.muon_attention import build

    m = card.model
    where = card.source or card.name
    check_data(data, m.max_tracks, where)
    idx = split(len(data["track_counts"]), card.data.test_fraction, card.data.seed)
    if not len(idx["test"]) or not len(idx["train"]):
        raise CodesignError(f"{where}: field 'data.n_events': too few events to split into training and test")
    torch.manual_seed(card.training.seed)
    feats = Features(data)
    model = build(m)
    t0 = time.time()
    hist = _fit(model, data, feats, idx, card, progress)
    train_s = time.time() - t0
    test_tracks = event_tracks(data, idx["test"])
    y = scores(model, feats, idx["test"])
    base = baseline_scores(data, idx["test"], m.pull)
    torch.save({"state_dict": model.state_dict(), "model": m.model_dump(mode="json")}, out / FLOAT_MODEL)
    onnx_diff = onnx_check(model, feats, idx["test"][:8], out / ONNX_FILE)
    _save_reference(out, data, test_tracks, y, base)
    return {**_figures(data, test_tracks, y, base), "history": hist, "train_seconds": round(train_s, 1),
            "onnxruntime_max_abs_diff": onnx_diff, "parameters": int(sum(p.numel() for p in model.parameters())),
            "n_train": len(idx["train"]), "n_validation": len(idx["validation"]), "n_test": len(idx["test"]),
            "mean_tracks": float(data["track_counts"].mean()), "mean_segments": float(data["segment_counts"].mean())}  # fmt: skip


def evaluate_match(card, data: dict, out: Path, progress: bool = True) -> dict:
    """The baseline kind's train stage: score the test events by pull matching."""
    m = card.model
    where = card.source or card.name
    check_data(data, m.max_tracks, where)
    idx = split(len(data["track_counts"]), card.data.test_fraction, card.data.seed)
    test_tracks = event_tracks(data, idx["test"])
    t0 = time.time()
    base = baseline_scores(data, idx["test"], m.pull)
    seconds = time.time() - t0
    _save_reference(out, data, test_tracks, base, base)
    figs = _figures(data, test_tracks, base, base)
    return {**figs, "n_train": 0, "n_validation": 0, "n_test": len(idx["test"]), "match_seconds": round(seconds, 2),
            "mean_tracks": float(data["track_counts"].mean()), "mean_segments": float(data["segment_counts"].mean())}  # fmt: skip
