"""A Keras 3 model a user brings (`codesign run --model FILE.keras`: HGQ2, or the QKeras API of hgq2).

It comes trained, so it has no data stage. Its train stage (quant/keras_import.py) loads it
safely, checks it (keras_guard.py) and runs it on the test vectors for the reference; the firmware
stages take the Keras path. It has no labels, so no physics figures.
"""

from __future__ import annotations

from typing import Literal

from ..spec import Strict
from .base import FIRMWARE_STAGES, ModelKind, lazy


class Spec(Strict):
    kind: Literal["keras_file"] = "keras_file"
    frontend: Literal["keras"] = "keras"
    file: str  # absolute path; its sha256 joins the design point's key (flow.Point.key)
    vectors: str | None = None  # the user's test vectors (data/vectors.py); None: seeded on the input grid
    allow_unsafe: bool = False  # convert a model the guard rails refuse (warned; the bit-exact checks still apply)


def ports(card, train: dict) -> str:
    return (f"Inputs and outputs are those of the Keras model `{card.model.file}`: the input port takes its input "
            "quantizer's format (the test vectors lie on that grid), the output port the model's output, element by "
            "element in the model's flattened order. No preprocessing is applied by the core.")  # fmt: skip


KIND = ModelKind(
    name="keras_file", spec=Spec, dataset=None, trainers={"keras": lazy("codesign.quant.keras_import", "train")},
    figures={}, figures_of=lambda train: {}, physics=lambda train: {"n_test": train["n_test"]}, ports=ports,
    report=lazy("codesign.report.sections", "trained_file"), stages=tuple(s for s in FIRMWARE_STAGES if s != "data"),
    file_suffix=".keras", guard=lazy("codesign.keras_guard", "check_file"),
    summary="a user's Keras 3 model file (HGQ2 or the QKeras API; comes trained)",
)  # fmt: skip
