"""The classical baseline: pull matching of each extrapolated track to the muon segments.

Each track is extrapolated to the four stations with the helix of data/muon_detector.bend (a track
that curls before a station has no prediction there). In each station, the segment with the
smallest chi2 = (dphi / sigma_phi)^2 + (deta / sigma_eta)^2, where the sigmas are those a muon of
the track's momentum would show (multiple scattering (+) segment resolution (+) the track's
own resolution carried to the station, muon_detector.pull_sigmas), is matched if chi2 < pull^2. Score: the number of matched stations
plus 1 / (1 + mean chi2 of the matches), so that more stations always win and, at equal stations,
closer matches; a cut on it at the working point is the selection. It needs no training.
"""

from __future__ import annotations

import numpy as np

from ..data import muon_detector as det


def scores(tracks: np.ndarray, segments: np.ndarray, pull: float = 3.0) -> np.ndarray:
    """(n,) score per track of one event: tracks (n, 4) pt, eta, phi, charge; segments (m, 4)."""
    tracks = np.asarray(tracks, np.float64).reshape(-1, 4)
    segments = np.asarray(segments, np.float64).reshape(-1, 4)
    n = len(tracks)
    if n == 0:
        return np.zeros(0)
    pt, eta, phi, q = tracks.T
    turn, _, reaches = det.bend(pt, eta)
    s_phi, s_eta = det.pull_sigmas(pt, eta)
    best = np.full((n, 4), np.inf)
    for k in range(4):
        seg = segments[segments[:, 0] == k]
        if not len(seg):
            continue
        dphi = (seg[None, :, 2] - (phi - q * turn[:, k])[:, None] + np.pi) % (2 * np.pi) - np.pi
        chi2 = (dphi / s_phi[:, k : k + 1]) ** 2 + ((seg[None, :, 1] - eta[:, None]) / s_eta[:, k : k + 1]) ** 2
        best[:, k] = np.where(reaches[:, k], chi2.min(axis=1), np.inf)
    matched = best < pull**2
    n_match = matched.sum(1)
    mean_chi2 = np.where(matched, best, 0).sum(1) / np.maximum(n_match, 1)
    return n_match + np.where(n_match > 0, 1 / (1 + mean_chi2), 0.0)
