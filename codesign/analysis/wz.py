"""The W/Z-vs-QCD analysis of models/analysis_wz.toml: train (a), (b), (c), then fit them.

Data (data/boosted_v.py): the 16 substructure features of each jet. The jets are split into
train / validation (75 / 25 of the training fraction) and test (the card's test_fraction). Each
split's jets are weighted to the card's expected yields, so every split describes the same
luminosity. Systematics (names as in the workspace):
  fsr, isr   Pythia's shower-scale variations (per-jet weights), histosys on signal and background;
  jms        the jet-mass scale: j_mass_mmdt scaled by 1 ± jms, the network rerun, histosys;
  bkg_norm   background normalisation, normsys (1 ∓ background_norm);
  lumi       the luminosity, lumi_sigma;
  staterror  the background templates' MC statistics, per bin (each MC jet stands for
             background_yield / N jets: a selection that keeps few of them is that uncertain).
"Without systematics" is μ alone.

(a) cross-entropy; the cut on the score and the number of equal bins above it are chosen on the
    validation jets by the hard-histogram σ_μ (with or without systematics, as judged);
(b) the same network, started from (a)'s weights, trained on σ_μ of the soft model (soft score
    cut with `temperature`, bKDE with `bandwidth`, both in units of the bin width; `bins` bins
    above the learned cut);
(c) (b) plus a soft jet-mass window whose two edges are learned too.
For (b) and (c) the step with the lowest hard σ_μ on the validation jets is kept.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np

from ..errors import CodesignError
from . import losses, single_thread
from .smooth import soft_cut, soft_window
from .templates import Process, binned_model, effective_mc, hard_model, templates

MASS = "j_mass_mmdt"
SELECTIONS = ("a", "b", "c")


def _torch():
    import torch

    return torch


def selector_class():
    torch = _torch()

    class Selector(torch.nn.Module):
        """Standardised features -> MLP -> sigmoid score; a score cut and, optionally, a mass window."""

        def __init__(self, mean, std, hidden: int, mass_index: int, window=None):
            super().__init__()
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float64))
            self.register_buffer("std", torch.as_tensor(std, dtype=torch.float64))
            n = len(mean)
            self.net = torch.nn.Sequential(torch.nn.Linear(n, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                           torch.nn.ReLU(), torch.nn.Linear(hidden, 1)).double()  # fmt: skip
            self.cut = torch.nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
            self.mass_index = mass_index
            self.window = (
                None if window is None else torch.nn.Parameter(torch.as_tensor(window, dtype=torch.float64).clone())
            )

        def forward(self, x):
            """The score in (0, 1): what the ONNX export carries."""
            return torch.sigmoid(self.net((x - self.mean) / self.std)).squeeze(-1)

        def logit(self, x):
            return self.net((x - self.mean) / self.std).squeeze(-1)

    return Selector


def edges_of(cut, bins: int):
    torch = _torch()
    return cut + (1 - cut) * torch.linspace(0.0, 1.0, bins + 1, dtype=torch.float64)


def bin_width(model, bins: int):
    """The score bins' width above the cut: the soft knobs (bandwidth, temperature) scale with it,
    so a cut near 1 with narrow bins is not smeared over a kernel wider than its bins."""
    return float((1 - model.cut.detach()) / bins)


def selection(model, spec, bins: int):
    """(x, soft) -> (score, weight): the score cut (at the lowest edge) and the mass window."""

    def select(x, soft):
        score = model(x)
        tau = spec.temperature * bin_width(model, bins)
        keep = soft_cut(score, model.cut, tau) if soft else (score >= model.cut).double()
        if model.window is not None:
            m = x[:, model.mass_index]
            lo, hi = model.window[0], model.window[1]
            keep = keep * (soft_window(m, lo, hi, spec.mass_temperature) if soft else ((m > lo) & (m < hi)).double())
        return score, keep

    return select


# ----------------------------------------------------------------------------- events


def split_indices(n: int, test_fraction: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    idx = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    test, rest = idx[:n_test], idx[n_test:]
    n_val = len(rest) // 4
    return {"train": np.sort(rest[n_val:]), "validation": np.sort(rest[:n_val]), "test": np.sort(test)}


def processes(data: dict, idx, spec) -> list[Process]:
    torch = _torch()
    names = list(data["feature_names"])
    mi = names.index(MASS)
    x = torch.as_tensor(data["features"][idx], dtype=torch.float64)
    sig = torch.as_tensor(data["signal"][idx])
    w = torch.as_tensor(data["shower_weights"][idx], dtype=torch.float64)
    var = {n: i for i, n in enumerate(data["shower_variations"])}
    out = []
    for name, mask, total in (("signal", sig, spec.signal_yield), ("background", ~sig, spec.background_yield)):
        xs = x[mask]
        n = len(xs)
        if n == 0:
            raise CodesignError(f"analysis_wz: no {name} jets in this split; generate more (data.n_per_class)")
        up, down = xs.clone(), xs.clone()
        up[:, mi] *= 1 + spec.jms
        down[:, mi] *= 1 - spec.jms
        ws = w[mask]
        out.append(Process(
            name, xs, torch.full((n,), total / n, dtype=torch.float64), signal=name == "signal",
            shifts={"jms": (down, up)},
            weights={"fsr": (ws[:, var["fsr_down"]], ws[:, var["fsr_up"]]),
                     "isr": (ws[:, var["isr_down"]], ws[:, var["isr_up"]])},
            normsys={} if name == "signal" else {"bkg_norm": (1 - spec.background_norm, 1 + spec.background_norm)},
            mc_stat=name == "background",
        ))  # fmt: skip
    return out


# ----------------------------------------------------------------------------- judging


def final_model(model, procs, spec, bins: int, systematics: bool, where: str):
    """(binned model, merged bins, edges) of the final fit: this selection's hard cuts and histograms."""
    edges = edges_of(model.cut.detach(), bins)
    m, groups = hard_model(procs, selection(model, spec, bins), edges, spec.lumi_sigma, systematics,
                           spec.min_background_mc, where)  # fmt: skip
    return m, groups, edges


