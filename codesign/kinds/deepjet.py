"""The float DeepJet-like flavour baseline (zoo/deepjet.py): offline, no firmware stages."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..spec import Strict
from .part import float_kind


class Spec(Strict):
    kind: Literal["deepjet"] = "deepjet"
    frontend: Literal["torch"] = "torch"
    n_candidates: int = Field(32, ge=2, le=32)
    n_svs: int = Field(4, ge=0, le=4)
    conv: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [64, 32, 16], min_length=1)
    lstm: int = Field(64, ge=1)
    sv_conv: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [32, 16], min_length=1)
    sv_lstm: int = Field(32, ge=1)
    dense: int = Field(64, ge=1)


KIND = float_kind("deepjet", Spec, "a float offline model: DeepJet-like flavour baseline (torch + ONNX)")
