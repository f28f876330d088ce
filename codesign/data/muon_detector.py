"""A parametric CMS-like tracker and muon system for the tracker-muon data (codesign/data/muons.py).

Every number is in DETECTOR (and so in the dataset's name hash). Units: GeV, metres, radians.

Tracker: charged particles with true pT > pt_min and |eta| < 2.5 are found with an efficiency
(muons higher than hadrons, which interact); pT, eta and phi are smeared with
    sigma(pT)/pT = (a (1 + |eta|/2)) (+) b pT,   sigma(phi) = c (+) d / pT,   sigma(eta) = e.
Field: 3.8 T inside the solenoid (radius 2.95 m); outside it the track is taken as straight (the
return field of the yoke is left out). A track of charge q bends in phi as a circle through the
origin: at transverse radius R inside the solenoid its position angle has turned by asin(0.3 B R /
(2 pT)), which is also the angle between its direction and the radial direction there; beyond the
solenoid it goes straight on. A pT below 0.3 B R_solenoid / 2 = 1.68 GeV curls inside.
Muon stations: four, behind the calorimeter and in the return yoke: barrel cylinders at
station_r for |eta| < 1.2, endcap disks at station_z beyond (the transverse radius where a track
crosses a disk is z / sinh|eta|), acceptance |eta| < 2.4.
On the way: a mean energy loss before each station (calorimeters, coil, iron) scaled by the path
length through the material (cosh eta in the barrel, coth|eta| in the endcaps), with a Gaussian
spread and an exponential (Landau-like) tail; a muon whose momentum would fall below p_exit
before a station ranges out there and leaves no segment in it or beyond. Multiple scattering:
the Highland angle for the radiation lengths before each station, at the mean momentum on the
way, displaces the muon by theta0 * lever / sqrt(3) (independently per station, a simplification)
and tilts its direction by theta0.
Segments: one per station reached, found with segment_eff, measuring eta, phi and the local
bending angle psi (direction relative to the radial one) with their resolutions.
Other sources of segments:
  punch-through  a charged hadron with p > 2 GeV reaches station 1 with probability
                 punch_prob * (1 - exp(-(p - 2) / punch_p0)), each further station with
                 punch_next of the previous; its segments spread by punch_spread around its path;
  decay in flight a charged pion (c tau 7.80 m) or kaon (3.71 m; mu nu 63.6 % + pi0 mu nu 3.4 %)
                 that decays between the tracker and the calorimeter (transverse radius 1.1 to
                 2.9 m) gives a muon along its direction with the energy fraction of the two-body
                 decay (uniform in [(m_mu/m)^2, 1]), which then traverses the muon system as a muon
                 does (the track is the hadron's);
  noise          Poisson(noise_base + noise_per_pileup * <PU>) segments per event (neutrons,
                 photons, electronics), uniform in station, |eta| < 2.4 and phi, psi ~ N(0, 0.1).
"""

from __future__ import annotations

import numpy as np

DETECTOR = {
    "b_tesla": 3.8,
    "r_solenoid": 2.95,
    "pt_min": 0.9,
    "track_eta_max": 2.5,
    "track_eff_muon": 0.99,
    "track_eff_hadron": 0.92,
    "pt_res": [0.008, 0.00015],  # a (1 + |eta|/2) (+) b pT
    "phi_res": [0.0005, 0.002],  # c (+) d / pT
    "eta_res": 0.0005,
    "station_r": [4.2, 5.0, 6.0, 7.1],
    "station_z": [6.9, 8.0, 9.4, 10.6],
    "barrel_eta": 1.2,
    "muon_eta_max": 2.4,
    "eloss": [2.5, 3.0, 3.5, 4.0],  # mean GeV lost before each station, at normal incidence
    "eloss_spread": [0.08, 0.3],  # Gaussian fraction, exponential tail mean [GeV]
    "p_exit": 0.5,
    "x0": [110.0, 150.0, 190.0, 230.0],  # radiation lengths before each station (normal incidence)
    "lever": [1.5, 2.3, 3.3, 4.4],  # metres of material and air over which the scattering acts
    "segment_eff": 0.95,
    "segment_res": {"phi": 0.001, "eta": 0.004, "psi": 0.005},
    "punch_prob": 0.01,
    "punch_p0": 10.0,
    "punch_next": 0.3,
    "punch_spread": 0.05,
    "decay_r": [1.1, 2.9],
    "noise_base": 4.0,
    "noise_per_pileup": 0.55,
}
MUON_MASS = 0.10566
PION = (211, 0.13957, 7.8045, 1.0)  # pdg id, mass, c tau [m], branching fraction to a muon
KAON = (321, 0.493677, 3.712, 0.67)


