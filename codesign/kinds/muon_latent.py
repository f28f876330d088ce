"""Tracker-muon pre-selection, the latent-attention form (Perceiver IO; zoo/muon_attention.py): linear in the tracks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .muon_full import Transformer, muon_kind


class Spec(Transformer):
    kind: Literal["muon_latent"] = "muon_latent"
    z_tracks: int = Field(64, ge=1, description="learned latents the tracks are compressed into")
    z_segments: int = Field(16, ge=1, description="learned latents the segments are compressed into")
    latent_layers: int = Field(1, ge=1, description="self-attention layers over the latents")


KIND = muon_kind(
    "muon_latent", Spec, "train", "a float offline model: tracker-muon pre-selection, latent attention (torch + ONNX)"
)
