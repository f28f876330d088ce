"""The one plot label: the project's name and the generator, never an experiment's (these are not CMS plots)."""

from __future__ import annotations


def label(ax, rlabel: str, fontsize: float | None = None, llabel: str = "Pythia 8, parametric detector") -> None:
    import mplhep as hep

    hep.label.exp_label(exp="codesign", llabel=llabel, rlabel=rlabel, data=True, loc=0, ax=ax, fontsize=fontsize)
