"""When the firmware disagrees with the model: which layer diverges first, where, why, and the fix.

HLS C-simulation (`diagnose`) and da4ml's emulation of the RTL (`diagnose_da4ml`) each compare the
model's layer outputs with their own per-layer values. A failed check raises `DivergenceError`,
which carries the diagnosis: the flow writes it beside the stage (`<stage>.diagnosis.json`).

Each Keras layer's output is compared with hls4ml's trace of the same project (`ModelGraph.trace`,
the C++ compiled once more with every layer traced). hls4ml may legitimately keep fewer bits in an
intermediate result than the Keras layer (it keeps only what the next quantizer reads), so a layer
diverges only when its traced output, carried on through the *Keras* layers after it, no longer
gives the model's own output: the first such layer is the culprit, whatever its neighbours look like.

The cause is read off the layer's hls4ml types: a traced value outside the range of its result or
accumulator type (an accumulator or result too narrow, wrapped or saturated), or a difference below
the type's LSB (rounding: too few fractional bits). The fix names the setting
(`firmware.hls_precision`, or the missing input quantizer).
"""

from __future__ import annotations

import numpy as np

from .errors import CodesignError

MAX_EVENTS = 200  # the trace runs on the first failing events only


class DivergenceError(CodesignError):
    """A bit-exact check failed; `diagnosis` names the first diverging layer, if one was found."""

    def __init__(self, message: str, diagnosis: dict | None = None):
        super().__init__(message)
        self.diagnosis = diagnosis

    def __reduce__(self):  # crosses process boundaries (flow.ALONGSIDE, sweep workers): keep the diagnosis
        return type(self), (str(self), self.diagnosis)


def require_exact_or_explain(expected, got, what: str, explain) -> int:
    """verify.require_exact, but a mismatch first asks `explain()` for the diagnosis and raises DivergenceError."""
    from .verify import count_mismatches, require_exact

    if count_mismatches(expected, got)[0]:
        d = explain()
        try:
            require_exact(expected, got, what)
        except CodesignError as e:
            raise DivergenceError(f"{e}; {describe(d)}" if d else str(e), d) from None
    return require_exact(expected, got, what)


def diagnose(model, hls_model_factory, x: np.ndarray, y_ref: np.ndarray, y_hls: np.ndarray) -> dict | None:
    """{layer, hls_layers, event, element, model_value, hls_value, cause, fix} of the first diverging layer.

    `hls_model_factory(trace=True)` converts the same model with every layer traced (compiled here).
    None if no layer could be singled out (e.g. a graph that is not a chain).
    """
    import keras

    bad = np.flatnonzero((np.asarray(y_ref).reshape(len(x), -1) != np.asarray(y_hls).reshape(len(x), -1)).any(1))
    if len(bad) == 0:
        return None
    events = bad[:MAX_EVENTS]
    xs = np.ascontiguousarray(x[events].astype(np.float32))
    hm = hls_model_factory(trace=True)
    _, trace = hm.trace(xs)  # compiles the traced C++ itself
    hls_names = [layer.name for layer in hm.get_layers()]
    layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    if any(len(la._inbound_nodes) != 1 for la in layers):
        return None
    outs, h = [], xs
    for la in layers:  # the Keras chain, layer by layer
        h = np.asarray(la(h))
        outs.append(h)
    ref = outs[-1].reshape(len(xs), -1)
    for n, la in enumerate(layers):
        mine = [name for name in hls_names if name == la.name or name.startswith(la.name + "_")]
        traced = [name for name in mine if name in trace]
        if not traced:
            continue
        got = np.asarray(trace[traced[-1]]).reshape(outs[n].shape).astype(np.float32)
        h = got
        for later in layers[n + 1 :]:  # carried on in Keras
            h = np.asarray(later(h))
        wrong = (h.reshape(len(xs), -1) != ref).any(1)
        if not wrong.any():
            continue
        ev = int(np.flatnonzero(wrong)[0])
        mv, hv = outs[n].reshape(len(xs), -1)[ev], got.reshape(len(xs), -1)[ev]
        diff = np.flatnonzero(mv != hv)
        el = int(diff[0]) if len(diff) else 0
        cause, fix = _cause(hm, mine, outs[n], float(mv[el]), float(hv[el]), n == 0)
        return {
            "layer": la.name, "layer_class": type(la).__name__, "hls_layers": mine, "event": int(events[ev]),
            "element": el, "model_value": float(mv[el]), "hls_value": float(hv[el]), "cause": cause, "fix": fix,
        }  # fmt: skip
    return None


