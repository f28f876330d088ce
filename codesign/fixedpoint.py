"""Fixed-point formats and grids, numpy only (firmware tests and data import this without TensorFlow).

A format is (k, i, f): k = 1 for signed, i integer bits without the sign bit, f fractional bits.
A card's `*_bits` count the sign bit and `*_integer` do not, so f = bits - 1 - integer for a
signed format; an unsigned one spends the sign bit on one more fractional bit.
"""

from __future__ import annotations

import numpy as np


def kif(bits: int, integer: int, signed: bool = True) -> tuple[int, int, int]:
    """(k, i, f) of a card format of `bits` bits (sign included) with `integer` integer bits."""
    return int(signed), integer, bits - 1 - integer + (0 if signed else 1)


def input_format(precision) -> tuple[int, int, int]:
    """(signed, integer bits, fractional bits) of a model input: the grid test vectors live on."""
    return kif(precision.input_bits, precision.input_integer)


def to_grid(x: np.ndarray, fmt: tuple[int, int, int]) -> np.ndarray:
    """Round half up onto a fixed-point grid and saturate: what the input quantizer does."""
    k, i, f = fmt
    scale = 2.0**f
    lo = -(2.0**i) if k else 0.0
    hi = 2.0**i - 1.0 / scale
    return np.clip(np.floor(x * scale + 0.5) / scale, lo, hi).astype(np.float32)
