"""The shower generator's report section: W1 table, classifier AUC, histograms with ratio panels,
response and resolution (CMS style via mplhep, labelled as the project's locally generated showers)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from ..physics.showers import OBSERVABLES, WEIGHTED
from .sections import Section, table

LLABEL = "parametric showers, generated locally"
COLOURS = {"reference": "black", "floor": "grey", "teacher": "tab:blue", "student": "tab:orange"}
LOG_X = ("hit_energy",)
LOG_Y = ("hit_energy", "radial", "time_core", "time_tail", "longitudinal")
RANGES = {"time_core": (-0.3, 2.5), "time_tail": (-0.3, 4.0), "radial": (0, 12), "hit_energy": (0.5, 2000)}


def section(point, train: dict, ref: dict, out: Path) -> Section:
    ev, dist = point.record("evaluate"), point.record("distil")
    rows = [("network calls per sample, teacher (Heun) / student", f"{ev['network_calls']['teacher']} / 1"),
            ("reference showers: test / floor", f"{ev['n_test']} / {ev['n_floor']}"),
            ("largest W1 ratio student / teacher", f"{ev['w1_ratio_max']:.2f} ({ev['w1_ratio_max_observable']})"),
            ("classifier AUC: floor / teacher / student",
             " / ".join(f"{ev['classifier_auc'][s]:.3f}" for s in ("floor", "teacher", "student"))),
            ("ONNX vs torch, max |diff| per network (flow / teacher / student)",
             " / ".join(f"{dist['onnxruntime_max_abs_diff'][n]:.2g}" for n in ("flow", "teacher", "student"))),
            ("ONNX student vs torch (whole showers, max relative diff)", f"{ev['onnx_vs_torch_max_rel_diff']:.2g}"),
            ("sampling wall time on the test set [s]: teacher / student",
             f"{ev['sampling_seconds']['teacher']} / {ev['sampling_seconds']['student']}")]  # fmt: skip
    w1 = [(n, OBSERVABLES[n][1], f"{r['floor']:.2f}", f"{r['teacher']:.2f}", f"{r['student']:.2f}",
           f"{r['student_over_teacher']:.2f}") for n, r in ev["w1"].items()]  # fmt: skip
    resp = [(e, *(f"{ev['response'][s][e]['mean']:.3f} / {ev['response'][s][e]['resolution']:.3f}"
                  for s in ("reference", "teacher", "student"))) for e in ev["response"]["reference"]]  # fmt: skip
    extra = ("<h3>Wasserstein-1 distances (standardised by the reference, x100)</h3>"
             + table(w1, ("observable", "what", "floor (ref vs ref)", "teacher", "student", "student / teacher"))
             + "<h3>Response / resolution of the visible energy at fixed incident energies</h3>"
             + table(resp, ("E [GeV]", "reference", "teacher", "student"))
             + "<p>The reference showers come from the project's parametric GFlash-like simulator "
             "(<code>codesign/data/showers.py</code>), itself fast: a speed ratio against it is not the ratio "
             "to Geant4. ONNX files (flow, teacher denoiser, one-step student): <code>"
             + html.escape(str(point.stage_dir("distil"))) + "</code>.</p>")  # fmt: skip
    obs = dict(np.load(point.stage_dir("evaluate") / "observables.npz"))
    plots = [histogram(obs, name, out) for name in OBSERVABLES] + [response_plot(ev["response"], out)]
    return Section(rows, plots, extra, sample="showers", source="parametric GFlash-like simulator, generated locally")


def _style():
    import matplotlib

    matplotlib.use("Agg")
    import mplhep as hep

    hep.style.use("CMS")


def histogram(obs: dict, name: str, out: Path) -> str:
    import matplotlib.pyplot as plt

    from .label import label

    _style()
    values = {s: obs[f"{s}/{name}"] for s in COLOURS}
    weights = {s: obs.get(f"{s}/{name}_w") if name in WEIGHTED else None for s in COLOURS}
    lo, hi = RANGES.get(name, np.percentile(values["reference"], [0.5, 99.5]))
    if name in ("n_hits", "longitudinal"):
        lo, hi = np.floor(lo) - 0.5, np.ceil(hi) + 0.5
    edges = np.geomspace(lo, hi, 41) if name in LOG_X else np.linspace(lo, hi, 41)
    fig, (ax, rax) = plt.subplots(2, 1, figsize=(8, 8), gridspec_kw={"height_ratios": (3, 1)}, sharex=True)
    hists = {}
    for s, colour in COLOURS.items():
        h, _ = np.histogram(values[s], edges, weights=weights[s])
        h = h / max(h.sum(), 1e-30)
        hists[s] = h
        ax.stairs(h, edges, color=colour, label=s, linestyle="--" if s == "floor" else "-",
                  fill=s == "reference", alpha=0.25 if s == "reference" else 1.0)  # fmt: skip
    for s in ("floor", "teacher", "student"):
        with np.errstate(divide="ignore", invalid="ignore"):
            rax.stairs(hists[s] / hists["reference"], edges, color=COLOURS[s])
    rax.axhline(1, color="black", lw=1)
    rax.set(ylim=(0.5, 1.5), ylabel="/ reference", xlabel=OBSERVABLES[name][1])
    ax.set(ylabel="fraction" + (" of energy" if name in WEIGHTED else ""))
    if name in LOG_X:
        ax.set_xscale("log")
    if name in LOG_Y:
        ax.set_yscale("log")
    ax.legend(fontsize=14)
    label(ax, "photons, 10-100 GeV", fontsize=14, llabel=LLABEL)
    png = f"showers_{name}.png"
    fig.savefig(out / png, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return png


def response_plot(resp: dict, out: Path) -> str:
    import matplotlib.pyplot as plt

    from .label import label

    _style()
    fig, (ax, rax) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    for s in ("reference", "teacher", "student"):
        e = [float(k) for k in resp[s]]
        ax.plot(e, [v["mean"] for v in resp[s].values()], "o-", color=COLOURS[s], label=s)
        rax.plot(e, [v["resolution"] for v in resp[s].values()], "o-", color=COLOURS[s])
    ax.set(ylabel="response")
    rax.set(ylabel="resolution", xlabel="incident photon energy [GeV]")
    ax.set_title("visible energy / (1 % of E): mean (top), σ/mean (bottom)", fontsize=13, loc="right", pad=24)
    fig.align_ylabels()
    ax.legend(fontsize=14)
    label(ax, "fixed energies", fontsize=14, llabel=LLABEL)
    fig.savefig(out / "showers_response.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "showers_response.png"
