"""The one plot label: the project's name and the generator, never an experiment's (these are not CMS plots)."""

from __future__ import annotations

DETECTOR = "Pythia 8, parametric detector"
# The data sets that are not seen through one of the project's parametric detectors.
LLABELS = {"jets": "Pythia 8 particles, no detector"}  # `codesign data jets`: Pythia's visible final state


def llabel_for(dataset: str | None) -> str:
    """The generator label of a card's data set (data.dataset)."""
    return LLABELS.get(dataset or "", DETECTOR)


def label(ax, rlabel: str, fontsize: float | None = None, llabel: str = DETECTOR) -> None:
    import mplhep as hep

    hep.label.exp_label(exp="codesign", llabel=llabel, rlabel=rlabel, data=True, loc=0, ax=ax, fontsize=fontsize)
