"""da4ml's fixed-point trace of a QONNX graph: the PyTorch/Brevitas way into rtl/emit.py.

The graph is the one hls4ml reads (hls/qonnx_frontend.prepare) and must pass the same guard
(`check_qonnx`), so both firmware paths take exactly the same models. Each node is replayed on
da4ml FixedVariableArrays, with the arithmetic of QONNX's Quant: q = clip(round(x / s), lo, hi) * s
for a power-of-two s, i.e. a fixed-point cast with saturation. Constant subgraphs (weights and
biases through their Quant nodes) are evaluated with qonnx's own numpy implementation.
"""

from __future__ import annotations

import numpy as np

from ..errors import CodesignError
from ..qonnx_guard import FIXES, check_qonnx, input_quantizer, load, prepare, quant_spec

# As rtl/emit.py: every adder costs one delay level; the CMVM solver's per-block delay limit.
HWCONF = (1, -1, -1)
SOLVER_OPTIONS = {"hard_dc": 2}


def trace_qonnx(onnx_path, allow_unsafe: bool = False):
    """(inputs, outputs) FixedVariableArrays of one event (batch dimension dropped), for
    rtl/emit.emit_traced.

    The input ports take the input quantizer's format, so that quantizer costs no logic (the
    inputs are on its grid by construction), as emit.py does for an HGQ2 model. `allow_unsafe`
    lets the guard's problems through (the caller warns); a data quantizer with a scale that is not
    a power of two still cannot be traced.
    """
    from da4ml.trace import FixedVariableArray

    mw = load(onnx_path)
    check_qonnx(mw, allow_unsafe=allow_unsafe)
    mw = prepare(mw)
    first, spec = input_quantizer(mw, str(onnx_path))
    if not spec.power_of_two:
        raise CodesignError(
            f"{onnx_path}: node '{first.name}' (input quantizer): scale is not a power of two; {FIXES['input']}"
        )
    name = first.input[0]
    shape = mw.get_tensor_shape(name)
    kif = [np.full(shape, v) for v in spec.kif]
    inp = FixedVariableArray.from_kif(*kif, HWCONF, 0.0, SOLVER_OPTIONS)

    values = {name: inp}
    for node in mw.graph.node:
        if node.op_type not in _OPS:  # only reachable with allow_unsafe
            raise CodesignError(f"{onnx_path}: node '{node.name}' ({node.op_type}): the RTL tracer has no rule for it")
        args = [values[i] if i in values else mw.get_initializer(i) for i in node.input]
        values[node.output[0]] = _OPS[node.op_type](mw, node, *args)
    out = values[mw.graph.output[0].name]
    if not isinstance(out, FixedVariableArray):
        raise CodesignError(f"{onnx_path}: the output does not depend on the input")
    return inp[0], out[0]


def _quant(mw, node, x, *params):
    spec = quant_spec(mw, node)
    if isinstance(x, np.ndarray):  # a constant: QONNX's own numpy implementation
        from qonnx.custom_op.general.quant import quant

        return quant(x, *params, int(spec.signed), int(spec.narrow), spec.rounding)
    if not spec.power_of_two:  # only reachable with allow_unsafe
        raise CodesignError(
            f"node '{node.name}': a data quantizer whose scale is not a power of two has no fixed-point trace"
        )
    k, i, f = spec.kif
    if spec.rounding == "ROUND":
        x = _round_half_even(x, f)
    return x.quantize(k, i, f, "SAT_SYM" if spec.narrow else "SAT", "TRN")


def _round_half_even(x, f: int):
    """x rounded to 2**-f, ties to even (Brevitas' torch.round, hls4ml's RND_CONV), in adders.

    da4ml rounds only half up (RND) or down (TRN). Half to even is floor(x + 1/2 - u) where the
    kept LSB is even and floor(x + 1/2) where it is odd (u: x's own LSB weight): a tie then lands
    on the even neighbour and nothing else moves. The kept LSB is a wire (a 1-bit WRAP slice).
    """
    f_x = x.kif[2]
    need = f_x > f  # elements with no bits below 2**-f are already on the grid
    lsb = x.quantize(0, 1 - f, f, "WRAP", "TRN")  # 0 or 2**-f: the bit that stays
    offset = np.where(need, 2.0 ** (-f - 1) - 2.0**-f_x, 0.0)
    return x + offset + lsb * np.where(need, 2.0 ** (f - f_x), 0.0)  # lsb scaled to u: 0 or u


def _matmul(mw, node, a, b):
    return a @ b


def _add(mw, node, a, b):
    return b + a if isinstance(a, np.ndarray) else a + b


def _relu(mw, node, x):
    return x.relu()


def _transpose(mw, node, x):
    from qonnx.util.basic import get_by_name

    perm = get_by_name(node.attribute, "perm")
    axes = list(perm.ints) if perm else None
    return np.transpose(x, axes) if isinstance(x, np.ndarray) else x.transpose(axes)


# The ops `prepare` leaves of FLOW_OPS (Gemm became Transpose + MatMul + Add).
_OPS = {"Quant": _quant, "MatMul": _matmul, "Add": _add, "Relu": _relu, "Transpose": _transpose}
