"""Smooth stand-ins for a hard cut and a hard histogram, each with its knob and its hard limit.

soft_cut(x, c, τ) = 1 / (1 + exp(-(x - c) / τ)) -> the step θ(x - c) as τ -> 0. The temperature
trades fidelity to the hard cut (small τ) against gradients that reach events far from the
threshold (large τ).

bkde_histogram: every event is a Gaussian kernel of width `bandwidth` around its value, integrated
between the bin edges (a difference of normal CDFs), so the bin contents are smooth in the value.
As bandwidth -> 0 it becomes the hard histogram; the bandwidth trades bias (smearing over the
edges) against stable gradients. Mass that leaks past the outer edges is lost, as events outside
a hard histogram's range are.
"""

from __future__ import annotations

import math

from ..errors import CodesignError


def _positive(name: str, value) -> None:
    v = float(value)
    if not v > 0 or math.isnan(v):
        raise CodesignError(f"field '{name}': must be > 0 (got {v})")


def soft_cut(x, threshold, temperature):
    """Per-event weight in (0, 1) for x > threshold."""
    import torch

    _positive("temperature", temperature)
    return torch.sigmoid((x - threshold) / temperature)


def soft_window(x, low, high, temperature):
    """Per-event weight for low < x < high: the product of two soft cuts."""
    return soft_cut(x, low, temperature) * soft_cut(-x, -high, temperature)


def bkde_histogram(x, edges, bandwidth, weights=None, squared: bool = False):
    """Smooth bin contents (len(edges) - 1) of the values x with per-event weights; `squared`:
    the sum of squared contributions Σ (w k)², the bins' Monte Carlo variance."""
    import torch

    _positive("bandwidth", bandwidth)
    edges = torch.as_tensor(edges, dtype=x.dtype)
    cdf = torch.special.ndtr((edges[None, :] - x[:, None]) / bandwidth)  # (events, edges)
    per_event = cdf[:, 1:] - cdf[:, :-1]
    if weights is not None:
        per_event = per_event * weights[:, None]
    return (per_event**2 if squared else per_event).sum(0)


def hard_histogram(x, edges, weights=None):
    """The hard limit (numpy's histogram: events in [edges[0], edges[-1]])."""
    import numpy as np

    return np.histogram(np.asarray(x), bins=np.asarray(edges), weights=weights)[0].astype(np.float64)
