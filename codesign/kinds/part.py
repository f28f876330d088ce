"""The float Particle Transformer (zoo/part.py): the offline flavour reference, no firmware stages."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..data import flavour
from ..spec import Strict
from . import common
from .base import OFFLINE_STAGES, ModelKind, lazy


class Spec(Strict):
    kind: Literal["part"] = "part"
    frontend: Literal["torch"] = "torch"
    n_candidates: int = Field(32, ge=2, le=32, description="leading-pT candidates (tokens)")
    n_svs: int = Field(4, ge=0, le=4, description="secondary vertices as extra tokens")
    embed: int = Field(64, ge=1)
    heads: int = Field(4, ge=1)
    layers: int = Field(2, ge=1, description="particle-attention blocks")
    class_layers: int = Field(1, ge=1, description="class-attention blocks")
    pair_hidden: int = Field(32, ge=1, description="hidden width of the pair-feature embedding")


def float_kind(name: str, spec: type, summary: str) -> ModelKind:
    """A float offline flavour tagger (this one, DeepJet-like): data, train (torch + ONNX, FGSM adversarial training), report."""
    return ModelKind(
        name=name, spec=spec, dataset=flavour, trainers={"torch": lazy("codesign.quant.train_float", "train")},
        figures=common.FLAVOUR_FIGURES, figures_of=common.flavour_figures, physics=common.flavour_physics,
        ports=lambda card, train: "", report=lazy("codesign.report.sections", "flavour"), stages=OFFLINE_STAGES,
        adversarial=True, summary=summary,
    )  # fmt: skip


KIND = float_kind("part", Spec, "a float offline model: Particle Transformer, the flavour reference (torch + ONNX)")
