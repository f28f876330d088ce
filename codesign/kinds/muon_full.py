"""Tracker-muon pre-selection, the seed's full encoder-decoder Transformer (zoo/muon_attention.py).

A float offline model: data (codesign data muons), train (torch, ONNX checked in onnxruntime),
report: muon efficiency and non-muon rejection per pT and |eta| bin at the 99 % working point, beside
the pull-matching baseline on the same tracks, and the fraction of tracks kept.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..data import muons
from ..spec import Strict
from .base import OFFLINE_STAGES, ModelKind, lazy

FIGURES = {"tracks_kept_fraction": "min", "roc_auc": "max", "rejection": "max"}


class Common(Strict):
    """Fields every muon pre-selector has."""

    frontend: Literal["torch"] = "torch"
    max_tracks: int = Field(
        1500, ge=1, description="the most tracks an event may have (more: refused, naming the event)"
    )
    pull: float = Field(3.0, gt=0.0, description="pull cut of the matching baseline the report compares with")


class Transformer(Common):
    embed: int = Field(32, ge=1)
    heads: int = Field(2, ge=1)
    hidden: int = Field(64, ge=1, description="hidden width of each block's MLP")
    decoder_layers: int = Field(1, ge=1, description="full: (track self-attention + cross-attention) layers; latent: "
                                "cross-attention layers of the per-track queries")  # fmt: skip
    muon_weight: float = Field(20.0, gt=0.0, description="loss weight of a muon track relative to a non-muon")


class Spec(Transformer):
    kind: Literal["muon_full"] = "muon_full"
    encoder_layers: int = Field(1, ge=1, description="segment self-attention layers")


def figures(train: dict) -> dict:
    m = train["model"]
    return {
        "tracks_kept_fraction": m["tracks_kept_fraction"],
        "roc_auc": m["roc_auc"],
        "rejection": m["rejection"]["value"],
    }


def physics(train: dict) -> dict:
    return {k: train[k] for k in ("model", "baseline", "n_test") if k in train}


def muon_kind(name: str, spec: type, trainer: str, summary: str) -> ModelKind:
    return ModelKind(
        name=name, spec=spec, dataset=muons, trainers={"torch": lazy("codesign.quant.train_muon", trainer)},
        figures=FIGURES, figures_of=figures, physics=physics, ports=lambda card, train: "",
        report=lazy("codesign.report.muon_plots", "section"), stages=OFFLINE_STAGES, summary=summary,
    )  # fmt: skip


KIND = muon_kind(
    "muon_full", Spec, "train", "a float offline model: tracker-muon pre-selection, full Transformer (torch + ONNX)"
)
