"""Fidelity of generated showers, the CaloClouds way: against held-out reference showers (data/showers.py).

Every sample (reference test set, the second reference set "floor", teacher, student) is put into
cells by the same `data.showers.digitise`, and compared at cell level:
  W1         1-D Wasserstein distance of each OBSERVABLES entry, both samples standardised by the
             reference's (weighted) mean and standard deviation, x100 (as arXiv 2309.05704);
             the floor is reference against reference (the statistical limit at this sample size);
  classifier k-fold two-sample test: a gradient-boosted classifier (scikit-learn) separates the
             reference from a sample on shower-level features; the out-of-fold ROC AUC (0.5: no
             difference visible);
  response   mean and relative spread of the visible energy over the incident energy at fixed
             incident energies (reference showers simulated at those energies).
The evaluate stage also checks the ONNX student in onnxruntime against torch on whole showers.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..data import showers as data

# name -> (level, what): shower-level observables have one entry per shower, hit-level one per cell hit
OBSERVABLES = {
    "n_hits": ("shower", "number of cell hits"),
    "energy_ratio": ("shower", "visible energy sum / incident energy [a.u.]"),
    "hit_energy": ("hit", "cell hit energy [MIP]"),
    "longitudinal": ("hit", "layer (energy weighted)"),
    "radial": ("hit", "distance to the centre of gravity [cm] (energy weighted)"),
    "cog_x": ("shower", "centre of gravity x [cm]"),
    "cog_y": ("shower", "centre of gravity y [cm]"),
    "cog_z": ("shower", "centre of gravity z [layer]"),
    "time_core": ("hit", f"hit time, r < {data.R_MOLIERE_CM} cm [ns]"),
    "time_tail": ("hit", f"hit time, r >= {data.R_MOLIERE_CM} cm [ns]"),
}
WEIGHTED = ("longitudinal", "radial")
SAMPLES = ("reference", "floor", "teacher", "student")
ENERGY_UNIT_MEV = data.SAMPLING_FRACTION * 1e3


def observables(cells: dict, energies: np.ndarray) -> dict:
    """Cell hits -> {observable: values} (+ '<name>_w' weights for WEIGHTED) and 'features' per shower."""
    offs = cells["cell_offsets"]
    s = len(offs) - 1
    n = np.diff(offs)
    shower = np.repeat(np.arange(s), n)
    cid = cells["cell_id"].astype(np.int64)
    e = cells["cell_energy"].astype(np.float64)
    t = cells["cell_time"].astype(np.float64)
    layer = cid // data.CELLS_PER_LAYER
    xy = data.CENTRES[cid % data.CELLS_PER_LAYER]
    esum = np.maximum(np.bincount(shower, e, minlength=s), 1e-30)
    cog = [np.bincount(shower, e * v, minlength=s) / esum for v in (xy[:, 0], xy[:, 1], layer)]
    r = np.hypot(xy[:, 0] - cog[0][shower], xy[:, 1] - cog[1][shower])
    core = r < data.R_MOLIERE_CM
    out = {"n_hits": n.astype(np.float64), "energy_ratio": esum * data.MIP_MEV / (ENERGY_UNIT_MEV * energies),
           "hit_energy": e, "longitudinal": layer.astype(np.float64), "longitudinal_w": e, "radial": r, "radial_w": e,
           "cog_x": cog[0], "cog_y": cog[1], "cog_z": cog[2], "time_core": t[core], "time_tail": t[~core]}  # fmt: skip
    per_layer = (
        np.bincount(shower * data.N_LAYERS + layer, e, minlength=s * data.N_LAYERS).reshape(s, -1) / esum[:, None]
    )
    r_mean = np.bincount(shower, e * r, minlength=s) / esum
    r_rms = np.sqrt(np.bincount(shower, e * r**2, minlength=s) / esum)
    t_mean = np.bincount(shower, e * t, minlength=s) / esum
    out["features"] = np.column_stack([n, out["energy_ratio"], *cog, r_mean, r_rms, t_mean, per_layer])
    return out


def w1(ref: np.ndarray, other: np.ndarray, ref_w=None, other_w=None) -> float:
    """Wasserstein-1 distance of the two samples standardised by the reference, x100."""
    from scipy.stats import wasserstein_distance

    mean = np.average(ref, weights=ref_w)
    std = np.sqrt(np.average((ref - mean) ** 2, weights=ref_w)) or 1.0
    return 100 * float(wasserstein_distance((ref - mean) / std, (other - mean) / std, ref_w, other_w))


def w1_table(obs: dict) -> dict:
    """{observable: {floor, teacher, student, ratio}} against the reference."""
    ref = obs["reference"]
    table = {}
    for name in OBSERVABLES:
        w = f"{name}_w" if name in WEIGHTED else None
        row = {s: w1(ref[name], obs[s][name], ref.get(w) if w else None, obs[s].get(w) if w else None)
               for s in ("floor", "teacher", "student")}  # fmt: skip
        row["student_over_teacher"] = row["student"] / max(row["teacher"], 1e-12)
        table[name] = row
    return table


def classifier_auc(ref_feats: np.ndarray, feats: np.ndarray, energies: tuple, folds: int, seed: int = 0) -> float:
    """Out-of-fold ROC AUC of a classifier telling `feats` from `ref_feats` (incident energy included)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    x = np.concatenate([np.column_stack([ref_feats, energies[0]]), np.column_stack([feats, energies[1]])])
    y = np.concatenate([np.zeros(len(ref_feats)), np.ones(len(feats))])
    x = np.nan_to_num(x)
    score = np.zeros(len(y))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed).fit(x[tr], y[tr])
        score[te] = clf.predict_proba(x[te])[:, 1]
    return float(roc_auc_score(y, score))


