"""Loading a trained Keras model of the zoo safely, in any process (not only the one that trained it)."""

from __future__ import annotations

from pathlib import Path


def load_model(path: Path):
    """Load a trained model safely (Keras safe mode: no arbitrary code from the file)."""
    import hgq  # noqa: F401  (registers HGQ2 layers and quantizers with Keras)
    import keras
    import qkeras  # noqa: F401  (registers the QKeras-API quantizers, e.g. quantized_bits; not qlayers)

    from . import mlp  # noqa: F401  (registers the half-up QKeras quantizers, zoo/mlp._half_up)

    # Both frontends save HGQ2 layers with full quantizer configs; qkeras.qlayers is not needed
    # (and must not be imported globally: see zoo/qkeras_api.py).
    return keras.models.load_model(path, safe_mode=True, compile=False)