def judge(model, procs, spec, bins: int, systematics: bool, where: str, check_pyhf: bool = False) -> dict:
    """Hard cuts and histograms: σ_μ, Z₀, CLs (and pyhf's, if asked) and the bins as merged."""
    from .pyhf_check import compare, torch_figures

    m, groups, edges = final_model(model, procs, spec, bins, systematics, where)
    if check_pyhf:
        c = compare(m, where)
        return {**c["torch"], "pyhf": c["pyhf"], "rel_diff": c["rel_diff"], "pyhf_max_rel_diff": c["max_rel_diff"], "bins": groups,
                "edges": [float(e) for e in edges], "model": m}  # fmt: skip
    return {**torch_figures(m), "bins": groups, "edges": [float(e) for e in edges], "model": m}


def sigma_hard(model, procs, spec, bins, systematics, where):
    """The final fit's σ_μ of this selection on `procs` (inf where the selection is degenerate)."""
    torch = _torch()
    try:
        return float(losses.sigma_mu(final_model(model, procs, spec, bins, systematics, where)[0]).detach())
    except (CodesignError, torch.linalg.LinAlgError):  # a degenerate choice (all cut away): no candidate
        return float("inf")


# ----------------------------------------------------------------------------- training


def train_ce(model, procs, epochs: int, lr: float, seed: int) -> list[float]:
    torch = _torch()
    x = torch.cat([p.x for p in procs])
    y = torch.cat([torch.full((len(p.x),), float(p.signal), dtype=torch.float64) for p in procs])
    pos = y.sum()
    weight = torch.where(y > 0, 0.5 / pos, 0.5 / (len(y) - pos)) * len(y)  # classes weighted equally
    opt = torch.optim.Adam(model.net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    hist = []
    for _ in range(epochs):
        total = 0.0
        for b in torch.randperm(len(y), generator=gen).split(256):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model.logit(x[b]), y[b], weight=weight[b])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        hist.append(total / len(y))
    return hist


