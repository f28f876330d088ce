"""A parametric L1 detector: particles -> L1 particle-flow candidates with PUPPI-like weights.

Input per event: final-state visible particles (px, py, pz, E, PDG id, charge, from_pileup).
Output: candidates (see `CANDIDATE_NAMES`), sorted by pT (highest first).

Detector (numbers in `DETECTOR`, all part of the dataset's hash):
- Tracker |eta| < 2.4: a charged particle with pT > track_pt_min becomes a track candidate
  (charged hadron, electron or muon) with pT resolution sigma/pT = a (+) b*pT. It is associated
  to the primary vertex (PV) with probability pv_eff if it comes from the hard interaction, and
  wrongly to the PV with probability pu_to_pv if it comes from a pileup vertex.
- Charged particles below pT 0.8 GeV inside |eta| < 3 curl before the calorimeter and are lost;
  muons outside the tracker leave no candidate (minimum ionising).
- Everything else visible with |eta| < 5 becomes a calorimeter candidate without vertex
  information: electrons/photons with the EM resolution, hadrons with the hadronic one (worse in
  the forward region |eta| > 3), an (eta, phi) smear, and an ET threshold per kind. Calorimeter
  deposits are not clustered together (a simplification: one candidate per particle).
PUPPI (Bertolini, Harris, Low, Tran, JHEP 10 (2014) 059), per event:
  alpha_i = log sum_j (pT_j / dR_ij)^2 over neighbours j with dR_ij < 0.4 (dR floored at 0.01;
  an empty sum gives weight 0). Central (|eta| < 2.4): neighbours are the PV-associated tracks;
  the reference is alpha of the PU-associated tracks (median, RMS about the median). Forward:
  neighbours are all candidates; the reference is all forward candidates (mostly pileup).
  chi2 = (alpha - median)^2 / RMS^2 if alpha > median else 0; w = F_chi2(ndf=1)(chi2); w < w_min
  -> 0. Tracks get w = 1 if PV-associated, else 0.
"""

from __future__ import annotations

import numpy as np

# Candidate columns, as stored. type: 0 charged hadron, 1 electron, 2 muon, 3 photon, 4 neutral hadron.
CANDIDATE_NAMES = ["pt", "eta", "phi", "puppi_w", "charged", "pv", "type"]
TYPE_NAMES = ["charged_hadron", "electron", "muon", "photon", "neutral_hadron"]

DETECTOR = {
    "tracker_max_abs_eta": 2.4,
    "calo_max_abs_eta": 5.0,
    "track_pt_min": 2.0,
    "track_res": [0.01, 0.0002],  # sigma/pT = a (+) b*pT
    "looper_pt_max": 0.8,
    "pv_eff": 0.98,
    "pu_to_pv": 0.04,
    "em_res": [0.2, 0.02],  # sigma/E = a/sqrt(E) (+) b
    "had_res": [1.0, 0.1],
    "had_res_forward": [1.5, 0.1],
    "forward_abs_eta": 3.0,
    "em_et_min": 1.0,
    "had_et_min": 2.0,
    "angle_smear": 0.02,
    "puppi_dr": 0.4,
    "puppi_dr_min": 0.01,
    "puppi_w_min": 0.1,
}


def _res(e, ab):
    return np.hypot(ab[0] / np.sqrt(np.maximum(e, 1e-3)), ab[1])


