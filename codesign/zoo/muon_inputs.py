"""Model inputs of the tracker-muon pre-selectors, from one event's tracks and muon segments.

Per track (TRACK_FEATURES): q/pT [1/GeV], ln pT, eta, sin and cos of phi, and Fourier features of
where it points: sin and cos of f * phi_st2 for f in PHI_FREQ, where phi_st2 is the position angle at
muon station 2 from the helix alone (data/muon_detector.bend: 3.8 T, no material; the cheap analytic
part of the extrapolation; the expensive one - material, field map, matching - is what the
pre-selection saves), and of f * eta for f in ETA_FREQ.
Per segment (SEGMENT_FEATURES): station one-hot (4), eta, 10 psi, and the same Fourier features of its
phi and eta. With them, one attention head's bilinear logit can hold sum_f cos(f (phi_track -
phi_segment)) + ..., a kernel peaked where a track points at a segment (width ~ 1 / max frequency),
which dot products of plain angles cannot resolve at the muon system's scale (~0.01 rad).
A batch pads events to its largest track and segment counts; the masks are 1.0 on real slots.
`check_event` refuses, naming the event and field, NaN or infinite track parameters and more
tracks than the model's configured maximum.
"""

from __future__ import annotations

import numpy as np

from ..data import muon_detector as det
from ..errors import CodesignError

PHI_FREQ = (1, 2, 4, 8, 16)
ETA_FREQ = (2, 4, 8)
FOURIER = [
    f"{fn}({f}{x})" for x, freqs in (("phi", PHI_FREQ), ("eta", ETA_FREQ)) for f in freqs for fn in ("sin", "cos")
]
TRACK_FEATURES = ["q/pt", "ln_pt", "eta", "sin_phi", "cos_phi", *FOURIER]  # phi: at station 2
SEGMENT_FEATURES = ["st1", "st2", "st3", "st4", "eta", "10psi", *FOURIER]
TRACK_FOURIER, SEGMENT_FOURIER = TRACK_FEATURES.index(FOURIER[0]), SEGMENT_FEATURES.index(FOURIER[0])  # first columns
TRACK_FIELDS = ["pt", "eta", "phi", "charge"]


def check_event(tracks: np.ndarray, segments: np.ndarray, max_tracks: int, where: str) -> None:
    """One line naming the event and field for NaN/inf track or segment parameters or too many tracks."""
    if len(tracks) > max_tracks:
        raise CodesignError(f"{where}: field 'tracks': {len(tracks)} tracks, more than the model's configured "
                            f"maximum model.max_tracks = {max_tracks}")  # fmt: skip
    for name, arr, fields in (
        ("tracks", tracks, TRACK_FIELDS),
        ("segments", segments, ["station", "eta", "phi", "psi"]),
    ):
        bad = ~np.isfinite(arr)
        if bad.any():
            i, j = map(int, np.argwhere(bad)[0])
            raise CodesignError(f"{where}: field '{name}.{fields[j]}' of {name[:-1]} {i} is {arr[i, j]}; expected finite "
                                f"{name[:-1]} parameters")  # fmt: skip
    if len(tracks) and (tracks[:, 0] <= 0).any():
        i = int(np.flatnonzero(tracks[:, 0] <= 0)[0])
        raise CodesignError(f"{where}: field 'tracks.pt' of track {i} is {tracks[i, 0]}; expected pT > 0")


def track_features(tracks: np.ndarray) -> np.ndarray:
    """(n, 4) pt, eta, phi, charge -> (n, len(TRACK_FEATURES)) float32."""
    t = np.asarray(tracks, np.float64).reshape(-1, 4)
    pt, eta, phi, q = t.T
    turn = det.bend(pt, eta)[0][:, 1] if len(t) else np.zeros(0)
    base = np.stack([q / pt, np.log(pt), eta, np.sin(phi), np.cos(phi)], axis=1)
    return np.concatenate([base, fourier(phi - q * turn, eta)], axis=1).astype(np.float32)


def fourier(phi: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """(n, 2 len(PHI_FREQ) + 2 len(ETA_FREQ)): sin, cos of f phi, then of f eta."""
    cols = [fn(f * x) for x, freqs in ((phi, PHI_FREQ), (eta, ETA_FREQ)) for f in freqs for fn in (np.sin, np.cos)]
    return np.stack(cols, axis=1) if len(phi) else np.zeros((0, len(FOURIER)))


def segment_features(segments: np.ndarray) -> np.ndarray:
    """(m, 4) station, eta, phi, psi -> (m, len(SEGMENT_FEATURES)) float32."""
    s = np.asarray(segments, np.float64).reshape(-1, 4)
    onehot = (s[:, :1].astype(int) == np.arange(4)).astype(np.float64)
    return np.concatenate([onehot, s[:, 1:2], 10 * s[:, 3:4], fourier(s[:, 2], s[:, 1])], axis=1).astype(np.float32)


def pad(parts: list[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-event (n_i, width) arrays -> (B, max n, width) zero padded, (B, max n) mask of 1.0."""
    n = max([len(p) for p in parts], default=0)
    x = np.zeros((len(parts), n, width), np.float32)
    m = np.zeros((len(parts), n), np.float32)
    for i, p in enumerate(parts):
        x[i, : len(p)] = p
        m[i, : len(p)] = 1.0
    return x, m


class Features:
    """Features of every track and segment of a dataset, computed once; batches of events by index."""

    def __init__(self, data: dict):
        self.t_off, self.s_off = data["track_offsets"], data["segment_offsets"]
        self.tracks = track_features(data["tracks"])
        self.segments = segment_features(data["segments"])

    def batch(self, events) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        t = [self.tracks[self.t_off[i] : self.t_off[i + 1]] for i in events]
        s = [self.segments[self.s_off[i] : self.s_off[i + 1]] for i in events]
        return (*pad(t, len(TRACK_FEATURES)), *pad(s, len(SEGMENT_FEATURES)))
