"""Tracker-muon events: Pythia 8 prompt and non-prompt muons with pileup, tracks and muon segments.

Samples (`sample`):
  physics  equal shares of Z -> mu mu, W -> mu nu, ttbar (inclusive) and heavy-flavour QCD
           (gg/qqbar -> bbbar, ccbar, pTHat > 30 GeV; b and c hadrons decay semileptonically at
           Pythia's branching fractions), 14 TeV;
  gun      a muon gun like the seed's: two muons of random charge per event, pT log-uniform in
           [2, 200] GeV, |eta| < 2.5, phi uniform (no hard-process Pythia run).
Pileup: Poisson(<PU>) minimum-bias events per event, drawn with replacement from the cached pool
that the MET data uses (data/met.py: SoftQCD:nonDiffractive at 14 TeV), each rotated by a random
phi. At <PU> = 42 (the demo preset) an event has ~330 tracks (pT > 0.9 GeV) and ~35 segments.
Detector: data/muon_detector.py (tracker smearing and efficiency; four muon stations with energy
loss, range-out, multiple scattering; punch-through, pi/K decays in flight, noise segments).
Truth: a muon's origin is the first ancestor that is not itself (Z, W, tau: prompt; a b or c
hadron, or a quarkonium: heavy flavour; else other). Label (the tracker-muon definition): a track
whose particle is a muon that left segments of its own in at least two stations. Everything else
is a non-muon, including the hadron tracks of decays in flight and punch-through.

Stored (HDF5, flat arrays with per-event counts; tracks sorted by pT, segments by station):
  tracks (T, 4)          pt [GeV], eta, phi, charge (reconstructed)
  track_label (T,)       1 = muon; track_origin (T,) index into ORIGINS; track_true_pt (T,)
  track_stations (T,)    stations with segments of the track's own particle (or its decay muon)
  segments (S, 4)        station (0-3), eta, phi, psi (local bending angle)
  segment_source (S,)    index into SOURCES; segment_track (S,) the track it came from, -1 if none
  track_counts, segment_counts (E,); process (E,) index into the sample's processes; n_pileup (E,)
The file is deterministic: chunks are independent Pythia runs seeded from (seed, process, chunk),
and the detector and pileup draws use per-chunk generators, so `workers` does not change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

import codesign
from codesign.data import muon_detector as det
from codesign.data.events import ChargeTable, new_pythia
from codesign.data.generation import cache_path, check_ints, derived_seed, read_h5, run_chunks, write_h5
from codesign.data.met import minbias_pool
from codesign.errors import CodesignError
from codesign.paths import atomic_file
from codesign.spec import Strict


class Spec(Strict):
    """Tracker-muon events (codesign data muons): Pythia 8 muons + pileup, tracks and muon segments."""

    dataset: Literal["muons"] = "muons"
    n_events: int = Field(4000, ge=10, description="events, shared equally by the sample's processes")
    sample: Literal["physics", "gun"] = Field("physics", description="Z/W/ttbar/heavy-flavour QCD, or a muon gun")
    pileup: float = Field(42.0, ge=0.0, le=400.0, description="mean number of pileup interactions <PU>")
    pool_size: int = Field(1000, ge=1, description="minimum-bias events in the pileup pool")
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = 1


GENERATOR_VERSION = 1
PRESETS = {
    "tiny": dict(n_events=120, sample="gun", pileup=8.0, pool_size=100),
    "demo": dict(n_events=4000, sample="physics", pileup=42.0, pool_size=1000),
}
_COMMON = ["Beams:eCM = 14000", "Print:quiet = on", "Next:numberCount = 0"]
PROCESSES = {
    "zmumu": ["WeakSingleBoson:ffbar2gmZ = on", "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 13"],
    "wmunu": ["WeakSingleBoson:ffbar2W = on", "24:onMode = off", "24:onIfAny = 13"],
    "ttbar": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on"],
    "hfqcd": ["HardQCD:gg2bbbar = on", "HardQCD:qqbar2bbbar = on", "HardQCD:gg2ccbar = on", "HardQCD:qqbar2ccbar = on",
              "PhaseSpace:pTHatMin = 30"],
}  # fmt: skip
SETTINGS = {"processes": PROCESSES, "pythia_common": _COMMON, "gun": {"muons": 2, "pt": [2.0, 200.0], "eta": 2.5},
            "chunk_events": 250, "detector": det.DETECTOR}  # fmt: skip
SAMPLES = {"physics": list(PROCESSES), "gun": ["gun"]}
ORIGINS = ["prompt muon", "heavy-flavour muon", "other muon", "decay in flight", "punch-through", "hadron"]
SOURCES = ["muon", "decay in flight", "punch-through", "noise"]
TRACK_NAMES = ["pt", "eta", "phi", "charge"]
SEGMENT_NAMES = ["station", "eta", "phi", "psi"]
TRACK_ARRAYS = ("tracks", "track_label", "track_origin", "track_true_pt", "track_stations")
SEGMENT_ARRAYS = ("segments", "segment_source", "segment_track")


# ----------------------------------------------------------------------------- public API


def dataset_path(n_events: int, sample: str, pileup: float, pool_size: int, seed: int) -> Path:
    _check(n_events, sample, pileup, pool_size, seed, 1)
    return cache_path("muons", {**_meta(n_events, sample, pileup, pool_size, seed), "settings": SETTINGS})


def generate(n_events: int, sample: str = "physics", pileup: float = 42.0, pool_size: int = 1000, seed: int = 1,
             workers: int = 2, progress: bool = True) -> Path:  # fmt: skip
    """Generate (or reuse) the dataset."""
    _check(n_events, sample, pileup, pool_size, seed, workers)
    path = dataset_path(n_events, sample, pileup, pool_size, seed)
    if path.exists():
        return path
    pool = minbias_pool(pool_size, seed, workers, progress) if pileup > 0 else ""
    tasks = _tasks(n_events, sample, seed, pileup, pool)
    parts = run_chunks(_run_chunk, tasks, workers, [("muon events", n_events)], progress)
    arrays = _assemble(parts, seed)
    with atomic_file(path) as tmp:
        write_h5(tmp, arrays, {**_meta(n_events, sample, pileup, pool_size, seed), "settings": SETTINGS,
                               "process_names": SAMPLES[sample], "origins": ORIGINS, "sources": SOURCES,
                               "track_names": TRACK_NAMES, "segment_names": SEGMENT_NAMES})  # fmt: skip
    return path


def add_cli(p) -> None:
    p.add_argument("--preset", choices=list(PRESETS), default="demo")
    p.add_argument("--n-events", type=int, help="events (overrides the preset)")
    p.add_argument("--sample", choices=list(SAMPLES), help="physics processes or the muon gun (overrides the preset)")
    p.add_argument("--pileup", type=float, help="mean number of pileup interactions <PU> (overrides the preset)")
    p.add_argument("--pool-size", type=int, help="minimum-bias pool size (overrides the preset)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)


def from_cli(args) -> Path:
    cfg = dict(PRESETS[args.preset])
    for k in ("n_events", "sample", "pileup", "pool_size"):
        if getattr(args, k) is not None:
            cfg[k] = getattr(args, k)
    return generate(seed=args.seed, workers=args.workers, **cfg)


def from_spec(spec) -> Path:
    return generate(spec.n_events, spec.sample, spec.pileup, spec.pool_size, spec.seed)


def load(path) -> dict:
    """Read a file written by `generate`: the flat arrays, `track_offsets` and `segment_offsets`
    (E + 1 each), and the name lists."""
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: no such muons dataset")
    out, attrs = read_h5(path)
    out["track_offsets"] = np.concatenate([[0], np.cumsum(out["track_counts"])]).astype(np.int64)
    out["segment_offsets"] = np.concatenate([[0], np.cumsum(out["segment_counts"])]).astype(np.int64)
    out["attrs"] = attrs
    for k in ("process_names", "origins", "sources"):
        out[k] = attrs[k]
    return out


def event(data: dict, i: int) -> tuple[np.ndarray, np.ndarray]:
    """(tracks (n, 4), segments (m, 4)) of event i."""
    t, s = data["track_offsets"], data["segment_offsets"]
    return data["tracks"][t[i] : t[i + 1]], data["segments"][s[i] : s[i + 1]]


# ----------------------------------------------------------------------------- orchestration


@dataclass(frozen=True)
class _Task:
    process: int
    sample: str
    n: int
    pythia_seed: int
    rng_seed: int
    pileup: float
    pool: str


def _check(n_events, sample, pileup, pool_size, seed, workers):
    check_ints("muons", ("n_events", n_events, 1), ("pool_size", pool_size, 1), ("seed", seed, 0),
               ("workers", workers, 1))  # fmt: skip
    if sample not in SAMPLES:
        raise CodesignError(f"muons: sample must be one of {', '.join(SAMPLES)}, got {sample!r}")
    if not (isinstance(pileup, (int, float)) and np.isfinite(pileup) and 0 <= pileup <= 400):
        raise CodesignError(f"muons: pileup must be a number in [0, 400], got {pileup!r}")


def _meta(n_events, sample, pileup, pool_size, seed):
    return {"n_events": int(n_events), "sample": sample, "pileup": float(pileup), "pool_size": int(pool_size),
            "seed": int(seed), "generator_version": GENERATOR_VERSION, "codesign_version": codesign.__version__}  # fmt: skip


def _tasks(n_events, sample, seed, pileup, pool):
    procs = SAMPLES[sample]
    per = [n_events // len(procs) + (p < n_events % len(procs)) for p in range(len(procs))]
    size = SETTINGS["chunk_events"]
    return [_Task(p, sample, min(size, n - s), derived_seed("muons", seed, sample, p, c),
                  derived_seed("muons", seed, sample, "det", p, c), pileup, str(pool))
            for p, n in enumerate(per) for c, s in enumerate(range(0, n, size))]  # fmt: skip


def _assemble(parts: list[dict], seed: int) -> dict:
    """Chunks concatenated, then events shuffled with Generator(seed) (their tracks and segments with them)."""
    ev = {k: np.concatenate([p[k] for p in parts]) for k in ("track_counts", "segment_counts", "process", "n_pileup")}
    order = np.random.default_rng(seed).permutation(len(ev["process"]))
    out = {k: v[order] for k, v in ev.items()}
    for counts, names in (("track_counts", TRACK_ARRAYS), ("segment_counts", SEGMENT_ARRAYS)):
        off = np.concatenate([[0], np.cumsum(ev[counts])])
        rows = np.concatenate([np.arange(off[i], off[i + 1]) for i in order]).astype(np.int64)
        for k in names:
            out[k] = np.concatenate([p[k] for p in parts])[rows]
    return out


def _origin(ids: np.ndarray, mother: np.ndarray, i: int) -> int:
    """Origin (index into ORIGINS) of the muon at index i of one event's record."""
    own, j = ids[i], i
    for _ in range(50):
        m = mother[j]
        if m <= 0 or ids[m] != own:
            break
        j = m
    a = abs(int(ids[mother[j]])) if mother[j] > 0 else 0
    if a in (23, 24, 15):
        return 0
    flavour = {(a // 100) % 10, (a // 1000) % 10}
    return 1 if a > 100 and flavour & {4, 5} else 2


def _hard_batch(pythia, n, charge_of):
    """Per event of a Pythia batch: charged final-state particles (px, py, pz, id, charge, origin)."""
    import awkward as ak

    prt = pythia.nextBatch(n, 10.0).prt
    counts = ak.to_numpy(ak.num(prt.id))
    flat = {k: ak.to_numpy(ak.flatten(v)) for k, v in
            (("id", prt.id), ("status", prt.status), ("mother", prt.mother1), ("px", prt.p.px), ("py", prt.p.py),
             ("pz", prt.p.pz))}  # fmt: skip
    off = np.concatenate([[0], np.cumsum(counts)])
    events = []
    for k in range(n):
        s = slice(off[k], off[k + 1])
        ids, status = flat["id"][s].astype(np.int64), flat["status"][s]
        charge = charge_of(ids) if len(ids) else np.zeros(0, np.float32)
        keep = np.flatnonzero((status > 0) & (charge != 0))
        mother = flat["mother"][s].astype(np.int64)
        origin = np.array([_origin(ids, mother, i) if abs(ids[i]) == 13 else 5 for i in keep], np.int8)
        events.append({"px": flat["px"][s][keep], "py": flat["py"][s][keep], "pz": flat["pz"][s][keep],
                       "id": ids[keep], "charge": charge[keep], "origin": origin})  # fmt: skip
    return events


def _gun_event(rng) -> dict:
    g = SETTINGS["gun"]
    n = g["muons"]
    pt = np.exp(rng.uniform(*np.log(g["pt"]), n))
    eta, phi = rng.uniform(-g["eta"], g["eta"], n), rng.uniform(-np.pi, np.pi, n)
    q = rng.choice([-1.0, 1.0], n)
    return {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "id": (-13 * q).astype(np.int64),
            "charge": q, "origin": np.zeros(n, np.int8)}  # fmt: skip


def _run_chunk(task, report):
    """The events of one chunk of one process; report(0, n) tells the progress bar."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        rng = np.random.default_rng(task.rng_seed)
        pool = dict(np.load(task.pool)) if task.pool else None
        if pool is not None:
            pool["off"] = np.concatenate([[0], np.cumsum(pool["counts"])])
            pool["charged"] = pool["charge"] != 0
        rows, have = [], 0
        if task.sample == "gun":
            while have < task.n:
                rows.append(_event(_gun_event(rng), pool, task, rng))
                have += 1
                if have % 50 == 0 or have == task.n:
                    report(0, 50 if have % 50 == 0 else have % 50)
        else:
            pythia = new_pythia([*_COMMON, *PROCESSES[SAMPLES[task.sample][task.process]]], task.pythia_seed, "muons",
                                SAMPLES[task.sample][task.process])  # fmt: skip
            charge_of = ChargeTable(pythia)
            while have < task.n:
                n = min(50, task.n - have)
                rows += [_event(h, pool, task, rng) for h in _hard_batch(pythia, n, charge_of)]
                have += n
                report(0, n)
    out = {k: np.concatenate([r[k] for r in rows]) for k in (*TRACK_ARRAYS, *SEGMENT_ARRAYS)}
    out["track_counts"] = np.array([len(r["tracks"]) for r in rows], np.int32)
    out["segment_counts"] = np.array([len(r["segments"]) for r in rows], np.int32)
    out["process"] = np.full(len(rows), task.process, np.int8)
    out["n_pileup"] = np.array([r["n_pileup"] for r in rows], np.int32)
    return out


def _pileup(pool, pileup, rng) -> tuple[dict, int]:
    """Charged particles of Poisson(<PU>) pool events, each rotated by a random phi."""
    n_pu = rng.poisson(pileup) if pool is not None else 0
    if n_pu == 0:
        return {k: np.zeros(0) for k in ("px", "py", "pz", "id", "charge", "origin")}, 0
    pick = rng.integers(0, len(pool["counts"]), n_pu)
    off = pool["off"]
    idx = np.concatenate([np.arange(off[i], off[i + 1]) for i in pick])
    rot = np.repeat(rng.uniform(-np.pi, np.pi, n_pu), pool["counts"][pick])
    ch = pool["charged"][idx]
    idx, rot = idx[ch], rot[ch]
    c, s = np.cos(rot), np.sin(rot)
    px, py = pool["px"][idx], pool["py"][idx]
    ids = pool["id"][idx].astype(np.int64)
    return {"px": px * c - py * s, "py": px * s + py * c, "pz": pool["pz"][idx], "id": ids,
            "charge": pool["charge"][idx].astype(np.float64),
            "origin": np.where(np.abs(ids) == 13, 2, 5).astype(np.int8)}, n_pu  # fmt: skip


def _event(hard: dict, pool, task, rng) -> dict:
    """One event: hard + pileup charged particles -> tracks, segments, labels."""
    pu, n_pu = _pileup(pool, task.pileup, rng)
    px, py, pz = (np.concatenate([hard[k], pu[k]]).astype(np.float64) for k in ("px", "py", "pz"))
    pid = np.concatenate([hard["id"], pu["id"]]).astype(np.int64)
    charge = np.concatenate([hard["charge"], pu["charge"]]).astype(np.float64)
    origin = np.concatenate([hard["origin"], pu["origin"]]).astype(np.int8)
    pt = np.hypot(px, py)
    keep = pt > 0.3  # nothing softer reaches a track or a station
    px, py, pz, pid, charge, origin, pt = (a[keep] for a in (px, py, pz, pid, charge, origin, pt))
    p = np.sqrt(pt**2 + pz**2)
    eta, phi = np.arcsinh(pz / pt), np.arctan2(py, px)
    muon = np.abs(pid) == 13
    found, pt_r, eta_r, phi_r = det.smear_tracks(pt, eta, phi, charge, muon, rng)

    mu = np.flatnonzero(muon)
    seg_mu = det.traverse(p[mu], pt[mu], eta[mu], phi[mu], charge[mu], rng)
    seg_mu[:, 0] = mu[seg_mu[:, 0].astype(int)]
    had = np.flatnonzero(~muon)
    p_dif = det.decays_in_flight(pid[had], p[had], eta[had], rng)
    d = had[p_dif > 0]
    pd = p_dif[p_dif > 0]
    seg_dif = det.traverse(pd, pd / np.cosh(eta[d]), eta[d], phi[d], charge[d], rng)
    seg_dif[:, 0] = d[seg_dif[:, 0].astype(int)]
    seg_pt = det.punch_through(p[had], pt[had], eta[had], phi[had], charge[had], rng)
    seg_pt[:, 0] = had[seg_pt[:, 0].astype(int)]
    seg_noise = det.noise(det.DETECTOR["noise_base"] + det.DETECTOR["noise_per_pileup"] * task.pileup, rng)
    segs = np.concatenate([seg_mu, seg_dif, seg_pt, seg_noise])
    source = np.repeat(np.arange(4, dtype=np.int8), [len(seg_mu), len(seg_dif), len(seg_pt), len(seg_noise)])

    # stations with the particle's own segments (muons; decay muons count for their hadron)
    stations = np.zeros((len(pt), 4), bool)
    own = segs[source < 3]
    stations[own[:, 0].astype(int), own[:, 1].astype(int)] = True
    n_st = stations.sum(1)
    origin = origin.copy()
    origin[~muon & np.isin(np.arange(len(pt)), d)] = 3
    origin[~muon & (origin == 5) & np.isin(np.arange(len(pt)), seg_pt[:, 0].astype(int))] = 4
    label = muon & (n_st >= 2)

    tr = np.flatnonzero(found)
    tr = tr[np.argsort(-pt_r[tr], kind="stable")]
    track_of = np.full(len(pt), -1)
    track_of[tr] = np.arange(len(tr))
    order = np.lexsort((segs[:, 3], segs[:, 1]))
    segs, source = segs[order], source[order]
    seg_track = np.where(segs[:, 0] >= 0, track_of[np.maximum(segs[:, 0], 0).astype(int)], -1)
    return {
        "tracks": np.stack([pt_r[tr], eta_r[tr], phi_r[tr], charge[tr]], axis=1).astype(np.float32),
        "track_label": label[tr].astype(np.int8), "track_origin": origin[tr], "track_true_pt": pt[tr].astype(np.float32),
        "track_stations": n_st[tr].astype(np.int8),
        "segments": segs[:, 1:].astype(np.float32), "segment_source": source, "segment_track": seg_track.astype(np.int32),
        "n_pileup": n_pu,
    }  # fmt: skip
