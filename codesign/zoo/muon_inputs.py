"""Model inputs of the tracker-muon pre-selectors, from one event's tracks and muon segments.

Per track (TRACK_FEATURES): q/pT [1/GeV], ln pT, eta, sin and cos of phi, and sin and cos of the
position angle at muon station 2 from the helix alone (data/muon_detector.bend: 3.8 T, no
material) - the cheap analytic part of the extrapolation; the expensive one (material, field map,
matching) is what the pre-selection saves.
Per segment (SEGMENT_FEATURES): station one-hot (4), eta, sin phi, cos phi, 10 psi.
A batch pads events to its largest track and segment counts; the masks are 1.0 on real slots.
`check_event` refuses, naming the event and field, NaN or infinite track parameters and more
tracks than the model's configured maximum.
"""

from __future__ import annotations

import numpy as np

from ..data import muon_detector as det
from ..errors import CodesignError

TRACK_FEATURES = ["q/pt", "ln_pt", "eta", "sin_phi", "cos_phi", "sin_phi_st2", "cos_phi_st2"]
SEGMENT_FEATURES = ["st1", "st2", "st3", "st4", "eta", "sin_phi", "cos_phi", "10psi"]
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
    phi2 = phi - q * turn
    return np.stack([q / pt, np.log(pt), eta, np.sin(phi), np.cos(phi), np.sin(phi2), np.cos(phi2)],
                    axis=1).astype(np.float32)  # fmt: skip


def segment_features(segments: np.ndarray) -> np.ndarray:
    """(m, 4) station, eta, phi, psi -> (m, len(SEGMENT_FEATURES)) float32."""
    s = np.asarray(segments, np.float64).reshape(-1, 4)
    onehot = (s[:, :1].astype(int) == np.arange(4)).astype(np.float64)
    return np.concatenate([onehot, s[:, 1:2], np.sin(s[:, 2:3]), np.cos(s[:, 2:3]), 10 * s[:, 3:4]],
                          axis=1).astype(np.float32)  # fmt: skip


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
