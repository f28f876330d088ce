"""QONNX graphs: loading, the shared preparation, and the guard rails of the firmware paths.

Shared by the train stage of a user's file (quant/qonnx_import.py), the HLS path
(hls/qonnx_frontend.py) and the RTL path (rtl/qonnx_trace.py), so none imports another.


hls4ml 1.3 converts a QONNX Quant node exactly only when it is a fixed-point type in disguise:
one per-tensor power-of-two scale, zero point 0, ROUND (-> RND_CONV) or FLOOR (-> TRN). Anything
else it converts *without an error* into something that computes different numbers (a float scale
becomes rescaling layers with default precisions; an unquantized bias gets fixed<16,6>). So
`check_qonnx` inspects the graph before conversion and refuses, naming the node and the fix.

The graph takes the path qonnx cleanup -> ConvertToChannelsLastAndClean -> GemmToMatMul -> cleanup
(`prepare`), shared by hls4ml's ONNX converter and rtl/qonnx_trace.py.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import CodesignError

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

# Ops that both firmware paths (hls4ml's ONNX converter and rtl/qonnx_trace.py) take, before
# GemmToMatMul. hls4ml itself has no Gemm handler: `prepare` rewrites Gemm as MatMul + Add.
FLOW_OPS = {"Quant", "Gemm", "MatMul", "Add", "Relu"}
ROUNDING = {"ROUND": "RND_CONV", "FLOOR": "TRN"}  # Quant rounding modes hls4ml maps to ap_fixed modes
FIXES = {
    "weight": "use Int8WeightPerTensorFixedPoint (a power-of-two scale)",
    "bias": "use Int32Bias with power-of-two input and weight scales",
    "input": "use Int8ActPerTensorFixedPoint (a power-of-two scale)",
    "activation": "use Uint8ActPerTensorFixedPoint after a ReLU, else Int8ActPerTensorFixedPoint",
    "constant": "quantize it with a power-of-two scale",
}


def load(model) -> ModelWrapper:
    """A QONNX ModelWrapper, cleaned (shapes inferred, constants folded, nodes named Op_N)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    if isinstance(model, ModelWrapper):
        return model
    if not Path(model).exists():
        raise CodesignError(f"{model}: no such ONNX file")
    try:
        mw = ModelWrapper(str(model))  # protobuf parsing only: an ONNX file holds no code
    except Exception as e:  # google.protobuf DecodeError, or onnx's own on a file that is not ONNX
        raise CodesignError(f"{model}: not an ONNX model file ({type(e).__name__}: {str(e)[:200]})") from None
    if not mw.graph.node:
        raise CodesignError(f"{model}: an ONNX file without a graph (no nodes)")
    return cleanup_model(mw)


def prepare(model) -> ModelWrapper:
    """The graph hls4ml and the RTL tracer read: channels-last, Gemm as MatMul (+ Add), cleaned."""
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    mw = load(model).transform(ConvertToChannelsLastAndClean())
    with warnings.catch_warnings():
        # qonnx 1.0 bug: GemmToMatMul reads the opset of opset_import[0], which for a Brevitas export
        # is the qonnx custom-op domain (version 2), and warns that Gemm "version 2" may convert
        # incompletely. The Gemm is opset 20 and converts fully (bias-less Gemms are refused by
        # check_qonnx: that is the case it does not handle).
        warnings.filterwarnings("ignore", "The GemmToMatMul transformation only offers explicit support", UserWarning)
        mw = mw.transform(GemmToMatMul())
    return cleanup_model(mw)


# ---- Quant nodes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantSpec:
    """A Quant node's constant parameters; `kif` is its fixed-point format when it has one."""

    scale: np.ndarray
    zeropt: np.ndarray
    bitwidth: float
    signed: bool
    narrow: bool
    rounding: str

    @property
    def power_of_two(self) -> bool:
        s = self.scale.ravel()
        return bool(np.all(s == s[0]) and s[0] > 0 and np.frexp(s[0])[0] == 0.5)

    @property
    def kif(self) -> tuple[int, int, int]:
        """(signed, integer bits without sign, fractional bits) of a power-of-two quantizer."""
        f = -int(np.log2(self.scale.ravel()[0]))
        return int(self.signed), int(self.bitwidth) - int(self.signed) - f, f


