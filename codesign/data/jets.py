"""The hls4ml 5-class jet-tagging dataset (g, q, W, Z, t at pT ~ 1 TeV), generated locally.

Pythia 8 (`pythia8mc`) makes the events, fastjet clusters them, and this module computes the 16
high-level features of the public hls4ml dataset plus per-jet constituent arrays.

Event samples (13 TeV pp, default Pythia tune with MPI and hadronisation):
  g  HardQCD:gg2gg, pTHat 900-1100 GeV; jets matched to an outgoing hard gluon.
  q  HardQCD:qq2qq + qqbar2qqbarNew (nQuarkNew=3), pTHat 900-1100 GeV; jets matched to an
     outgoing hard u/d/s (anti)quark (c/b from the sea are not matched).
  W  W' (id 34, m=2 TeV, Wprime:coup2WZ=1) -> W Z with W -> qq' and Z -> nu nu.
  Z  the same W' -> W Z with W -> e nu / mu nu and Z -> qq (d u s c b).
  t  Z' (id 32, m=2 TeV, Zprime:gmZmode=3) -> t tbar with both W -> qq'.
Matching: a jet belongs to the class if its axis lies within dR < 0.6 of the truth object (the
hard parton for g/q, the last copy of the W/Z/top before its decay for W/Z/t). dR < 0.6 rather
than R=0.8 keeps jets whose axis follows the object, without asking all decay products inside.

Jets: anti-kT R=0.8 on visible final-state particles (all but neutrinos) with |eta| < 2.5; a
matched jet is kept if |eta_jet| < 2.0 and 600 < pT_jet < 1500 GeV (wide enough that the falling
W'/Z' decay spectra still fill the classes; the QCD samples sit at ~0.9-1.1 TeV).

Grooming: mMDT = soft drop with beta=0, z_cut=0.1, on the jet reclustered with Cambridge/Aachen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import queue
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import codesign
from codesign.errors import CodesignError
from codesign.paths import atomic_file, data_dir

# Bump when anything changes what a given (n_per_class, seed) produces.
GENERATOR_VERSION = 1

CLASS_NAMES = ["g", "q", "W", "Z", "t"]
FEATURE_NAMES = [
    "j_zlogz", "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt", "j_c2_b2_mmdt",
    "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt",
    "j_m2_b2_mmdt", "j_n2_b1_mmdt", "j_n2_b2_mmdt", "j_mass_mmdt", "j_multiplicity",
]
# Per constituent: pT [GeV], eta - eta_jet, phi - phi_jet (wrapped to [-pi, pi)), E [GeV],
# electric charge [e], PDG id (exact in float32: final-state ids are < 2^24).
CONSTITUENT_NAMES = ["pt", "deta", "dphi", "e", "charge", "pdgid"]
MAX_CONSTITUENTS = 150

PRESETS = {"tiny": 500, "demo": 4000}  # jets per class

_COMMON = ["Beams:eCM = 13000", "Print:quiet = on", "Next:numberCount = 0"]
_QCD_PTHAT = ["PhaseSpace:pTHatMin = 900", "PhaseSpace:pTHatMax = 1100"]
_WPRIME = ["NewGaugeBoson:ffbar2Wprime = on", "Wprime:coup2WZ = 1", "34:m0 = 2000",
           "34:onMode = off", "34:onIfMatch = 24 23"]
_W_HAD = ["24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
SETTINGS = {
    "classes": {
        "g": {"pythia": ["HardQCD:gg2gg = on", *_QCD_PTHAT], "truth": "parton", "truth_ids": [21]},
        "q": {"pythia": ["HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on",
                         "HardQCD:nQuarkNew = 3", *_QCD_PTHAT], "truth": "parton",
              "truth_ids": [1, 2, 3]},
        "W": {"pythia": [*_WPRIME, *_W_HAD, "23:onMode = off", "23:onIfAny = 12 14 16"],
              "truth": "decay", "truth_ids": [24]},
        "Z": {"pythia": [*_WPRIME, "24:onMode = off", "24:onIfAny = 11 13",
                         "23:onMode = off", "23:onIfAny = 1 2 3 4 5"], "truth": "decay",
              "truth_ids": [23]},
        "t": {"pythia": ["NewGaugeBoson:ffbar2gmZZprime = on", "Zprime:gmZmode = 3",
                         "32:m0 = 2000", "32:onMode = off", "32:onIfAny = 6", *_W_HAD],
              "truth": "decay", "truth_ids": [6]},
    },
    "pythia_common": _COMMON,
    "constituent_max_abs_eta": 2.5,
    "jet_r": 0.8,
    "jet_max_abs_eta": 2.0,
    "jet_pt_min": 600.0,
    "jet_pt_max": 1500.0,
    "match_dr": 0.6,
    "mmdt_zcut": 0.1,
    "gecf_max_constituents": 100,
    "chunk_jets": 250,  # jets per independent Pythia run; part of the result, so in the hash
}
_NEUTRINOS = (12, 14, 16)
_HARD_OUTGOING = -23  # Pythia status of the outgoing partons of the hardest process


# ----------------------------------------------------------------------------- public API

def dataset_path(n_per_class: int, seed: int) -> Path:
    """Cache file for these arguments: build/data/jets-<hash of settings, seed, code version>.h5."""
    _check_args(n_per_class, seed, workers=1)
    key = json.dumps({**_meta(n_per_class, seed), "settings": SETTINGS}, sort_keys=True)
    return data_dir() / f"jets-{hashlib.sha256(key.encode()).hexdigest()[:16]}.h5"


def generate(n_per_class: int, seed: int = 1, workers: int = 2, progress: bool = True) -> Path:
    """Generate (or reuse) the dataset and return its HDF5 path.

    Each class is split into chunks of `chunk_jets` jets; every chunk is an independent Pythia
    run seeded from (seed, class, chunk), so the result does not depend on `workers`.
    """
    _check_args(n_per_class, seed, workers)
    path = dataset_path(n_per_class, seed)
    if path.exists():
        return path
    tasks = _tasks(n_per_class, seed)
    chunks = _run_tasks(tasks, workers, progress, n_per_class)
    arrays = _assemble(chunks, seed)
    with atomic_file(path) as tmp:
        _write(tmp, arrays, _meta(n_per_class, seed))
    return path


def add_cli(p) -> None:
    size = p.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=list(PRESETS), default="demo")
    size.add_argument("--n-per-class", type=int, help="jets per class (overrides --preset)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)


def from_cli(args) -> Path:
    n = args.n_per_class if args.n_per_class is not None else PRESETS[args.preset]
    return generate(n, seed=args.seed, workers=args.workers)


def from_spec(spec) -> Path:
    """The dataset a card's [data] section names (the flow's entry point)."""
    return generate(spec.n_per_class, seed=spec.seed)


def load(path) -> dict:
    """Read a file written by `generate` into numpy arrays (see module docstring for content)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: no such jet dataset")
    with h5py.File(path, "r") as f:
        attrs = {k: _decode_attr(v) for k, v in f.attrs.items()}
        return {
            "features": f["features"][...],
            "feature_names": attrs["feature_names"],
            "labels": f["labels"][...],
            "class_names": attrs["class_names"],
            "constituents": f["constituents"][...],
            "constituent_names": attrs["constituent_names"],
            "mask": f["mask"][...],
            "attrs": attrs,
        }


