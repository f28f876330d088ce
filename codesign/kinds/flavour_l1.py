"""The compact Particle Transformer for L1 flavour tagging (zoo/flavour_l1.py): pair-biased attention."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..data import flavour
from ..spec import Strict
from . import common
from .base import ModelKind, lazy


class Spec(Strict):
    """Pair-biased attention + class attention, N x N."""

    kind: Literal["flavour_l1"] = "flavour_l1"
    frontend: Literal["hgq2"] = "hgq2"
    n_candidates: int = Field(16, ge=2, le=32, description="leading-pT candidates the core sees")
    embed: int = Field(16, ge=1)
    heads: int = Field(2, ge=1)
    head_dim: int = Field(8, ge=1)


def ports(card, train: dict) -> str:
    # The row layout is zoo/flavour_inputs.py's (PARTICLE_FEATURES, then PAIR_FEATURES per partner).
    n = card.model.n_candidates
    return (f"Inputs: {n} candidates (leading by pT, padding rows zero), one row each: 8 particle features "
            "((ln(pT/pT_jet) + 4)/2, 5 Δη, 5 Δφ, charge, asinh(d0/σ)/1.5, asinh(z0/σ)/1.5, is e/µ, exists) then "
            f"5 pair features with each of the {n} candidates (ln Δ, ln kT, ln z, ln m², both exist; zero on the "
            "diagonal and for padding), all on the input format. Outputs: 4 class logits (b, c, light, g); "
            "discriminants such as b vs light = p_b / (p_b + p_light) after a softmax downstream.")  # fmt: skip


def kind(name: str, spec: type, summary: str) -> ModelKind:
    """An L1 flavour tagger kind (this one, and the latent-attention form)."""
    return ModelKind(
        name=name, spec=spec, dataset=flavour, trainers={"hgq2": lazy("codesign.quant.train_flavour", "train")},
        figures=common.FLAVOUR_FIGURES, figures_of=common.flavour_figures, physics=common.flavour_physics,
        ports=ports, report=lazy("codesign.report.sections", "flavour"), summary=summary,
        layers=frozenset({"QEinsumDense", "QEinsum", "QAdd", "QSoftmax", "Reshape"}),  # the attention
    )  # fmt: skip


KIND = kind("flavour_l1", Spec, "compact ParT flavour tagger, b/c/light/g (L1)")
