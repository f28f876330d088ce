"""Photon showers in an HGCAL-like silicon sampling calorimeter, from a parametric (GFlash-like) simulator.

This simulator stands in for Geant4 in the shower-generation zoo entry (models/showers_cc2.toml).
It is itself parametric and fast (well under a millisecond per shower): a speed ratio against it is NOT the
ratio a generative model reaches against Geant4 (the seed's 3.2 s per shower), and is never
presented as one. All numbers below are this module's choices, with the source they follow.

Geometry (CE-E, the electromagnetic section of the CMS HGCAL, CMS-TDR-019):
  26 layers of absorber + 300 µm silicon; 27.7 X0 in total (TDR: ~27.7 X0 for CE-E), taken as
  equal layers of 27.7/26 = 1.065 X0; layer pitch 1.31 cm (34 cm of CE-E over 26 layers); first
  silicon at z = 322 cm from the interaction point (TDR: CE-E front face at z ≈ 3.2 m).
  Hexagonal cells of 1.0 cm² (TDR: 1.18 cm² in 8" low-density wafers, 0.52 cm² high-density),
  pointy-top on a hexagonal lattice, every cell whose centre lies within 12 cm of the axis (about
  4 Molière radii); cell centres are known (`cell_centres()`), and a cell id is
  layer * CELLS_PER_LAYER + index in the layer.

Shower physics (Grindhammer & Peters, "The parameterized simulation of electromagnetic showers in
homogeneous and sampling calorimeters", hep-ex/0001020, homogeneous-medium parametrisation for an
effective medium Z_EFF = 58, critical energy EC_EFF = 11 MeV ≈ 610 MeV / (Z + 1.24), Molière radius
R_M = 2.8 cm, the quoted effective R_M of CE-E):
  longitudinal  Γ profile in depth t [X0], dE/dt ∝ t^(α-1) e^(-βt), with (ln T, ln α) drawn per
                shower from a correlated Gaussian: <ln T> = ln(ln y - 0.812), σ(ln T) =
                1/(-1.4 + 1.26 ln y), <ln α> = ln(0.81 + (0.458 + 2.26/Z) ln y), σ(ln α) =
                1/(-0.58 + 0.86 ln y), ρ = 0.705 - 0.023 ln y, y = E/Ec, β = (α - 1)/T;
  radial        two components in units of R_M at τ = t/T: f(r) = p 2rR_C²/(r²+R_C²)² +
                (1-p) 2rR_T²/(r²+R_T²)², R_C = z1 + z2 τ, R_T = k1 (e^{k3(τ-k2)} + e^{k4(τ-k2)}),
                p = p1 exp((p2-τ)/p3 - exp((p2-τ)/p3)), with z1 = 0.0251 + 0.00319 ln E,
                z2 = 0.1162 - 0.000381 Z, k1 = 0.659 - 0.00309 Z, k2 = 0.645, k3 = -2.59,
                k4 = 0.3585 + 0.0421 ln E, p1 = 2.632 - 0.00094 Z, p2 = 0.401 + 0.00187 Z,
                p3 = 1.313 - 0.0686 ln E (E in GeV);
  energy spots  Poisson(SPOTS_PER_GEV * E) spots per shower (GFlash uses ~93 ln Z E^0.876 spots;
                ours are coarser, like the clustered Geant4 steps of a CaloClouds point cloud);
                each spot's depth from the Γ profile, its radius from f(r) at its depth, its
                azimuth uniform. Spots deeper than the last layer leak and are lost.
  sampling      visible energy E_vis = SAMPLING_FRACTION * E * (1 + STOCHASTIC / sqrt(E/GeV) * G),
                shared among the spots by Gamma(SPOT_SHAPE) weights (HGCAL CE-E test beams:
                stochastic term ≈ 22-24 %/sqrt(E); sampling fraction ≈ 1 %); the silicon layer of a
                spot is the one its depth falls in; energies in MeV, and in MIPs for cells
                (MIP_MEV = 0.085 MeV, the most probable deposit of a MIP in 300 µm of silicon).
Impact point: uniform within ±0.5 cm of the axis in x and y (within a cell); photons travel
along +z from the interaction point.
Hit times [ns, relative to a photon reaching the first silicon layer]: time of flight from the
interaction point at c plus shower development, an exponential delay of mean
DELAY_CORE_NS + DELAY_PER_RM_NS * r/R_M for every spot, and for a fraction LATE_FRACTION of spots an
extra exponential delay of mean LATE_NS (slow shower components: the "tails").
Cells (`digitise`, shared with the generative model's output): each spot deposits in the nearest
cell of its layer (cells beyond the 12 cm disc are lost); a cell's energy is the sum, in MIPs,
plus Gaussian noise NOISE_MIP; its time the energy-weighted mean of its spots, smeared by
σ_t = sqrt((TIME_A_NS / (E/MIP))² + TIME_C_NS²), which improves with energy (HGCAL test beams: a
~20-30 ps constant term); cells below THRESHOLD_MIP are dropped; cells with noise alone above the
threshold are added (Binomial over the empty cells).

Stored (HDF5, cached by the hash of every setting, deterministic per seed; chunks of
CHUNK showers each seeded from (seed, split, chunk)):
  incident_energy (S,)           [GeV], uniform in [e_min, e_max]
  split (S,)                     0 train, 1 test (compared with the models), 2 floor (a second
                                 reference set: the reference-vs-reference floor)
  points (P, 5), point_offsets (S+1,)   POINT_NAMES: x, y [cm], layer, E [MeV visible], t [ns]
  cell_id (H,), cell_energy (H,) [MIP], cell_time (H,) [ns], cell_offsets (S+1,)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

import codesign
from codesign.data.generation import cache_path, check_ints, derived_seed, read_h5, run_chunks, write_h5
from codesign.errors import CodesignError
from codesign.paths import atomic_file
from codesign.spec import Strict

GENERATOR_VERSION = 1
POINT_NAMES = ("x", "y", "layer", "energy", "time")
# Geometry (CE-E)
N_LAYERS = 26
X0_PER_LAYER = 27.7 / N_LAYERS
LAYER_PITCH_CM = 34.0 / N_LAYERS
Z_FRONT_CM = 322.0
CELL_AREA_CM2 = 1.0
RADIUS_CM = 12.0
# Shower physics
Z_EFF = 58.0
EC_EFF_GEV = 0.011
R_MOLIERE_CM = 2.8
SPOTS_PER_GEV = 3.0
SAMPLING_FRACTION = 0.01
STOCHASTIC = 0.23
SPOT_SHAPE = 2.0
MIP_MEV = 0.085
IMPACT_HALF_CM = 0.5
# Timing
C_CM_PER_NS = 29.9792458
DELAY_CORE_NS = 0.01
DELAY_PER_RM_NS = 0.02
LATE_FRACTION = 0.03
LATE_NS = 1.0
TIME_A_NS = 0.3
TIME_C_NS = 0.02
# Digitisation
NOISE_MIP = 0.12
THRESHOLD_MIP = 0.5
CHUNK = 250

PRESETS = {"tiny": dict(n_train=300, n_test=150), "demo": dict(n_train=6000, n_test=2000)}
SETTINGS = {k: v for k, v in globals().items() if k.isupper() and isinstance(v, (int, float))}


class Spec(Strict):
    """Photon showers in an HGCAL-like calorimeter from a parametric GFlash-like simulator (codesign data showers)."""

    dataset: Literal["showers"] = "showers"
    n_train: int = Field(6000, ge=10, description="training showers")
    n_test: int = Field(
        2000, ge=10, description="held-out showers compared with the models (and as many for the floor)"
    )
    e_min: float = Field(10.0, ge=1.0, description="incident photon energy, lower edge [GeV]")
    e_max: float = Field(100.0, le=1000.0, description="incident photon energy, upper edge [GeV]")
    seed: int = 1

    @model_validator(mode="after")
    def _range(self):
        if not self.e_max > self.e_min:
            raise ValueError(f"e_max ({self.e_max}) must be above e_min ({self.e_min})")
        return self


# ----------------------------------------------------------------------------- geometry


def _hex_side() -> float:
    return float(np.sqrt(2 * CELL_AREA_CM2 / (3 * np.sqrt(3))))  # area = 3√3/2 a²


def _lattice(q, r):
    a = _hex_side()
    return a * np.sqrt(3) * (q + r / 2), a * 1.5 * r  # pointy-top hexagons, axial coordinates


def _cells():
    n = int(RADIUS_CM / _hex_side()) + 2
    q, r = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    x, y = _lattice(q.ravel(), r.ravel())
    keep = x**2 + y**2 <= RADIUS_CM**2
    qr = np.stack([q.ravel()[keep], r.ravel()[keep]], 1)
    lookup = np.full((2 * n + 1, 2 * n + 1), -1, np.int64)
    lookup[qr[:, 0] + n, qr[:, 1] + n] = np.arange(len(qr))
    return np.stack([x[keep], y[keep]], 1), lookup, n


CENTRES, _LOOKUP, _N = _cells()
P_NOISE = 0.5 * math.erfc(THRESHOLD_MIP / NOISE_MIP / math.sqrt(2))  # a cell's noise alone above threshold
CELLS_PER_LAYER = len(CENTRES)
N_CELLS = CELLS_PER_LAYER * N_LAYERS


def cell_centres() -> np.ndarray:
    """(CELLS_PER_LAYER, 2) cell centres [cm] of one layer (the same in every layer)."""
    return CENTRES.copy()


def layer_z(layer) -> np.ndarray:
    return Z_FRONT_CM + LAYER_PITCH_CM * np.asarray(layer)


def nearest_cell(x, y) -> np.ndarray:
    """Index in the layer of the hexagonal cell containing (x, y); -1 outside the instrumented disc."""
    a = _hex_side()
    qf = (np.sqrt(3) / 3 * x - y / 3) / a
    rf = (2.0 / 3 * y) / a
    sf = -qf - rf
    q, r, s = np.round(qf), np.round(rf), np.round(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    qi, ri = q.astype(np.int64) + _N, r.astype(np.int64) + _N
    inside = (qi >= 0) & (qi <= 2 * _N) & (ri >= 0) & (ri <= 2 * _N)
    out = np.full(np.shape(x), -1, np.int64)
    out[inside] = _LOOKUP[qi[inside], ri[inside]]
    return out


# ----------------------------------------------------------------------------- showers


def _longitudinal(e_gev, rng):
    """Per-shower (α, β) of the Γ profile, with GFlash's correlated fluctuations."""
    lny = np.log(e_gev / EC_EFF_GEV)
    mu_t, mu_a = np.log(lny - 0.812), np.log(0.81 + (0.458 + 2.26 / Z_EFF) * lny)
    s_t, s_a = 1 / (-1.4 + 1.26 * lny), 1 / (-0.58 + 0.86 * lny)
    rho = 0.705 - 0.023 * lny
    g1, g2 = rng.standard_normal((2, len(e_gev)))
    ln_t = mu_t + s_t * g1
    ln_a = mu_a + s_a * (rho * g1 + np.sqrt(1 - rho**2) * g2)
    t, alpha = np.exp(ln_t), np.exp(ln_a)
    return alpha, (alpha - 1) / t, t


