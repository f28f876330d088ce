"""Pythia 8 and fastjet helpers the event generators share, and the small array helpers they use.

Pythia and fastjet are imported inside the functions: `codesign data --help` and the dataset
loaders must not pay for them.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from codesign.errors import CodesignError


def new_pythia(settings: list[str], seed: int, dataset: str, what: str):
    """An initialised Pythia with `settings` and a fixed random seed (one per independent chunk).

    Pythia reports a bad setting by a return value only: raise instead of generating other physics.
    """
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in [*settings, "Random:setSeed = on", f"Random:seed = {seed}"]:
        if not pythia.readString(line):
            raise CodesignError(f"{dataset}: Pythia rejected setting {line!r}")
    if not pythia.init():
        raise CodesignError(f"{dataset}: Pythia failed to initialise {what}")
    return pythia


class ChargeTable:
    """PDG id -> electric charge (float32), asked from Pythia's particle data once per id.

    A Python call per particle would dominate the run time; per distinct id it is negligible.
    """

    def __init__(self, pythia):
        self._data, self._cache = pythia.particleData, {}

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(ids, return_inverse=True)
        table = np.array([self._cache.setdefault(int(i), self._data.charge(int(i))) for i in uniq])
        return table[inverse].astype(np.float32)


_BANNER_SHOWN = False


@contextlib.contextmanager
def quiet_stdout():
    """Swallow fastjet's banner, printed from C++ to fd 1 on a process's first clustering.

    It would break the progress bar and anything parsing stdout (the CLI prints the file path).
    """
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        yield
        return
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
        _BANNER_SHOWN = True


def isin(values, choices):
    """values == any of choices, for awkward arrays too (np.isin does not take jagged arrays)."""
    out = values == choices[0]
    for c in choices[1:]:
        out = out | (values == c)
    return out


def offsets(counts) -> np.ndarray:
    """Start of each group in a flat array and the end of the last: [0, cumsum(counts)] (int64)."""
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def wrap_phi(dphi):
    """An azimuth difference wrapped to [-pi, pi)."""
    return (dphi + np.pi) % (2 * np.pi) - np.pi
