"""Training of the float (offline) flavour taggers: ParT (zoo/part.py) and DeepJet-like (zoo/deepjet.py).

Same data, split and figures of merit as the L1 tagger (quant/train_flavour.py), so the three
compare directly; inputs are the token tensors of zoo/flavour_tokens.py (candidates + SVs).
Plain torch on CPU: Adam, inverse-frequency class weights, cross entropy; the epoch with the
lowest validation loss (15% of the training jets, nominal inputs) is kept. With a card's
[training.adversarial], a fraction of each batch is replaced by its FGSM version (quant/adversarial.py;
scales: each continuous feature's std over the training jets' real entries, saved in reference.npz).

Outputs (train stage folder): model.pt (state dict + card model section), float_model.onnx (the
ONNX hand-over, checked in onnxruntime: largest difference in metrics.json), reference.npz (x, y
logits, labels, class_names, jet_pt), metrics.json. There is no firmware model file: the
firmware stages refuse a float point (flow.firmware_input).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from ..card import Card
from ..physics.flavour import flavour_metrics
from ..zoo.flavour_tokens import perturbable
from .adversarial import feature_scales, fgsm
from .train import split, write_metrics
from .train_flavour import class_weights

FLOAT_MODEL = "model.pt"
ONNX_FILE = "float_model.onnx"  # not model.onnx: that name is the QONNX firmware input


def build(card: Card, n_classes: int):
    from ..zoo import deepjet, part

    return {"part": part, "deepjet": deepjet}[card.model.kind].build(card, n_classes)


def fit(model, x, labels, n_classes, epochs, batch_size, lr, seed, progress=False, adversarial=None):
    """Train in place; returns the history (train/val loss, val accuracy per epoch).

    `adversarial`: a card's AdversarialSpec (or None): FGSM batches after its warmup epochs.
    """
    import torch

    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(labels))
    n_val = max(1, int(0.15 * len(idx)))
    val, tr = idx[:n_val], idx[n_val:]
    w = class_weights(labels[tr], n_classes)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([w[c] for c in range(n_classes)], dtype=torch.float32))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * -(-len(tr) // batch_size))
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    if adversarial is not None:  # its own generator: the nominal batches and order stay what they were
        arng = np.random.default_rng([seed, 1])
        scale = torch.from_numpy(feature_scales(x, perturbable(x)))  # over all the training jets given
    hist, best = {"loss": [], "val_loss": [], "val_accuracy": []}, (np.inf, None)
    for ep in range(epochs):
        model.train()
        t0, total = time.time(), 0.0
        for b in np.array_split(rng.permutation(tr), max(1, len(tr) // batch_size)):
            xb = xt[b]
            if adversarial is not None and ep >= adversarial.warmup_epochs:
                pick = np.arange(len(b)) if adversarial.fraction == 1.0 else np.flatnonzero(
                    arng.random(len(b)) < adversarial.fraction)  # fmt: skip
                xb = xb.clone()
                if len(pick):
                    xb[pick] = fgsm(model, loss_fn, xb[pick], yt[b][pick], adversarial.epsilon, scale,
                                    torch.from_numpy(perturbable(x[b[pick]])))  # fmt: skip
            opt.zero_grad()
            loss = loss_fn(model(xb), yt[b])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        model.eval()
        with torch.no_grad():
            out = model(xt[val])
            vl, va = float(loss_fn(out, yt[val])), float((out.argmax(1) == yt[val]).float().mean())
        hist["loss"].append(total / len(tr))
        hist["val_loss"].append(vl)
        hist["val_accuracy"].append(va)
        if vl < best[0]:
            best = (vl, copy.deepcopy(model.state_dict()))
        if progress:
            print(
                f"epoch {ep + 1}/{epochs}: loss {total / len(tr):.4f} val_loss {vl:.4f} val_acc {va:.4f} ({time.time() - t0:.1f}s)"
            )
    model.load_state_dict(best[1])
    return hist


def predict(model, x, batch=2048) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i : i + batch])).numpy() for i in range(0, len(x), batch)])


def train(card: Card, data: dict, out: Path, progress: bool = True) -> dict:
    import torch

    from ..interchange import check_onnxruntime
    from ..zoo.flavour_tokens import tokens

    torch.manual_seed(card.training.seed)
    m = card.model
    x = tokens(data, m.n_candidates, m.n_svs)
    labels = data["labels"].astype(np.int64)
    names = [str(c) for c in data["class_names"]]
    tr, te = split(len(labels), card.data.test_fraction, card.data.seed)
    model = build(card, len(names))
    t0 = time.time()
    adv = card.training.adversarial
    hist = fit(model, x[tr], labels[tr], len(names), card.training.epochs, card.training.batch_size,
               card.training.learning_rate, card.training.seed, progress, adv)  # fmt: skip
    train_s = time.time() - t0
    y = predict(model, x[te])
    torch.save({"state_dict": model.state_dict(), "model": m.model_dump(mode="json")}, out / FLOAT_MODEL)
    onnx_diff = check_onnxruntime(model, x[te][:512], out / ONNX_FILE)
    jet_pt = data["jets"][te, 0]
    # scale: the FGSM unit per column (quant/adversarial.py) over the training jets, as fit's
    scale = feature_scales(x[tr], perturbable(x[tr]))
    np.savez(out / "reference.npz", x=x[te], y=y, labels=labels[te], class_names=np.array(names), jet_pt=jet_pt,
             scale=scale)  # fmt: skip
    return write_metrics(out, y, labels[te], names, hist, len(tr), {
        "flavour": flavour_metrics(y, labels[te], names, jet_pt),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "train_seconds": round(train_s, 1), "onnxruntime_max_abs_diff": onnx_diff,
        "adversarial": None if adv is None else adv.model_dump(mode="json"),
    })  # fmt: skip