def _radius_rm(tau, e_gev, rng):
    """Spot radius [R_M] from GFlash's two-component radial profile at relative depth τ."""
    z, ln_e = Z_EFF, np.log(e_gev)
    rc = 0.0251 + 0.00319 * ln_e + (0.1162 - 0.000381 * z) * tau
    k4 = 0.3585 + 0.0421 * ln_e
    rt = (0.659 - 0.00309 * z) * (np.exp(-2.59 * (tau - 0.645)) + np.exp(k4 * (tau - 0.645)))
    p2, p3 = 0.401 + 0.00187 * z, 1.313 - 0.0686 * ln_e
    p = np.clip((2.632 - 0.00094 * z) * np.exp((p2 - tau) / p3 - np.exp((p2 - tau) / p3)), 0, 1)
    radius = np.where(rng.random(len(tau)) < p, rc, rt)
    u = rng.uniform(0, 0.999, len(tau))
    return radius * np.sqrt(u / (1 - u))  # inverse CDF of 2rR²/(r²+R²)²


def simulate(energies: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points (P, 5) (POINT_NAMES) and offsets (S+1,) of photon showers of `energies` [GeV]."""
    energies = np.asarray(energies, np.float64)
    s = len(energies)
    alpha, beta, t_max = _longitudinal(energies, rng)
    n = rng.poisson(SPOTS_PER_GEV * energies)
    shower = np.repeat(np.arange(s), n)
    e_vis = SAMPLING_FRACTION * energies * 1e3 * (1 + STOCHASTIC / np.sqrt(energies) * rng.standard_normal(s))
    w = rng.gamma(SPOT_SHAPE, 1.0, len(shower))
    w_sum = np.bincount(shower, w, minlength=s)
    energy = np.maximum(e_vis, 0)[shower] * w / np.maximum(w_sum[shower], 1e-30)
    depth = rng.gamma(alpha[shower], 1.0 / beta[shower])  # [X0]
    r = _radius_rm(depth / t_max[shower], energies[shower], rng) * R_MOLIERE_CM
    phi = rng.uniform(0, 2 * np.pi, len(shower))
    x0, y0 = rng.uniform(-IMPACT_HALF_CM, IMPACT_HALF_CM, (2, s))
    x, y = x0[shower] + r * np.cos(phi), y0[shower] + r * np.sin(phi)
    layer = np.floor(depth / X0_PER_LAYER)
    z = layer_z(layer)
    tof = (np.sqrt(x**2 + y**2 + z**2) - Z_FRONT_CM) / C_CM_PER_NS
    delay = rng.exponential(DELAY_CORE_NS + DELAY_PER_RM_NS * r / R_MOLIERE_CM)
    delay += (rng.random(len(shower)) < LATE_FRACTION) * rng.exponential(LATE_NS, len(shower))
    points = np.stack([x, y, layer, energy, tof + delay], 1)
    keep = layer < N_LAYERS
    points, shower = points[keep], shower[keep]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(shower, minlength=s))])
    return points.astype(np.float32), offsets


def digitise(points: np.ndarray, offsets: np.ndarray, rng: np.random.Generator) -> dict:
    """Points -> cell hits: nearest cell, energy sum in MIPs plus noise, energy-weighted time with
    resolution, threshold; noise-only hits added. Keys: cell_id, cell_energy, cell_time, cell_offsets."""
    s = len(offsets) - 1
    shower = np.repeat(np.arange(s), np.diff(offsets))
    layer = np.clip(np.round(points[:, 2]).astype(np.int64), 0, N_LAYERS - 1)
    cell = nearest_cell(points[:, 0].astype(np.float64), points[:, 1].astype(np.float64))
    ok = cell >= 0
    cid = layer[ok] * CELLS_PER_LAYER + cell[ok]
    key = shower[ok] * N_CELLS + cid
    uniq, inv = np.unique(key, return_inverse=True)
    e = points[ok, 3].astype(np.float64) / MIP_MEV
    e_cell = np.bincount(inv, e, minlength=len(uniq))
    t_cell = np.bincount(inv, e * points[ok, 4], minlength=len(uniq)) / np.maximum(e_cell, 1e-30)
    e_cell = e_cell + NOISE_MIP * rng.standard_normal(len(uniq))
    # Noise-only hits above threshold among the empty cells of each shower.
    n_noise = rng.binomial(N_CELLS, P_NOISE, s)
    nkey = np.repeat(np.arange(s), n_noise) * N_CELLS + rng.integers(0, N_CELLS, n_noise.sum())
    nkey = nkey[~np.isin(nkey, uniq)]
    ne = THRESHOLD_MIP + rng.exponential(NOISE_MIP**2 / THRESHOLD_MIP, len(nkey))  # Gaussian tail above threshold
    nt = np.zeros(len(nkey))  # pure noise carries no time; smeared like any hit below
    keys = np.concatenate([uniq, nkey])
    e_all, t_all = np.concatenate([e_cell, ne]), np.concatenate([t_cell, nt])
    sigma_t = np.sqrt((TIME_A_NS / np.maximum(e_all, THRESHOLD_MIP)) ** 2 + TIME_C_NS**2)
    t_all = t_all + sigma_t * rng.standard_normal(len(keys))
    keep = e_all >= THRESHOLD_MIP
    keys, e_all, t_all = keys[keep], e_all[keep], t_all[keep]
    order = np.argsort(keys, kind="stable")
    keys, e_all, t_all = keys[order], e_all[order], t_all[order]
    counts = np.bincount(keys // N_CELLS, minlength=s)
    return {"cell_id": (keys % N_CELLS).astype(np.int32), "cell_energy": e_all.astype(np.float32),
            "cell_time": t_all.astype(np.float32), "cell_offsets": np.concatenate([[0], np.cumsum(counts)])}  # fmt: skip


# ----------------------------------------------------------------------------- the file


def _meta(spec: Spec) -> dict:
    return {**spec.model_dump(mode="json"), "generator_version": GENERATOR_VERSION,
            "codesign_version": codesign.__version__}  # fmt: skip


def dataset_path(spec: Spec) -> Path:
    return cache_path("showers", {**_meta(spec), "settings": SETTINGS})


def _run_chunk(task, report) -> dict:
    split, k, n, e_min, e_max, seed = task
    rng = np.random.default_rng(seed)
    energies = rng.uniform(e_min, e_max, n)
    points, offsets = simulate(energies, rng)
    cells = digitise(points, offsets, rng)
    report(split, n)
    return {"incident_energy": energies, "split": np.full(n, split, np.int8), "points": points,
            "point_offsets": offsets, **cells}  # fmt: skip


def _concat(parts: list[dict]) -> dict:
    out = {}
    for k in parts[0]:
        if k.endswith("_offsets"):
            ends = np.cumsum([p[k][-1] for p in parts])
            starts = np.concatenate([[0], ends[:-1]])
            out[k] = np.concatenate([[0]] + [p[k][1:] + s for p, s in zip(parts, starts, strict=True)]).astype(np.int64)
        else:
            out[k] = np.concatenate([p[k] for p in parts])
    return out


def generate(spec: Spec, workers: int = 1, progress: bool = True) -> Path:
    check_ints("showers", ("n_train", spec.n_train, 1), ("n_test", spec.n_test, 1), ("seed", spec.seed, 0),
               ("workers", workers, 1))  # fmt: skip
    path = dataset_path(spec)
    if path.exists():
        return path
    sizes = {0: spec.n_train, 1: spec.n_test, 2: spec.n_test}
    tasks = [(split, k, min(CHUNK, n - start), spec.e_min, spec.e_max, derived_seed("showers", spec.seed, split, k))
             for split, n in sizes.items() for k, start in enumerate(range(0, n, CHUNK))]  # fmt: skip
    bars = [(f"showers {name}", sizes[i]) for i, name in enumerate(("train", "test", "floor"))]
    arrays = _concat(run_chunks(_run_chunk, tasks, workers, bars, progress))
    with atomic_file(path) as tmp:
        write_h5(tmp, arrays, {**_meta(spec), "settings": SETTINGS, "point_names": list(POINT_NAMES)})
    return path


def add_cli(p) -> None:
    p.add_argument("--preset", choices=list(PRESETS), default="demo")
    p.add_argument("--n-train", type=int, help="training showers (overrides the preset)")
    p.add_argument("--n-test", type=int, help="test showers, and as many floor showers (overrides the preset)")
    p.add_argument("--e-min", type=float, default=10.0, help="incident energy, lower edge [GeV]")
    p.add_argument("--e-max", type=float, default=100.0, help="incident energy, upper edge [GeV]")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=1)


def from_cli(args) -> Path:
    from pydantic import ValidationError

    cfg = dict(PRESETS[args.preset])
    for k in ("n_train", "n_test"):
        if getattr(args, k) is not None:
            cfg[k] = getattr(args, k)
    try:
        spec = Spec(**cfg, e_min=args.e_min, e_max=args.e_max, seed=args.seed)
    except ValidationError as e:
        err = e.errors()[0]
        raise CodesignError(f"showers: {'.'.join(map(str, err['loc'])) or 'energy range'}: {err['msg']}") from None
    return generate(spec, workers=args.workers)


def from_spec(spec) -> Path:
    return generate(spec)


def load(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: no such showers dataset")
    arrays, attrs = read_h5(path)
    return {**arrays, "attrs": attrs}


def select(data: dict, split: int) -> dict:
    """The showers of one split: incident_energy, points and cells re-offset (ragged arrays)."""
    idx = np.flatnonzero(data["split"] == split)
    out = {"incident_energy": data["incident_energy"][idx]}
    for rows, offs in (("points", "point_offsets"), ("cell_id", "cell_offsets")):
        o = data[offs]
        counts = o[idx + 1] - o[idx]
        take = np.concatenate([np.arange(o[i], o[i + 1]) for i in idx]) if len(idx) else np.zeros(0, np.int64)
        names = ("points",) if rows == "points" else ("cell_id", "cell_energy", "cell_time")
        for name in names:
            out[name] = data[name][take]
        out[offs] = np.concatenate([[0], np.cumsum(counts)])
    return out
