"""Token layout shared by the float (offline) flavour taggers (zoo/part.py, zoo/deepjet.py).

One tensor per jet, (T, C) with T = N candidates then S secondary vertices, C = TOKEN_COLUMNS:
  [0, 8)    candidate features (zoo/flavour_inputs.py PARTICLE_FEATURES; last one = exists), 0 on SV rows
  [8, 18)   SV features (SV_FEATURES; last one = exists), 0 on candidate rows
  [18, 22)  raw candidate kinematics pt [GeV], e [GeV], Δη, Δφ (for ParT's pair features), 0 on SV rows
One input keeps the ONNX hand-over (codesign/interchange.py) a single-tensor graph.
Columns an adversarial step may move (quant/adversarial.py): the continuous ones (CONTINUOUS) of
real tokens only (`perturbable`); charge, is-lepton, the SV track count and the exists flags are not.
"""

from __future__ import annotations

import numpy as np

from .flavour_inputs import PARTICLE_FEATURES, particle_features

N_PARTICLE = 8
SV_FEATURES = ["lxy", "l3d", "lxy_sig", "l3d_sig", "mass", "ntracks", "pt_rel", "dr", "efrac", "exists"]
N_SV = len(SV_FEATURES)
N_KIN = 4
TOKEN_COLUMNS = N_PARTICLE + N_SV + N_KIN
PART = slice(0, N_PARTICLE)
SV = slice(N_PARTICLE, N_PARTICLE + N_SV)
KIN = slice(N_PARTICLE + N_SV, TOKEN_COLUMNS)


_INTEGER_LIKE = {"charge", "is_lepton", "exists", "ntracks"}
# 1 for a continuous column: candidate features, SV features, raw candidate kinematics (in that order).
CONTINUOUS = np.array(
    [c not in _INTEGER_LIKE for c in (*PARTICLE_FEATURES, *SV_FEATURES, "pt", "e", "deta", "dphi")], np.float32
)
_ON_CANDIDATES = np.zeros(TOKEN_COLUMNS, np.float32)
_ON_CANDIDATES[PART] = _ON_CANDIDATES[KIN] = 1.0


def perturbable(x: np.ndarray) -> np.ndarray:
    """(J, T, C) float32: 1 on continuous features of real candidates (their columns) and real SVs (theirs)."""
    cand = x[..., N_PARTICLE - 1 : N_PARTICLE] > 0
    sv = x[..., N_PARTICLE + N_SV - 1 : N_PARTICLE + N_SV] > 0
    return (cand * _ON_CANDIDATES + sv * (1.0 - _ON_CANDIDATES)).astype(np.float32) * CONTINUOUS


def sv_features(data: dict, n_sv: int) -> np.ndarray:
    """Scaled SV features (J, n_sv, N_SV), roughly within [-3, 3]; 0 for absent vertices."""
    s, mask = data["svs"][:, :n_sv].astype(np.float64), data["sv_mask"][:, :n_sv]
    names = list(data["sv_names"])
    col = {k: s[..., names.index(k)] for k in names}
    jpt = data["jets"][:, 0:1].astype(np.float64)
    f = np.stack([
        np.arcsinh(col["lxy"] / 0.1) / 3, np.arcsinh(col["l3d"] / 0.1) / 3, np.arcsinh(col["lxy_sig"]) / 3,
        np.arcsinh(col["l3d_sig"]) / 3, col["mass"] / 2, col["ntracks"] / 4,
        np.log(np.maximum(col["pt"], 1e-6) / jpt) + 1, 5 * col["dr"], col["efrac"], np.ones_like(col["lxy"]),
    ], axis=-1)  # fmt: skip
    return f * mask[..., None]


def tokens(data: dict, n_cand: int, n_sv: int) -> np.ndarray:
    """(J, n_cand + n_sv, TOKEN_COLUMNS) float32 tokens of every jet."""
    J = len(data["labels"])
    out = np.zeros((J, n_cand + n_sv, TOKEN_COLUMNS), np.float32)
    out[:, :n_cand, PART] = particle_features(data, n_cand)
    names = list(data["candidate_names"])
    kin = data["candidates"][:, :n_cand][..., [names.index(k) for k in ("pt", "e", "deta", "dphi")]]
    out[:, :n_cand, KIN] = kin * data["mask"][:, :n_cand, None]
    if n_sv:
        out[:, n_cand:, SV] = sv_features(data, n_sv)
    return out


def exists(x):
    """1.0 for a real token (candidate or SV), 0.0 for padding; x (B, T, C) torch."""
    return x[..., N_PARTICLE - 1] + x[..., N_PARTICLE + N_SV - 1]