def _cause(
    hm, names: list[str], values: np.ndarray, model_value: float, hls_value: float, first: bool
) -> tuple[str, str]:
    """(cause, fix) from the layer's hls4ml types: `values` are the model's outputs of the layer on the failing events."""
    types = {}
    for name in names:
        for t in ("accum_t", "result_t"):
            nt = hm.graph[name].get_attr(t)
            if nt is not None and hasattr(nt.precision, "integer"):
                types[f"{name}.{t[:-2]}"] = nt.precision
    for where, p in types.items():
        lo, hi = p.min, p.max
        outside = values[(values < lo) | (values > hi)]
        if len(outside):
            mode = str(getattr(p, "saturation_mode", "")).split(".")[-1] or "WRAP"
            return (f"{where} {p.definition_cpp()} holds [{lo:g}, {hi:g}]: the layer's values reach {outside[0]:g}, "
                    f"which overflows it ({mode}): an accumulator or result too narrow",
                    f"give '{where}' more integer bits in firmware.hls_precision (or drop the override and let "
                    "hls4ml derive it from the quantizers)")  # fmt: skip
    for where, p in types.items():
        lsb = 2.0**-p.fractional
        if abs(model_value - hls_value) < lsb or model_value * 2**p.fractional % 1:
            return (f"{where} {p.definition_cpp()} has a LSB of {lsb:g}: the model's value {model_value:g} is not on "
                    "that grid: a rounding mode or fractional width that drops bits the model keeps",
                    f"give '{where}' more fractional bits (or the model's rounding mode) in firmware.hls_precision")  # fmt: skip
    if first:
        return ("the first layer differs: the input is not quantized as the model quantizes it",
                "start the model with an input quantizer whose format the input port takes")  # fmt: skip
    return ("the layer's arithmetic differs in hls4ml (types: "
            + ", ".join(f"{k} {p.definition_cpp()}" for k, p in types.items()) + ")",
            "compare the layer's types with the model's quantizers; set them in firmware.hls_precision")  # fmt: skip


def diagnose_qonnx(mw, hls_model_factory, x: np.ndarray, y_ref: np.ndarray, y_hls: np.ndarray) -> dict | None:
    """`diagnose` for a QONNX graph (`mw`: the prepared graph hls4ml read): each hls4ml layer's trace against
    qonnx's execution of the tensor it computes.

    hls4ml names a layer after the ONNX node it starts from (`Dense_MatMul_0`, `Quant_0_act`,
    `Relu_0`) and folds a following bias Add or data Quant into it; the tensor compared is the
    output of that chain. Every type comes from a Quant node, so a correct layer matches exactly.
    """
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    bad = np.flatnonzero((np.asarray(y_ref).reshape(len(x), -1) != np.asarray(y_hls).reshape(len(x), -1)).any(1))
    if len(bad) == 0:
        return None
    events = bad[:MAX_EVENTS]
    xs = np.ascontiguousarray(np.asarray(x)[events].astype(np.float32))
    hm = hls_model_factory(trace=True)
    _, trace = hm.trace(xs)
    batch = mw.transform(ChangeBatchSize(len(xs))).transform(InferShapes())
    ctx = execute_onnx(batch, {batch.graph.input[0].name: xs}, return_full_exec_context=True)
    nodes = {n.name: n for n in mw.graph.node}
    for layer in hm.get_layers():
        if layer.name not in trace:
            continue
        node = next((nodes[n] for n in sorted(nodes, key=len, reverse=True) if n in layer.name), None)
        if node is None:
            continue
        tensor = node.output[0]
        while True:  # the bias Add and the data Quant hls4ml folds into the layer
            after = mw.find_consumers(tensor) or []
            if len(after) != 1 or after[0].op_type not in ("Add", "Quant") or (
                after[0].op_type == "Add" and not any(mw.get_initializer(i) is not None or
                                                      (mw.find_producer(i) and mw.find_producer(i).op_type == "Quant"
                                                       and mw.get_initializer(mw.find_producer(i).input[0]) is not None)
                                                      for i in after[0].input if i != tensor)):  # fmt: skip
                break
            tensor = after[0].output[0]
        mine = np.asarray(ctx[tensor]).reshape(len(xs), -1)
        got = np.asarray(trace[layer.name]).reshape(len(xs), -1)
        diff = np.argwhere(mine != got)
        if len(diff):
            ev, el = map(int, diff[0])
            cause, fix = _cause(hm, [layer.name], mine, float(mine[ev, el]), float(got[ev, el]), False)
            return {
                "layer": node.name, "layer_class": node.op_type, "hls_layers": [layer.name], "event": int(events[ev]),
                "element": el, "model_value": float(mine[ev, el]), "hls_value": float(got[ev, el]), "cause": cause,
                "fix": fix,
            }  # fmt: skip
    return None