def grid_choice(model, val, spec, systematics: bool) -> dict:
    """(a): the score cut and bin count with the smallest hard σ_μ on the validation jets."""
    torch = _torch()
    best = {"sigma_mu": float("inf")}
    for cut in spec.grid_cuts:
        for bins in spec.grid_bins:
            with torch.no_grad():
                model.cut.fill_(cut)
            s = sigma_hard(model, val, spec, bins, systematics, "analysis_wz (a) grid")
            if s < best["sigma_mu"]:
                best = {"sigma_mu": s, "cut": cut, "bins": bins}
    with torch.no_grad():
        model.cut.fill_(best["cut"])
    return best


def train_sigma_mu(model, train, val, spec, systematics: bool, progress: bool, label: str) -> dict:
    torch = _torch()
    opt = torch.optim.Adam(model.parameters(), lr=spec.learning_rate)
    best, hist = (float("inf"), copy.deepcopy(model.state_dict()), -1), {"soft_sigma_mu": [], "val_sigma_mu": []}
    for step in range(spec.steps):
        opt.zero_grad()
        edges, bw = edges_of(model.cut, spec.bins), spec.bandwidth * bin_width(model, spec.bins)
        hists = templates(train, selection(model, spec, spec.bins), edges, True, bw, systematics)
        soft = binned_model(hists, spec.lumi_sigma if systematics else None, soft=True, where="analysis_wz training")
        loss = losses.sigma_mu(soft) * (1 + sparse_penalty(hists, spec.min_background_mc))
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.cut.clamp_(0.0, 0.98)
        if step % 10 == 9 or step == spec.steps - 1:
            v = sigma_hard(model, val, spec, spec.bins, systematics, "analysis_wz validation")
            hist["soft_sigma_mu"].append(float(loss.detach()))
            hist["val_sigma_mu"].append(v)
            if v < best[0]:
                best = (v, copy.deepcopy(model.state_dict()), step)
            if progress:
                print(f"{label} step {step + 1}/{spec.steps}: soft σ_μ {float(loss):.4f}, validation σ_μ {v:.4f}")
    model.load_state_dict(best[1])
    return {**hist, "best_step": best[2] + 1, "best_val_sigma_mu": best[0]}


def sparse_penalty(hists: dict, min_mc: int):
    """Σ_b relu(1 - n_eff,b / min_mc)²: a soft bin that holds fewer background MC jets than the
    final fit accepts (it would merge the bin) must not look like a background-free bin. Without
    it the training empties bins of background MC and the soft σ_μ runs far below the hard one."""
    torch = _torch()

    return (torch.relu(1 - effective_mc(hists) / min_mc) ** 2).sum()


def bins_of(name: str, grid: dict, spec) -> int:
    """The score bins of a selection: (a)'s chosen on the grid, (b)'s and (c)'s the card's."""
    return grid[name]["bins"] if name.startswith("a_") else spec.bins


def variants():
    """(selection, systematics) pairs: every selection is trained and judged with and without them."""
    return [(s, syst) for s in SELECTIONS for syst in (True, False)]


def name_of(sel: str, syst: bool) -> str:
    return f"{sel}_{'syst' if syst else 'nosyst'}"


def train(card, data: dict, out: Path, progress: bool = True) -> dict:
    with single_thread():
        return _train(card, data, out, progress)


