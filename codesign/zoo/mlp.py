"""The jet-tagger MLP (hls4ml's 16 -> 64 -> 32 -> 32 -> 5), built from a card in two frontends.

Both frontends produce a Keras 3 model whose arithmetic is fixed point, so its float32 output on
inputs already on the input grid *is* the reference the firmware must reproduce bit for bit.

- `hgq2`: HGQ2 layers. Fixed formats from the card, or trainable bit widths (EBOPs-regularised
  with strength beta) when `precision.trainable` is set.
- `qkeras`: the QKeras API (QDense / QActivation with quantized_bits / quantized_relu) as shipped
  by hgq2 0.2 in its `qkeras` package. Chosen over qkeras 0.9 (needs tf-keras, Keras 2) and
  qkeras-v3 (same import name, clashes) so that both frontends live in one environment.

Formats: a card's `*_bits` count the sign bit, `*_integer` do not; fractional bits are the rest.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from .. import fixedpoint  # noqa: E402
from ..card import Card  # noqa: E402


def build(card: Card, n_inputs: int, n_outputs: int) -> keras.Model:
    keras.utils.set_random_seed(card.training.seed)
    builder = {"hgq2": _build_hgq2, "qkeras": _build_qkeras}[card.model.frontend]
    return builder(card, n_inputs, n_outputs)


def _build_hgq2(card: Card, n_inputs: int, n_outputs: int) -> keras.Model:
    from hgq.config import LayerConfigScope
    from hgq.layers import QDense

    from .quantizers import config

    p = card.precision

    def kif(place: str, bits: int, integer: int, overflow: str):
        return config(place, bits, integer, overflow, trainable=p.trainable)

    weight = kif("weight", p.weight_bits, p.weight_integer, "SAT_SYM")
    bias = kif("bias", p.activation_bits, p.activation_integer, "SAT")
    # Activations saturate: a fixed format must not wrap on an outlier event.
    act = kif("datalane", p.activation_bits, p.activation_integer, "SAT")
    inp = kif("datalane", p.input_bits, p.input_integer, "SAT")

    widths = [*card.model.hidden, n_outputs]
    with LayerConfigScope(enable_ebops=p.trainable, beta0=p.beta if p.trainable else 0.0):
        x_in = keras.Input((n_inputs,), name="features")
        x = x_in
        for n, units in enumerate(widths):
            last = n == len(widths) - 1
            x = QDense(
                units, activation=None if last else card.model.activation, name=f"dense_{n}" if not last else "logits",
                kq_conf=weight, bq_conf=bias, iq_conf=inp if n == 0 else act,
            )(x)  # fmt: skip
        return keras.Model(x_in, x, name=card.name)


def _build_qkeras(card: Card, n_inputs: int, n_outputs: int) -> keras.Model:
    from qkeras import quantized_bits, quantized_relu

    from .qkeras_api import qkeras_api

    with qkeras_api() as ql:
        return _qkeras_layers(card, n_inputs, n_outputs, ql.QDense, ql.QActivation, quantized_bits, quantized_relu)


def _qkeras_layers(card, n_inputs, n_outputs, QDense, QActivation, quantized_bits, quantized_relu) -> keras.Model:
    p = card.precision
    # hgq2's quantized_bits counts bits *without* the sign bit (QKeras counts it): subtract it.
    weight = _half_up(quantized_bits(p.weight_bits - 1, p.weight_integer, symmetric=1, alpha=1))
    bias = _half_up(quantized_bits(p.activation_bits - 1, p.activation_integer, alpha=1))
    relu = _half_up(quantized_relu(p.activation_bits - 1, p.activation_integer))

    widths = [*card.model.hidden, n_outputs]
    x_in = keras.Input((n_inputs,), name="features")
    x = QActivation(_half_up(quantized_bits(p.input_bits - 1, p.input_integer, alpha=1)), name="input_q")(x_in)
    for n, units in enumerate(widths):
        last = n == len(widths) - 1
        x = QDense(units, kernel_quantizer=weight, bias_quantizer=bias, name="logits" if last else f"dense_{n}")(x)
        if not last:
            x = QActivation(relu, name=f"relu_{n}")(x)
    return keras.Model(x_in, x, name=card.name)


def _half_up(q):
    """Round half up (RND) instead of QKeras' ties-to-even (RND_CONV): da4ml 0.6 traces only TRN
    and RND, and the card, not the frontend, defines the arithmetic (as in the HGQ2 build). Only
    exact ties change, and the Python reference is computed with it, so every path stays exact.

    The quantizer's own get_config keeps only QKeras' arguments, so a plain `config["round_mode"]`
    edit is lost on save and a reloaded model rounds to even again (differs on ~1/3 of events).
    The quantizer becomes an instance of a registered subclass that sets RND in its constructor,
    so a saved model reloads with it. The subclasses are registered when this module is imported
    (`register_half_up`, below), not when a model is built: a model is often loaded in another
    process than the one that built it (a later stage, a sweep point), and zoo/load.py imports
    this module for exactly that.
    """
    q.__class__ = _half_up_class(type(q))
    q.config["round_mode"] = "RND"
    return q


_HALF_UP: dict[type, type] = {}


def _half_up_class(base: type) -> type:
    if base in _HALF_UP.values():
        return base
    if base not in _HALF_UP:

        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
            self.config["round_mode"] = "RND"

        cls = type(f"{base.__name__}_half_up", (base,), {"__init__": __init__, "__module__": __name__})
        _HALF_UP[base] = keras.saving.register_keras_serializable(package="codesign")(cls)
    return _HALF_UP[base]


def register_half_up() -> None:
    """Register the half-up subclasses of the QKeras-API quantizers this module builds with Keras."""
    from qkeras import quantized_bits, quantized_relu

    for base in (quantized_bits, quantized_relu):
        _half_up_class(base)


register_half_up()


def input_format(card: Card) -> tuple[int, int, int]:
    """(signed, integer bits, fractional bits) of the model input: the grid test vectors live on."""
    return fixedpoint.input_format(card.precision)
