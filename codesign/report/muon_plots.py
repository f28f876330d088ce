"""The tracker-muon pre-selectors' report section: efficiency and rejection per bin, ROC, tracks kept.

Used by the kinds muon_full, muon_latent and muon_match (their train record: quant/train_muon.py).
"""

from __future__ import annotations

from pathlib import Path

from .sections import Section, table


def _cell(r: dict) -> str:
    return "—" if r["value"] is None else f"{r['value']:.4f} ± {r['error']:.4f}"


def bin_rows(figs: dict, axis: str) -> list[tuple]:
    """(bin, muons, non-muons, efficiency, rejection, baseline efficiency, baseline rejection)."""
    m, b = figs["model"][axis], figs["baseline"][axis]
    return [(k, v["muons"], v["non_muons"], _cell(v["efficiency"]), _cell(v["rejection"]), _cell(b[k]["efficiency"]),
             _cell(b[k]["rejection"])) for k, v in m.items()]  # fmt: skip


def section(point, train: dict, ref: dict, out: Path) -> Section:
    m, b = train["model"], train["baseline"]
    name = point.kind.name
    rows = [
        ("working point", f"the highest score cut keeping ≥ {100 * m['working_point']['target_efficiency']:g} % of the test muons"),
        ("muon efficiency", _cell(m["efficiency"])), ("non-muon rejection", _cell(m["rejection"])),
        ("fraction of tracks kept (sent to the matching)", f"{m['tracks_kept_fraction']:.4f}"),
        ("ROC AUC", "n/a" if m["roc_auc"] is None else f"{m['roc_auc']:.5f}"),
        ("baseline (pull matching): efficiency / rejection / tracks kept",
         f"{_cell(b['efficiency'])} / {_cell(b['rejection'])} / {b['tracks_kept_fraction']:.4f}"),
        ("test tracks / muons", f"{m['n_tracks']} / {m['n_muons']}"),
        ("mean tracks / segments per event", f"{train['mean_tracks']:.1f} / {train['mean_segments']:.1f}"),
    ]  # fmt: skip
    head = ("bin", "muons", "non-muons", "efficiency", "rejection", "baseline efficiency", "baseline rejection")
    extra = ("<h3>Per reconstructed track pT [GeV] (± binomial standard errors)</h3>" + table(bin_rows(train, "vs_pt"), head)
             + "<h3>Per |η|</h3>" + table(bin_rows(train, "vs_eta"), head))  # fmt: skip
    return Section(rows, plots(train, out, name), extra, sample="events")


def plots(train: dict, out: Path, name: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep
    import numpy as np

    from .label import label

    hep.style.use("CMS")
    pngs = []
    fig, ax = plt.subplots(figsize=(9, 7))
    for who, style in (("model", "-"), ("baseline", "--")):
        r = train["roc"][who]
        if r["efficiency"]:
            ax.plot(
                r["efficiency"],
                1 - np.array(r["rejection"]) + 1e-6,
                style,
                label=name if who == "model" else "pull matching",
            )
    ax.set(xlabel="muon efficiency", ylabel="non-muon tracks kept", yscale="log", xlim=(0.8, 1.0))
    ax.legend()
    label(ax, "14 TeV", fontsize=12)
    fig.savefig(out / "muon_roc.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    pngs.append("muon_roc.png")
    for axis, xl in (("vs_pt", "track pT bin"), ("vs_eta", "|η| bin")):
        fig, axes = plt.subplots(1, 2, figsize=(15, 6))
        for who, mk in (("model", "o"), ("baseline", "s")):
            bins = train[who][axis]
            names = list(bins)
            x = np.arange(len(names))
            for a, q in zip(axes, ("efficiency", "rejection"), strict=True):
                v = [bins[k][q]["value"] if bins[k][q]["value"] is not None else np.nan for k in names]
                e = [bins[k][q]["error"] if bins[k][q]["error"] is not None else 0 for k in names]
                a.errorbar(x, v, yerr=e, fmt=mk, label=name if who == "model" else "pull matching")
                a.set(xticks=x, ylabel=f"muon {q}" if q == "efficiency" else "non-muon rejection", xlabel=xl)
                a.set_xticklabels(names, rotation=30, fontsize=11)
        for a in axes:
            a.legend(fontsize=12)
            label(a, "14 TeV", fontsize=12)
        fig.tight_layout()
        fname = f"muon_{axis}.png"
        fig.savefig(out / fname, dpi=80, bbox_inches="tight")
        plt.close(fig)
        pngs.append(fname)
    return pngs
