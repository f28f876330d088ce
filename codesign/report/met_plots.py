"""Plots and tables of the MET regression report (metrics from physics/met.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

STYLE = {"puppi": ("k", "o"), "float network": ("tab:blue", "s"), "quantized network": ("tab:red", "^")}


def plots(metrics: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from .label import label

    hep.style.use("CMS")
    met = metrics["met"]
    names = [m for m in met["methods"] if m in STYLE]
    pngs = []

    def centers(bins):
        return [i for i in range(len(bins))]

    for axis, key, ylabel, fname in (
        ("vs_true_met", "res_xy", "MET x/y resolution [GeV]", "resolution_vs_met.png"),
        ("vs_true_met", "response", "response <MET . n / |true MET|>", "response_vs_met.png"),
        ("vs_npv", "res_xy", "MET x/y resolution [GeV]", "resolution_vs_npv.png"),
    ):
        fig, ax = plt.subplots(figsize=(8, 6.5))
        labels = list(met[axis][names[0]])
        for name in names:
            y = [met[axis][name][b][key] for b in labels]
            y = [np.nan if v is None else v for v in y]
            c, mk = STYLE[name]
            ax.plot(centers(labels), y, marker=mk, color=c, label=name)
        ax.set_xticks(centers(labels), labels, rotation=45, fontsize=12)
        ax.set(xlabel="true MET [GeV]" if axis == "vs_true_met" else "number of vertices", ylabel=ylabel)
        if key == "response":
            ax.axhline(1.0, color="grey", ls="--")
        ax.legend(fontsize=14)
        label(ax, "14 TeV", fontsize=14)
        fig.savefig(out / fname, dpi=80, bbox_inches="tight")
        plt.close(fig)
        pngs.append(fname)

    fig, ax = plt.subplots(figsize=(8, 6.5))
    ratio = met["ratio_to_puppi"]
    labels = [b for b in ratio.get("quantized network", {}) if b != "all"]
    for name in ("float network", "quantized network"):
        if name in ratio:
            y = [np.nan if ratio[name][b] is None else ratio[name][b] for b in labels]
            c, mk = STYLE[name]
            ax.plot(centers(labels), y, marker=mk, color=c, label=name)
    ax.axhline(1.0, color="k", ls="-")
    ax.axhline(0.8, color="grey", ls="--", label="20% better than PUPPI")
    ax.set_xticks(centers(labels), labels, rotation=45, fontsize=12)
    ax.set(xlabel="true MET [GeV]", ylabel="resolution ratio network / PUPPI")
    ax.legend(fontsize=14)
    label(ax, "14 TeV, test set", fontsize=14)
    fig.savefig(out / "ratio_to_puppi.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return ["ratio_to_puppi.png", *pngs]


def _f(v, fmt="{:.3g}"):
    return "n/a" if v is None else fmt.format(v)


def table_rows(metrics: dict) -> tuple[list[tuple], tuple]:
    """Per true-MET bin: events, resolution per method, ratio to PUPPI, response per method."""
    met = metrics["met"]
    names = [m for m in met["methods"]]
    head = ("true MET [GeV]", "events", *[f"σ x/y {n} [GeV]" for n in names],
            "ratio quantized / PUPPI", *[f"response {n}" for n in names])  # fmt: skip
    rows = []
    for b in met["vs_true_met"]["puppi"]:
        rows.append((b, met["vs_true_met"]["puppi"][b]["events"],
                     *[_f(met["vs_true_met"][n][b]["res_xy"]) for n in names],
                     _f(met["ratio_to_puppi"]["quantized network"].get(b)),
                     *[_f(met["vs_true_met"][n][b]["response"]) for n in names]))  # fmt: skip
    return rows, head


def physics_rows(metrics: dict) -> list[tuple]:
    met = metrics["met"]
    rows = [
        ("resolution ratio quantized / PUPPI (all test events)", _f(met["ratio_to_puppi"]["quantized network"]["all"]))
    ]
    for n in met["methods"]:
        o, h = met["overall"][n], met["high_met"][n]
        rows.append((f"{n}: σ x/y, σ u∥, σ u⊥ [GeV]; response (true MET > 20); response above 100 GeV",
                     f"{_f(o['res_xy'])}, {_f(o['res_upar'])}, {_f(o['res_uperp'])}; {_f(o['response'])}; {_f(h['response'])}"))  # fmt: skip
    return rows
