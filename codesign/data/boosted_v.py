"""Boosted hadronic W/Z jets against QCD jets, with Pythia's own parton-shower variation weights.

The signal and background of the differentiable analysis (models/analysis_wz.toml). The jets,
their 16 substructure features and constituents are those of the jets dataset (jets.py: same
Pythia 8 processes, clustering, matching and grooming), for four of its classes:
  signal      W (W' -> W Z, W -> qq')  and  Z (W' -> W Z, Z -> qq), pT ~ 0.6-1.5 TeV;
  background  q and g jets of hard QCD 2 -> 2, pTHat 900-1100 GeV.
Parton-shower uncertainty: Pythia's UncertaintyBands reweighting (Mrenna and Skands,
arXiv 1605.08352): every event carries, beside its nominal weight, the weights it would have with
the final-state (FSR) and initial-state (ISR) shower renormalisation scale varied by a factor
sqrt(2) up and down (Pythia's reduced variations). FSR variations apply above pT² = 20 x
TimeShower:pTmin² (pT > 2.2 GeV, UncertaintyBands:FSRpTmin2Fac = 20; Pythia's default 4 varies
down to 1 GeV, where a perturbative scale variation means little): on 300 gluon events at 1 TeV
this took the spread of the FSR-up weights from 1.6 to 0.45 (largest 16.9 -> 3.1), and the
templates from statistical noise to a shape. Stored per jet as ratios to the nominal, columns
SHOWER_VARIATIONS. They are correlated with the nominal events: the templates differ by the
physics of the variation, not by independent statistical fluctuations.
The variations slow Pythia about threefold. Deterministic per seed like the jets dataset (chunks
seeded from (seed, class, chunk)); cached by the hash of every setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

import codesign
from codesign.data import jets
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
from codesign.spec import Strict


class Spec(Strict):
    """Boosted W/Z jets against QCD jets with shower-variation weights (codesign data boosted_v)."""

    dataset: Literal["boosted_v"] = "boosted_v"
    n_per_class: int = Field(5000, ge=10, description="jets per class (W, Z, q, g)")
    test_fraction: float = Field(0.4, gt=0.0, lt=1.0, description="held out for the final fits")
    seed: int = 1


GENERATOR_VERSION = 1
CLASSES = ["W", "Z", "q", "g"]
SIGNAL = ["W", "Z"]
SHOWER_VARIATIONS = ["fsr_up", "fsr_down", "isr_up", "isr_down"]
PRESETS = {"tiny": 60, "demo": 5000}
SETTINGS = {
    "jets_settings": jets.SETTINGS,
    "uncertainty_bands": [
        "UncertaintyBands:doVariations = on",
        "UncertaintyBands:FSRpTmin2Fac = 20",
        "UncertaintyBands:List = {fsr_up fsr:muRfac=0.707, fsr_down fsr:muRfac=1.414, "
        "isr_up isr:muRfac=0.707, isr_down isr:muRfac=1.414}",
    ],
    "jets_generator_version": jets.GENERATOR_VERSION,
}


def dataset_path(n_per_class: int, seed: int) -> Path:
    check_ints("boosted_v", ("n_per_class", n_per_class, 1), ("seed", seed, 0))
    return cache_path("boosted_v", {**_meta(n_per_class, seed), "settings": SETTINGS})


def generate(n_per_class: int, seed: int = 1, workers: int = 2, progress: bool = True) -> Path:
    check_ints("boosted_v", ("n_per_class", n_per_class, 1), ("seed", seed, 0), ("workers", workers, 1))
    path = dataset_path(n_per_class, seed)
    if path.exists():
        return path
    size = jets.SETTINGS["chunk_jets"]
    tasks = [(i, jets._Task(jets.CLASS_NAMES.index(c), k, min(size, n_per_class - start),
                            derived_seed("boosted_v", seed, c, k)))
             for i, c in enumerate(CLASSES) for k, start in enumerate(range(0, n_per_class, size))]  # fmt: skip
    bars = [(f"boosted_v {c}", n_per_class) for c in CLASSES]
    arrays = assemble(run_chunks(_run_chunk, tasks, workers, bars, progress), seed)
    with atomic_file(path) as tmp:
        write_h5(tmp, arrays, {**_meta(n_per_class, seed), "settings": SETTINGS, "feature_names": jets.FEATURE_NAMES,
                               "class_names": CLASSES, "shower_variations": SHOWER_VARIATIONS})  # fmt: skip
    return path


def _run_chunk(task, report) -> dict:
    from threadpoolctl import threadpool_limits

    bar, t = task
    with threadpool_limits(1):
        a = jets._generate_chunk(t, lambda _, n: report(bar, n), tuple(SETTINGS["uncertainty_bands"]),
                                 weights=len(SHOWER_VARIATIONS))  # fmt: skip
    return {"features": a["features"], "labels": np.full(len(a["labels"]), bar, np.int64),
            "signal": np.full(len(a["labels"]), CLASSES[bar] in SIGNAL), "shower_weights": a["shower_weights"]}  # fmt: skip


def _meta(n_per_class, seed):
    return {"n_per_class": int(n_per_class), "seed": int(seed), "generator_version": GENERATOR_VERSION,
            "codesign_version": codesign.__version__}  # fmt: skip


def add_cli(p) -> None:
    add_size_cli(p, PRESETS, "n_per_class", "jets per class (W, Z, q, g)")


def from_cli(args) -> Path:
    return generate(size_from_cli(args, PRESETS, "n_per_class"), seed=args.seed, workers=args.workers)


def from_spec(spec) -> Path:
    return generate(spec.n_per_class, seed=spec.seed)


def load(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: no such boosted_v dataset")
    arrays, attrs = read_h5(path)
    return {**arrays, "feature_names": attrs["feature_names"], "class_names": attrs["class_names"],
            "shower_variations": attrs["shower_variations"], "attrs": attrs}  # fmt: skip