def _train(card, data: dict, out: Path, progress: bool) -> dict:
    torch = _torch()
    from ..interchange import check_onnxruntime

    spec = card.model
    torch.manual_seed(card.training.seed)
    idx = split_indices(len(data["signal"]), card.data.test_fraction, card.data.seed)
    tr, val = processes(data, idx["train"], spec), processes(data, idx["validation"], spec)
    x_tr = data["features"][idx["train"]].astype(np.float64)
    mi = list(data["feature_names"]).index(MASS)
    std = np.where(x_tr.std(0) > 0, x_tr.std(0), 1.0)
    base = selector_class()(x_tr.mean(0), std, spec.hidden, mi)
    t0 = time.time()
    ce_hist = train_ce(base, tr, card.training.epochs, card.training.learning_rate, card.training.seed)
    models, record = {}, {"cross_entropy_loss": ce_hist, "sigma_mu_training": {}, "grid": {}, "validation": {}}
    for sel, syst in variants():
        name = name_of(sel, syst)
        m = copy.deepcopy(base)
        if sel == "c":
            m.window = torch.nn.Parameter(torch.tensor(spec.mass_window, dtype=torch.float64))
        if sel == "a":
            record["grid"][name] = grid_choice(m, val, spec, syst)
        else:
            record["sigma_mu_training"][name] = train_sigma_mu(m, tr, val, spec, syst, progress, name)
        v = judge(m, val, spec, bins_of(name, record["grid"], spec), syst, f"analysis_wz validation {name}")
        v.pop("model")
        record["validation"][name] = {**v, "cut": float(m.cut.detach()), "window": None if m.window is None else
                                      [float(w) for w in m.window.detach()]}  # fmt: skip
        models[name] = m
    torch.save({n: {"state_dict": m.state_dict()} for n, m in models.items()}, out / "selections.pt")
    # The analyst's hand-over: (b)'s network as ONNX, checked in onnxruntime on the test jets.
    x_te = data["features"][idx["test"]]
    export = copy.deepcopy(models["b_syst"]).float()
    onnx_diff = check_onnxruntime(export, x_te.astype(np.float32), out / "float_model.onnx")
    with torch.no_grad():
        y = models["b_syst"](torch.as_tensor(x_te, dtype=torch.float64)).numpy()
    np.savez(out / "reference.npz", x=x_te, y=y, labels=data["labels"][idx["test"]], signal=data["signal"][idx["test"]])
    record.update({"n_train": len(idx["train"]), "n_validation": len(idx["validation"]), "n_test": len(idx["test"]),
                   "train_seconds": round(time.time() - t0, 1), "onnxruntime_max_abs_diff": onnx_diff,
                   "parameters": int(sum(p.numel() for p in base.net.parameters()))})  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(record, indent=1, default=float))
    return record


# ----------------------------------------------------------------------------- the fit stage


def load_selections(point, data: dict):
    torch = _torch()
    spec = point.card.model
    saved = torch.load(point.train_dir / "selections.pt", weights_only=True)
    mi = list(data["feature_names"]).index(MASS)
    models = {}
    for name, s in saved.items():
        sd = s["state_dict"]
        m = selector_class()(sd["mean"], sd["std"], spec.hidden, mi, sd.get("window"))
        m.load_state_dict(sd)
        models[name] = m
    return models


def fit(point, out: Path) -> dict:
    """Every selection on the test jets, hard histograms, pyhf cross-check; (b)'s workspace,
    impacts and templates for the analyst."""
    with single_thread():
        return _fit(point, out)


def _fit(point, out: Path) -> dict:
    from ..flow import load_data
    from .pyhf_check import cls_command, cls_default_codes

    spec, train_rec = point.card.model, point.record("train")
    data = load_data(point)
    idx = split_indices(len(data["signal"]), point.card.data.test_fraction, point.card.data.seed)
    test = processes(data, idx["test"], spec)
    models = load_selections(point, data)
    results, final = {}, None
    for name, m in models.items():
        syst = name.endswith("_syst")
        r = judge(m, test, spec, bins_of(name, train_rec["grid"], spec), syst, f"{point.card.source}: {name}",
                  check_pyhf=True)  # fmt: skip
        if name == "b_syst":
            final = r["model"]
        r.pop("model")
        results[name] = r
    ws = final.workspace(final.asimov(0.0))
    (out / "workspace.json").write_text(json.dumps(ws, indent=1))
    impacts = impacts_of(final)
    plots = template_plots(final, out)
    ratio = {k: results[f"b_{k}"]["sigma_mu"] / results[f"a_{k}"]["sigma_mu"] for k in ("syst", "nosyst")}
    spread = bootstrap(models, test, spec, {n: bins_of(n, train_rec["grid"], spec) for n in models},
                       point.card.data.seed)  # fmt: skip
    return {"test": results, "sigma_mu_ratio_syst": ratio["syst"], "sigma_mu_ratio_nosyst": ratio["nosyst"],
            "bootstrap": spread,
            "pyhf_max_rel_diff": max(r["pyhf_max_rel_diff"] for r in results.values()), "impacts": impacts,
            "workspace": str(point.stage_dir("fit") / "workspace.json"),
            "cls_command": cls_command(str(point.stage_dir("fit") / "workspace.json")),
            "cls_pyhf_default_codes": cls_default_codes(ws, f"{point.card.source}: workspace"),
            "n_test": len(idx["test"]), "n_test_signal": int(data["signal"][idx["test"]].sum()), "plots": plots}  # fmt: skip


