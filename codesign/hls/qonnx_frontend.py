"""QONNX (Brevitas) models into hls4ml, behind guard rails for the conversions that go silently wrong.

hls4ml 1.3 converts a QONNX Quant node exactly only when it is a fixed-point type in disguise:
one per-tensor power-of-two scale, zero point 0, ROUND (-> RND_CONV) or FLOOR (-> TRN). Anything
else it converts *without an error* into something that computes different numbers (a float scale
becomes rescaling layers with default precisions; an unquantized bias gets fixed<16,6>). So
`check_qonnx` inspects the graph before conversion and refuses, naming the node and the fix.

The graph takes the path qonnx cleanup -> ConvertToChannelsLastAndClean -> GemmToMatMul -> cleanup
(`prepare`), which rtl/qonnx_trace.py shares, then hls4ml's ONNX converter.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..card import Card
from ..errors import CodesignError

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
    return cleanup_model(ModelWrapper(str(model)))


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
    if src in _graph_inputs(mw):
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
        more = f" (+{len(problems) - 1} more problem(s); --allow-unsafe lists them as warnings)" if len(problems) > 1 else ""
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
    inputs = _graph_inputs(mw)
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
    for name in _graph_inputs(mw):
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


def _graph_inputs(mw) -> list[str]:
    inits = {i.name for i in mw.graph.initializer}
    return [i.name for i in mw.graph.input if i.name not in inits]


def ap_type(k: int, i: int, f: int) -> str:
    """hls4ml's precision string of a (signed, integer without sign, fractional) format."""
    return f"fixed<{k + i + f},{k + i}>" if k else f"ufixed<{i + f},{i}>"


# ---- conversion --------------------------------------------------------------------------------


def input_quantizer(mw, where="model") -> tuple:
    """(node, QuantSpec) of the Quant node that reads the single graph input first."""
    inputs = _graph_inputs(mw)
    if len(inputs) != 1 or len(mw.graph.output) != 1:
        raise CodesignError(f"{where}: the firmware flow takes one input and one output (got {len(inputs)} and {len(mw.graph.output)})")
    first = (mw.find_consumers(inputs[0]) or [None])[0]
    spec = quant_spec(mw, first) if first is not None and first.op_type == "Quant" else None
    if not isinstance(spec, QuantSpec):
        raise CodesignError(f"{where}: graph input '{inputs[0]}' is not read by a Quant node with constant parameters first; "
                            f"{FIXES['input']}")  # fmt: skip
    return first, spec


def build_hls(onnx_path, card: Card, ref: dict, out: Path, n_vectors: int, allow_unsafe: bool = False) -> dict:
    """hls/csim.build_hls for a QONNX file: the HLS project in out/prj, C-simulated, bit-exact."""
    from .csim import csim

    fmt = tuple(int(v) for v in ref["input_format"])  # the grid of the test vectors
    return csim(
        lambda prj, tb_in, tb_out: to_hls(onnx_path, card, prj, input_format=fmt, input_data_tb=str(tb_in),
                                          output_data_tb=str(tb_out), allow_unsafe=allow_unsafe),
        card, ref, out, n_vectors,
    )  # fmt: skip


def to_hls(
    onnx_path, card: Card, out_dir: Path, *, input_format: tuple[int, int, int] | None = None,
    input_data_tb: str | None = None, output_data_tb: str | None = None, allow_unsafe: bool = False,
):  # fmt: skip
    """Check the graph, prepare it and convert it with the card's firmware settings (hls4ml ModelGraph).

    Exactness needs no per-layer precision: every Quant node fixes its type, and hls4ml's `auto`
    precisions widen the accumulators to hold every product. Only the input port is set, to
    `input_format` (the grid the test vectors lie on; default: the card's input format); hls4ml's
    default would be fixed<16,6>.
    """
    import hls4ml

    from ..zoo.mlp import input_format as card_input_format

    fmt = input_format or card_input_format(card)
    mw = load(onnx_path)
    for problem in check_qonnx(mw, fmt, allow_unsafe):
        warnings.warn(f"{onnx_path}: {problem}", stacklevel=2)
    mw = prepare(mw)
    fw = card.firmware
    return hls4ml.converters.convert_from_onnx_model(
        mw, output_dir=str(out_dir), project_name=card.name, backend=fw.backend, part=fw.part,
        clock_period=fw.clock_ns, io_type=fw.io_type, hls_config=hls_config(mw, card, fmt),
        input_data_tb=input_data_tb, output_data_tb=output_data_tb,
    )  # fmt: skip


def hls_config(mw, card: Card, input_fmt: tuple[int, int, int]) -> dict:
    """The hls4ml config dict: built here, at the hls4ml boundary."""
    import hls4ml

    fw = card.firmware
    cfg = hls4ml.utils.config_from_onnx_model(
        mw, granularity="name", backend=fw.backend, default_reuse_factor=fw.reuse_factor
    )
    cfg["Model"]["Strategy"] = fw.strategy
    cfg["Model"]["ReuseFactor"] = fw.reuse_factor
    for name in _graph_inputs(mw):
        cfg["LayerName"][name]["Precision"]["result"] = ap_type(*input_fmt)
    return cfg
