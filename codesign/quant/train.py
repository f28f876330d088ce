"""Quantization-aware training of a zoo model, and the Python reference the firmware must match.

Outputs of the train stage (one folder, written atomically by the flow):
  model.keras      the trained quantized Keras model (loads with safe_mode)
  reference.npz    x: test inputs on the input grid, y: the model's output on them (the reference),
                   labels, and the standardisation (mean, std) applied before the core
  metrics.json     accuracy, per-class ROC AUC, confusion matrix, training history
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..card import Card
from ..fixedpoint import to_grid
from ..zoo import mlp
from . import pareto, prune
from .keras_fit import fit


def split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/test index split."""
    idx = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return idx[n_test:], idx[:n_test]


@dataclass(frozen=True)
class Inputs:
    """The model inputs every frontend trains on: standardised, on the input grid, split."""

    x: np.ndarray
    labels: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    fmt: tuple[int, int, int]


def prepare_inputs(card: Card, data: dict) -> Inputs:
    x_all, labels = data["features"].astype(np.float64), data["labels"]
    train_idx, test_idx = split(len(labels), card.data.test_fraction, card.data.seed)
    # Standardisation is the preprocessing in front of the core (in firmware: a fixed shift/scale
    # before the input port); it is stored with the reference so a bundle documents it.
    mean = x_all[train_idx].mean(axis=0)
    std = x_all[train_idx].std(axis=0) + 1e-12
    fmt = mlp.input_format(card)
    return Inputs(to_grid((x_all - mean) / std, fmt), labels, train_idx, test_idx, mean, std, fmt)


def save_outputs(
    out: Path, inp: Inputs, y_ref: np.ndarray, data: dict, history: dict, extra: dict | None = None
) -> dict:
    """Write reference.npz and metrics.json (the same for every frontend); return the metrics."""
    labels = inp.labels[inp.test_idx]
    np.savez(
        out / "reference.npz", x=inp.x[inp.test_idx], y=y_ref, labels=labels, mean=inp.mean, std=inp.std,
        input_format=np.array(inp.fmt), class_names=np.array(data["class_names"]),
        feature_names=np.array(data["feature_names"]),
    )  # fmt: skip
    return write_metrics(out, y_ref, labels, data["class_names"], history, len(inp.train_idx), extra)


def write_metrics(out: Path, y: np.ndarray, labels: np.ndarray, class_names, history: dict, n_train: int,
                  extra: dict | None = None) -> dict:  # fmt: skip
    """metrics.json of a classifier (every trainer's): accuracy, AUCs, confusion, history, split sizes, `extra`."""
    metrics = classification_metrics(y, labels, class_names)
    metrics["history"] = {k: [float(v) for v in vals] for k, vals in history.items()}
    metrics["n_train"], metrics["n_test"] = int(n_train), int(len(labels))
    metrics.update(extra or {})
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def train(card: Card, data: dict, out: Path, progress: bool = True) -> dict:
    import keras

    inp = prepare_inputs(card, data)
    x, labels, train_idx = inp.x, inp.labels, inp.train_idx
    n_classes = len(data["class_names"])
    model = mlp.build(card, x.shape[1], n_classes)
    history = fit(model, card, x[train_idx], labels[train_idx],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), progress=progress,
                  checkpoints=out)  # fmt: skip

    def evaluate(model, dest: Path) -> dict:
        y_ref = model.predict(x[inp.test_idx], batch_size=4096, verbose=0)
        model.save(dest / "model.keras")
        return save_outputs(dest, inp, y_ref, data, history, {"sparsity": prune.sparsity_of(model)})

    return pareto.finish(out, model, history, "val_accuracy", evaluate)


def classification_metrics(logits: np.ndarray, labels: np.ndarray, class_names) -> dict:
    from scipy.special import softmax
    from sklearn.metrics import confusion_matrix, roc_auc_score

    prob = softmax(logits.astype(np.float64), axis=1)
    pred = prob.argmax(axis=1)
    auc = {}
    for c, name in enumerate(class_names):
        truth = labels == c
        auc[str(name)] = float(roc_auc_score(truth, prob[:, c])) if 0 < truth.sum() < len(truth) else None
    return {
        "accuracy": float((pred == labels).mean()),
        "roc_auc": auc,
        "confusion": confusion_matrix(labels, pred, labels=range(len(class_names))).tolist(),
        "class_names": [str(c) for c in class_names],
    }
