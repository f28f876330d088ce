"""Heavy-flavour jets (b, c, light, gluon): AK4 jets with track impact parameters and SVs.

Pythia 8 (`pythia8mc`, 13 TeV pp, default tune with MPI and hadronisation) generates two samples,
fastjet clusters them, and this module writes per jet its candidates, secondary vertices and label.

Samples (equal numbers of events, `n_events` each):
  ttbar  Top:gg2ttbar + Top:qqbar2ttbar, inclusive top and W decays (b jets, c and light from W).
  qcd    HardQCD:all with pTHatMin 40 GeV (light and gluon jets; b and c from g->bb/cc and hard bb/cc).
Jets: anti-kT R = 0.4 on visible final-state particles (no neutrinos) with |eta| < 2.5; kept if
30 < pT < 1000 GeV and |eta| < 2.4.
Labels (ΔR matching to the jet axis, hadron flavour first, then parton flavour):
  b      a b hadron with pT > 5 GeV within ΔR < 0.4;
  c      else a c hadron with pT > 5 GeV within ΔR < 0.4;
  light / g  else the highest-pT parton (|status| 21-59: hard process, MPI, showers; pT > 5 GeV)
         within ΔR < 0.4: u/d/s (or a c/b parton without its hadron) -> light, gluon -> g.
  Jets without any match are dropped.
Candidates (up to MAX_CANDIDATES per jet, by pT), columns CANDIDATE_NAMES:
  pt, e [GeV], deta, dphi (to the jet axis), charge, pdgid; for charged candidates the transverse
  and longitudinal impact parameters d0, z0 [mm] and their significances. They are computed from
  Pythia's true production vertex (vProd, mm; the primary vertex is the origin) for a straight
  track (no magnetic field): d0 = |point of closest transverse approach|, signed positive when
  that point lies in front of the jet axis (lifetime sign), z0 = z at that point. Each is
  smeared with a Gaussian tracker resolution
      σ_d0 = sqrt(10² + (30 / pT[GeV])²) µm,   σ_z0 = sqrt(30² + (60 / pT[GeV])²) µm
  and the significance is the smeared value over σ. Neutral candidates have 0 for all four.
Secondary vertices (up to MAX_SVS per jet, by flight-distance significance), SV_NAMES: truth
  vertices, smeared. Charged candidates of the jet are grouped by their true production vertex;
  a group of >= 2 tracks away from the primary vertex is a vertex (b/c hadron decays, and also
  K0S/Λ decays, as a real vertex finder sees them). Its flight distance (transverse, 3D) is
  smeared with σ = 50 µm (transverse) and 100 µm (3D), per vertex, and the vertex is kept
  if the smeared 3D flight distance exceeds 3σ; mass and pT are those of its
  tracks (true momenta), plus the track count, ΔR to the jet axis and energy fraction in the jet.
The file is deterministic: every chunk of events is an independent Pythia run seeded from
(seed, sample, chunk), and the smearing is seeded the same way.

Mis-modelled "data" (`mismodel = "data"`, `codesign data flavour --mismodel data`): a stand-in for
collision data, to measure data/simulation differences of a tagger trained on the nominal sample.
Every shift is in MISMODEL["data"] (and so in the file's name hash and attributes):
  tune            Pythia `Tune:pp = 21` (ATLAS A14, NNPDF2.3 LO) instead of the default Monash 2013
                  (14): different showers, MPI and hadronisation (fragmentation, multiplicities).
  ip_resolution   d0 and z0 smeared with 1.2x the nominal σ, and a non-Gaussian tail: 5% of charged
                  candidates with 4x that σ (mis-measured tracks); the significances still divide
                  by the nominal σ, as a reconstruction that assumes the simulated resolution does.
  track_eff       each charged candidate is lost with probability 3% (track efficiency 0.97 of the
                  simulation's): it disappears from the candidates and from the SV finding.
  sv_eff          each found secondary vertex is lost with probability 7%.
  neutral_scale   neutral (calorimeter) candidates' pT and E x 1.05 (a calorimeter energy scale).
  jet_scale       jet pT, E and mass x 1.02 (jet energy scale; the jet selection stays on the unscaled
                  pT, so the same jets are selected as in simulation for the same events).
The "data" sample is seeded apart from the simulation of the same `seed` (the variant name joins the
per-chunk seeds), so the two share no events. The default (`mismodel = "none"`) is the nominal
simulation, and its file name hash is what it was before the variant existed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

import codesign
from codesign.data.events import ChargeTable, new_pythia, quiet_stdout, wrap_phi
from codesign.data.generation import (
    add_size_cli,
    assemble,
    cache_path,
    check_ints,
    derived_seed,
    read_h5,
    run_chunks,
    size_from_cli,
    write_h5,
)
from codesign.errors import CodesignError
from codesign.paths import atomic_file
from codesign.spec import Strict, keyless_default


class Spec(Strict):
    """Heavy-flavour AK4 jets (codesign data flavour): b, c, light, gluon."""

    dataset: Literal["flavour"] = "flavour"
    n_events: int = Field(5000, ge=1, description="Pythia events per sample (ttbar, QCD)")
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = 1
    # Not in a card's key while "none": nominal cards keep the keys they had (spec.keyless_default).
    mismodel: Literal["none", "data"] = keyless_default(
        "none", description='"data": the mis-modelled stand-in for collision data (module docstring)'
    )


GENERATOR_VERSION = 1
CLASS_NAMES = ["b", "c", "light", "g"]
CANDIDATE_NAMES = ["pt", "e", "deta", "dphi", "charge", "pdgid", "d0", "z0", "d0sig", "z0sig"]
SV_NAMES = ["lxy", "l3d", "lxy_sig", "l3d_sig", "mass", "ntracks", "pt", "dr", "efrac"]
JET_NAMES = ["pt", "eta", "phi", "mass", "n_candidates"]
MAX_CANDIDATES = 32
MAX_SVS = 4
PRESETS = {"tiny": 400, "demo": 5000}  # events per sample

SETTINGS = {
    "samples": {
        "ttbar": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on"],
        "qcd": ["HardQCD:all = on", "PhaseSpace:pTHatMin = 40"],
    },
    "pythia_common": ["Beams:eCM = 13000", "Print:quiet = on", "Next:numberCount = 0"],
    "constituent_max_abs_eta": 2.5,
    "jet_r": 0.4,
    "jet_pt_min": 30.0,
    "jet_pt_max": 1000.0,
    "jet_max_abs_eta": 2.4,
    "match_dr": 0.4,
    "hadron_pt_min": 5.0,
    "parton_pt_min": 5.0,
    "d0_res_um": [10.0, 30.0],  # sqrt(a^2 + (b/pT)^2)
    "z0_res_um": [30.0, 60.0],
    "sv_res_um": [50.0, 100.0],  # transverse, 3D
    "sv_min_l3d_sig": 3.0,
    "chunk_events": 200,
}
# The mis-modelled "data" variant (module docstring); "none" is the nominal simulation.
MISMODEL = {
    "data": {
        "pythia": ["Tune:pp = 21"],
        "ip_resolution_scale": 1.2,
        "ip_tail_fraction": 0.05,
        "ip_tail_scale": 4.0,
        "track_efficiency": 0.97,
        "sv_efficiency": 0.93,
        "neutral_energy_scale": 1.05,
        "jet_energy_scale": 1.02,
    }
}
MISMODELS = ("none", *MISMODEL)
_NEUTRINOS = (12, 14, 16)


# ----------------------------------------------------------------------------- public API


def dataset_path(n_events: int, seed: int, mismodel: str = "none") -> Path:
    _check(n_events, seed, mismodel)
    return cache_path("flavour", _key(n_events, seed, mismodel))


def generate(n_events: int, seed: int = 1, workers: int = 2, progress: bool = True, mismodel: str = "none") -> Path:
    """Generate (or reuse) the data set: `n_events` per sample; returns the HDF5 path.

    `mismodel="data"` gives the mis-modelled stand-in for collision data (module docstring).
    """
    path = dataset_path(n_events, seed, mismodel)
    if path.exists():
        return path
    tasks = []
    variant = () if mismodel == "none" else (mismodel,)  # "data" shares no seed with the simulation
    for sample in SETTINGS["samples"]:
        for c, start in enumerate(range(0, n_events, SETTINGS["chunk_events"])):
            n = min(SETTINGS["chunk_events"], n_events - start)
            tasks.append((sample, c, n, derived_seed("flavour", seed, sample, c, *variant), mismodel))
    what = "flavour events" + ("" if mismodel == "none" else f' ("{mismodel}")')
    chunks = run_chunks(_chunk, tasks, workers, [(what, sum(t[2] for t in tasks))], progress)
    arrays = assemble(chunks, seed)
    names = {"class_names": CLASS_NAMES, "candidate_names": CANDIDATE_NAMES, "sv_names": SV_NAMES, "jet_names": JET_NAMES,
             "sample_names": list(SETTINGS["samples"])}  # fmt: skip
    with atomic_file(path) as tmp:
        write_h5(tmp, arrays, {**_key(n_events, seed, mismodel), **names})
    return path


def from_spec(spec) -> Path:
    return generate(spec.n_events, seed=spec.seed, mismodel=spec.mismodel)


def add_cli(p) -> None:
    add_size_cli(p, PRESETS, "n_events", "events per sample")
    p.add_argument("--mismodel", choices=MISMODELS, default="none",
                   help='"data": the mis-modelled stand-in for collision data (shifts in codesign/data/flavour.py)')  # fmt: skip


def from_cli(args) -> Path:
    return generate(size_from_cli(args, PRESETS, "n_events"), seed=args.seed, workers=args.workers,
                    mismodel=args.mismodel)  # fmt: skip


def load(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: no such flavour dataset")
    out, attrs = read_h5(path, ("candidates", "mask", "svs", "sv_mask", "jets", "labels", "sample"))
    out.update(class_names=attrs["class_names"], candidate_names=attrs["candidate_names"],
               sv_names=attrs["sv_names"], jet_names=attrs["jet_names"], attrs=attrs)  # fmt: skip
    return out


# ----------------------------------------------------------------------------- orchestration


def _check(n_events, seed, mismodel="none"):
    check_ints("flavour", ("n_events", n_events, 1), ("seed", seed, 0))
    if mismodel not in MISMODELS:
        raise CodesignError(f"flavour: mismodel must be one of {', '.join(MISMODELS)}, got {mismodel!r}")


def _key(n_events, seed, mismodel):
    """What the file's name hashes and its attributes hold; the nominal key is the one from before the variant."""
    key = {**_meta(n_events, seed), "settings": SETTINGS}
    return key if mismodel == "none" else {**key, "mismodel": {"name": mismodel, **MISMODEL[mismodel]}}