def diagnose_da4ml(model, x: np.ndarray, inputs, solver_options: dict, traced=None) -> dict | None:
    """The first Keras layer whose output da4ml's emulation of its trace does not reproduce (RTL path).

    `inputs` are the FixedVariableArrays the core's trace started from; da4ml's tracer is asked for
    every layer's output of `traced` (default: `model` itself; `dump=True`), each compiled to logic
    and run on the events, against `model`'s own layer outputs.
    """
    import keras
    from da4ml.converter import trace_model
    from da4ml.trace import comb_trace

    dump = trace_model(traced or model, solver_options=solver_options, inputs=inputs, dump=True)
    xs = np.asarray(x, dtype=np.float64)[:MAX_EVENTS]
    for la in [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]:
        key = f"/{la.name}/final"
        if key not in dump:
            continue
        emu = comb_trace(inputs, dump[key]).predict(xs.reshape(len(xs), -1)).reshape(len(xs), -1)
        ref = np.asarray(keras.Model(model.inputs, la.output)(xs.astype(np.float32))).reshape(len(xs), -1)
        bad = np.argwhere(emu != ref)
        if len(bad):
            ev, el = map(int, bad[0])
            return {
                "layer": la.name, "layer_class": type(la).__name__, "hls_layers": [f"da4ml {key}"], "event": ev,
                "element": el, "model_value": float(ref[ev, el]), "hls_value": float(emu[ev, el]),
                "cause": "da4ml's trace of the layer computes something else than Keras runs: a quantizer mode da4ml 0.6 "
                         "does not trace as Keras computes it (it takes TRN and RND rounding, WRAP and SAT overflow)",
                "fix": "use RND or TRN rounding and SAT or WRAP overflow in this layer's quantizers, or export QONNX "
                       "(`--model FILE.onnx`: its tracer rounds half to even)",
            }  # fmt: skip
    return None


def describe(d: dict) -> str:
    """One line of the diagnosis, for the error message."""
    return (f"first diverging layer '{d['layer']}' ({d['layer_class']}; firmware: {', '.join(d['hls_layers'])}), "
            f"event {d['event']}, element {d['element']}: model {d['model_value']!r}, HLS {d['hls_value']!r}; "
            f"cause: {d['cause']}; fix: {d['fix']}")  # fmt: skip


def apply_precision(hm, overrides: dict[str, str], where: str = "firmware.hls_precision") -> None:
    """Set hls4ml types from `overrides` ('layer.accum' / 'layer.result' -> 'fixed<W,I[,Q,O]>') on a converted
    model, before it is written: hls4ml's HGQ2 bit-exact pass would override the same setting in its config."""
    names = [layer.name for layer in hm.get_layers()]
    for key, text in overrides.items():
        layer, _, what = key.rpartition(".")
        if layer not in names or what not in ("accum", "result"):
            raise CodesignError(f"{where}: '{key}': expected 'LAYER.accum' or 'LAYER.result' with LAYER an hls4ml "
                                f"layer (have: {', '.join(names)})")  # fmt: skip
        nt = hm.graph[layer].get_attr(f"{what}_t")
        if nt is None:
            raise CodesignError(f"{where}: '{key}': hls4ml layer '{layer}' has no {what} type")
        try:
            new = hm.config.backend.convert_precision_string(text)
        except Exception:
            raise CodesignError(f"{where}: '{key}': '{text}' is not an hls4ml precision (e.g. fixed<16,6>)") from None
        if not hasattr(new, "integer"):
            raise CodesignError(
                f"{where}: '{key}': '{text}': a fixed-point type is expected (fixed<W,I> or ufixed<W,I>)"
            )
        p = nt.precision  # the backend's own subclass (it writes the C++ typedef): set in place
        for attr in ("width", "integer", "signed", "rounding_mode", "saturation_mode", "saturation_bits"):
            setattr(p, attr, getattr(new, attr))