def quant_spec(mw, node) -> QuantSpec | str:
    """The node's parameters, or why they are not constants."""
    from qonnx.util.basic import get_by_name

    params = [mw.get_initializer(name) for name in node.input[1:4]]
    if any(p is None for p in params):
        return "scale, zero point and bit width must be constants"
    scale, zeropt, bits = (np.asarray(p, dtype=np.float64) for p in params)
    if bits.size != 1 or bits.ravel()[0] != int(bits.ravel()[0]):
        return f"bit width {bits.ravel().tolist()} is not one integer"

    def attr(name, default):
        a = get_by_name(node.attribute, name)
        return default if a is None else (a.s.decode() if a.type == a.STRING else a.i)

    return QuantSpec(scale, zeropt, float(bits.ravel()[0]), bool(attr("signed", 1)), bool(attr("narrow", 0)),
                     attr("rounding_mode", "ROUND"))  # fmt: skip


def _role(mw, node) -> tuple[str, str]:
    """(kind, description) of what a Quant node quantizes: weight / bias / input / activation."""
    src, out = node.input[0], node.output[0]
    if mw.get_initializer(src) is not None:
        for c in mw.find_consumers(out) or []:
            idx = list(c.input).index(out)
            if c.op_type in ("MatMul", "Gemm") and idx == 1:
                return "weight", f"weight quantizer of {c.op_type} '{c.name}'"
            if c.op_type == "Add" or (c.op_type == "Gemm" and idx == 2):
                return "bias", f"bias quantizer of {c.op_type} '{c.name}'"
        return "constant", "quantizer of a constant"
    if src in graph_inputs(mw):
        return "input", "input quantizer"
    producer = mw.find_producer(src)
    return "activation", f"activation quantizer after '{producer.name if producer else src}'"


def _quant_problem(spec: QuantSpec | str) -> str | None:
    if isinstance(spec, str):
        return spec
    if np.any(spec.zeropt != 0):
        return f"zero point {spec.zeropt.ravel().tolist()} is not 0 (hls4ml needs a symmetric quantizer)"
    s = spec.scale.ravel()
    if not np.all(s == s[0]):
        return "one scale per channel; hls4ml takes one power-of-two scale per tensor"
    if not spec.power_of_two:
        return f"scale {s[0]:.6g} is not a power of two"
    if spec.rounding not in ROUNDING:
        return f"rounding_mode {spec.rounding}: hls4ml takes {' or '.join(ROUNDING)}"
    if spec.narrow and not spec.signed:
        return "unsigned narrow-range quantizer: hls4ml cannot convert it"
    return None


# ---- the guard ---------------------------------------------------------------------------------


def check_qonnx(model, input_format: tuple[int, int, int] | None = None, allow_unsafe: bool = False) -> list[str]:
    """Every reason the graph would not convert bit-exactly, one line each naming node and fix.

    `input_format` (signed, integer, fractional) is the format the firmware's input port will
    have (the card's); None skips that check. Raises CodesignError with the first problem unless
    `allow_unsafe`, in which case the problems are returned (as warnings for the caller to show).
    """
    mw = load(model)
    problems = [*_op_problems(mw), *_quant_problems(mw), *_operand_problems(mw)]
    if input_format is not None:
        problems += _input_problems(mw, input_format)
    if problems and not allow_unsafe:
        more = (
            f" (+{len(problems) - 1} more problem(s); --allow-unsafe lists them as warnings)"
            if len(problems) > 1
            else ""
        )
        raise CodesignError(problems[0] + more)
    return problems


def _op_problems(mw) -> list[str]:
    ok = ", ".join(sorted(FLOW_OPS))
    return [f"node '{n.name}' ({n.op_type}): not supported by the firmware flow; supported ops: {ok}"
            for n in mw.graph.node if n.op_type not in FLOW_OPS]  # fmt: skip


