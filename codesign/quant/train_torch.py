"""Quantization-aware training of the Brevitas MLP: the PyTorch twin of quant/train.py.

Same split, standardisation and input grid (quant/train.py's `prepare_inputs`), same
reference.npz and metrics.json (`save_outputs`). Outputs of the train stage:
  model.pt       the trained state_dict (load with zoo.brevitas_mlp.load: torch.load(weights_only=True))
  model.onnx     QONNX (Brevitas export_qonnx, then qonnx's cleanup): what hls/ and rtl/ convert
  reference.npz  y: the Brevitas model's output on x, checked to lie exactly on its fixed-point grid
  metrics.json   accuracy, ROC AUC, confusion matrix, training history
"""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..card import Card, PruningSpec, TrainingSpec
from ..errors import CodesignError
from ..zoo import brevitas_mlp
from .prune import target_at
from .train import prepare_inputs, save_outputs

VALIDATION_SPLIT = 0.15  # the Keras path's validation_split: the last 15% of the training events


def train(card: Card, data: dict, out: Path, progress: bool = True) -> dict:
    inp = prepare_inputs(card, data)
    n_in, n_out = inp.x.shape[1], len(data["class_names"])
    model = brevitas_mlp.build(card, n_in, n_out)
    history = fit(model, inp.x[inp.train_idx], inp.labels[inp.train_idx], card.training, progress, card.pruning)
    bake_pruning(model)
    model.eval()
    y_ref = reference_output(model, inp.x[inp.test_idx], brevitas_mlp.output_fractional(card))
    torch.save(model.state_dict(), out / "model.pt")
    export_qonnx(model, n_in, out / "model.onnx")
    return save_outputs(out, inp, y_ref, data, history, {"sparsity": sparsity_of(model)})


def fit(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    spec: TrainingSpec,
    progress: bool,
    pruning: PruningSpec | None = None,
) -> dict:
    """Adam + cross-entropy, halving the learning rate on a 5-epoch validation plateau, pruning on
    the card's schedule: as the Keras path does it."""
    torch.manual_seed(spec.seed)
    n_fit = math.ceil(len(x) * (1 - VALIDATION_SPLIT))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    opt = torch.optim.Adam(model.parameters(), lr=spec.learning_rate)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=5, min_lr=1e-5)
    loss_fn = nn.CrossEntropyLoss()
    hist = defaultdict(list)
    for epoch in range(spec.epochs):
        target = target_at(pruning, epoch, spec.epochs) if pruning and pruning.sparsity > 0 else 0.0
        if target > 0:
            prune_(model, target, pruning.kind)
        model.train()
        seen = loss_sum = correct = 0
        for idx in torch.randperm(n_fit).split(spec.batch_size):
            logits = model(xt[idx])
            loss = loss_fn(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen, loss_sum = seen + len(idx), loss_sum + loss.item() * len(idx)
            correct += int((logits.argmax(1) == yt[idx]).sum())
        val_loss, val_acc = _evaluate(model, xt[n_fit:], yt[n_fit:], loss_fn)
        sched.step(val_loss)
        for k, v in dict(loss=loss_sum / seen, accuracy=correct / seen, val_loss=val_loss, val_accuracy=val_acc,
                         learning_rate=opt.param_groups[0]["lr"]).items():  # fmt: skip
            hist[k].append(v)
        if progress:
            print(f"epoch {epoch + 1}/{spec.epochs}: " + " ".join(f"{k} {v[-1]:.4g}" for k, v in hist.items()))
    return dict(hist)


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn) -> tuple[float, float]:
    if len(x) == 0:
        return float("nan"), float("nan")
    model.eval()
    logits = model(x)
    return float(loss_fn(logits, y)), float((logits.argmax(1) == y).float().mean())


@torch.no_grad()
def reference_output(model: nn.Module, x: np.ndarray, fractional: int) -> np.ndarray:
    """The model's output on x, required to be exactly on the 2**-fractional grid.

    Brevitas computes in float32; a sum that outgrew float32's 24-bit mantissa would round
    silently. So the output is recomputed in float64 and must agree with the float32 one (and be
    on the grid): the stored reference is then the exact fixed-point result.
    """
    model.eval()
    y32 = model(torch.from_numpy(np.asarray(x, np.float32))).numpy()
    y64 = model.double()(torch.from_numpy(np.asarray(x, np.float64))).numpy()
    model.float()
    raw = y64 * 2.0**fractional
    bad = (raw != np.round(raw)) | (y64 != y32)
    if bad.any():
        ev, out = map(int, np.argwhere(bad)[0])
        raise CodesignError(
            f"Brevitas output is not an exact fixed-point value (2**-{fractional} grid, float32-exact): "
            f"{int(bad.any(axis=1).sum())}/{len(x)} events, first event {ev}, output {out}: "
            f"float64 {y64[ev, out]!r}, float32 {y32[ev, out]!r}"
        )
    return y32


def export_qonnx(model: nn.Module, n_inputs: int, path: Path) -> None:
    """Brevitas -> QONNX, then qonnx's cleanup (shape inference, constant folding, unique names)."""
    from brevitas.export import export_qonnx as brevitas_export
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    model.eval()
    with tempfile.TemporaryDirectory() as tmp:  # torch's exporter leaves a stray external-data file
        raw = str(Path(tmp) / "brevitas.onnx")
        brevitas_export(model, torch.zeros(1, n_inputs), raw, verbose=False)
        cleanup_model(ModelWrapper(raw)).save(str(path))  # loaded in memory: saved as one file


# ---- pruning: the card's schedule (quant/prune.py's target_at), applied with torch's masks -------


def prune_(model: nn.Module, sparsity: float, kind: str = "magnitude") -> None:
    """Prune every Linear to `sparsity`, with quant/prune.py's semantics for the Keras path.

    magnitude: per layer, the int(sparsity * size) smallest |w| are zeroed. structured: per hidden
    layer, the int(sparsity * neurons) neurons (weight rows) of smallest L2 norm are removed with
    their bias; the output layer keeps all its neurons. Masks (torch.nn.utils.prune) are re-applied
    on every forward, so pruned weights stay zero while training goes on; an earlier mask is baked
    in first, so its zeros, being the smallest, stay pruned as the target grows.
    """
    from torch.nn.utils import prune

    bake_pruning(model)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]  # QuantLinear is an nn.Linear
    for n, m in enumerate(linears):
        if kind == "magnitude":
            prune.l1_unstructured(m, "weight", amount=int(sparsity * m.weight.numel()))
        elif n < len(linears) - 1:
            prune.ln_structured(m, "weight", amount=int(sparsity * m.out_features), n=2, dim=0)
            if m.bias is not None:
                prune.custom_from_mask(m, "bias", m.weight_mask.any(dim=1))


def bake_pruning(model: nn.Module) -> None:
    """Fold pruning masks into the parameters (a no-op for an unpruned model), so the state_dict
    and the QONNX export carry plain weights."""
    from torch.nn.utils import prune

    for m in model.modules():
        for name in ("weight", "bias"):
            if hasattr(m, f"{name}_mask"):
                prune.remove(m, name)


def sparsity_of(model: nn.Module) -> dict:
    """Fraction of exactly-zero weights per Linear and overall (quant/prune.py's sparsity_of)."""
    layers = {name: m.weight.detach() for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    zeros = {name: int((w == 0).sum()) for name, w in layers.items()}
    size = sum(w.numel() for w in layers.values())
    return {
        "per_layer": {n: zeros[n] / w.numel() for n, w in layers.items()},
        "total": sum(zeros.values()) / max(size, 1),
    }
