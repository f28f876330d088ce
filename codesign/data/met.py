"""L1 MET events with pileup: Pythia 8 hard processes + a min-bias pool, L1 PF candidates, PUPPI.

Hard processes (14 TeV, equal shares of the events; `SETTINGS["processes"]`):
  with real MET:   ttbar (inclusive), W -> l nu + jet (l = e, mu, tau), Z -> nu nu + jet
  without:         QCD dijets (pTHat > 30 GeV), Drell-Yan Z -> ee / mu mu
Pileup: a pool of `pool_size` minimum-bias events (SoftQCD:nonDiffractive) is generated once
(and cached); each event overlays Poisson(<PU>) of them drawn with replacement, each rotated by a
random phi, so generation stays fast at <PU> = 140-200. The detector and PUPPI are in l1pf.py.
Truth MET: vector sum of the hard interaction's invisible particles (neutrinos, and any
neutralino / gravitino), pT > 0.

Stored per event (HDF5, `load` returns these arrays):
  candidates (E, 128, 7)  top 128 candidates by pT, columns `l1pf.CANDIDATE_NAMES`, zero padded
  mask (E, 128)           True where a slot holds a candidate
  true_met (E, 2), puppi_met (E, 2)   (px, py) [GeV]; PUPPI MET over *all* candidates of the event
  puppi_met_topn (E, 2)   PUPPI MET over the stored 128 only
  npv (E,)                number of vertices (pileup + 1);  n_all (E,) candidates before the cut
  process (E,)            index into attrs process_names
Events with zero candidates are kept (mask all False): their MET from any candidate sum is 0.
A card's `data.n_candidates` (<= 128) keeps the leading N at load time (the file is shared).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

import codesign
from codesign.data import l1pf
from codesign.data.events import ChargeTable, isin, new_pythia
from codesign.data.generation import assemble, cache_path, check_ints, derived_seed, read_h5, run_chunks, write_h5
from codesign.errors import CodesignError
from codesign.paths import atomic_file
from codesign.spec import Strict


class Spec(Strict):
    """L1 MET events with pileup (codesign data met): Pythia 8 + min-bias pool, L1 PF candidates, PUPPI."""

    dataset: Literal["met"] = "met"
    n_events: int = Field(30000, ge=10, description="events, shared equally by the hard processes")
    pileup: float = Field(140.0, ge=0.0, le=400.0, description="mean number of pileup interactions <PU>")
    pool_size: int = Field(2000, ge=1, description="minimum-bias events in the pileup pool")
    n_candidates: int = Field(128, ge=2, le=128, description="leading-pT candidates the core sees (N)")
    momentum_unit: float = Field(8.0, gt=0.0, description="GeV per unit of the momentum inputs and of the output")
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = 1


GENERATOR_VERSION = 1
STORED_CANDIDATES = 128
PRESETS = {
    "tiny": dict(n_events=1500, pileup=50, pool_size=300),
    "demo": dict(n_events=10000, pileup=140, pool_size=2000),
}

_COMMON = ["Beams:eCM = 14000", "Print:quiet = on", "Next:numberCount = 0"]
SETTINGS = {
    "processes": {
        "ttbar": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on"],
        "wlnu": [
            "WeakBosonAndParton:qqbar2Wg = on",
            "WeakBosonAndParton:qg2Wq = on",
            "PhaseSpace:pTHatMin = 20",
            "24:onMode = off",
            "24:onIfAny = 11 13 15",
        ],
        "znunu": [
            "WeakBosonAndParton:qqbar2gmZg = on",
            "WeakBosonAndParton:qg2gmZq = on",
            "WeakZ0:gmZmode = 2",
            "PhaseSpace:pTHatMin = 30",
            "23:onMode = off",
            "23:onIfAny = 12 14 16",
        ],
        "qcd": ["HardQCD:all = on", "PhaseSpace:pTHatMin = 30"],
        "zll": ["WeakSingleBoson:ffbar2gmZ = on", "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 11 13"],
    },
    "minbias": ["SoftQCD:nonDiffractive = on"],
    "pythia_common": _COMMON,
    "invisible_ids": [12, 14, 16, 1000012, 1000014, 1000016, 1000022, 1000039],
    "chunk_events": 500,
    "detector": l1pf.DETECTOR,
}
PROCESS_NAMES = list(SETTINGS["processes"])


# ----------------------------------------------------------------------------- public API


def dataset_path(n_events: int, pileup: float, pool_size: int, seed: int) -> Path:
    _check(n_events, pileup, pool_size, seed, 1)
    return cache_path("met", {**_meta(n_events, pileup, pool_size, seed), "settings": SETTINGS})


def generate(n_events: int, pileup: float = 140.0, pool_size: int = 2000, seed: int = 1, workers: int = 2,
             progress: bool = True) -> Path:  # fmt: skip
    """Generate (or reuse) the dataset; chunks are independent Pythia runs seeded from (seed, process,
    chunk), and pileup draws from a per-chunk generator, so the result does not depend on `workers`."""
    _check(n_events, pileup, pool_size, seed, workers)
    path = dataset_path(n_events, pileup, pool_size, seed)
    if path.exists():
        return path
    pool = _pool(pool_size, seed, workers, progress)
    tasks = _tasks(n_events, seed, pileup, pool)
    arrays = assemble(run_chunks(_run_chunk, tasks, workers, [("met events", n_events)], progress), seed)
    with atomic_file(path) as tmp:
        write_h5(tmp, arrays, {**_meta(n_events, pileup, pool_size, seed), "settings": SETTINGS,
                               "candidate_names": l1pf.CANDIDATE_NAMES, "process_names": PROCESS_NAMES,
                               "type_names": l1pf.TYPE_NAMES})  # fmt: skip
    return path


def add_cli(p) -> None:
    p.add_argument("--preset", choices=list(PRESETS), default="demo")
    p.add_argument("--n-events", type=int, help="events (overrides the preset)")
    p.add_argument("--pileup", type=float, help="mean number of pileup interactions <PU> (overrides the preset)")
    p.add_argument("--pool-size", type=int, help="minimum-bias pool size (overrides the preset)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)


def from_cli(args) -> Path:
    cfg = dict(PRESETS[args.preset])
    for k in ("n_events", "pileup", "pool_size"):
        if getattr(args, k) is not None:
            cfg[k] = getattr(args, k)
    return generate(seed=args.seed, workers=args.workers, **cfg)


def from_spec(spec) -> Path:
    return generate(spec.n_events, pileup=spec.pileup, pool_size=spec.pool_size, seed=spec.seed)


def load(path, n_candidates: int = STORED_CANDIDATES) -> dict:
    """Read a file written by `generate`, keeping the leading `n_candidates` per event."""
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: no such MET dataset")
    if not 1 <= n_candidates <= STORED_CANDIDATES:
        raise CodesignError(
            f"{path}: n_candidates must be in 1..{STORED_CANDIDATES} (the file keeps {STORED_CANDIDATES}), got {n_candidates}"
        )
    out, attrs = read_h5(path)
    out["candidates"], out["mask"] = out["candidates"][:, :n_candidates], out["mask"][:, :n_candidates]
    check_candidates(out["candidates"], out["mask"], str(path))
    out["attrs"] = attrs
    out["candidate_names"], out["process_names"] = attrs["candidate_names"], attrs["process_names"]
    return out


def check_candidates(cands: np.ndarray, mask: np.ndarray, where: str) -> None:
    """Refuse non-finite values and negative pT, naming the first event and slot."""
    bad = ~np.isfinite(cands).all(axis=-1) | (cands[..., 0] < 0)
    if bad.any():
        ev, slot = map(int, np.argwhere(bad)[0])
        raise CodesignError(f"{where}: event {ev}, candidate {slot}: non-finite or negative pT/eta/phi ({cands[ev, slot].tolist()}); "
                            "expected finite values and pT >= 0")  # fmt: skip


# Model inputs per candidate, built from the stored columns (momenta divided by `unit` GeV).
# -px, -py first: the network's weighted sum of them is MET itself (zoo/met_gnn.py).
FEATURE_NAMES = ["-px/unit", "-py/unit", "pt/unit", "eta", "puppi_w", "pv_track", "pu_track", "photon"]


def features(cands: np.ndarray, mask: np.ndarray, unit: float) -> np.ndarray:
    """(E, N, len(FEATURE_NAMES)) float64; padded slots are all zero."""
    pt, eta, phi, w, ch, pv, typ = (cands[..., i].astype(np.float64) for i in range(7))
    f = np.stack([-pt * np.cos(phi) / unit, -pt * np.sin(phi) / unit, pt / unit, eta, w,
                  ch * pv, ch * (1 - pv), (typ == 3).astype(float)], axis=-1)  # fmt: skip
    return f * mask[..., None]


# ----------------------------------------------------------------------------- orchestration


@dataclass(frozen=True)
class _Task:
    label: int
    chunk: int
    n: int
    pythia_seed: int
    rng_seed: int
    pileup: float
    pool: str  # path of the cached min-bias pool ("" while generating the pool)


def _check(n_events, pileup, pool_size, seed, workers):
    check_ints(
        "met", ("n_events", n_events, 1), ("pool_size", pool_size, 1), ("seed", seed, 0), ("workers", workers, 1)
    )
    if not (isinstance(pileup, (int, float)) and np.isfinite(pileup) and 0 <= pileup <= 400):
        raise CodesignError(f"met: pileup must be a number in [0, 400], got {pileup!r}")


def _meta(n_events, pileup, pool_size, seed):
    return {"n_events": int(n_events), "pileup": float(pileup), "pool_size": int(pool_size), "seed": int(seed),
            "generator_version": GENERATOR_VERSION, "codesign_version": codesign.__version__}  # fmt: skip


def _seed(*parts) -> int:
    return derived_seed("met", *parts)


def _tasks(n_events, seed, pileup, pool):
    per = [n_events // len(PROCESS_NAMES) + (p < n_events % len(PROCESS_NAMES)) for p in range(len(PROCESS_NAMES))]
    size = SETTINGS["chunk_events"]
    return [_Task(p, c, min(size, n - s), _seed(seed, p, c), _seed(seed, "pu", p, c), pileup, str(pool))
            for p, n in enumerate(per) for c, s in enumerate(range(0, n, size))]  # fmt: skip


def minbias_pool(pool_size: int, seed: int, workers: int = 2, progress: bool = True) -> Path:
    """The cached minimum-bias pool (npz: per-event `counts`, flat px, py, pz, e, id, charge), shared
    by the datasets that overlay pileup."""
    return _pool(pool_size, seed, workers, progress)


def _pool(pool_size, seed, workers, progress) -> Path:
    """The cached minimum-bias pool: flat particle arrays plus offsets (npz)."""
    path = cache_path("met-pool", {"pool_size": pool_size, "seed": seed, "v": GENERATOR_VERSION, "mb": SETTINGS["minbias"],
                                   "common": SETTINGS["pythia_common"]}, ".npz")  # fmt: skip
    if path.exists():
        return path
    half = (pool_size + 1) // 2
    tasks = [
        _Task(-1, c, min(half, pool_size - c * half), _seed(seed, "minbias", c), 0, 0.0, "")
        for c in range(2)
        if pool_size - c * half > 0
    ]
    parts = run_chunks(_run_pool, tasks, workers, [("min-bias pool", pool_size)], progress)
    counts = np.concatenate([p["counts"] for p in parts])
    flat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "counts"}
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, counts=counts, **flat)
    return path


def _pythia(lines, seed):
    return new_pythia([*SETTINGS["pythia_common"], *lines], seed, "met", str(lines))


def _flat_particles(events, charges, visible=True):
    """Final-state particles of a batch: (counts, dict of flat arrays)."""
    import awkward as ak

    prt = events.prt
    inv = isin(abs(prt.id), SETTINGS["invisible_ids"])
    sel = (prt.status > 0) & (~inv if visible else inv)
    s = prt[sel]
    counts = ak.to_numpy(ak.num(s))
    pid = ak.to_numpy(ak.flatten(s.id)).astype(np.int32)
    arr = {k: ak.to_numpy(ak.flatten(getattr(s.p, k))).astype(np.float64) for k in ("px", "py", "pz", "e")}
    arr["id"], arr["charge"] = pid, charges(pid) if len(pid) else np.zeros(0, np.float32)
    return counts, arr


def _run_pool(task, report):
    """One part of the min-bias pool; report(0, n) tells the progress bar."""
    p = _pythia(SETTINGS["minbias"], task.pythia_seed)
    charges = ChargeTable(p)
    parts, have = [], 0
    while have < task.n:
        n = min(100, task.n - have)
        parts.append(_flat_particles(p.nextBatch(n, 10.0), charges))
        have += n
        report(0, n)
    return {"counts": np.concatenate([c for c, _ in parts]),
            **{k: np.concatenate([a[k] for _, a in parts]) for k in parts[0][1]}}  # fmt: skip


def _run_chunk(task, report):
    """The events of one chunk of one process; report(0, n) tells the progress bar."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        pool = dict(np.load(task.pool))
        off = np.concatenate([[0], np.cumsum(pool["counts"])])
        p = _pythia(SETTINGS["processes"][PROCESS_NAMES[task.label]], task.pythia_seed)
        charges = ChargeTable(p)
        rng = np.random.default_rng(task.rng_seed)
        rows, have = [], 0
        while have < task.n:
            n = min(50, task.n - have)
            ev = p.nextBatch(n, 10.0)
            vc, vis = _flat_particles(ev, charges)
            ic, inv = _flat_particles(ev, charges, visible=False)
            vo, io = np.concatenate([[0], np.cumsum(vc)]), np.concatenate([[0], np.cumsum(ic)])
            for k in range(n):
                rows.append(_event(vis, vo[k], vo[k + 1], inv, io[k], io[k + 1], pool, off, task, rng))
            have += n
            report(0, n)
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def _event(vis, a, b, inv, ia, ib, pool, off, task, rng) -> dict:
    """One event: hard particles + rotated pileup -> candidates, MET sums."""
    n_pu = rng.poisson(task.pileup)
    pick = rng.integers(0, len(pool["counts"]), n_pu)
    idx = np.concatenate([np.arange(off[i], off[i + 1]) for i in pick]) if n_pu else np.zeros(0, int)
    rot = np.repeat(rng.uniform(-np.pi, np.pi, n_pu), pool["counts"][pick])
    c, s = np.cos(rot), np.sin(rot)
    pu_px = pool["px"][idx] * c - pool["py"][idx] * s
    pu_py = pool["px"][idx] * s + pool["py"][idx] * c

    def cat(key, pu):
        return np.concatenate([vis[key][a:b], pu])

    cands = l1pf.candidates(cat("px", pu_px), cat("py", pu_py), cat("pz", pool["pz"][idx]), cat("e", pool["e"][idx]),
                            cat("id", pool["id"][idx]), cat("charge", pool["charge"][idx]),
                            np.concatenate([np.zeros(b - a, bool), np.ones(len(idx), bool)]), rng)  # fmt: skip
    cands = cands[np.isfinite(cands).all(axis=1)]  # a zero-energy particle can give eta = nan: drop it
    top = np.zeros((STORED_CANDIDATES, cands.shape[1]), np.float32)
    k = min(len(cands), STORED_CANDIDATES)
    top[:k] = cands[:k]
    mask = np.zeros(STORED_CANDIDATES, bool)
    mask[:k] = True
    return {
        "candidates": top, "mask": mask,
        "true_met": np.array([inv["px"][ia:ib].sum(), inv["py"][ia:ib].sum()], np.float32),
        "puppi_met": _puppi_met(cands), "puppi_met_topn": _puppi_met(top),
        "npv": np.int32(n_pu + 1), "n_all": np.int32(len(cands)), "process": np.int8(task.label),
    }  # fmt: skip


def _puppi_met(c):
    w = c[:, 0] * c[:, 3]
    return np.array([-(w * np.cos(c[:, 2])).sum(), -(w * np.sin(c[:, 2])).sum()], np.float32)
