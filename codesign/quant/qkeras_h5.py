"""The train stage of a QKeras 0.9 `.h5` a user brings (`codesign run --model FILE.h5`): nothing is trained.

The real QKeras (Keras 2, on tf-keras) cannot live beside hgq2, which ships a top-level `qkeras`
of its own: it runs in `.venv-qkeras` (Makefile), as a subprocess (quant/qkeras_sidecar.py) that
loads the model, runs it on the test vectors and returns its output, every layer's output and the
quantized weights. The model then meets the flow at the QONNX boundary: this module writes the
QONNX graph QKeras' arithmetic is (qonnx 1.0 has no QKeras converter any more):

- `quantized_bits(bits, integer, symmetric, keep_negative, alpha=1)` is Quant(scale 2**-f,
  bitwidth bits, signed keep_negative, narrow symmetric, ROUND) with f = bits - keep_negative -
  integer: QKeras rounds with tf.round, half to even, which is QONNX's ROUND (hls4ml's RND_CONV;
  rtl/qonnx_trace.py rounds half to even in adders);
- `quantized_relu(bits, integer)` is Relu then Quant(scale 2**-(bits - integer), unsigned);
- QDense is MatMul with its quantized kernel, Add with its quantized bias, then its activation.

Why this route: it is the one that is bit-exact end to end. hls4ml's own Keras 2 parser needs the
real QKeras in the process (so in the isolated venv) and its inserted `*_linear` layers truncated
until set by hand, and da4ml 0.6 traces neither Keras 2 nor half-to-even rounding; the QONNX path
does both, behind the same guard rails as a Brevitas export. Bit-exactness of the translation is
checked here, not assumed: qonnx's execution of the graph must equal QKeras' output on every
vector, else the first diverging layer is named. The reference is QKeras' own output.

The file's layer classes are read from its JSON config (h5py) before QKeras loads it: a Lambda
layer (Python code in the file) or any class outside QDense / QActivation / InputLayer is refused
in one line, so the model never runs code of its own.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import CodesignError

LAYERS = ("InputLayer", "QActivation", "QDense")
FLOAT = {"Dense": "QDense with kernel_quantizer and bias_quantizer", "Activation": "QActivation(quantized_relu(...))",
         "ReLU": "QActivation(quantized_relu(...))"}  # fmt: skip
REPO = Path(__file__).resolve().parents[2]


def qkeras_python() -> Path:
    """The interpreter of the isolated QKeras 0.9 environment (`make setup` builds it)."""
    py = Path(os.environ.get("CODESIGN_QKERAS_PYTHON", REPO / ".venv-qkeras" / "bin" / "python"))
    if not py.exists():
        raise CodesignError(f"{py}: the QKeras 0.9 environment is missing; run `make setup` (it builds .venv-qkeras)")
    return py


# ---- the file's config, read without running it ----------------------------------------------


def read_layers(path: Path) -> list[dict]:
    """The model's layers as {name, cls, ...quantizers} in order; raises on the first that has no exact form."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise CodesignError(f"{path}: no such model file")
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as e:
        raise CodesignError(f"{path}: not an HDF5 Keras model file ({e})") from None
    if raw is None:
        raise CodesignError(f"{path}: an HDF5 file without a Keras model config (saved with model.save(..., 'h5')?)")
    try:
        config = json.loads(raw)
        layers = config["config"]["layers"]
    except (ValueError, KeyError, TypeError):
        raise CodesignError(f"{path}: the Keras model config is not readable JSON of a model") from None
    out = []
    for la in layers:
        cls, cfg = la.get("class_name"), la.get("config", {})
        name = cfg.get("name", "?")
        if len(la.get("inbound_nodes", [])) > 1 or any(len(n) > 1 for n in la.get("inbound_nodes", []) or []):
            raise CodesignError(
                f"{path}: layer '{name}' ({cls}): the QKeras path takes a chain of layers (one input each)"
            )
        if cls == "Lambda":
            raise CodesignError(f"{path}: layer '{name}' (Lambda): carries Python code, which is never run from a "
                                "user's file; rebuild the model without it")  # fmt: skip
        if cls not in LAYERS:
            why = (f"unquantized (float) layer, so no bit-exact reference exists; use {FLOAT[cls]}" if cls in FLOAT else
                   f"not supported on the QKeras path (supported: {', '.join(LAYERS)})")  # fmt: skip
            raise CodesignError(f"{path}: layer '{name}' ({cls}): {why}")
        if cls == "InputLayer":
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            out.append({"name": name, "cls": cls, "shape": list(shape[1:])})
            continue
        try:
            if cls == "QActivation":
                out.append({"name": name, "cls": cls, "act": _quantizer(cfg["activation"], f"{name}.activation")})
            else:
                act = cfg.get("activation", "linear")
                out.append({
                    "name": name, "cls": cls, "units": cfg["units"], "use_bias": cfg.get("use_bias", True),
                    "kernel": _quantizer(cfg.get("kernel_quantizer"), f"{name}.kernel_quantizer"),
                    "bias": _quantizer(cfg.get("bias_quantizer"), f"{name}.bias_quantizer") if cfg.get("use_bias", True) else None,
                    "act": None if act in (None, "linear") else _quantizer(act, f"{name}.activation"),
                })  # fmt: skip
        except _Unsafe as e:  # no QONNX form exists, so not even --allow-unsafe can convert it
            raise CodesignError(f"{path}: layer '{name}' ({cls}): {e}") from None
    if not out or out[0]["cls"] != "InputLayer" or len(out) < 2 or out[1]["cls"] != "QActivation" \
            or out[1]["act"]["kind"] != "quantized_bits":  # fmt: skip
        first = out[1]["name"] if len(out) > 1 else "?"
        raise CodesignError(f"{path}: layer '{first}' reads the model input without an input quantizer, so the input port "
                            "has no fixed-point format; start the model with QActivation(quantized_bits(bits, integer, "
                            "alpha=1))")  # fmt: skip
    return out


