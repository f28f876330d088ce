"""The jet-tagger MLP (hls4ml's 16 -> 64 -> 32 -> 32 -> 5) on the 16 jet features: an L1 firmware kind.

Frontends: HGQ2 and the QKeras API (zoo/mlp.py, Keras 3 -> hls4ml and da4ml), Brevitas
(zoo/brevitas_mlp.py, PyTorch -> QONNX).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..data import jets
from ..spec import Strict
from . import common
from .base import ModelKind, lazy


class Spec(Strict):
    kind: Literal["mlp"] = "mlp"
    frontend: Literal["hgq2", "qkeras", "brevitas"] = "hgq2"  # brevitas: PyTorch, through QONNX
    hidden: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [64, 32, 32], min_length=1)
    activation: Literal["relu"] = "relu"


def ports(card, train: dict) -> str:
    return """Inputs are the 16 jet features after standardisation `(x - mean) / std` (values in
`manifest.json` → `preprocessing`) rounded to the input format. Outputs are the five class
logits (g, q, W, Z, t); apply softmax/argmax downstream if needed."""


_keras = lazy("codesign.quant.train", "train")
KIND = ModelKind(
    name="mlp", spec=Spec, dataset=jets,
    trainers={"hgq2": _keras, "qkeras": _keras, "brevitas": lazy("codesign.quant.train_torch", "train")},
    figures=common.CLASSIFIER_FIGURES, figures_of=common.classifier_figures, physics=common.classifier_physics,
    ports=ports, report=lazy("codesign.report.sections", "classifier"), check=common.check_jet_inputs("features"),
    summary="5-class jet-tagger MLP on the 16 jet features (L1)",
    dense=True,
)  # fmt: skip
