"""A QONNX file a user brings (`codesign run --onnx FILE`): it comes trained, so it has no data stage.

Its train stage (quant/qonnx_import.py) checks and saves the graph and executes it on test vectors
for the reference; the firmware stages take the QONNX path. It has no labels, so no physics figures.
"""

from __future__ import annotations

from typing import Literal

from ..spec import Strict, keyless_default
from .base import FIRMWARE_STAGES, ModelKind, lazy


class Spec(Strict):
    kind: Literal["qonnx_file"] = "qonnx_file"
    frontend: Literal["qonnx"] = "qonnx"
    file: str  # absolute path; its sha256 joins the design point's key (flow.Point.key)
    vectors: str | None = keyless_default(None)  # the user's test vectors (data/vectors.py); None: seeded
    allow_unsafe: bool = False  # convert a graph the guard rails refuse (warned; the bit-exact checks still apply)


def ports(card, train: dict) -> str:
    return (f"Inputs and outputs are those of the QONNX graph `{card.model.file}`: the input port takes its input "
            "quantizer's format (the test vectors lie on that grid), the output port the graph's output, element by "
            "element in the graph's flattened order. No preprocessing is applied by the core.")  # fmt: skip


KIND = ModelKind(
    name="qonnx_file", spec=Spec, dataset=None, trainers={"qonnx": lazy("codesign.quant.qonnx_import", "train")},
    figures={}, figures_of=lambda train: {}, physics=lambda train: {"n_test": train["n_test"]}, ports=ports,
    report=lazy("codesign.report.sections", "trained_file"), stages=tuple(s for s in FIRMWARE_STAGES if s != "data"),
    file_suffix=".onnx", guard=lazy("codesign.qonnx_guard", "check_file"),
    summary="a user's QONNX file (comes trained)",
)  # fmt: skip
