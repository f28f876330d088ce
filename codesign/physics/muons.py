"""Tracker-muon pre-selection figures: muon efficiency against non-muon rejection.

Over the test events' tracks: muons are tracks with label 1 (data/muons.py), non-muons the rest.
The working point is the highest score cut that keeps at least `target` (99 %) of the test muons;
at it, per reconstructed-pT and per |eta| bin: the muon efficiency and the non-muon rejection
(1 - fraction of non-muons kept), each with its binomial standard error sqrt(p (1 - p) / n), and
the counts. `tracks_kept_fraction`: the fraction of all tracks above the cut, the share that would
still go to the expensive extrapolation and matching (the time saved is the rest).
"""

from __future__ import annotations

import numpy as np

PT_BINS = [0.9, 3.0, 5.0, 10.0, 20.0, 50.0, 1e9]
ETA_BINS = [0.0, 0.9, 1.2, 2.1, 2.5]
TARGET = 0.99


def working_point(scores: np.ndarray, label: np.ndarray, target: float = TARGET) -> float:
    """The highest cut c with mean(scores[muons] >= c) >= target."""
    mu = np.sort(scores[label == 1])
    if not len(mu):
        return float("-inf")
    return float(mu[int(np.floor((1 - target) * len(mu)))])


def _rate(k: int, n: int) -> dict:
    if n == 0:
        return {"value": None, "error": None, "n": 0}
    p = k / n
    return {"value": p, "error": float(np.sqrt(p * (1 - p) / n)), "n": int(n)}


def _bin_name(lo, hi, what):
    return f"{what} {lo:g}-{hi:g}" if hi < 1e8 else f"{what} > {lo:g}"


def per_bin(keep: np.ndarray, label: np.ndarray, values: np.ndarray, edges, what: str) -> dict:
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (values >= lo) & (values < hi)
        mu, non = sel & (label == 1), sel & (label == 0)
        eff = _rate(int(keep[mu].sum()), int(mu.sum()))
        fake = _rate(int(keep[non].sum()), int(non.sum()))
        rej = {**fake, "value": None if fake["value"] is None else 1 - fake["value"]}
        out[_bin_name(lo, hi, what)] = {"muons": int(mu.sum()), "non_muons": int(non.sum()), "efficiency": eff,
                                        "rejection": rej}  # fmt: skip
    return out


def metrics(scores: np.ndarray, label: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> dict:
    """The figures of one selection on the test tracks (flat arrays over all test events)."""
    from sklearn.metrics import roc_auc_score

    cut = working_point(scores, label)
    keep = scores >= cut
    mu, non = label == 1, label == 0
    return {
        "working_point": {"target_efficiency": TARGET, "cut": cut},
        "efficiency": _rate(int(keep[mu].sum()), int(mu.sum())),
        "rejection": {**_rate(int((~keep[non]).sum()), int(non.sum()))},
        "tracks_kept_fraction": float(keep.mean()) if len(keep) else None,
        "roc_auc": float(roc_auc_score(label, scores)) if 0 < mu.sum() < len(label) else None,
        "vs_pt": per_bin(keep, label, pt, PT_BINS, "pT"),
        "vs_eta": per_bin(keep, label, np.abs(eta), ETA_BINS, "|eta|"),
        "n_tracks": int(len(label)), "n_muons": int(mu.sum()),
    }  # fmt: skip


def roc(scores: np.ndarray, label: np.ndarray, points: int = 201) -> dict:
    """Non-muon rejection at muon efficiencies 0.8-1 (for plots)."""
    from sklearn.metrics import roc_curve

    if not 0 < label.sum() < len(label):
        return {"efficiency": [], "rejection": []}
    fpr, tpr, _ = roc_curve(label, scores)
    eff = np.linspace(0.8, 1.0, points)
    return {"efficiency": eff.tolist(), "rejection": (1 - np.interp(eff, tpr, fpr)).tolist()}