def k_bend(d=DETECTOR) -> float:
    """0.3 B R_solenoid / 2 [GeV]: a pT below it curls inside the solenoid."""
    return 0.3 * d["b_tesla"] * d["r_solenoid"] / 2


def station_radius(eta: np.ndarray, d=DETECTOR) -> np.ndarray:
    """(n, 4) transverse radius where a straight-in-eta track crosses each station."""
    aeta = np.abs(np.asarray(eta, np.float64))[:, None]
    barrel = np.broadcast_to(np.array(d["station_r"]), (len(aeta), 4))
    endcap = np.array(d["station_z"]) / np.sinh(np.maximum(aeta, 1e-3))
    return np.where(aeta < d["barrel_eta"], barrel, endcap)


def bend(pt: np.ndarray, eta: np.ndarray, d=DETECTOR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(turn, local angle, reaches) at each station, per unit charge: phi_station = phi - q * turn,
    psi = -q * local angle; reaches is False where the track curls before the station."""
    pt = np.asarray(pt, np.float64)[:, None]
    r = station_radius(eta, d)
    rs = d["r_solenoid"]
    x_in = 0.3 * d["b_tesla"] * np.minimum(r, rs) / (2 * pt)
    reaches = x_in < 1
    a_in = np.arcsin(np.clip(x_in, 0, 1))
    local = np.where(r > rs, np.arcsin(np.clip(rs * np.sin(a_in) / r, 0, 1)), a_in)
    turn = np.where(r > rs, 2 * a_in - local, a_in)  # outside: a_in + (a_in - local)
    return turn, local, reaches


def path_factor(eta: np.ndarray, d=DETECTOR) -> np.ndarray:
    aeta = np.abs(np.asarray(eta, np.float64))
    return np.where(aeta < d["barrel_eta"], np.cosh(aeta), 1 / np.tanh(np.maximum(aeta, 1e-3)))


def scattering(p: np.ndarray, eta: np.ndarray, d=DETECTOR) -> tuple[np.ndarray, np.ndarray]:
    """(position sigma in phi/eta [rad], direction sigma [rad]) at each station, (n, 4), for
    momentum p, from the Highland formula at the mean momentum on the way."""
    f = path_factor(eta, d)[:, None]
    x = np.array(d["x0"]) * f
    p_mid = np.maximum(np.asarray(p, np.float64)[:, None] - 0.5 * np.array(d["eloss"]) * f, 0.3)
    theta0 = 0.0136 / p_mid * np.sqrt(x) * (1 + 0.038 * np.log(x))
    r3d = station_radius(eta, d) * np.cosh(np.asarray(eta, np.float64))[:, None]
    return theta0 * np.array(d["lever"]) * f / np.sqrt(3) / r3d, theta0


def pull_sigmas(pt: np.ndarray, eta: np.ndarray, d=DETECTOR) -> tuple[np.ndarray, np.ndarray]:
    """(sigma_phi, sigma_eta) of a muon's segment around its extrapolated track, (n, 4): what a
    pull matching expects: multiple scattering, segment resolution, and the track's own pT and
    angle resolution carried to the station (a pT error turns the bend by the same fraction)."""
    pt, eta = np.asarray(pt, np.float64), np.asarray(eta, np.float64)
    pos, _ = scattering(pt * np.cosh(eta), eta, d)
    res = d["segment_res"]
    a, b = d["pt_res"]
    c, e = d["phi_res"]
    turn = bend(pt, eta, d)[0]
    s_pt = np.hypot(a * (1 + np.abs(eta) / 2), b * pt)[:, None]
    s_phi = np.sqrt(pos**2 + res["phi"] ** 2 + (turn * s_pt) ** 2 + (c**2 + (e / pt[:, None]) ** 2))
    return s_phi, np.sqrt(pos**2 + res["eta"] ** 2 + d["eta_res"] ** 2)


def smear_tracks(pt, eta, phi, charge, is_muon, rng, d=DETECTOR):
    """(found mask, reco pt, eta, phi) of true charged particles."""
    n = len(pt)
    aeta = np.abs(eta)
    acc = (pt > d["pt_min"]) & (aeta < d["track_eta_max"])
    eff = np.where(is_muon, d["track_eff_muon"], d["track_eff_hadron"])
    found = acc & (rng.random(n) < eff)
    a, b = d["pt_res"]
    c, e = d["phi_res"]
    s_pt = np.hypot(a * (1 + aeta / 2), b * pt)
    inv = (1 + s_pt * rng.standard_normal(n)) / pt  # curvature is what is measured
    pt_r = 1 / np.maximum(inv, 1e-3)
    eta_r = eta + d["eta_res"] * rng.standard_normal(n)
    phi_r = phi + np.hypot(c, e / pt) * rng.standard_normal(n)
    return found, pt_r, eta_r, (phi_r + np.pi) % (2 * np.pi) - np.pi


def traverse(p, pt, eta, phi, charge, rng, d=DETECTOR) -> np.ndarray:
    """Segments of muons through the muon system: (m, 5) rows (source index, station 0-3, eta,
    phi, psi), after energy loss, range-out, scattering and segment efficiency."""
    n = len(p)
    if n == 0:
        return np.zeros((0, 5))
    f = path_factor(eta, d)
    lo, tail = d["eloss_spread"]
    loss = np.array(d["eloss"]) * f[:, None] * (1 + lo * rng.standard_normal((n, 4))) + rng.exponential(tail, (n, 4))
    alive = np.cumprod((p[:, None] - loss) > d["p_exit"], axis=1).astype(bool)
    turn, local, reaches = bend(pt, eta, d)
    pos, ang = scattering(p, eta, d)
    res = d["segment_res"]
    ok = alive & reaches & (np.abs(eta) < d["muon_eta_max"])[:, None] & (rng.random((n, 4)) < d["segment_eff"])
    q = charge[:, None]
    sp = phi[:, None] - q * turn + np.hypot(pos, res["phi"]) * rng.standard_normal((n, 4))
    se = eta[:, None] + np.hypot(pos, res["eta"]) * rng.standard_normal((n, 4))
    ps = -q * local + np.hypot(ang, res["psi"]) * rng.standard_normal((n, 4))
    src, st = np.nonzero(ok)
    return np.stack([src, st, se[ok], (sp[ok] + np.pi) % (2 * np.pi) - np.pi, ps[ok]], axis=1)


def punch_through(p, pt, eta, phi, charge, rng, d=DETECTOR) -> np.ndarray:
    """Segments of charged hadrons leaking through the calorimeter, rows as `traverse`."""
    n = len(p)
    prob = np.where(p > 2, d["punch_prob"] * (1 - np.exp(-(p - 2) / d["punch_p0"])), 0.0)
    # station 1 with `prob`, each further one with punch_next of the one before
    chance = np.concatenate([prob[:, None], np.full((n, 3), d["punch_next"])], axis=1)
    reach = np.cumprod(rng.random((n, 4)) < chance, axis=1)
    turn, local, reaches = bend(pt, eta, d)
    ok = reach.astype(bool) & reaches & (np.abs(eta) < d["muon_eta_max"])[:, None]
    s = d["punch_spread"]
    q = charge[:, None]
    sp = phi[:, None] - q * turn + s * rng.standard_normal((n, 4))
    se = eta[:, None] + s * rng.standard_normal((n, 4))
    ps = -q * local + 0.1 * rng.standard_normal((n, 4))
    src, st = np.nonzero(ok)
    return np.stack([src, st, se[ok], (sp[ok] + np.pi) % (2 * np.pi) - np.pi, ps[ok]], axis=1)


def decays_in_flight(pid, p, eta, rng, d=DETECTOR) -> np.ndarray:
    """Muon momentum (0 where none) of charged pions and kaons decaying between tracker and calorimeter."""
    out = np.zeros(len(p))
    r1, r2 = d["decay_r"]
    for code, m, ctau, br in (PION, KAON):
        sel = np.abs(pid) == code
        if not sel.any():
            continue
        lam = p[sel] / m * ctau  # mean 3D decay length
        ch = np.cosh(eta[sel])
        prob = (np.exp(-r1 * ch / lam) - np.exp(-r2 * ch / lam)) * br
        dec = rng.random(sel.sum()) < prob
        x = rng.uniform((MUON_MASS / m) ** 2, 1.0, sel.sum())
        out[np.flatnonzero(sel)[dec]] = (x * p[sel])[dec]
    return out


def noise(n_expected: float, rng, d=DETECTOR) -> np.ndarray:
    """Random segments, rows as `traverse` with source -1."""
    n = rng.poisson(n_expected)
    lim = d["muon_eta_max"]
    return np.stack([np.full(n, -1.0), rng.integers(0, 4, n), rng.uniform(-lim, lim, n), rng.uniform(-np.pi, np.pi, n),
                     0.1 * rng.standard_normal(n)], axis=1)  # fmt: skip