class _Unsafe(ValueError):
    pass


def _quantizer(q, where: str) -> dict:
    """{kind, bits, integer, signed, narrow} of a QKeras quantizer config (dict or 'name(args)' string)."""
    if q is None:
        raise _Unsafe(
            f"{where}: none, so the values stay float (no bit-exact reference); give it quantized_bits(..., alpha=1)"
        )
    if isinstance(q, str):
        q = _parse(q, where)
    kind, c = q.get("class_name"), dict(q.get("config", {}))
    if kind not in ("quantized_bits", "quantized_relu"):
        raise _Unsafe(f"{where}: {kind}: the QKeras path takes quantized_bits and quantized_relu")
    if c.get("use_stochastic_rounding"):
        raise _Unsafe(f"{where}: stochastic rounding has no fixed-point form; set use_stochastic_rounding=False")
    bits, integer = int(c.get("bits", 8)), int(c.get("integer", 0))
    if kind == "quantized_bits":
        if c.get("alpha") not in (None, 1, 1.0):
            raise _Unsafe(f"{where}: alpha={c.get('alpha')!r} scales per channel (not a fixed-point type hls4ml takes "
                          "exactly); use alpha=1")  # fmt: skip
        signed = bool(c.get("keep_negative", True))
        if bits - signed < 1:
            raise _Unsafe(f"{where}: a binary quantizer (bits={bits}) has no fixed-point form here")
        return {"kind": kind, "bits": bits, "integer": integer, "signed": signed,
                "narrow": bool(c.get("symmetric", 0)) and signed, "f": bits - int(signed) - integer}  # fmt: skip
    if c.get("use_sigmoid") or float(c.get("negative_slope", 0.0)) != 0.0 or c.get("relu_upper_bound") is not None:
        raise _Unsafe(f"{where}: quantized_relu with use_sigmoid, negative_slope or relu_upper_bound has no form here")
    return {"kind": kind, "bits": bits, "integer": integer, "signed": False, "narrow": False, "f": bits - integer}


def _parse(text: str, where: str) -> dict:
    """'quantized_bits(6, 0, alpha=1)' -> a config dict (literals only: nothing is evaluated)."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
        names = {"quantized_bits": ["bits", "integer", "symmetric", "keep_negative", "alpha"],
                 "quantized_relu": ["bits", "integer", "use_sigmoid", "negative_slope"]}.get(call.func.id, [])  # fmt: skip
        cfg = {names[i]: ast.literal_eval(a) for i, a in enumerate(call.args)}
        cfg |= {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, AssertionError, ValueError, IndexError):
        raise _Unsafe(f"{where}: '{text}' is not a quantizer the QKeras path reads") from None
    return {"class_name": call.func.id, "config": cfg}


def check_file(path: Path, allow_unsafe: bool = False) -> list[str]:
    """The guard on a user's .h5 (kinds/qkeras_h5.py): its config alone (nothing of it runs before the train
    stage, where the QONNX guard rails also apply), and the isolated environment it needs."""
    read_layers(path)
    qkeras_python()
    return []


def input_format(layers: list[dict]) -> tuple[int, int, int]:
    q = layers[1]["act"]
    return int(q["signed"]), q["integer"], q["f"]


# ---- the QONNX graph ---------------------------------------------------------------------------


def to_qonnx(layers: list[dict], weights: dict, batch: int = 1):
    """The QONNX ModelWrapper of the model (tensor '<layer>' holds each layer's output)."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper

    nodes, inits = [], []

    def const(name, value):
        inits.append(
            helper.make_tensor(name, TensorProto.FLOAT, np.shape(value), np.asarray(value, np.float32).ravel())
        )
        return name

    def quant(src, dst, q):
        s, z, b = (
            const(f"{dst}_{p}", v) for p, v in (("scale", 2.0 ** -q["f"]), ("zeropt", 0.0), ("bits", float(q["bits"])))
        )
        nodes.append(helper.make_node("Quant", [src, s, z, b], [dst], domain="qonnx.custom_op.general",
                                      signed=int(q["signed"]), narrow=int(q["narrow"]), rounding_mode="ROUND"))  # fmt: skip
        return dst

    def activation(src, dst, q):
        if q["kind"] == "quantized_relu":
            nodes.append(helper.make_node("Relu", [src], [f"{dst}_relu"]))
            src = f"{dst}_relu"
        return quant(src, dst, q)

    shape = layers[0]["shape"]
    x = layers[0]["name"]
    units = shape[-1]
    for la in layers[1:]:
        name = la["name"]
        if la["cls"] == "QActivation":
            x = activation(x, name, la["act"])
            continue
        w = quant(const(f"{name}_kernel", weights[f"kernel/{name}"]), f"{name}_kernel_q", la["kernel"])
        out = f"{name}_matmul" if la["use_bias"] or la["act"] else name
        nodes.append(helper.make_node("MatMul", [x, w], [out]))
        if la["use_bias"]:
            b = quant(const(f"{name}_bias", weights[f"bias/{name}"]), f"{name}_bias_q", la["bias"])
            nodes.append(helper.make_node("Add", [out, b], [name if not la["act"] else f"{name}_add"]))
            out = name if not la["act"] else f"{name}_add"
        x = activation(out, name, la["act"]) if la["act"] else out
        units = la["units"]
    graph = helper.make_graph(
        nodes, "qkeras_model", [helper.make_tensor_value_info(layers[0]["name"], TensorProto.FLOAT, [batch, *shape])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [batch, units])], initializer=inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="codesign")
    return ModelWrapper(model)


