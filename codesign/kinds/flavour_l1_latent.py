"""The L1 flavour tagger with latent attention (zoo/flavour_l1.py): linear in N, no N x N attention."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from . import flavour_l1


class Spec(flavour_l1.Spec):
    kind: Literal["flavour_l1_latent"] = "flavour_l1_latent"
    latents: int = Field(4, ge=1, description="learned queries per head (M): attention costs M·N·H·K products")
    pair_embed: int = Field(4, ge=1, description="per-pair embedding width C, summed over partners per candidate")


KIND = flavour_l1.kind("flavour_l1_latent", Spec, "latent-attention flavour tagger, b/c/light/g (L1)")
