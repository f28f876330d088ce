"""A QKeras 0.9 model a user brings as a Keras 2 `.h5` (`codesign run --model FILE.h5`).

It comes trained, so it has no data stage. Its train stage (quant/qkeras_h5.py) runs the real
QKeras in the isolated .venv-qkeras for the reference and writes the model's QONNX form, checked
equal to it layer by layer; the firmware stages take the QONNX path. No labels, no physics figures.
"""

from __future__ import annotations

from typing import Literal

from ..spec import Strict
from .base import FIRMWARE_STAGES, ModelKind, lazy


class Spec(Strict):
    kind: Literal["qkeras_h5"] = "qkeras_h5"
    frontend: Literal["qkeras0.9"] = "qkeras0.9"
    file: str  # absolute path; its sha256 joins the design point's key (flow.Point.key)
    vectors: str | None = None  # the user's test vectors (data/vectors.py); None: seeded on the input grid
    allow_unsafe: bool = (
        False  # convert a graph the QONNX guard rails refuse (warned; the bit-exact checks still apply)
    )


def ports(card, train: dict) -> str:
    return (f"Inputs and outputs are those of the QKeras model `{card.model.file}`: the input port takes its input "
            "quantizer's format (the test vectors lie on that grid), the output port the model's output, element by "
            "element. No preprocessing is applied by the core.")  # fmt: skip


KIND = ModelKind(
    name="qkeras_h5", spec=Spec, dataset=None, trainers={"qkeras0.9": lazy("codesign.quant.qkeras_h5", "train")},
    figures={}, figures_of=lambda train: {}, physics=lambda train: {"n_test": train["n_test"]}, ports=ports,
    report=lazy("codesign.report.sections", "trained_file"), stages=tuple(s for s in FIRMWARE_STAGES if s != "data"),
    file_suffix=".h5", guard=lazy("codesign.quant.qkeras_h5", "check_file"),
    summary="a user's QKeras 0.9 .h5 file (Keras 2; comes trained)",
)  # fmt: skip