BOOTSTRAP = 50


def bootstrap(models: dict, test: list, spec, bins: dict, seed: int) -> dict:
    """The test set's own statistical spread: σ_μ of every selection and the (b)/(a) ratios on
    BOOTSTRAP replicas of the test jets (drawn with replacement, bins merged anew each time)."""
    torch = _torch()
    rng = np.random.default_rng([seed, 2024])
    draws: dict[str, list] = {n: [] for n in models}
    for _ in range(BOOTSTRAP):
        procs = [p.subset(torch.as_tensor(rng.integers(0, len(p.x), len(p.x)))) for p in test]
        for n, m in models.items():
            draws[n].append(sigma_hard(m, procs, spec, bins[n], n.endswith("_syst"), "analysis_wz bootstrap"))
    out = {n: {"std": float(np.std(v)), "median": float(np.median(v))} for n, v in draws.items()}
    for k in ("syst", "nosyst"):
        r = np.array(draws[f"b_{k}"]) / np.array(draws[f"a_{k}"])
        out[f"ratio_{k}"] = {"std": float(np.std(r)), "p16": float(np.percentile(r, 16)),
                             "p84": float(np.percentile(r, 84)), "fraction_below_1": float((r < 1).mean())}  # fmt: skip
    out["replicas"] = BOOTSTRAP
    return out


def impacts_of(model) -> dict:
    """Post-fit constraint of each nuisance (Asimov: pulls are 0 by construction) and its impact on
    μ: the shift of μ̂ when the nuisance is fixed at ±1 post-fit σ and the rest refitted."""
    torch = _torch()
    from .fit import grad_hess

    data = model.asimov(1.0)
    best = model.nominal_pars(1.0).detach()
    x = best.clone().requires_grad_(True)
    _, h = grad_hess(lambda p: model.nll(p, data), x)
    cov = torch.linalg.inv(h)
    out = {}
    for i, name in enumerate(model.names[1:], start=1):
        sigma = float(cov[i, i].sqrt())
        shifts = []
        for sign in (1, -1):
            try:
                p = losses.profile(model, data, {i: float(best[i]) + sign * sigma}, best)
                shifts.append(float(p[0].detach()) - 1.0)
            except CodesignError:  # a refit that does not converge has no impact to show
                shifts.append(None)
        out[name] = {"pull": 0.0, "postfit_sigma": sigma, "impact_up": shifts[0], "impact_down": shifts[1]}
    return out


def template_plots(model, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from ..report.label import label

    hep.style.use("CMS")
    names = sorted({n for s in model.samples for n in s.histosys})
    plots = []
    for s in model.samples:
        fig, axes = plt.subplots(1, max(1, len(names)), figsize=(8 * max(1, len(names)), 6.5), squeeze=False)
        for ax, n in zip(axes[0], names, strict=False):
            nom = s.nominal.detach().numpy()
            edges = np.arange(len(nom) + 1)
            hep.histplot(nom, edges, ax=ax, label="nominal", color="k")
            if n in s.histosys:
                d, u = (t.detach().numpy() for t in s.histosys[n])
                hep.histplot(u, edges, ax=ax, label=f"{n} up", color="tab:red")
                hep.histplot(d, edges, ax=ax, label=f"{n} down", color="tab:blue")
            ax.set(xlabel="bin of (b)'s score (merged)", ylabel=f"expected {s.name} jets", yscale="log")
            ax.legend(fontsize=12)
            label(ax, "13 TeV", fontsize=12)
        fig.tight_layout()
        fname = f"templates_{s.name}.png"
        fig.savefig(out / fname, dpi=80, bbox_inches="tight")
        plt.close(fig)
        plots.append(fname)
    return plots