def _quant_problems(mw) -> list[str]:
    out = []
    for node in mw.get_nodes_by_op_type("Quant"):
        problem = _quant_problem(quant_spec(mw, node))
        if problem:
            kind, what = _role(mw, node)
            out.append(f"node '{node.name}' ({what}): {problem}; {FIXES[kind]}")
    return out


def _operand_problems(mw) -> list[str]:
    """Float constants and unquantized graph inputs read by arithmetic, and bias-less Gemms."""
    out = []
    inputs = graph_inputs(mw)
    for node in mw.graph.node:
        if node.op_type not in ("MatMul", "Gemm", "Add"):
            continue
        for name in node.input:
            if mw.get_initializer(name) is not None:
                out.append(
                    f"node '{node.name}' ({node.op_type}): reads the float constant '{name}' without a Quant node "
                    "(hls4ml would round it to its default fixed<16,6>); quantize it: weight_quant="
                    "Int8WeightPerTensorFixedPoint, bias_quant=Int32Bias"
                )
            elif name in inputs:
                out.append(
                    f"node '{node.name}' ({node.op_type}): reads the graph input '{name}' without an input quantizer; "
                    "start the model with QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)"
                )
        if node.op_type == "Gemm" and len([i for i in node.input if i]) < 3:
            out.append(
                f"node '{node.name}' (Gemm): no bias; qonnx 1.0's GemmToMatMul fails on a bias-less Gemm "
                "(IndexError); build the layer with bias=True, bias_quant=Int32Bias"
            )
    return out


def _input_problems(mw, fmt: tuple[int, int, int]) -> list[str]:
    out = []
    for name in graph_inputs(mw):
        for node in mw.find_consumers(name) or []:
            spec = quant_spec(mw, node) if node.op_type == "Quant" else None
            if not isinstance(spec, QuantSpec) or not spec.power_of_two:
                continue  # reported above
            (k, i, f), (kq, iq, fq) = fmt, spec.kif
            if k < kq or i < iq or f < fq:
                out.append(
                    f"node '{node.name}' (input quantizer): holds {ap_type(kq, iq, fq)} but the input port is "
                    f"{ap_type(k, i, f)}, which drops bits the model keeps; make precision.input_bits / "
                    "input_integer cover the quantizer, or the quantizer match them"
                )
    return out


def graph_inputs(mw) -> list[str]:
    inits = {i.name for i in mw.graph.initializer}
    return [i.name for i in mw.graph.input if i.name not in inits]


def ap_type(k: int, i: int, f: int) -> str:
    """hls4ml's precision string of a (signed, integer without sign, fractional) format."""
    return f"fixed<{k + i + f},{k + i}>" if k else f"ufixed<{i + f},{i}>"


def input_quantizer(mw, where="model") -> tuple:
    """(node, QuantSpec) of the Quant node that reads the single graph input first."""
    inputs = graph_inputs(mw)
    if len(inputs) != 1 or len(mw.graph.output) != 1:
        raise CodesignError(
            f"{where}: the firmware flow takes one input and one output (got {len(inputs)} and {len(mw.graph.output)})"
        )
    first = (mw.find_consumers(inputs[0]) or [None])[0]
    spec = quant_spec(mw, first) if first is not None and first.op_type == "Quant" else None
    if not isinstance(spec, QuantSpec):
        raise CodesignError(f"{where}: graph input '{inputs[0]}' is not read by a Quant node with constant parameters first; "
                            f"{FIXES['input']}")  # fmt: skip
    return first, spec


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_file(path: Path, allow_unsafe: bool = False) -> list[str]:
    """The guard on a user's file, before anything is written: raises on the first problem unless
    `allow_unsafe` (then the problems are returned, for the caller to warn about)."""
    mw = load(path)
    problems = check_qonnx(mw, allow_unsafe=allow_unsafe)
    node, spec = input_quantizer(mw, str(path))
    if not spec.power_of_two:  # even allow_unsafe cannot help: the test vectors need a fixed-point grid
        raise CodesignError(f"{path}: node '{node.name}' (input quantizer): scale {spec.scale.ravel()[0]:.6g} is not a power "
                            f"of two, so the input has no fixed-point grid; {FIXES['input']}")  # fmt: skip
    return problems
