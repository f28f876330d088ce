"""HGQ2 quantizer configs from a card's formats: the one place zoo models turn (bits, integer) into HGQ2's kif."""

from __future__ import annotations

from ..fixedpoint import kif


def config(place: str, bits: int, integer: int, overflow: str = "SAT", trainable: bool = False, signed: bool = True):
    """An HGQ2 `kif` QuantizerConfig for `place` (weight, bias, datalane) in the card's format."""
    from hgq.config import QuantizerConfig

    _, i, f = kif(bits, integer, signed)
    return QuantizerConfig("kif", place, k0=signed, i0=i, f0=f, overflow_mode=overflow, trainable=trainable)


def selection():
    """Kernels that are exactly 0 or 1 (fixed gathers and sums): unsigned, one integer bit, no fraction."""
    from hgq.config import QuantizerConfig

    return QuantizerConfig("kif", "weight", k0=False, i0=1, f0=0, overflow_mode="SAT", trainable=False)
