"""Guard rails for a Keras model a user brings (`codesign run --model FILE.keras`), before anything is written.

The firmware paths (hls4ml's Keras converter, da4ml's tracer) are bit-exact only on a fixed-point
model whose input is quantized first. A model that is not refuses here, one line naming the layer,
the reason and what to change, in the style of the QONNX guard (qonnx_guard.py):

- a layer that neither path takes (by class: hls/csim.supported_layers, what the zoo's tests prove);
- an unquantized (float) layer: no bit-exact reference exists for it;
- no input quantizer: the input port would have no format, and the test vectors no grid.

`--allow-unsafe` lets the first two through as warnings (the bit-exact checks still run); the
third cannot be let through.
"""

from __future__ import annotations

from pathlib import Path

from .errors import CodesignError

# Keras' own float layers: each has a quantized counterpart a user can switch to.
FLOAT_LAYERS = {
    "Dense": "hgq.layers.QDense (HGQ2) or QKeras' QDense with kernel_quantizer and bias_quantizer",
    "EinsumDense": "hgq.layers.QEinsumDense",
    "Activation": "QActivation with a quantizer (e.g. quantized_relu), or HGQ2's QDense(activation=...)",
    "ReLU": "QActivation(quantized_relu(...)), or HGQ2's QDense(activation='relu')",
    "Conv1D": "a quantized layer of HGQ2 (hgq.layers.QConv1D): not yet proven by this flow, so Dense layers only",
    "Conv2D": "a quantized layer of HGQ2 (hgq.layers.QConv2D): not yet proven by this flow, so Dense layers only",
    "BatchNormalization": "fold it into the preceding QDense (HGQ2 QDense has no separate normalisation)",
}


def load_keras(path: Path):
    """The model, loaded in Keras safe mode with the quantizer classes named explicitly; a file that
    is not a Keras model is one line."""
    from .zoo.load import load_model

    path = Path(path)
    if not path.exists():
        raise CodesignError(f"{path}: no such model file")
    try:
        return load_model(path)
    except Exception as e:  # Keras raises ValueError, TypeError, OSError, zipfile errors... on a bad file
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise CodesignError(
            f"{path}: not a Keras 3 model file Keras can load safely ({type(e).__name__}: {msg})"
        ) from None


def check_keras(model, where: str, allow_unsafe: bool = False) -> list[str]:
    """Every reason the model would not convert bit-exactly, one line each naming the layer and fix.

    Raises CodesignError with the first unless `allow_unsafe` (then they are returned as warnings);
    a model without an input quantizer always raises.
    """
    from .hls.csim import supported_layers
    from .rtl.emit import input_kif

    supported = supported_layers()
    problems = []
    for layer in model.layers:
        cls = type(layer).__name__
        if cls in supported:
            continue
        if cls in FLOAT_LAYERS:
            problems.append(f"{where}: layer '{layer.name}' ({cls}): unquantized (float) layer, so no bit-exact "
                            f"reference exists; use {FLOAT_LAYERS[cls]}")  # fmt: skip
        else:
            problems.append(f"{where}: layer '{layer.name}' ({cls}): neither hls4ml nor da4ml is proven bit-exact on it "
                            f"here; supported layers: {', '.join(sorted(supported))}")  # fmt: skip
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CodesignError(f"{where}: the firmware flow takes one input and one output (got {len(model.inputs)} and "
                            f"{len(model.outputs)})")  # fmt: skip
    if problems and not allow_unsafe:
        more = f" (+{len(problems) - 1} more; --allow-unsafe lists them as warnings)" if len(problems) > 1 else ""
        raise CodesignError(problems[0] + more)
    if input_kif(model) is None:
        first = next((la for la in model.layers if type(la).__name__ != "InputLayer"), None)
        raise CodesignError(
            f"{where}: layer '{first.name if first else '?'}' reads the model input without an input quantizer, so the "
            "input port has no fixed-point format; start the model with hgq.layers.Quantizer (or QActivation("
            "quantized_bits(...)) in the QKeras API, or an HGQ2 QDense with its input quantizer enabled)"
        )
    return problems


def check_file(path, allow_unsafe: bool = False) -> list[str]:
    """The guard on a user's .keras file (kinds/keras_file.py), before anything is written."""
    return check_keras(load_keras(path), str(path), allow_unsafe)
