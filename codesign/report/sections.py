"""The physics section of a design point's report, one function per family; a kind names its own.

Each takes (point, train record, reference arrays, out dir), writes its PNGs into out and returns
a Section: metric rows, extra HTML (tables) and the PNG names.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Section:
    rows: list[tuple]
    plots: list[str] = field(default_factory=list)
    html: str = ""
    sample: str = "jets"  # what a test-set entry is: jets, events, showers
    source: str = "Pythia 8, generated locally"  # where the test set comes from


def table(rows: list[tuple], head: tuple) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def classifier(point, train: dict, ref: dict, out: Path) -> Section:
    """Accuracy and one-vs-rest AUC per class; ROC curves and the confusion matrix."""
    rows = [("accuracy", f"{train['accuracy']:.4f}")]
    rows += [(f"ROC AUC {c}", f"{v:.4f}") for c, v in train["roc_auc"].items() if v is not None]
    return Section(rows, _classifier_plots(ref, out, getattr(point.card.data, "dataset", None)))


def flavour(point, train: dict, ref: dict, out: Path) -> Section:
    """The classifier section plus the flavour discriminants' AUCs, light mistag per pT bin and ROC panels."""
    from .flavour_plots import roc_panels

    s = classifier(point, train, ref, out)
    adv = train.get("adversarial")  # [training.adversarial] of a float tagger (quant/adversarial.py)
    if adv:
        s.rows.append(("training", f"adversarial ({adv['method'].upper()}, ε = {adv['epsilon']:g} × {adv['scale']}, "
                                   f"fraction {adv['fraction']:g}, warm-up {adv['warmup_epochs']} epochs)"))  # fmt: skip
    for name, auc in train["flavour"]["auc"].items():
        s.rows.append((f"ROC AUC {name.replace('_', ' ')}", "n/a" if auc is None else f"{auc:.4f}"))
    for eff, bins in train["flavour"]["mistag_light"].items():  # per jet-pT bin [GeV]
        for pt_bin, rate in bins.items():
            s.rows.append((f"light mistag at {eff}% b eff, pT {pt_bin}", "n/a" if rate is None else f"{rate:.4f}"))
    s.plots.append(roc_panels({point.name: (ref["y"], ref["labels"], ref["class_names"])}, out, "roc_flavour.png",
                              "13 TeV, test jets"))  # fmt: skip
    return s


def met(point, train: dict, ref: dict, out: Path) -> Section:
    """MET response and resolution per true-MET bin: PUPPI, the float and the quantized network."""
    from . import met_plots

    pngs = met_plots.plots(train, out)
    extra = "<h3>Per true-MET bin</h3>" + table(*met_plots.table_rows(train))
    return Section(met_plots.physics_rows(train), pngs, extra, sample="events")


def analysis(point, train: dict, ref: dict, out: Path) -> Section:
    """σ_μ, Z₀ and CLs of the selections (a), (b), (c) on the test jets, with pyhf's beside ours;
    the nuisances' constraints and impacts; the templates of (b)."""
    fit = point.record("fit")
    bs = fit["bootstrap"]
    rows = [("σ_μ (b) / (a), with systematics", f"{fit['sigma_mu_ratio_syst']:.3f} ± {bs['ratio_syst']['std']:.3f}"),
            ("σ_μ (b) / (a), without systematics",
             f"{fit['sigma_mu_ratio_nosyst']:.3f} ± {bs['ratio_nosyst']['std']:.3f}"),
            ("(± : standard deviation over bootstrap replicas of the test jets)", bs["replicas"]),
            ("largest torch / pyhf relative difference", f"{fit['pyhf_max_rel_diff']:.1e}")]  # fmt: skip
    sel = [(n, f"{r['sigma_mu']:.4f}", f"{r['pyhf']['sigma_mu']:.4f}", f"{r['z0']:.3f}", f"{r['pyhf']['z0']:.3f}",
            f"{r['cls']:.3g}", len(r["bins"])) for n, r in fit["test"].items()]  # fmt: skip
    imp = [(n, f"{v['postfit_sigma']:.3f}", *(("n/a" if d is None else f"{d:+.4f}") for d in (v["impact_up"], v["impact_down"])))
           for n, v in fit["impacts"].items()]  # fmt: skip
    extra = ("<h3>Selections on the test jets (hard cuts and histograms)</h3>"
             + table(sel, ("selection", "σ_μ", "σ_μ (pyhf)", "Z₀", "Z₀ (pyhf)", "expected CLs μ=1", "bins"))
             + "<h3>Nuisance parameters of (b), with systematics (Asimov: pulls are 0)</h3>"
             + table(imp, ("parameter", "post-fit σ", "Δμ at +1σ", "Δμ at −1σ"))
             + f"<p>Workspace: <code>{html.escape(fit['workspace'])}</code>; reproduce the expected CLs with "
             f"<code>{html.escape(fit['cls_command'])}</code>. Plain <code>pyhf cls</code> uses pyhf's default "
             f"interpolation codes and gives {fit['cls_pyhf_default_codes']:.4g}.</p>")  # fmt: skip
    import shutil

    for png in fit["plots"]:  # the page and its PNGs stay one folder a person can move
        shutil.copy(point.stage_dir("fit") / png, out / png)
    return Section(rows, list(fit["plots"]), extra, sample="jets")


def trained_file(point, train: dict, ref: dict, out: Path) -> Section:
    """A user's model file: no labels, so no physics; what the reference is and how many vectors."""
    return Section([("reference", train.get("reference", "")), ("test vectors", train["n_test"])], sample="vectors")


def _classifier_plots(ref: dict, out: Path, dataset: str | None = None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep
    from scipy.special import softmax
    from sklearn.metrics import confusion_matrix, roc_curve

    from .label import label, llabel_for

    hep.style.use("CMS")
    prob = softmax(ref["y"].astype(np.float64), axis=1)
    labels, names = ref["labels"], [str(c) for c in ref["class_names"]]

    fig, ax = plt.subplots(figsize=(8, 7))
    for c, name in enumerate(names):
        if 0 < (labels == c).sum() < len(labels):
            fpr, tpr, _ = roc_curve(labels == c, prob[:, c])
            ax.plot(tpr, np.maximum(fpr, 1e-4), label=f"{name} vs rest")
    ax.set(yscale="log", xlabel="signal efficiency", ylabel="background efficiency", ylim=(1e-4, 1.2))
    ax.legend(loc="lower right")
    label(ax, "13 TeV", llabel=llabel_for(dataset))
    fig.savefig(out / "roc.png", dpi=90, bbox_inches="tight")
    plt.close(fig)

    cm = confusion_matrix(labels, prob.argmax(axis=1), labels=range(len(names)), normalize="true")
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=13, color="white" if v > 0.5 else "black")
    ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true")  # fmt: skip
    ax.minorticks_off()
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.savefig(out / "confusion.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return ["roc.png", "confusion.png"]