def candidates(px, py, pz, e, pid, charge, from_pu, rng) -> np.ndarray:
    """L1 PF candidates of one event, (M, len(CANDIDATE_NAMES)) float32, sorted by pT descending."""
    d = DETECTOR
    pt = np.hypot(px, py)
    ok = pt > 0
    px, py, pz, e, pid, charge, from_pu, pt = (a[ok] for a in (px, py, pz, e, pid, charge, from_pu, pt))
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    aid = np.abs(pid)
    charged = charge != 0
    in_trk = np.abs(eta) < d["tracker_max_abs_eta"]
    track = charged & in_trk & (pt > d["track_pt_min"])
    lost = (charged & (pt < d["looper_pt_max"]) & (np.abs(eta) < d["forward_abs_eta"])) | (
        (aid == 13) & ~track) | (np.abs(eta) > d["calo_max_abs_eta"])  # fmt: skip
    calo = ~track & ~lost

    # Tracks
    t_pt = pt[track] * (1 + rng.normal(size=track.sum()) * np.hypot(d["track_res"][0], d["track_res"][1] * pt[track]))
    pu = from_pu[track]
    u = rng.random(track.sum())
    t_pv = np.where(pu, u < d["pu_to_pv"], u < d["pv_eff"])
    t_type = np.select([aid[track] == 11, aid[track] == 13], [1, 2], 0)

    # Calorimeter deposits
    em = (aid[calo] == 11) | (aid[calo] == 22)
    c_eta = eta[calo] + rng.normal(size=calo.sum()) * d["angle_smear"]
    c_phi = phi[calo] + rng.normal(size=calo.sum()) * d["angle_smear"]
    fwd = np.abs(eta[calo]) > d["forward_abs_eta"]
    had_ab = np.where(fwd[:, None], d["had_res_forward"], d["had_res"])
    sig = np.where(em, _res(e[calo], d["em_res"]), _res(e[calo], had_ab.T))
    c_pt = pt[calo] * np.maximum(1 + rng.normal(size=calo.sum()) * sig, 0)
    keep = c_pt > np.where(em, d["em_et_min"], d["had_et_min"])
    c_eta, c_phi, c_pt, em = c_eta[keep], c_phi[keep], c_pt[keep], em[keep]

    n_t, n_c = int(track.sum()), int(keep.sum())
    out = np.zeros((n_t + n_c, len(CANDIDATE_NAMES)), np.float64)
    out[:, 0] = np.concatenate([np.maximum(t_pt, 0), c_pt])
    out[:, 1] = np.concatenate([eta[track], c_eta])
    out[:, 2] = (np.concatenate([phi[track], c_phi]) + np.pi) % (2 * np.pi) - np.pi
    out[:, 4] = np.concatenate([np.ones(n_t), np.zeros(n_c)])
    out[:, 5] = np.concatenate([t_pv, np.zeros(n_c)])
    out[:, 6] = np.concatenate([t_type, np.where(em, 3, 4)])
    out[:, 3] = puppi_weights(out)
    return out[np.argsort(-out[:, 0], kind="stable")].astype(np.float32)


def _pairs(a_pts, b_pts, r):
    """(i, j, dR) of all pairs within r between point sets (eta, phi), phi periodic."""
    from scipy.spatial import cKDTree

    if len(a_pts) == 0 or len(b_pts) == 0:
        z = np.zeros(0)
        return z.astype(int), z.astype(int), z
    box = [1e3, 2 * np.pi]

    def wrap(p):
        return np.stack([p[:, 0] + 500.0, (p[:, 1] + np.pi) % (2 * np.pi)], axis=1)

    m = cKDTree(wrap(a_pts), boxsize=box).sparse_distance_matrix(
        cKDTree(wrap(b_pts), boxsize=box), r, output_type="ndarray"
    )
    return m["i"], m["j"], m["v"]


def _alpha(a_pts, b_pts, b_pt, exclude_self=False):
    d = DETECTOR
    i, j, dr = _pairs(a_pts, b_pts, d["puppi_dr"])
    if exclude_self:
        keep = i != j
        i, j, dr = i[keep], j[keep], dr[keep]
    s = np.bincount(i, weights=(b_pt[j] / np.maximum(dr, d["puppi_dr_min"])) ** 2, minlength=len(a_pts))
    with np.errstate(divide="ignore"):
        return np.where(s > 0, np.log(np.where(s > 0, s, 1.0)), -np.inf)


def _chi2_weight(alpha, ref):
    from scipy.stats import chi2

    ref = ref[np.isfinite(ref)]
    if len(ref) < 2:  # no reference (no pileup tracks): cannot tell PU from PV, keep all
        return np.where(np.isfinite(alpha), 1.0, 0.0)
    med = np.median(ref)
    rms = max(np.sqrt(np.mean((ref - med) ** 2)), 1e-3)
    x = np.where(np.isfinite(alpha) & (alpha > med), (alpha - med) ** 2 / rms**2, 0.0)
    return np.where(np.isfinite(alpha), chi2.cdf(x, 1), 0.0)


def puppi_weights(c: np.ndarray) -> np.ndarray:
    """PUPPI weight per candidate of one event (columns as CANDIDATE_NAMES)."""
    d = DETECTOR
    pts, pt = c[:, 1:3], c[:, 0]
    charged, pv = c[:, 4] > 0, c[:, 5] > 0
    central = np.abs(c[:, 1]) < d["tracker_max_abs_eta"]
    w = np.where(charged, pv.astype(float), 0.0)
    pvt = charged & pv
    # Central neutrals, against PV tracks; reference: PU tracks against PV tracks.
    a_neu = _alpha(pts[~charged & central], pts[pvt], pt[pvt])
    a_ref = _alpha(pts[charged & ~pv], pts[pvt], pt[pvt])
    w[~charged & central] = _chi2_weight(a_neu, a_ref)
    # Forward: against all candidates (no tracks there); reference: all forward candidates.
    fw = ~central
    a_fw = _alpha(pts[fw], pts[fw], pt[fw], exclude_self=True)
    w[fw] = _chi2_weight(a_fw, a_fw)
    neutral = ~charged
    w[neutral & (w < d["puppi_w_min"])] = 0.0
    return w
