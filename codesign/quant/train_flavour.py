"""Training of the L1 flavour tagger (zoo/flavour_l1.py) and its Python reference.

Inputs per jet, the N leading-pT candidates (N = model.n_candidates), one row per candidate:
  particle features (PARTICLE_FEATURES), scaled into roughly [-2, 2]:
    (ln(pT/pT_jet) + 4)/2, 5 Δη, 5 Δφ, charge, asinh(d0/σ)/1.5, asinh(z0/σ)/1.5, is e/µ, exists
  pair features with every candidate j (PAIR_FEATURES; 0 when i = j or either is padding):
    ParT's ln Δ, ln kT, ln z, ln m² (scaled), and "both exist"
Everything is rounded onto the input quantizer's grid, so the test inputs are the core's inputs.
Secondary vertices are not among the L1 inputs (the impact-parameter significances carry the
displacement); the offline models use them.

Outputs (train stage folder): model.keras, reference.npz (x, y logits, labels, class_names,
jet_pt, input_format), metrics.json (accuracy, per-class AUC, flavour metrics per pT bin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..card import Card
from ..fixedpoint import to_grid
from ..physics.flavour import flavour_metrics
from ..zoo.flavour_inputs import PAIR_FEATURES, PARTICLE_FEATURES, l1_inputs
from . import pareto, prune
from .keras_fit import fit
from .train import split, write_metrics


def class_weights(labels: np.ndarray, n_classes: int) -> dict[int, float]:
    """Inverse-frequency weights: the samples are dominated by light and gluon jets."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    return {c: float(len(labels) / (n_classes * max(counts[c], 1.0))) for c in range(n_classes)}


def train(card: Card, data: dict, out: Path, progress: bool = True) -> dict:
    import keras

    from ..zoo import flavour_l1

    n = card.model.n_candidates
    fmt = flavour_l1.input_format(card)
    x = to_grid(l1_inputs(data, n), fmt)
    labels = data["labels"].astype(np.int64)
    names = [str(c) for c in data["class_names"]]
    tr, te = split(len(labels), card.data.test_fraction, card.data.seed)
    model = flavour_l1.build(card, n, len(PARTICLE_FEATURES), len(PAIR_FEATURES), len(names))
    history = fit(model, card, x[tr], labels[tr], loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  class_weight=class_weights(labels[tr], len(names)), prune=False, progress=progress,
                  checkpoints=out)  # fmt: skip
    jet_pt = data["jets"][te, 0]

    def evaluate(model, dest: Path) -> dict:
        y = model.predict(x[te], batch_size=2048, verbose=0)
        model.save(dest / "model.keras")
        np.savez(dest / "reference.npz", x=x[te], y=y, labels=labels[te], class_names=np.array(names), jet_pt=jet_pt,
                 input_format=np.array(fmt), particle_features=np.array(PARTICLE_FEATURES),
                 pair_features=np.array(PAIR_FEATURES))  # fmt: skip
        return write_metrics(dest, y, labels[te], names, history, len(tr),
                             {"flavour": flavour_metrics(y, labels[te], names, jet_pt),
                              "sparsity": prune.sparsity_of(model)})  # fmt: skip

    return pareto.finish(out, model, history, "val_accuracy", evaluate)
