"""The hls4ml 5-class jet-tagging dataset (g, q, W, Z, t at pT ~ 1 TeV), generated locally.

Pythia 8 (`pythia8mc`) makes the events, fastjet clusters them, and this module computes the 16
high-level features of the public hls4ml dataset (substructure.py) plus per-jet constituent arrays.

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

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

import codesign
from codesign.data.events import ChargeTable, isin, new_pythia, offsets, quiet_stdout, wrap_phi
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
from codesign.data.substructure import FEATURE_NAMES, hls4ml_features, mmdt
from codesign.errors import CodesignError
from codesign.paths import atomic_file
from codesign.spec import Strict


class Spec(Strict):
    """The 5-class jets (codesign data jets): g, q, W, Z, t at pT ~ 1 TeV."""

    dataset: Literal["jets"] = "jets"
    # features: the 16 high-level features (mlp); constituents: ln pT, Δη, Δφ per particle (jedi_linear)
    inputs: Literal["features", "constituents"] = "features"
    n_per_class: int = Field(4000, ge=10, description="jets generated per class")
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = 1


# Bump when anything changes what a given (n_per_class, seed) produces.
GENERATOR_VERSION = 1

CLASS_NAMES = ["g", "q", "W", "Z", "t"]
# FEATURE_NAMES (from substructure.py): the 16 hls4ml features, columns of "features".
# Per constituent: pT [GeV], eta - eta_jet, phi - phi_jet (wrapped to [-pi, pi)), E [GeV],
# electric charge [e], PDG id (exact in float32: final-state ids are < 2^24).
CONSTITUENT_NAMES = ["pt", "deta", "dphi", "e", "charge", "pdgid"]
MAX_CONSTITUENTS = 150

# jets per class; large: 300k jets (JEDI-linear's data set has ~620k), 30 min on 2 cores (measured: 30.0 min
# wall, 56 CPU-min with --workers 2), resumable by chunks
PRESETS = {"tiny": 500, "demo": 4000, "large": 60000}

_COMMON = ["Beams:eCM = 13000", "Print:quiet = on", "Next:numberCount = 0"]
_QCD_PTHAT = ["PhaseSpace:pTHatMin = 900", "PhaseSpace:pTHatMax = 1100"]
_WPRIME = [
    "NewGaugeBoson:ffbar2Wprime = on",
    "Wprime:coup2WZ = 1",
    "34:m0 = 2000",
    "34:onMode = off",
    "34:onIfMatch = 24 23",
]
_W_HAD = ["24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
SETTINGS = {
    "classes": {
        "g": {"pythia": ["HardQCD:gg2gg = on", *_QCD_PTHAT], "truth": "parton", "truth_ids": [21]},
        "q": {
            "pythia": ["HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:nQuarkNew = 3", *_QCD_PTHAT],
            "truth": "parton",
            "truth_ids": [1, 2, 3],
        },
        "W": {
            "pythia": [*_WPRIME, *_W_HAD, "23:onMode = off", "23:onIfAny = 12 14 16"],
            "truth": "decay",
            "truth_ids": [24],
        },
        "Z": {
            "pythia": [*_WPRIME, "24:onMode = off", "24:onIfAny = 11 13", "23:onMode = off", "23:onIfAny = 1 2 3 4 5"],
            "truth": "decay",
            "truth_ids": [23],
        },
        "t": {
            "pythia": [
                "NewGaugeBoson:ffbar2gmZZprime = on",
                "Zprime:gmZmode = 3",
                "32:m0 = 2000",
                "32:onMode = off",
                "32:onIfAny = 6",
                *_W_HAD,
            ],
            "truth": "decay",
            "truth_ids": [6],
        },
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
    return cache_path("jets", {**_meta(n_per_class, seed), "settings": SETTINGS})


def generate(n_per_class: int, seed: int = 1, workers: int = 2, progress: bool = True) -> Path:
    """Generate (or reuse) the dataset and return its HDF5 path.

    Each class is split into chunks of `chunk_jets` jets; every chunk is an independent Pythia
    run seeded from (seed, class, chunk), so the result does not depend on `workers`.
    """
    _check_args(n_per_class, seed, workers)
    path = dataset_path(n_per_class, seed)
    if path.exists():
        return path
    tasks = _tasks(n_per_class, seed)  # class by class, chunks in order: the file's row order
    bars = [(f"jets {name}", n_per_class) for name in CLASS_NAMES]
    chunks = path.with_suffix(".chunks")  # finished chunks, kept until the file is written: a rerun resumes
    arrays = assemble(run_chunks(_run_chunk, tasks, workers, bars, progress, resume=chunks), seed)
    with atomic_file(path) as tmp:
        write_h5(tmp, arrays, {**_meta(n_per_class, seed), "settings": SETTINGS, "feature_names": FEATURE_NAMES,
                               "class_names": CLASS_NAMES, "constituent_names": CONSTITUENT_NAMES})  # fmt: skip
    shutil.rmtree(chunks, ignore_errors=True)
    return path


def add_cli(p) -> None:
    add_size_cli(p, PRESETS, "n_per_class", "jets per class")


def from_cli(args) -> Path:
    return generate(size_from_cli(args, PRESETS, "n_per_class"), seed=args.seed, workers=args.workers)


def from_spec(spec) -> Path:
    """The dataset a card's [data] section names (the flow's entry point)."""
    return generate(spec.n_per_class, seed=spec.seed)


def load(path) -> dict:
    """Read a file written by `generate` into numpy arrays (see module docstring for content)."""
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: no such jet dataset")
    arrays, attrs = read_h5(path, ("features", "labels", "constituents", "mask"))
    return {
        "features": arrays["features"],
        "feature_names": attrs["feature_names"],
        "labels": arrays["labels"],
        "class_names": attrs["class_names"],
        "constituents": arrays["constituents"],
        "constituent_names": attrs["constituent_names"],
        "mask": arrays["mask"],
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
    check_ints("jets", ("n_per_class", n_per_class, 1), ("seed", seed, 0), ("workers", workers, 1))


def _meta(n_per_class, seed):
    return {
        "n_per_class": int(n_per_class),
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
        "codesign_version": codesign.__version__,
    }


def _tasks(n_per_class, seed):
    size = SETTINGS["chunk_jets"]
    tasks = []
    for label in range(len(CLASS_NAMES)):
        for chunk, start in enumerate(range(0, n_per_class, size)):
            n = min(size, n_per_class - start)
            tasks.append(_Task(label, chunk, n, derived_seed("jets", seed, label, chunk)))
    return tasks


# ----------------------------------------------------------------------------- one chunk


def _run_chunk(task: _Task, report) -> dict:
    """Generate events of one class until `task.n_jets` matched jets; return their arrays.

    Jets are taken in event order (and fastjet order within an event) and cut at n_jets, so the
    event-batch size never changes the result. report(class, n) tells the progress bar.
    """
    from threadpoolctl import threadpool_limits

    # The ECF matrices are ~100x100: BLAS threads only add overhead (3-4x here) and fight the
    # other workers for the cores.
    with threadpool_limits(1):
        return _generate_chunk(task, report)


def _generate_chunk(task: _Task, report, extra: tuple[str, ...] = (), weights: int = 0) -> dict:
    """`extra`: Pythia settings added to the class's; `weights`: how many of Pythia's variation
    weights (after the nominal) to keep per jet, as ratios to the nominal ("shower_weights")."""
    name = CLASS_NAMES[task.label]
    cls = SETTINGS["classes"][name]
    pythia = new_pythia([*SETTINGS["pythia_common"], *cls["pythia"], *extra], task.pythia_seed, "jets", f"class {name}")
    charges = ChargeTable(pythia)
    parts, have, batch, events = [], 0, 40, 0
    while have < task.n_jets:
        if events > 1000 + 100 * task.n_jets:  # a class that never yields jets: settings bug
            raise CodesignError(f"jets: class {name} gave {have} matched jets in {events} events")
        # errorMode 10: give up (raise) after 10x the requested events fail to generate.
        batch_events = pythia.nextBatch(batch, 10.0)
        jets = _jets_from_events(batch_events, cls, charges)
        if weights:
            w = ak_weights(batch_events)
            jets["weights"] = w[jets["event"], 1 : 1 + weights] / w[jets["event"], :1]
        events += batch
        take = min(len(jets["pt"]), task.n_jets - have)
        parts.append(_first_jets(jets, take))
        have += take
        report(task.label, take)
        # Size the next batch from the observed yield (capped: memory, progress granularity).
        per_event = max(len(jets["pt"]) / batch, 0.05)
        batch = int(np.clip(1.2 * (task.n_jets - have) / per_event, 20, 200))
    jets = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    arrays = _jet_arrays(jets, task.label)
    if weights:
        arrays["shower_weights"] = jets["weights"].astype(np.float32)
    return arrays


def ak_weights(events) -> np.ndarray:
    """(events, weights) of a Pythia batch: the nominal weight, then each UncertaintyBands variation."""
    import awkward as ak

    return np.asarray(ak.to_numpy(events.info.weights), np.float64)


def _first_jets(jets, n):
    first = {
        "pt": jets["pt"][:n],
        "eta": jets["eta"][:n],
        "phi": jets["phi"][:n],
        "counts": jets["counts"][:n],
        "cons": jets["cons"][: jets["counts"][:n].sum()],
    }
    return {**first, "weights": jets["weights"][:n]} if "weights" in jets else first


def _jets_from_events(events, cls, charges) -> dict:
    """Cluster visible particles, match jets to truth objects, return flat per-jet arrays.

    Returns {"pt","eta","phi": (J,), "counts": (J,) constituents per jet, "cons": (C, 6)
    as [px, py, pz, E, charge, pdgid] of all kept jets back to back, "event": (J,) index of
    each jet's event in the batch}.
    """
    import awkward as ak
    import fastjet

    prt = events.prt
    truth = _truth(prt, cls["truth"], cls["truth_ids"])
    p = prt.p
    pt = np.hypot(p.px, p.py)
    eta = np.arcsinh(p.pz / ak.where(pt > 0, pt, 1e-9))
    visible = (
        (prt.status > 0) & (pt > 0) & (abs(eta) < SETTINGS["constituent_max_abs_eta"]) & ~isin(abs(prt.id), _NEUTRINOS)
    )
    vis = prt[visible]
    vec = ak.zip({"px": vis.p.px, "py": vis.p.py, "pz": vis.p.pz, "E": vis.p.e})
    with quiet_stdout():
        seq = fastjet.ClusterSequence(vec, fastjet.JetDefinition(fastjet.antikt_algorithm, SETTINGS["jet_r"]))
        min_pt = SETTINGS["jet_pt_min"]
        jets, index = seq.inclusive_jets(min_pt=min_pt), seq.constituent_index(min_pt=min_pt)
    jpt = np.hypot(jets.px, jets.py)
    jeta, jphi = np.arcsinh(jets.pz / jpt), np.arctan2(jets.py, jets.px)
    keep = (
        (jpt < SETTINGS["jet_pt_max"])
        & (abs(jeta) < SETTINGS["jet_max_abs_eta"])
        & (_min_dr(jeta, jphi, truth) < SETTINGS["match_dr"])
    )

    # Global (flat) particle indices of every kept jet's constituents.
    starts = np.cumsum(np.concatenate([[0], ak.to_numpy(ak.num(vis))]))[:-1]
    kept_index = index[keep] + starts
    n_cons = ak.to_numpy(ak.flatten(ak.num(kept_index, axis=2)))
    flat = ak.to_numpy(ak.flatten(kept_index, axis=None))
    pid = ak.to_numpy(ak.flatten(vis.id))[flat]
    cons = np.stack(
        [ak.to_numpy(ak.flatten(x))[flat] for x in (vis.p.px, vis.p.py, vis.p.pz, vis.p.e)]
        + [charges(pid), pid.astype(np.float64)],
        axis=1,
    )
    return {
        "pt": ak.to_numpy(ak.flatten(jpt[keep])),
        "eta": ak.to_numpy(ak.flatten(jeta[keep])),
        "phi": ak.to_numpy(ak.flatten(jphi[keep])),
        "counts": n_cons,
        "cons": cons,
        "event": ak.to_numpy(ak.flatten(ak.broadcast_arrays(ak.local_index(jpt, axis=0), jpt)[0][keep])),
    }


def _truth(prt, kind, truth_ids):
    """Truth (eta, phi) per event: outgoing hard partons (g/q) or last copies of W/Z/t."""
    import awkward as ak

    ida = abs(prt.id)
    if kind == "parton":
        sel = (prt.status == _HARD_OUTGOING) & isin(ida, truth_ids)
    else:
        # Last copy before the decay: its first daughter is not another copy of itself.
        # (No daughters means daughter1 = 0, the event-system entry, id 90: also "not itself".)
        sel = isin(ida, truth_ids) & (ida[prt.daughter1] != ida)
    p = prt.p[sel]
    pt = np.hypot(p.px, p.py)
    return {"eta": np.arcsinh(p.pz / ak.where(pt > 0, pt, 1e-9)), "phi": np.arctan2(p.py, p.px)}


def _min_dr(jeta, jphi, truth):
    """Per jet, the smallest dR to any truth object of its event (inf if none)."""
    import awkward as ak

    j = ak.zip({"eta": jeta, "phi": jphi})
    t = ak.zip({"eta": truth["eta"], "phi": truth["phi"]})
    jj, tt = ak.unzip(ak.cartesian([j, t], nested=True))
    dr = np.hypot(jj.eta - tt.eta, wrap_phi(jj.phi - tt.phi))
    return ak.fill_none(ak.min(dr, axis=-1), np.inf)


# ----------------------------------------------------------------------------- per-jet arrays


def _jet_arrays(jets, label) -> dict:
    """Features, constituent arrays and labels for the jets of one chunk."""
    starts = offsets(jets["counts"])
    groomed = mmdt(jets["cons"], jets["counts"], SETTINGS["mmdt_zcut"], SETTINGS["jet_r"])
    feats, cons, mask = [], [], []
    for i in range(len(jets["pt"])):
        c = jets["cons"][starts[i] : starts[i + 1]]
        feats.append(hls4ml_features(c, groomed[i], SETTINGS["gecf_max_constituents"]))
        padded, m = _constituent_row(c, jets["eta"][i], jets["phi"][i])
        cons.append(padded)
        mask.append(m)
    n = len(feats)
    return {
        "features": np.asarray(feats, np.float32).reshape(n, len(FEATURE_NAMES)),
        "labels": np.full(n, label, np.int64),
        "constituents": np.asarray(cons, np.float32).reshape(n, MAX_CONSTITUENTS, len(CONSTITUENT_NAMES)),
        "mask": np.asarray(mask, bool).reshape(n, MAX_CONSTITUENTS),
    }


def _constituent_row(c, jet_eta, jet_phi):
    """Constituents sorted by pT, as CONSTITUENT_NAMES, zero-padded to MAX_CONSTITUENTS."""
    pt = np.hypot(c[:, 0], c[:, 1])
    order = np.argsort(-pt, kind="stable")[:MAX_CONSTITUENTS]
    c, pt = c[order], pt[order]
    eta = np.arcsinh(c[:, 2] / pt)
    phi = np.arctan2(c[:, 1], c[:, 0])
    row = np.zeros((MAX_CONSTITUENTS, len(CONSTITUENT_NAMES)))
    row[: len(c)] = np.stack([pt, eta - jet_eta, wrap_phi(phi - jet_phi), c[:, 3], c[:, 4], c[:, 5]], axis=1)
    mask = np.zeros(MAX_CONSTITUENTS, bool)
    mask[: len(c)] = True
    return row, mask
