"""Quantization-aware training of the MET interaction network (zoo/met_gnn.py), and its reference.

Recipe: the float twin (same graph, pass-through quantizers) is trained first; its weights start
the quantized model, which is then trained quantization-aware for the same epochs. Loss (`_loss`):
Huber on the MET vector residual (px, py) in units of `data.momentum_unit` GeV, each event weighted
to flatten the true-MET spectrum (`_event_weights`), plus a response term. Why: most events have
true MET near 0 and the PU noise is tens of GeV, so a plain MSE fit shrinks MET toward 0 (response
far below 1 at high true MET, where resolution is judged bin by bin); the flat weights make every
true-MET bin count and the response term pins <MET . n> / <|true|> to 1 above RESPONSE_MIN_GEV.

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
from ..fixedpoint import to_grid
from ..physics.met import met_metrics
from ..zoo import met_gnn
from . import pareto, prune
from .keras_fit import fit
from .train import split


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


WEIGHT_BINS_GEV = [0, 20, 40, 60, 80, 100, 150, 200, 300, 1e9]  # physics.met.MET_BINS: the bins judged
MAX_WEIGHT = 10.0  # cap relative to the median weight: a handful of >300 GeV events must not dominate
RESPONSE_MIN_GEV = 40.0
RESPONSE_LAMBDA = 50.0
HUBER_DELTA = 2.0  # units: ~16 GeV at 8 GeV/unit, below the PU noise, so PU tails count linearly


def _event_weights(true_gev: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Per-event weights, inverse to the training events' true-MET bin populations, mean 1 over idx."""
    mag = np.hypot(true_gev[:, 0], true_gev[:, 1])
    b = np.digitize(mag, WEIGHT_BINS_GEV) - 1
    cnt = np.bincount(b[idx], minlength=len(WEIGHT_BINS_GEV))
    w = 1.0 / np.maximum(cnt[b], 1)
    w = np.minimum(w, MAX_WEIGHT * np.median(w[idx]))
    return (w / w[idx].mean()).astype(np.float32)


def _loss(unit: float):
    """y_true columns: (true px, true py, event weight); y_pred: (MET px, MET py), both in units."""
    import keras
    from keras import ops

    t_min = RESPONSE_MIN_GEV / unit

    def met_loss(y_true, y_pred):
        t, w = y_true[:, :2], y_true[:, 2]
        d = y_pred - t
        a = ops.abs(d)
        hub = ops.sum(ops.where(a < HUBER_DELTA, 0.5 * d * d, HUBER_DELTA * (a - 0.5 * HUBER_DELTA)), axis=-1)
        mag = ops.sqrt(ops.sum(t * t, axis=-1))
        sel = ops.cast(mag > t_min, y_pred.dtype) * w
        par = ops.sum(y_pred * t, axis=-1) / ops.maximum(mag, 1e-6)  # MET . n, n = true direction
        resp = ops.sum(sel * par) / ops.maximum(ops.sum(sel * mag), 1e-6)
        has = ops.cast(ops.sum(sel) > 0, y_pred.dtype)
        return ops.mean(w * hub) + RESPONSE_LAMBDA * has * (resp - 1.0) ** 2

    return keras.saving.register_keras_serializable("codesign")(met_loss)


PARETO_METRIC = "val_met_loss"  # the loss without HGQ2's EBOPs term, on the validation events


def _fit(model, card, x, y, float_twin: bool, progress: bool, checkpoints: Path | None = None):
    loss = _loss(card.data.momentum_unit)
    return fit(model, card, x, y, loss=loss, metrics=[loss], plateau_patience=4, prune=not float_twin,
               progress=progress, checkpoints=checkpoints, pareto_metric=(PARETO_METRIC, -1))  # fmt: skip


def train(card: Card, data: dict, out: Path, progress: bool = True) -> dict:
    unit = card.data.momentum_unit
    x = inputs(card, data)
    tr, te = split(len(x), card.data.test_fraction, card.data.seed)
    y = np.concatenate([data["true_met"] / unit, _event_weights(data["true_met"], tr)[:, None]], axis=1).astype(
        np.float32
    )
    n, f = x.shape[1:]

    twin = met_gnn.build(card, n, f, float_twin=True)
    _fit(twin, card, x[tr], y[tr], True, progress)
    model = met_gnn.build(card, n, f)
    for layer in twin.layers:  # same graph, same names: start QAT from the float solution
        for attr in ("kernel", "bias"):
            if getattr(layer, attr, None) is not None and layer.trainable:
                getattr(model.get_layer(layer.name), attr).assign(getattr(layer, attr))
    hist = _fit(model, card, x[tr], y[tr], False, progress, checkpoints=out)
    y_float = twin.predict(x[te], batch_size=2048, verbose=0)

    def evaluate(model, dest: Path) -> dict:
        y_ref = model.predict(x[te], batch_size=2048, verbose=0)
        model.save(dest / "model.keras")
        std = np.array([unit, unit, unit, 1, 1, 1, 1, 1], np.float64)
        np.savez(
            dest / "reference.npz", x=x[te], y=y_ref, y_float=y_float, true_met=data["true_met"][te],
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
        }  # fmt: skip
        (dest / "metrics.json").write_text(json.dumps(metrics, indent=1))
        return metrics

    return pareto.finish(out, model, hist, PARETO_METRIC, evaluate)