def response(ratios: np.ndarray) -> dict:
    m = float(np.mean(ratios))
    return {"mean": m, "resolution": float(np.std(ratios) / m) if m else float("nan")}


# ----------------------------------------------------------------------------- the evaluate stage


def evaluate(point, out: Path) -> dict:
    from ..analysis import single_thread

    with single_thread():
        return _evaluate(point, out)


def _evaluate(point, out: Path) -> dict:
    from ..flow import load_data
    from ..zoo import showers_cc2 as cc2

    spec = point.card.model
    gen = cc2.load(point.stage_dir("distil") / "model.pt", spec, with_student=True)
    arrays = load_data(point)
    test, floor = data.select(arrays, 1), data.select(arrays, 2)
    energies = test["incident_energy"]
    cells = {"reference": test, "floor": floor}
    points, seconds = {}, {}
    for sampler in ("teacher", "student"):
        t0 = time.perf_counter()
        points[sampler] = gen.points(energies, sampler, seed=11)
        seconds[sampler] = time.perf_counter() - t0
        cells[sampler] = data.digitise(*points[sampler], np.random.default_rng(12))
    e_of = {"reference": energies, "floor": floor["incident_energy"], "teacher": energies, "student": energies}
    obs = {s: observables(cells[s], e_of[s]) for s in SAMPLES}
    table = w1_table(obs)
    auc = {s: classifier_auc(obs["reference"]["features"], obs[s]["features"], (energies, e_of[s]),
                             spec.classifier_folds) for s in ("floor", "teacher", "student")}  # fmt: skip

    # Response and resolution at fixed incident energies.
    rng = np.random.default_rng(13)
    resp = {s: {} for s in ("reference", "teacher", "student")}
    for e in spec.response_energies:
        es = np.full(spec.response_showers, float(e))
        ref_cells = data.digitise(*data.simulate(es, rng), rng)
        resp["reference"][f"{e:g}"] = response(observables(ref_cells, es)["energy_ratio"])
        for sampler in ("teacher", "student"):
            c = data.digitise(*gen.points(es, sampler, seed=int(e)), rng)
            resp[sampler][f"{e:g}"] = response(observables(c, es)["energy_ratio"])

    # The ONNX student in onnxruntime, as CMSSW would run it, against torch on the same noise.
    dist = point.stage_dir("distil")
    sessions = cc2.sessions({n: dist / f for n, f in point.record("distil")["onnx"].items()})
    k = min(len(energies), 100)
    p_torch, o_torch = gen.points(energies[:k], "student", seed=5)
    p_onnx, o_onnx = gen.points(energies[:k], "student", seed=5, sessions=sessions)
    same_counts = bool(np.array_equal(o_torch, o_onnx))
    # Whole showers: the largest difference relative to max(1, |value|) over x, y [cm], E [MeV], t [ns]; the
    # layers (z order) are compared as a fraction that differ (a point on a layer edge may flip).
    onnx_diff = (float(np.max(np.abs(p_torch - p_onnx)[:, [0, 1, 3, 4]] / np.maximum(1.0, np.abs(p_torch[:, [0, 1, 3, 4]]))))
                 if same_counts else float("inf"))  # fmt: skip
    layer_flips = float(np.mean(p_torch[:, 2] != p_onnx[:, 2])) if same_counts else 1.0

    # The sampled visible energy sum tracks the incident energy (points, before cells).
    tracking = {}
    for sampler, (pts, offs) in points.items():
        esum = np.add.reduceat(pts[:, 3], offs[:-1]) if len(pts) else np.zeros(len(energies))
        tracking[sampler] = {"pearson_r": float(np.corrcoef(esum, energies)[0, 1]),
                             "mean_ratio": float(np.mean(esum / (ENERGY_UNIT_MEV * energies)))}  # fmt: skip
    ref_esum = np.add.reduceat(test["points"][:, 3], test["point_offsets"][:-1])
    tracking["reference"] = {"pearson_r": float(np.corrcoef(ref_esum, energies)[0, 1]),
                             "mean_ratio": float(np.mean(ref_esum / (ENERGY_UNIT_MEV * energies)))}  # fmt: skip

    np.savez_compressed(out / "observables.npz", **{f"{s}/{k}": v for s in SAMPLES for k, v in obs[s].items()})
    ratios = [r["student_over_teacher"] for r in table.values()]
    return {"n_test": int(len(energies)), "n_floor": int(len(floor["incident_energy"])), "w1": table,
            "w1_ratio_max": float(max(ratios)), "w1_ratio_max_observable": list(table)[int(np.argmax(ratios))],
            "classifier_auc": auc, "classifier_auc_student": auc["student"], "response": resp,
            "sampling_seconds": {s: round(v, 2) for s, v in seconds.items()},
            "network_calls": {"teacher": cc2.network_calls("teacher", spec.teacher_steps), "student": 1},
            "onnx_vs_torch_max_rel_diff": onnx_diff, "onnx_showers_checked": k, "onnx_same_point_counts": same_counts,
            "onnx_layer_flip_fraction": layer_flips,
            "energy_tracking": tracking}  # fmt: skip