# ----------------------------------------------------------------------------- orchestration

@dataclass(frozen=True)
class _Task:
    label: int
    chunk: int
    n_jets: int
    pythia_seed: int


def _check_args(n_per_class, seed, workers):
    for name, value, lo in (("n_per_class", n_per_class, 1), ("seed", seed, 0),
                            ("workers", workers, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise CodesignError(f"jets: {name} must be an integer >= {lo}, got {value!r}")


def _meta(n_per_class, seed):
    return {"n_per_class": int(n_per_class), "seed": int(seed),
            "generator_version": GENERATOR_VERSION, "codesign_version": codesign.__version__}


def _pythia_seed(seed: int, label: int, chunk: int) -> int:
    """Distinct, reproducible Pythia seed in [1, 900000000] per (seed, class, chunk)."""
    digest = hashlib.sha256(f"jets/{seed}/{label}/{chunk}".encode()).digest()
    return 1 + int.from_bytes(digest[:8], "little") % 900_000_000


def _tasks(n_per_class, seed):
    size = SETTINGS["chunk_jets"]
    tasks = []
    for label in range(len(CLASS_NAMES)):
        for chunk, start in enumerate(range(0, n_per_class, size)):
            n = min(size, n_per_class - start)
            tasks.append(_Task(label, chunk, n, _pythia_seed(seed, label, chunk)))
    return tasks


def _run_tasks(tasks, workers, progress, n_per_class):
    """Run the chunks (in a spawn pool when workers > 1) and return {(label, chunk): arrays}."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[bold]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), disable=not progress, transient=False) as bar:
        bars = [bar.add_task(f"jets {name}", total=n_per_class) for name in CLASS_NAMES]
        if workers == 1:
            return {(t.label, t.chunk): _run_chunk(t, lambda lab, n: bar.advance(bars[lab], n))
                    for t in tasks}
        ctx = mp.get_context("spawn")  # no fork: the parent may hold threads (TF, torch)
        news = ctx.Queue()
        with ctx.Pool(min(workers, len(tasks)), initializer=_init_worker, initargs=(news,)) as pool:
            pending = pool.map_async(_run_chunk_in_worker, tasks, chunksize=1)
            while not pending.ready():
                _drain(news, bar, bars, timeout=0.2)
            results = pending.get()  # re-raises a worker's exception here
            _drain(news, bar, bars, timeout=0)
    return {(t.label, t.chunk): r for t, r in zip(tasks, results)}


def _drain(news, bar, bars, timeout):
    with contextlib.suppress(queue.Empty):
        while True:
            label, n = news.get(timeout=timeout)
            bar.advance(bars[label], n)


_NEWS = None  # the worker's progress queue


def _init_worker(news):
    global _NEWS
    _NEWS = news


def _run_chunk_in_worker(task):
    return _run_chunk(task, lambda label, n: _NEWS.put((label, n)))


def _assemble(chunks, seed):
    """Concatenate chunks in (class, chunk) order, then shuffle with numpy Generator(seed)."""
    parts = [chunks[k] for k in sorted(chunks)]
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.random.default_rng(seed).permutation(len(arrays["labels"]))
    return {k: v[order] for k, v in arrays.items()}


def _write(path, arrays, meta):
    import h5py

    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            big = value.ndim > 1 and value.shape[0] > 0
            f.create_dataset(name, data=value, compression="gzip" if big else None,
                             compression_opts=4 if big else None)
        f.attrs.update(meta)
        f.attrs["settings"] = json.dumps(SETTINGS, sort_keys=True)
        for key, names in (("feature_names", FEATURE_NAMES), ("class_names", CLASS_NAMES),
                           ("constituent_names", CONSTITUENT_NAMES)):
            f.attrs[key] = json.dumps(names)


def _decode_attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value.item() if isinstance(value, np.generic) else value


# ----------------------------------------------------------------------------- one chunk

def _run_chunk(task: _Task, report) -> dict:
    """Generate events of one class until `task.n_jets` matched jets; return their arrays.

    Jets are taken in event order (and fastjet order within an event) and cut at n_jets, so the
    event-batch size never changes the result.
    """
    from threadpoolctl import threadpool_limits

    # The ECF matrices are ~100x100: BLAS threads only add overhead (3-4x here) and fight the
    # other workers for the cores.
    with threadpool_limits(1):
        return _generate_chunk(task, report)


def _generate_chunk(task: _Task, report) -> dict:
    import pythia8mc

    cls = SETTINGS["classes"][CLASS_NAMES[task.label]]
    pythia = pythia8mc.Pythia("", False)
    for line in [*SETTINGS["pythia_common"], *cls["pythia"], "Random:setSeed = on",
                 f"Random:seed = {task.pythia_seed}"]:
        if not pythia.readString(line):
            raise CodesignError(f"jets: Pythia rejected setting {line!r}")
    if not pythia.init():
        raise CodesignError(f"jets: Pythia failed to initialise class {CLASS_NAMES[task.label]}")
    charges = _ChargeTable(pythia)
    parts, have, batch, events = [], 0, 40, 0
    while have < task.n_jets:
        if events > 1000 + 100 * task.n_jets:  # a class that never yields jets: settings bug
            raise CodesignError(f"jets: class {CLASS_NAMES[task.label]} gave {have} matched jets"
                                f" in {events} events")
        # errorMode 10: give up (raise) after 10x the requested events fail to generate.
        jets = _jets_from_events(pythia.nextBatch(batch, 10.0), cls, charges)
        events += batch
        take = min(len(jets["pt"]), task.n_jets - have)
        parts.append(_first_jets(jets, take))
        have += take
        report(task.label, take)
        # Size the next batch from the observed yield (capped: memory, progress granularity).
        per_event = max(len(jets["pt"]) / batch, 0.05)
        batch = int(np.clip(1.2 * (task.n_jets - have) / per_event, 20, 200))
    jets = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return _jet_arrays(jets, task.label)


def _first_jets(jets, n):
    return {"pt": jets["pt"][:n], "eta": jets["eta"][:n], "phi": jets["phi"][:n],
            "counts": jets["counts"][:n], "cons": jets["cons"][:jets["counts"][:n].sum()]}


class _ChargeTable:
    """PDG id -> charge, asked from Pythia's particle data once per id."""

    def __init__(self, pythia):
        self._data, self._cache = pythia.particleData, {}

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(ids, return_inverse=True)
        table = np.array([self._cache.setdefault(int(i), self._data.charge(int(i))) for i in uniq])
        return table[inverse].astype(np.float32)


def _jets_from_events(events, cls, charges) -> dict:
    """Cluster visible particles, match jets to truth objects, return flat per-jet arrays.

    Returns {"pt","eta","phi": (J,), "counts": (J,) constituents per jet, "cons": (C, 6)
    as [px, py, pz, E, charge, pdgid] of all kept jets back to back}.
    """
    import awkward as ak
    import fastjet

    prt = events.prt
    truth = _truth(prt, cls["truth"], cls["truth_ids"])
    p = prt.p
    pt = np.hypot(p.px, p.py)
    eta = np.arcsinh(p.pz / ak.where(pt > 0, pt, 1e-9))
    visible = ((prt.status > 0) & (pt > 0) & (abs(eta) < SETTINGS["constituent_max_abs_eta"])
               & ~_isin(abs(prt.id), _NEUTRINOS))
    vis = prt[visible]
    vec = ak.zip({"px": vis.p.px, "py": vis.p.py, "pz": vis.p.pz, "E": vis.p.e})
    with _quiet_stdout():
        seq = fastjet.ClusterSequence(vec, fastjet.JetDefinition(fastjet.antikt_algorithm,
                                                                 SETTINGS["jet_r"]))
        min_pt = SETTINGS["jet_pt_min"]
        jets, index = seq.inclusive_jets(min_pt=min_pt), seq.constituent_index(min_pt=min_pt)
    jpt = np.hypot(jets.px, jets.py)
    jeta, jphi = np.arcsinh(jets.pz / jpt), np.arctan2(jets.py, jets.px)
    keep = ((jpt < SETTINGS["jet_pt_max"]) & (abs(jeta) < SETTINGS["jet_max_abs_eta"])
            & (_min_dr(jeta, jphi, truth) < SETTINGS["match_dr"]))

    # Global (flat) particle indices of every kept jet's constituents.
    starts = np.cumsum(np.concatenate([[0], ak.to_numpy(ak.num(vis))]))[:-1]
    kept_index = index[keep] + starts
    n_cons = ak.to_numpy(ak.flatten(ak.num(kept_index, axis=2)))
    flat = ak.to_numpy(ak.flatten(kept_index, axis=None))
    pid = ak.to_numpy(ak.flatten(vis.id))[flat]
    cons = np.stack([ak.to_numpy(ak.flatten(x))[flat] for x in (vis.p.px, vis.p.py, vis.p.pz,
                                                                  vis.p.e)]
                    + [charges(pid), pid.astype(np.float64)], axis=1)
    return {"pt": ak.to_numpy(ak.flatten(jpt[keep])), "eta": ak.to_numpy(ak.flatten(jeta[keep])),
            "phi": ak.to_numpy(ak.flatten(jphi[keep])), "counts": n_cons,
            "cons": cons}


def _truth(prt, kind, truth_ids):
    """Truth (eta, phi) per event: outgoing hard partons (g/q) or last copies of W/Z/t."""
    import awkward as ak

    ida = abs(prt.id)
    if kind == "parton":
        sel = (prt.status == _HARD_OUTGOING) & _isin(ida, truth_ids)
    else:
        # Last copy before the decay: its first daughter is not another copy of itself.
        # (No daughters means daughter1 = 0, the event-system entry, id 90: also "not itself".)
        sel = _isin(ida, truth_ids) & (ida[prt.daughter1] != ida)
    p = prt.p[sel]
    pt = np.hypot(p.px, p.py)
    return {"eta": np.arcsinh(p.pz / ak.where(pt > 0, pt, 1e-9)), "phi": np.arctan2(p.py, p.px)}


def _min_dr(jeta, jphi, truth):
    """Per jet, the smallest dR to any truth object of its event (inf if none)."""
    import awkward as ak

    j = ak.zip({"eta": jeta, "phi": jphi})
    t = ak.zip({"eta": truth["eta"], "phi": truth["phi"]})
    jj, tt = ak.unzip(ak.cartesian([j, t], nested=True))
    dr = np.hypot(jj.eta - tt.eta, _wrap(jj.phi - tt.phi))
    return ak.fill_none(ak.min(dr, axis=-1), np.inf)


def _isin(values, choices):
    out = values == choices[0]
    for c in choices[1:]:
        out = out | (values == c)
    return out


def _offsets(counts):
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _wrap(dphi):
    return (dphi + np.pi) % (2 * np.pi) - np.pi


_BANNER_SHOWN = False


@contextlib.contextmanager
def _quiet_stdout():
    """Swallow fastjet's banner, printed from C++ to fd 1 on a process's first clustering."""
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


# ----------------------------------------------------------------------------- per-jet arrays

def _jet_arrays(jets, label) -> dict:
    """Features, constituent arrays and labels for the jets of one chunk."""
    offsets = _offsets(jets["counts"])
    groomed = _mmdt(jets["cons"], jets["counts"])
    feats, cons, mask = [], [], []
    for i in range(len(jets["pt"])):
        c = jets["cons"][offsets[i]:offsets[i + 1]]
        feats.append(_features(c, groomed[i]))
        padded, m = _constituent_row(c, jets["eta"][i], jets["phi"][i])
        cons.append(padded)
        mask.append(m)
    n = len(feats)
    return {"features": np.asarray(feats, np.float32).reshape(n, len(FEATURE_NAMES)),
            "labels": np.full(n, label, np.int64),
            "constituents": np.asarray(cons, np.float32).reshape(n, MAX_CONSTITUENTS,
                                                                 len(CONSTITUENT_NAMES)),
            "mask": np.asarray(mask, bool).reshape(n, MAX_CONSTITUENTS)}


def _mmdt(cons, counts):
    """mMDT-groomed jets: (mass, constituent 4-vectors (n, 4)) per jet.

    Each jet's constituents are reclustered alone with Cambridge/Aachen; R=2 exceeds every
    pairwise distance inside an R=0.8 jet, so exclusive_jets(1) is the whole jet, which soft drop
    (beta=0, z_cut=0.1: the mMDT) then declusters.
    """
    import awkward as ak
    import fastjet

    vec = ak.unflatten(ak.zip({"px": cons[:, 0], "py": cons[:, 1], "pz": cons[:, 2],
                               "E": cons[:, 3]}), counts)
    with _quiet_stdout():
        seq = fastjet.ClusterSequence(vec, fastjet.JetDefinition(fastjet.cambridge_algorithm, 2.0))
        sd = seq.exclusive_jets_softdrop_grooming(
            njets=1, beta=0.0, symmetry_cut=SETTINGS["mmdt_zcut"], R0=SETTINGS["jet_r"])
    c = sd.constituents
    groomed_counts = ak.to_numpy(ak.num(c))
    g = np.stack([ak.to_numpy(ak.flatten(c[k])) for k in ("px", "py", "pz", "E")], axis=1)
    g_off = _offsets(groomed_counts)
    mass = ak.to_numpy(sd.msoftdrop)
    return [(mass[i], g[g_off[i]:g_off[i + 1]]) for i in range(len(counts))]


def _constituent_row(c, jet_eta, jet_phi):
    """Constituents sorted by pT, as CONSTITUENT_NAMES, zero-padded to MAX_CONSTITUENTS."""
    pt = np.hypot(c[:, 0], c[:, 1])
    order = np.argsort(-pt, kind="stable")[:MAX_CONSTITUENTS]
    c, pt = c[order], pt[order]
    eta = np.arcsinh(c[:, 2] / pt)
    phi = np.arctan2(c[:, 1], c[:, 0])
    row = np.zeros((MAX_CONSTITUENTS, len(CONSTITUENT_NAMES)))
    row[:len(c)] = np.stack([pt, eta - jet_eta, _wrap(phi - jet_phi), c[:, 3], c[:, 4], c[:, 5]],
                            axis=1)
    mask = np.zeros(MAX_CONSTITUENTS, bool)
    mask[:len(c)] = True
    return row, mask


# ----------------------------------------------------------------------------- features

def _features(cons, groomed) -> list[float]:
    """The 16 hls4ml features of one jet (order of FEATURE_NAMES).

    Ungroomed jet (all constituents, z_i = pT_i / sum pT):
        zlogz = sum_i z_i log z_i ;  multiplicity = number of constituents.
    mMDT-groomed jet, energy correlation functions in (pT, rapidity-phi) form, with
    z_i = pT_i / sum_j pT_j and R_ij the rapidity-azimuth distance:
        e2^b   = sum_{i<j} z_i z_j R_ij^b
        e3^b   = sum_{i<j<k} z_i z_j z_k (R_ij R_ik R_jk)^b          (Larkoski-Salam-Thaler)
        1e3^b  = sum_{i<j<k} z_i z_j z_k min(R_ij, R_ik, R_jk)^b
        2e3^b  = sum_{i<j<k} z_i z_j z_k (product of the two smallest of R_ij, R_ik, R_jk)^b
                 (Moult-Necib-Thaler generalised ECFs; 1e2^b = e2^b)
        C1^b = e2^b      C2^b = e3^b / (e2^b)^2      D2^b = e3^b / (e2^b)^3
        D2^(a=1,b) = e3^1 / (e2^b)^(3/b)      M2^b = 1e3^b / 1e2^b      N2^b = 2e3^b / (1e2^b)^2
        mass_mmdt = groomed jet mass.
    The generalised ECFs use the leading `gecf_max_constituents` groomed constituents by pT
    (an n^3 sum; the soft tail beyond them changes M2/N2 negligibly); all others use every one.
    """
    pt = np.hypot(cons[:, 0], cons[:, 1])
    z = pt / pt.sum()
    zlogz = float(np.sum(z * np.log(z)))
    mass, g = groomed
    gz, r = _ecf_inputs(g)
    e2 = {b: _e2(gz, r, b) for b in (0, 1, 2)}
    e3 = {b: _e3(gz, r, b) for b in (1, 2)}
    cap = np.argsort(-gz, kind="stable")[:SETTINGS["gecf_max_constituents"]]
    m3, n3 = _generalised_e3(gz[cap], r[np.ix_(cap, cap)])
    ratio = _safe_ratio
    return [
        zlogz, e2[0], e2[1], e2[2],
        ratio(e3[1], e2[1] ** 2), ratio(e3[2], e2[2] ** 2),
        ratio(e3[1], e2[1] ** 3), ratio(e3[2], e2[2] ** 3),
        ratio(e3[1], e2[1] ** 3), ratio(e3[1], e2[2] ** 1.5),
        ratio(m3[1], e2[1]), ratio(m3[2], e2[2]),
        ratio(n3[1], e2[1] ** 2), ratio(n3[2], e2[2] ** 2),
        float(mass), float(len(cons)),
    ]


def _safe_ratio(num, den):
    # A groomed jet of one particle has all ECFs 0; report 0 rather than NaN.
    return float(num / den) if den > 0 else 0.0


def _ecf_inputs(p4):
    """Momentum fractions z and rapidity-azimuth distance matrix R of 4-vectors (n, 4)."""
    pt = np.hypot(p4[:, 0], p4[:, 1])
    y = 0.5 * np.log((p4[:, 3] + p4[:, 2]) / np.maximum(p4[:, 3] - p4[:, 2], 1e-12))
    phi = np.arctan2(p4[:, 1], p4[:, 0])
    r = np.hypot(y[:, None] - y[None, :], _wrap(phi[:, None] - phi[None, :]))
    return pt / pt.sum(), r


def _angle_power(r, beta):
    a = r ** beta
    np.fill_diagonal(a, 0.0)  # no self-pairs (matters for beta = 0)
    return a


def _e2(z, r, beta):
    return 0.5 * float(z @ _angle_power(r, beta) @ z)


def _e3(z, r, beta):
    """e3 = (1/6) z^T (A o (A diag(z) A)) z with A = R^beta (zero diagonal): O(n^3) in BLAS."""
    a = _angle_power(r, beta)
    return float(z @ ((a * ((a * z) @ a)) @ z)) / 6.0


def _generalised_e3(z, r, block=65536):
    """({b: 1e3^b}, {b: 2e3^b}) for b = 1, 2.

    Sum over i and pairs j<k (each unordered triple counted 3 times), in blocks of i so the
    temporaries stay in cache. Angles enter through min/products only, so R^b of them is the
    b-th power of the R result. Product of the two smallest of (a, b, c) = min(ab, min(a,b) c).
    """
    j, k = np.triu_indices(len(z), 1)
    wjk, c = z[j] * z[k], r[j, k]
    s = np.zeros(4)
    step = max(1, block // max(len(j), 1))
    for i0 in range(0, len(z), step):
        a, b, zi = r[i0:i0 + step, j], r[i0:i0 + step, k], z[i0:i0 + step]
        mab = np.minimum(a, b)
        two = np.minimum(a * b, mab * c)
        one = np.minimum(mab, c, out=mab)
        s += [zi @ (one @ wjk), zi @ ((one * one) @ wjk),
              zi @ (two @ wjk), zi @ ((two * two) @ wjk)]
    s /= 3.0
    return {1: s[0], 2: s[1]}, {1: s[2], 2: s[3]}