def _meta(n_events, seed):
    return {"n_events": int(n_events), "seed": int(seed), "generator_version": GENERATOR_VERSION,
            "codesign_version": codesign.__version__}  # fmt: skip


# ----------------------------------------------------------------------------- one chunk


def _chunk(task, report) -> dict:
    """The jets of one chunk (sample, chunk, n_events, pythia_seed); report(0, n) tells the progress bar."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _generate(*task, report)


def _generate(sample, chunk, n_events, pythia_seed, mismodel, report) -> dict:
    mis = MISMODEL.get(mismodel)
    settings = [*SETTINGS["pythia_common"], *SETTINGS["samples"][sample], *(mis["pythia"] if mis else [])]
    pythia = new_pythia(settings, pythia_seed, "flavour", f"sample {sample}")
    charge_of = ChargeTable(pythia)
    rng = np.random.default_rng(pythia_seed)
    rows = []
    for start in range(0, n_events, 100):
        n = min(100, n_events - start)
        rows += _jets(pythia.nextBatch(n, 10.0), charge_of, rng, mis)
        report(0, n)
    s = list(SETTINGS["samples"]).index(sample)
    if not rows:
        return _empty(s)
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]} | {"sample": np.full(len(rows), s, np.int8)}


def _empty(s):
    return {"candidates": np.zeros((0, MAX_CANDIDATES, len(CANDIDATE_NAMES)), np.float32),
            "mask": np.zeros((0, MAX_CANDIDATES), bool), "svs": np.zeros((0, MAX_SVS, len(SV_NAMES)), np.float32),
            "sv_mask": np.zeros((0, MAX_SVS), bool), "jets": np.zeros((0, len(JET_NAMES)), np.float32),
            "labels": np.zeros(0, np.int64), "sample": np.zeros(0, np.int8)}  # fmt: skip


def _flavour_of_hadron(ida: np.ndarray) -> np.ndarray:
    """Heaviest quark of a hadron PDG id (5 b, 4 c, else < 4): digits of q1 (meson) / q1 (baryon)."""
    return np.maximum((ida // 100) % 10, (ida // 1000) % 10) * (ida > 100)


def _jets(events, charge_of, rng, mis=None) -> list[dict]:
    """Cluster, label and describe the jets of a batch of events (one dict per kept jet); `mis`: MISMODEL entry."""
    import awkward as ak
    import fastjet

    prt = events.prt
    n_per = ak.to_numpy(ak.num(prt.id))
    # vProd is missing (None) for particles without a vertex of their own: the origin (primary vertex).
    flat = {k: ak.to_numpy(ak.fill_none(ak.flatten(v), 0.0)).astype(np.float64) for k, v in (
        ("px", prt.p.px), ("py", prt.p.py), ("pz", prt.p.pz), ("e", prt.p.e), ("x", prt.vProd.px),
        ("y", prt.vProd.py), ("z", prt.vProd.pz))}  # fmt: skip
    pid = ak.to_numpy(ak.flatten(prt.id)).astype(np.int64)
    status = ak.to_numpy(ak.flatten(prt.status)).astype(np.int64)
    pt = np.hypot(flat["px"], flat["py"])
    eta = np.arcsinh(flat["pz"] / np.where(pt > 0, pt, 1e-9))
    phi = np.arctan2(flat["py"], flat["px"])
    ev_of = np.repeat(np.arange(len(n_per)), n_per)
    ida = np.abs(pid)

    visible = (status > 0) & (pt > 0) & (np.abs(eta) < SETTINGS["constituent_max_abs_eta"]) & ~np.isin(ida, _NEUTRINOS)
    vis_idx = np.flatnonzero(visible)
    vis_counts = np.bincount(ev_of[vis_idx], minlength=len(n_per))
    vec = ak.unflatten(ak.zip({k: flat[k][vis_idx] for k in ("px", "py", "pz")} | {"E": flat["e"][vis_idx]}),
                       vis_counts)  # fmt: skip
    with quiet_stdout():
        seq = fastjet.ClusterSequence(vec, fastjet.JetDefinition(fastjet.antikt_algorithm, SETTINGS["jet_r"]))
        jets = seq.inclusive_jets(min_pt=SETTINGS["jet_pt_min"])
        index = seq.constituent_index(min_pt=SETTINGS["jet_pt_min"])
    vis_start = np.concatenate([[0], np.cumsum(vis_counts)])[:-1]

    # Truth objects for labels, with their event.
    hf = _flavour_of_hadron(ida)
    had = (pt > SETTINGS["hadron_pt_min"]) & (hf >= 4)
    parton = (
        ((ida <= 5) | (ida == 21)) & (np.abs(status) >= 21) & (np.abs(status) <= 59) & (pt > SETTINGS["parton_pt_min"])
    )
    truth = np.flatnonzero(had | parton)

    out = []
    r = SETTINGS["match_dr"]
    for ev in range(len(n_per)):
        tr = truth[ev_of[truth] == ev]
        for j in range(len(jets[ev])):
            jet = jets[ev][j]
            jpx, jpy, jpz, je = float(jet.px), float(jet.py), float(jet.pz), float(jet.E)
            jpt = np.hypot(jpx, jpy)
            jeta, jphi = np.arcsinh(jpz / jpt), np.arctan2(jpy, jpx)
            if not (jpt < SETTINGS["jet_pt_max"] and abs(jeta) < SETTINGS["jet_max_abs_eta"]):
                continue
            dr = np.hypot(eta[tr] - jeta, wrap_phi(phi[tr] - jphi))
            near = tr[dr < r]
            label = _label(near, hf, had, parton, ida, pt)
            if label is None:
                continue
            cons = np.asarray(index[ev][j], np.int64) + vis_start[ev]
            cidx = vis_idx[cons]
            out.append(
                _describe(cidx, (jpx, jpy, jpz, je, jpt, jeta, jphi), flat, pt, eta, phi, pid, charge_of, rng, mis)
                | {"labels": label}
            )
    return out


def _label(near, hf, had, parton, ida, pt):
    if np.any(had[near] & (hf[near] == 5)):
        return 0
    if np.any(had[near] & (hf[near] == 4)):
        return 1
    partons = near[parton[near]]
    if len(partons) == 0:
        return None
    lead = partons[np.argmax(pt[partons])]
    return 3 if ida[lead] == 21 else 2


def _describe(cidx, jet, flat, pt, eta, phi, pid, charge_of, rng, mis=None) -> dict:
    """Candidate and SV arrays of one jet (padded), plus its kinematics; `mis` shifts them (module docstring)."""
    jpx, jpy, jpz, je, jpt, jeta, jphi = jet
    cidx = cidx[np.argsort(-pt[cidx], kind="stable")]
    q = charge_of(pid[cidx])
    if mis:  # lost tracks: gone from the candidates and from the vertex finding
        keep = (q == 0) | (rng.random(len(cidx)) < mis["track_efficiency"])
        cidx, q = cidx[keep], q[keep]
    cpt = pt[cidx]
    x, y, z = flat["x"][cidx], flat["y"][cidx], flat["z"][cidx]
    ux, uy = flat["px"][cidx] / cpt, flat["py"][cidx] / cpt
    s = x * ux + y * uy  # path to the transverse point of closest approach (straight track)
    pcax, pcay = x - s * ux, y - s * uy
    d0 = np.hypot(pcax, pcay) * np.where(pcax * jpx + pcay * jpy >= 0, 1.0, -1.0)
    z0 = z - s * flat["pz"][cidx] / cpt
    a, b = SETTINGS["d0_res_um"]
    sd0 = 1e-3 * np.sqrt(a**2 + (b / cpt) ** 2)
    a, b = SETTINGS["z0_res_um"]
    sz0 = 1e-3 * np.sqrt(a**2 + (b / cpt) ** 2)
    charged = q != 0
    widen = 1.0
    if mis:  # worse resolution than simulated, with a non-Gaussian tail; significances use the nominal σ
        tail = rng.random(len(cidx)) < mis["ip_tail_fraction"]
        widen = mis["ip_resolution_scale"] * np.where(tail, mis["ip_tail_scale"], 1.0)
    d0m = np.where(charged, d0 + rng.normal(size=len(cidx)) * sd0 * widen, 0.0)
    z0m = np.where(charged, z0 + rng.normal(size=len(cidx)) * sz0 * widen, 0.0)
    energy_scale = np.where(charged, 1.0, mis["neutral_energy_scale"]) if mis else 1.0
    cand = np.stack([cpt * energy_scale, flat["e"][cidx] * energy_scale, eta[cidx] - jeta, wrap_phi(phi[cidx] - jphi), q,
                     pid[cidx].astype(np.float64),
                     d0m, z0m, np.where(charged, d0m / sd0, 0.0), np.where(charged, z0m / sz0, 0.0)], axis=1)  # fmt: skip
    n = min(len(cidx), MAX_CANDIDATES)
    cands = np.zeros((MAX_CANDIDATES, len(CANDIDATE_NAMES)), np.float32)
    cands[:n] = cand[:n]
    mask = np.zeros(MAX_CANDIDATES, bool)
    mask[:n] = True
    svs, sv_mask = _svs(cidx[charged], flat, pt, jet, rng, mis)
    m2 = je**2 - jpx**2 - jpy**2 - jpz**2
    jes = mis["jet_energy_scale"] if mis else 1.0
    jetrow = np.array([jpt * jes, jeta, jphi, np.sqrt(max(m2, 0.0)) * jes, len(cidx)], np.float32)
    return {"candidates": cands, "mask": mask, "svs": svs, "sv_mask": sv_mask, "jets": jetrow}


def _svs(tracks, flat, pt, jet, rng, mis=None):
    """Truth vertices of >= 2 displaced charged tracks of the jet, smeared (module docstring)."""
    jpx, jpy, jpz, je, jpt, jeta, jphi = jet
    out = np.zeros((MAX_SVS, len(SV_NAMES)), np.float32)
    mask = np.zeros(MAX_SVS, bool)
    pos = np.stack([flat["x"][tracks], flat["y"][tracks], flat["z"][tracks]], axis=1)
    displaced = np.abs(pos).sum(axis=1) > 0
    if displaced.sum() < 2:
        return out, mask
    tracks, pos = tracks[displaced], pos[displaced]
    keys, inverse = np.unique(np.round(pos, 9), axis=0, return_inverse=True)
    rows = []
    sxy, s3 = (v * 1e-3 for v in SETTINGS["sv_res_um"])
    jes = mis["jet_energy_scale"] if mis else 1.0
    for v in range(len(keys)):
        members = tracks[inverse.ravel() == v]
        if len(members) < 2:
            continue
        vx, vy, vz = keys[v]
        lxy = np.hypot(vx, vy) * (1.0 if vx * jpx + vy * jpy >= 0 else -1.0) + rng.normal() * sxy
        l3d = np.sqrt(vx**2 + vy**2 + vz**2) + rng.normal() * s3
        p4 = np.array([flat[k][members].sum() for k in ("px", "py", "pz", "e")])
        mass = np.sqrt(max(p4[3] ** 2 - (p4[:3] ** 2).sum(), 0.0))
        spt = np.hypot(p4[0], p4[1])
        seta, sphi = np.arcsinh(p4[2] / spt), np.arctan2(p4[1], p4[0])
        dr = np.hypot(seta - jeta, wrap_phi(sphi - jphi))
        if abs(l3d) / s3 < SETTINGS["sv_min_l3d_sig"]:  # a vertex finder would not resolve it from the PV
            continue
        if mis and rng.random() >= mis["sv_efficiency"]:  # "data": a vertex the finder loses
            continue
        rows.append([lxy, l3d, lxy / sxy, l3d / s3, mass, len(members), spt, dr, p4[3] / (je * jes)])
    if not rows:
        return out, mask
    rows = np.array(rows)
    rows = rows[np.argsort(-np.abs(rows[:, 3]), kind="stable")][:MAX_SVS]
    out[: len(rows)] = rows
    mask[: len(rows)] = True
    return out, mask
