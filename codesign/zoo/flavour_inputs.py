"""The L1 flavour tagger's inputs from the flavour dataset (quant/train_flavour.py trains on them).

Per jet, the N leading-pT candidates (N = model.n_candidates), one row per candidate:
  particle features (PARTICLE_FEATURES), scaled into roughly [-2, 2]:
    (ln(pT/pT_jet) + 4)/2, 5 Δη, 5 Δφ, charge, asinh(d0/σ)/1.5, asinh(z0/σ)/1.5, is e/µ, exists
  pair features with every candidate j (PAIR_FEATURES; 0 when i = j or either is padding):
    ParT's ln Δ, ln kT, ln z, ln m² (scaled), and "both exist"
The float taggers' tokens (zoo/flavour_tokens.py) reuse the particle features.
"""

from __future__ import annotations

import numpy as np

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
