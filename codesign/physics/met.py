"""MET physics metrics: response and resolution versus true MET and versus pileup, per method.

For an event with true MET vector t (|t| > 0, unit vector n) and a reconstructed vector r:
  u_par  = r . n - |t|          (parallel residual; response = r . n / |t|)
  u_perp = r x n                (perpendicular residual)
  x/y residuals = r - t         (defined for every event, also |t| = 0)
Resolution is the half-width of the central 68% interval (16th to 84th percentile), robust to
the tails a few mis-measured jets give; response is the mean of r . n / |t| in the bin (bins with
true MET below 20 GeV have no response: n is not defined well there).
The headline is the x/y resolution ratio network / PUPPI per true-MET bin.
"""

from __future__ import annotations

import numpy as np

MET_BINS = [0, 20, 40, 60, 80, 100, 150, 200, 300, 1e9]
RESPONSE_MIN = 20.0


def _res(v):
    return float(0.5 * (np.percentile(v, 84) - np.percentile(v, 16))) if len(v) >= 5 else None


def _one(true, reco, sel):
    t, r = true[sel], reco[sel]
    mag = np.hypot(t[:, 0], t[:, 1])
    out = {"events": int(sel.sum()), "res_xy": _res((r - t).ravel())}
    ok = mag > RESPONSE_MIN
    if ok.sum() >= 5:
        n = t[ok] / mag[ok, None]
        par = (r[ok] * n).sum(1)
        perp = r[ok, 0] * n[:, 1] - r[ok, 1] * n[:, 0]
        out |= {"response": float(np.mean(par / mag[ok])), "res_upar": _res(par - mag[ok]), "res_uperp": _res(perp)}
    else:
        out |= {"response": None, "res_upar": None, "res_uperp": None}
    return out


def _bins(edges, values):
    return [
        (f"{lo:g}-{hi:g}" if hi < 1e8 else f">{lo:g}", (values >= lo) & (values < hi))
        for lo, hi in zip(edges[:-1], edges[1:])
    ]


def met_metrics(true: np.ndarray, npv: np.ndarray, methods: dict[str, np.ndarray]) -> dict:
    """{"overall", "vs_true_met", "vs_npv", "ratio_to_puppi"} for each method name (one must be 'puppi')."""
    true = np.asarray(true, np.float64)
    mag = np.hypot(true[:, 0], true[:, 1])
    npv_edges = sorted(set(np.percentile(npv, [0, 25, 50, 75]).round().tolist())) + [float(npv.max()) + 1]
    out = {"definition": __doc__.split("\n\n")[1].strip(), "methods": list(methods), "met_bins": MET_BINS,
           "npv_bins": npv_edges, "overall": {}, "high_met": {}, "vs_true_met": {}, "vs_npv": {}}  # fmt: skip
    every = np.ones(len(true), bool)
    for name, reco in methods.items():
        reco = np.asarray(reco, np.float64)
        out["overall"][name] = _one(true, reco, every)
        out["high_met"][name] = _one(true, reco, mag >= 100)
        out["vs_true_met"][name] = {b: _one(true, reco, s) for b, s in _bins(MET_BINS, mag)}
        out["vs_npv"][name] = {b: _one(true, reco, s) for b, s in _bins(npv_edges, npv)}
    ratio = {}
    for name in methods:
        if name == "puppi":
            continue
        ratio[name] = {}
        for b in out["vs_true_met"][name]:
            a, p = out["vs_true_met"][name][b]["res_xy"], out["vs_true_met"]["puppi"][b]["res_xy"]
            ratio[name][b] = None if a is None or not p else round(a / p, 4)
        a, p = out["overall"][name]["res_xy"], out["overall"]["puppi"]["res_xy"]
        ratio[name]["all"] = None if a is None or not p else round(a / p, 4)
    out["ratio_to_puppi"] = ratio
    return out


def ratio_error(true: np.ndarray, reco: np.ndarray, puppi: np.ndarray, n_boot: int = 200, seed: int = 0) -> float:
    """Statistical error of the overall x/y resolution ratio reco / PUPPI: the standard deviation over
    `n_boot` bootstrap resamples of the test events (paired: one resample serves both, so their
    correlation, the same events' pileup and true MET, is kept)."""
    true, reco, puppi = (np.asarray(a, np.float64) for a in (true, reco, puppi))
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(n_boot):
        i = rng.integers(0, len(true), len(true))
        ratios.append(_res((reco[i] - true[i]).ravel()) / _res((puppi[i] - true[i]).ravel()))
    return float(np.std(ratios, ddof=1))
