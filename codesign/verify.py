"""Bit-exact comparison: one truth per number, and a mismatch names the event, output and values."""

from __future__ import annotations

import numpy as np

from .errors import CodesignError


def count_mismatches(expected: np.ndarray, got: np.ndarray) -> tuple[int, str | None]:
    """(number of events with any differing output, description of the first one or None)."""
    expected = np.asarray(expected).reshape(len(expected), -1)
    got = np.asarray(got).reshape(len(got), -1)
    if expected.shape != got.shape:
        return len(expected), f"shape differs: expected {expected.shape}, got {got.shape}"
    bad = expected != got
    events = np.flatnonzero(bad.any(axis=1))
    if len(events) == 0:
        return 0, None
    ev = int(events[0])
    out = int(np.flatnonzero(bad[ev])[0])
    return len(events), f"event {ev}, output {out}: expected {expected[ev, out]!r}, got {got[ev, out]!r}"


def require_exact(expected: np.ndarray, got: np.ndarray, what: str) -> int:
    """Raise CodesignError unless `got` equals `expected` bit for bit; return the vector count."""
    n_bad, first = count_mismatches(expected, got)
    if n_bad:
        raise CodesignError(f"{what}: {n_bad}/{len(expected)} events differ from the Python reference; first: {first}")
    return len(expected)
