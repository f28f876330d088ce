"""ROC curves of the flavour discriminants (b vs light, b vs c, c vs light, c vs b), one model or several.

Each panel: signal efficiency on x, background efficiency (mistag rate) on a log y axis, as in
CMS flavour-tagging plots; the discriminants are those of physics/flavour.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..physics.flavour import PAIRS, probabilities, roc


def roc_panels(models: dict[str, tuple[np.ndarray, np.ndarray, list[str]]], out: Path, fname: str, rlabel: str) -> str:
    """models: {label: (logits, labels, class names)} on test jets; writes out/fname, returns fname."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from .label import label

    hep.style.use("CMS")
    fig, axes = plt.subplots(2, 2, figsize=(14, 12))
    for ax, (sig, bkg) in zip(axes.flat, PAIRS):
        for name, (logits, labels, names) in models.items():
            names = [str(n) for n in names]
            r = roc(probabilities(logits), np.asarray(labels), names, sig, bkg)
            if r is not None:
                tpr, fpr, auc = r
                ax.plot(tpr, np.maximum(fpr, 1e-4), label=f"{name} (AUC {auc:.3f})")
        ax.set(
            yscale="log", ylim=(1e-4, 1.2), xlim=(0, 1), xlabel=f"{sig}-jet efficiency", ylabel=f"{bkg}-jet efficiency"
        )
        ax.legend(loc="lower right", fontsize=12, title=f"{sig} vs {bkg}", title_fontsize=14)
        label(ax, rlabel, fontsize=14)
    fig.tight_layout()
    fig.savefig(out / fname, dpi=70, bbox_inches="tight")
    plt.close(fig)
    return fname


def discriminant_shapes(models: dict, y_sim: np.ndarray, y_data: np.ndarray, names: list[str], out: Path, fname: str,
                        title: str, bins: int = 20) -> str:  # fmt: skip
    """Data against simulation, per true flavour (rows) and discriminant (columns): the simulation
    shape of each training, and the data/simulation ratio of each (a flat ratio: agreement).

    models: {training: {"sim": {discriminant: values}, "data": {...}}} on the same jets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from ..physics.flavour import CMS_DISCRIMINANTS, CMS_FLAVOURS
    from .label import label

    hep.style.use("CMS")
    edges = np.linspace(0.0, 1.0, bins + 1)
    colours = dict(zip(models, ("black", "tab:red", "tab:blue"), strict=False))
    fig = plt.figure(figsize=(7 * len(CMS_DISCRIMINANTS), 7 * len(CMS_FLAVOURS)))
    outer = fig.add_gridspec(len(CMS_FLAVOURS), len(CMS_DISCRIMINANTS), hspace=0.3, wspace=0.3)
    for i, (flav, classes) in enumerate(CMS_FLAVOURS.items()):
        codes = [names.index(c) for c in classes]
        fs, fd = np.isin(y_sim, codes), np.isin(y_data, codes)
        for j, disc in enumerate(CMS_DISCRIMINANTS):
            cell = outer[i, j].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.05)
            top, bottom = fig.add_subplot(cell[0]), fig.add_subplot(cell[1])
            for training, d in models.items():
                hs = np.histogram(d["sim"][disc][fs], edges)[0] / max(fs.sum(), 1)
                hd = np.histogram(d["data"][disc][fd], edges)[0] / max(fd.sum(), 1)
                err = np.sqrt(np.histogram(d["data"][disc][fd], edges)[0]) / max(fd.sum(), 1)
                hep.histplot(hs, edges, ax=top, color=colours[training], label=f"simulation, {training} training")
                top.errorbar(0.5 * (edges[1:] + edges[:-1]), hd, err, fmt="o", ms=3, color=colours[training],
                             label=f'"data", {training} training')  # fmt: skip
                with np.errstate(divide="ignore", invalid="ignore"):
                    bottom.errorbar(0.5 * (edges[1:] + edges[:-1]), hd / hs, err / hs, fmt="o", ms=3,
                                    color=colours[training])  # fmt: skip
            top.set(yscale="log", ylabel=f"{flav} jets (fraction)", xticklabels=[])
            bottom.axhline(1.0, color="grey", lw=1)
            bottom.set(ylim=(0.0, 2.5), xlabel=disc, ylabel="data / sim")
            if i == 0 and j == 0:
                top.legend(fontsize=11, loc="upper center")
            label(top, title, fontsize=12)
    fig.savefig(out / fname, dpi=60, bbox_inches="tight")
    plt.close(fig)
    return fname
