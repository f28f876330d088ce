"""Quantization-aware training of the MET interaction network (zoo/met_gnn.py), and its reference.

Recipe: the float twin (same graph, pass-through quantizers) is trained first; its weights start
the quantized model, which is then trained quantization-aware for the same epochs. Loss: mean
squared error of the MET vector (px, py) in units of `data.momentum_unit` GeV.

Outputs (train stage folder):
  model.keras     the quantized Keras model; reference.npz: x (test events on the input grid,
                  (events, N, features)), y (the quantized model's exact output: MET in units),
                  y_float (float twin), true_met / puppi_met / puppi_met_topn [GeV], npv, process,
                  unit, mean/std (the preprocessing: (x - mean) / std), feature_names
  metrics.json    met_metrics (response, resolution vs true MET and vs pileup; PUPPI, float
                  network, quantized network) on the test events, history, sparsity
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..card import Card
from ..data import met as met_data
from ..errors import CodesignError
from ..zoo import met_gnn
from . import prune
from .met_metrics import met_metrics
from .train import split, to_grid


def inputs(card: Card, data: dict) -> np.ndarray:
    """Model inputs of every event on the input grid: leading `n_candidates`, padded slots zero."""
    n = card.data.n_candidates
    cands, mask = data["candidates"], data["mask"]
    if cands.shape[1] < n:
        raise CodesignError(f"{card.source or card.name}: field 'data.n_candidates': the model takes {n} candidates "
                            f"but the dataset holds {cands.shape[1]} per event")  # fmt: skip
    cands, mask = cands[:, :n], mask[:, :n]  # sorted by pT: the leading n (documented truncation)
    met_data.check_candidates(cands, mask, "met dataset")
    return to_grid(met_data.features(cands, mask, card.data.momentum_unit), met_gnn.input_format(card))


def _fit(model, card, x, y, float_twin: bool, progress: bool):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(card.training.learning_rate), loss="mse")
    cbs = [keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=4, min_lr=1e-5)]
    if card.pruning.sparsity > 0 and not float_twin:
        cbs.append(prune.callback(card.pruning, card.training.epochs))
    return model.fit(x, y, validation_split=0.15, epochs=card.training.epochs, batch_size=card.training.batch_size,
                     callbacks=cbs, verbose=2 if progress else 0, shuffle=True).history  # fmt: skip


def train(card: Card, data: dict, out: Path, progress: bool = True) -> dict:
    unit = card.data.momentum_unit
    x = inputs(card, data)
    y = (data["true_met"] / unit).astype(np.float32)
    tr, te = split(len(x), card.data.test_fraction, card.data.seed)
    n, f = x.shape[1:]

    twin = met_gnn.build(card, n, f, float_twin=True)
    _fit(twin, card, x[tr], y[tr], True, progress)
    model = met_gnn.build(card, n, f)
    for layer in twin.layers:  # same graph, same names: start QAT from the float solution
        for attr in ("kernel", "bias"):
            if getattr(layer, attr, None) is not None and layer.trainable:
                getattr(model.get_layer(layer.name), attr).assign(getattr(layer, attr))
    hist = _fit(model, card, x[tr], y[tr], False, progress)

    y_ref = model.predict(x[te], batch_size=2048, verbose=0)
    y_float = twin.predict(x[te], batch_size=2048, verbose=0)
    model.save(out / "model.keras")
    std = np.array([unit, unit, unit, 1, 1, 1, 1, 1], np.float64)
    np.savez(
        out / "reference.npz", x=x[te], y=y_ref, y_float=y_float, true_met=data["true_met"][te],
        puppi_met=data["puppi_met"][te], puppi_met_topn=data["puppi_met_topn"][te], npv=data["npv"][te],
        process=data["process"][te], process_names=np.array(data["process_names"]), unit=unit,
        mean=np.zeros(f), std=std, input_format=np.array(met_gnn.input_format(card)),
        feature_names=np.array(met_data.FEATURE_NAMES),
    )  # fmt: skip
    physics = met_metrics(data["true_met"][te], data["npv"][te], {
        "puppi": data["puppi_met"][te], f"puppi top {n}": data["puppi_met_topn"][te],
        "float network": y_float * unit, "quantized network": y_ref * unit,
    })  # fmt: skip
    metrics = {
        "task": "met_regression", "met": physics,
        "headline_ratio_to_puppi": physics["ratio_to_puppi"]["quantized network"],
        "response_above_100": physics["high_met"]["quantized network"]["response"],
        "history": {k: [float(v) for v in vals] for k, vals in hist.items()},
        "n_train": int(len(tr)), "n_test": int(len(te)), "n_candidates": int(n), "form": card.model.form,
        "sparsity": prune.sparsity_of(model),
        "io": (f"Inputs: {n} candidates x {f} features ({', '.join(met_data.FEATURE_NAMES)}), leading by pT, padded "
               f"slots zero; momenta in units of {unit:g} GeV. Output: MET (px, py) in units of {unit:g} GeV."),
    }  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics
