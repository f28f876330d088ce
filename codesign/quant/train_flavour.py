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
from .flavour_metrics import flavour_metrics
from .train import split, to_grid, write_metrics

PARTICLE_FEATURES = ["lnpt_rel", "deta", "dphi", "charge", "d0sig", "z0sig", "is_lepton", "exists"]
PAIR_FEATURES = ["ln_delta", "ln_kt", "ln_z", "ln_m2", "both_exist"]


def particle_features(data: dict, n: int) -> np.ndarray:
    c, mask = data["candidates"][:, :n].astype(np.float64), data["mask"][:, :n]
    names = list(data["candidate_names"])
    col = {k: c[..., names.index(k)] for k in names}
    jpt = data["jets"][:, 0:1].astype(np.float64)
    f = np.stack([
        (np.log(np.maximum(col["pt"], 1e-6) / jpt) + 4) / 2, 5 * col["deta"], 5 * col["dphi"], col["charge"],
        np.arcsinh(col["d0sig"]) / 1.5, np.arcsinh(col["z0sig"]) / 1.5,
        np.isin(np.abs(col["pdgid"]), (11, 13)).astype(np.float64), np.ones_like(col["pt"]),
    ], axis=-1)  # fmt: skip
    return f * mask[..., None]


def pair_features(data: dict, n: int) -> np.ndarray:
    """ParT's pairwise features (logs of Δ, kT, z, m²) for every candidate pair, (J, n, n, 5)."""
    c, mask = data["candidates"][:, :n].astype(np.float64), data["mask"][:, :n]
    names = list(data["candidate_names"])
    pt, e = c[..., names.index("pt")], c[..., names.index("e")]
    eta, phi = c[..., names.index("deta")], c[..., names.index("dphi")]
    a, b = (slice(None), slice(None), None), (slice(None), None, slice(None))
    delta = np.hypot(eta[a] - eta[b], (phi[a] - phi[b] + np.pi) % (2 * np.pi) - np.pi)
    ptmin = np.minimum(pt[a], pt[b])
    kt = ptmin * delta
    z = ptmin / np.maximum(pt[a] + pt[b], 1e-9)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    m2 = (e[a] + e[b]) ** 2 - (px[a] + px[b]) ** 2 - (py[a] + py[b]) ** 2 - (pz[a] + pz[b]) ** 2
    both = mask[a] & mask[b] & ~np.eye(n, dtype=bool)[None]
    eps = 1e-8
    f = np.stack([
        (np.log(delta + eps) + 4) / 2, np.log(kt + eps) / 3, (np.log(z + eps) + 4) / 3,
        np.log(np.maximum(m2, 0) + eps) / 4, np.ones_like(delta),
    ], axis=-1)  # fmt: skip
    return np.where(both[..., None], f, 0.0)


def l1_inputs(data: dict, n: int) -> np.ndarray:
    """The L1 core's input rows, (J, n, F + n*P): particle features then pair features."""
    p = pair_features(data, n)
    return np.concatenate([particle_features(data, n), p.reshape(*p.shape[:2], -1)], axis=-1)


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
    model.compile(optimizer=keras.optimizers.Adam(card.training.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])  # fmt: skip
    hist = model.fit(
        x[tr], labels[tr], validation_split=0.15, epochs=card.training.epochs, batch_size=card.training.batch_size,
        class_weight=class_weights(labels[tr], len(names)), verbose=2 if progress else 0, shuffle=True,
        callbacks=[keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=5, min_lr=1e-5)],
    )  # fmt: skip
    y = model.predict(x[te], batch_size=2048, verbose=0)
    model.save(out / "model.keras")
    jet_pt = data["jets"][te, 0]
    np.savez(out / "reference.npz", x=x[te], y=y, labels=labels[te], class_names=np.array(names), jet_pt=jet_pt,
             input_format=np.array(fmt), particle_features=np.array(PARTICLE_FEATURES),
             pair_features=np.array(PAIR_FEATURES))  # fmt: skip
    return write_metrics(out, y, labels[te], names, hist.history, len(tr),
                         {"flavour": flavour_metrics(y, labels[te], names, jet_pt)})  # fmt: skip