# ---- the train stage ---------------------------------------------------------------------------


def run_qkeras(path: Path, x: np.ndarray) -> dict:
    """The sidecar in .venv-qkeras: QKeras' output, layer outputs and quantized weights on x."""
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
        r = subprocess.run([str(qkeras_python()), str(Path(__file__).with_name("qkeras_sidecar.py")), str(path),
                            str(Path(tmp) / "x.npy"), str(Path(tmp) / "out.npz")], capture_output=True, text=True, env=env)  # fmt: skip
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["(no message)"])[-1][:300]
            raise CodesignError(f"{path}: QKeras 0.9 could not load or run the model ({last})")
        return dict(np.load(Path(tmp) / "out.npz"))


def train(card, data, out: Path, progress: bool = True) -> dict:
    """The kind qkeras_h5's train stage (kinds/qkeras_h5.py)."""
    from qonnx.util.cleanup import cleanup_model

    from ..data.vectors import user_vectors
    from ..qonnx_guard import check_qonnx
    from .keras_import import grid_vectors
    from .qonnx_import import execute
    from .user_file import write_metrics

    path = Path(card.model.file)
    layers = read_layers(path)
    fmt = input_format(layers)
    shape = tuple(layers[0]["shape"])
    if card.model.vectors:
        x = user_vectors(card.model.vectors, shape, fmt)
    else:
        x = grid_vectors(fmt, shape, card.firmware.cosim_vectors)
    got = run_qkeras(path, x)
    mw = cleanup_model(to_qonnx(layers, got))
    problems = check_qonnx(mw, fmt, card.model.allow_unsafe)
    _require_same(layers, got, to_qonnx(layers, got, batch=len(x)), x, path)
    y = got["y"].astype(np.float32)
    mw.save(str(out / "model.onnx"))
    np.savez(out / "reference.npz", x=x, y=y, input_format=np.array(fmt))
    assert np.array_equal(execute(mw, x), y)  # the saved graph is the one checked above
    return write_metrics(out, "qkeras 0.9 file", path, len(x), card.model.vectors, problems,
                         "QKeras 0.9 (tf-keras, .venv-qkeras) on the test vectors; its QONNX form equals it on every one")  # fmt: skip


def _require_same(layers, got: dict, mw, x: np.ndarray, path: Path) -> None:
    """qonnx's execution of the graph equals QKeras layer by layer; else name the first layer that differs."""
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    ctx = execute_onnx(mw.transform(InferShapes()), {layers[0]["name"]: x}, return_full_exec_context=True)
    for la in layers[1:]:
        mine, theirs = np.asarray(ctx[la["name"]]).reshape(len(x), -1), got[f"out/{la['name']}"].reshape(len(x), -1)
        bad = np.argwhere(mine != theirs)
        if len(bad):
            ev, el = map(int, bad[0])
            raise CodesignError(f"{path}: layer '{la['name']}' ({la['cls']}): its QONNX form differs from QKeras on "
                                f"{len(np.unique(bad[:, 0]))}/{len(x)} events; first: event {ev}, element {el}: QKeras "
                                f"{float(theirs[ev, el])!r}, QONNX {float(mine[ev, el])!r}")  # fmt: skip
