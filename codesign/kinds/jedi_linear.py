"""The JEDI-linear-style tagger (zoo/jedi_linear.py) on jet constituents: an L1 firmware kind, O(N)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..data import jets
from ..spec import Strict
from . import common
from .base import ModelKind, lazy


class Spec(Strict):
    """Per-particle MLP, sum over particles, MLP."""

    kind: Literal["jedi_linear"] = "jedi_linear"
    frontend: Literal["hgq2"] = "hgq2"
    n_particles: int = Field(32, ge=2, le=150, description="leading-pT constituents the core sees")
    hidden: int = Field(16, ge=1, description="width of the per-particle MLP's first layer and of the jet MLP")
    latent: int = Field(16, ge=1, description="per-particle output width, summed over particles")


def ports(card, train: dict) -> str:
    return (f"Inputs: {card.model.n_particles} constituents x 3 features ((ln pT[GeV] - 4)/2, 4 Δη, 4 Δφ to the jet "
            "axis), leading by pT, absent constituents zero. Outputs: 5 class logits (g, q, W, Z, t); the class is the "
            "largest.")  # fmt: skip


KIND = ModelKind(
    name="jedi_linear", spec=Spec, dataset=jets, trainers={"hgq2": lazy("codesign.quant.train_jedi", "train")},
    figures=common.CLASSIFIER_FIGURES, figures_of=common.classifier_figures, physics=common.classifier_physics,
    ports=ports, report=lazy("codesign.report.sections", "classifier"), check=common.check_jet_inputs("constituents"),
    summary="JEDI-linear-style 5-class tagger on jet constituents (L1)",
    layers=frozenset({"QEinsumDense"}),
)  # fmt: skip
