"""Flavour-tagging figures of merit from class probabilities (b, c, light, g order).

Discriminants are likelihood ratios of two classes, e.g. b vs light = p_b / (p_b + p_light);
"mistag at X% b efficiency" is the light-jet efficiency at the b-vs-light threshold that keeps
X% of b jets, per jet-pT bin.
"""

from __future__ import annotations

import numpy as np

PT_BINS = [30.0, 50.0, 100.0, 200.0, 1000.0]
PAIRS = [("b", "light"), ("b", "c"), ("c", "light"), ("c", "b")]
B_EFFS = (0.70, 0.85)


def probabilities(logits: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(np.asarray(logits, np.float64), axis=1)


def discriminant(prob: np.ndarray, names: list[str], sig: str, bkg: str) -> np.ndarray:
    s, b = prob[:, names.index(sig)], prob[:, names.index(bkg)]
    return s / np.maximum(s + b, 1e-12)


def roc(prob, labels, names, sig, bkg):
    """(signal efficiency, background efficiency, AUC) of the sig-vs-bkg discriminant."""
    from sklearn.metrics import roc_auc_score, roc_curve

    keep = (labels == names.index(sig)) | (labels == names.index(bkg))
    truth = labels[keep] == names.index(sig)
    if truth.all() or not truth.any():
        return None
    d = discriminant(prob[keep], names, sig, bkg)
    fpr, tpr, _ = roc_curve(truth, d)
    return tpr, fpr, float(roc_auc_score(truth, d))


def auc_error(prob, labels, names, sig="b", bkg="light", n_boot: int = 200, seed: int = 0) -> float | None:
    """Statistical error of the sig-vs-bkg AUC: the standard deviation over `n_boot` bootstrap resamples
    of the test jets (None if a class is empty)."""
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(n_boot):
        i = rng.integers(0, len(labels), len(labels))
        r = roc(prob[i], labels[i], names, sig, bkg)
        if r is None:
            return None
        aucs.append(r[2])
    return float(np.std(aucs, ddof=1))


def mistag(prob, labels, names, eff: float, sig="b", bkg="light") -> float | None:
    """Background efficiency at the threshold keeping `eff` of the signal (None if a class is empty)."""
    d = discriminant(prob, names, sig, bkg)
    s, b = d[labels == names.index(sig)], d[labels == names.index(bkg)]
    if len(s) == 0 or len(b) == 0:
        return None
    cut = np.quantile(s, 1.0 - eff)
    return float((b >= cut).mean())


def flavour_metrics(logits, labels, names, jet_pt) -> dict:
    """AUCs of the four discriminants and light mistag at 70%/85% b efficiency, inclusive and per pT bin."""
    names = [str(n) for n in names]
    prob = probabilities(logits)
    out = {"auc": {}, "mistag_light": {}, "pt_bins": PT_BINS}
    for sig, bkg in PAIRS:
        r = roc(prob, labels, names, sig, bkg)
        out["auc"][f"{sig}_vs_{bkg}"] = None if r is None else r[2]
    for eff in B_EFFS:
        key = f"{int(eff * 100)}"
        rows = {"inclusive": mistag(prob, labels, names, eff)}
        for lo, hi in zip(PT_BINS[:-1], PT_BINS[1:]):
            sel = (jet_pt >= lo) & (jet_pt < hi)
            rows[f"{lo:g}-{hi:g}"] = mistag(prob[sel], labels[sel], names, eff)
        out["mistag_light"][key] = rows
    out["counts"] = {n: int((labels == i).sum()) for i, n in enumerate(names)}
    return out


# CMS's DeepJet discriminants (L = udsg), and the jet flavours a data/simulation comparison splits by.
CMS_DISCRIMINANTS = {"BvsL": ("b", ("light", "g")), "CvsB": ("c", ("b",)), "CvsL": ("c", ("light", "g"))}
CMS_FLAVOURS = {"b": ("b",), "c": ("c",), "udsg": ("light", "g")}


def cms_discriminant(prob: np.ndarray, names: list[str], name: str) -> np.ndarray:
    """p_sig / (p_sig + Σ p_bkg) of CMS_DISCRIMINANTS[name] from class probabilities."""
    sig, bkgs = CMS_DISCRIMINANTS[name]
    s = prob[:, names.index(sig)]
    b = sum(prob[:, names.index(k)] for k in bkgs)
    return s / np.maximum(s + b, 1e-12)


def cms_aucs(logits, labels, names) -> dict:
    """AUC of each CMS discriminant, its signal class against its background classes."""
    from sklearn.metrics import roc_auc_score

    names = [str(n) for n in names]
    prob = probabilities(logits)
    out = {}
    for name, (sig, bkgs) in CMS_DISCRIMINANTS.items():
        keep = np.isin(labels, [names.index(k) for k in (sig, *bkgs)])
        truth = labels[keep] == names.index(sig)
        ok = truth.any() and not truth.all()
        out[name] = float(roc_auc_score(truth, cms_discriminant(prob[keep], names, name))) if ok else None
    return out


def js_divergence(a: np.ndarray, ref: np.ndarray, bins: int = 20) -> float:
    """Jensen–Shannon divergence (base 2: 0 same shape, 1 disjoint) of sample `a` and sample `ref`, histogrammed
    in `bins` bins of equal population in `ref` (its quantiles; tied edges merge), so that a discriminant
    crowded near 0 or 1 is still resolved."""
    from scipy.spatial.distance import jensenshannon

    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    if len(a) == 0 or len(ref) == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    ha, hr = (np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1) for v in (a, ref))
    return float(jensenshannon(ha.astype(np.float64), hr.astype(np.float64), base=2) ** 2)
