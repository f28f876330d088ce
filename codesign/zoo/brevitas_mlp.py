"""The card's MLP in PyTorch: Brevitas (quantization-aware, for firmware) and a plain float twin.

The Brevitas model has the card's fixed formats as *constant power-of-two* scales:
- a power-of-two scale is a binary point, so hls4ml and da4ml take the Quant node as a fixed-point
  type; a float scale (Brevitas' default `*PerTensorFloat` quantizers) makes hls4ml insert
  rescaling layers whose output is silently wrong (see hls/qonnx_frontend.py);
- a constant (not learned) scale keeps the card, not training statistics, the truth of the
  format, as in the Keras frontends.
Formats (a card's `*_bits` count the sign bit, `*_integer` do not), in Brevitas terms, where the
threshold 2**integer over 2**(bits - signed) gives the scale 2**-fractional:
- input: signed, input_bits, round to nearest (the inputs already lie on this grid);
- weights: signed narrow range (symmetric, like the Keras SAT_SYM), weight_bits;
- bias: Int32Bias, i.e. on the accumulator's grid (input scale x weight scale), 32 bits;
- ReLU: unsigned, activation_bits - 1 bits (the sign bit is dropped, as in the Keras builds),
  saturating, round half to even (Brevitas' ROUND, hls4ml's RND_CONV; the RTL tracer mirrors it).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..card import Card
from ..errors import CodesignError


def _fixed(base, bits: int, integer: int, **kw):
    """A Brevitas fixed-point quantizer with a constant 2**-fractional scale."""
    from brevitas.inject.enum import ScalingImplType

    return base.let(bit_width=bits, scaling_impl_type=ScalingImplType.CONST, **kw)


def quantizers(card: Card) -> dict:
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Int32Bias,
        Uint8ActPerTensorFixedPoint,
    )  # fmt: skip

    p = card.precision
    if p.trainable:
        raise CodesignError(
            f"{card.source or card.name}: field 'precision.trainable': HGQ2 learned bit widths have no Brevitas equivalent; use frontend 'hgq2'"
        )
    thr_in, thr_act = 2.0**p.input_integer, 2.0**p.activation_integer
    return {
        "input": _fixed(Int8ActPerTensorFixedPoint, p.input_bits, p.input_integer, min_val=-thr_in, max_val=thr_in),
        "weight": _fixed(Int8WeightPerTensorFixedPoint, p.weight_bits, p.weight_integer, scaling_init=2.0**p.weight_integer),
        "bias": Int32Bias,
        "act": _fixed(Uint8ActPerTensorFixedPoint, p.activation_bits - 1, p.activation_integer, min_val=0.0, max_val=thr_act),
    }  # fmt: skip


def build(card: Card, n_inputs: int, n_outputs: int) -> nn.Sequential:
    """input quantizer -> (QuantLinear -> QuantReLU) per hidden width -> QuantLinear logits."""
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU

    torch.manual_seed(card.training.seed)
    q = quantizers(card)
    # Int32Bias takes its scale from the input's: every layer but the last hands on a QuantTensor.
    layers = [("inp", QuantIdentity(act_quant=q["input"], return_quant_tensor=True))]
    for n, (n_in, n_out) in enumerate(_shapes(card, n_inputs, n_outputs)):
        last = n == len(card.model.hidden)
        fc = QuantLinear(
            n_in, n_out, bias=True, weight_quant=q["weight"], bias_quant=q["bias"], return_quant_tensor=not last
        )
        layers.append(("logits" if last else f"fc{n}", fc))
        if not last:
            layers.append((f"relu{n}", QuantReLU(act_quant=q["act"], return_quant_tensor=True)))
    return nn.Sequential(OrderedDict(layers))


def build_float(card: Card, n_inputs: int, n_outputs: int) -> nn.Sequential:
    """The same topology in plain float torch (no quantizers), with the same layer names."""
    torch.manual_seed(card.training.seed)
    layers = []
    for n, (n_in, n_out) in enumerate(_shapes(card, n_inputs, n_outputs)):
        last = n == len(card.model.hidden)
        layers.append(("logits" if last else f"fc{n}", nn.Linear(n_in, n_out)))
        if not last:
            layers.append((f"relu{n}", nn.ReLU()))
    return nn.Sequential(OrderedDict(layers))


def _shapes(card: Card, n_inputs: int, n_outputs: int) -> list[tuple[int, int]]:
    widths = [n_inputs, *card.model.hidden, n_outputs]
    return list(zip(widths[:-1], widths[1:]))


def output_fractional(card: Card) -> int:
    """Fractional bits of the logits: the last layer's accumulator grid (ReLU scale x weight scale)."""
    p = card.precision
    return (p.activation_bits - 1 - p.activation_integer) + (p.weight_bits - 1 - p.weight_integer)


def load(card: Card, n_inputs: int, n_outputs: int, path) -> nn.Sequential:
    """Rebuild from the card and load a state_dict safely (weights_only: no pickled code)."""
    model = build(card, n_inputs, n_outputs)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()
