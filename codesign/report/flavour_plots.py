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
