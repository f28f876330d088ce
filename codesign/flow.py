"""The flow: data -> train -> hls -> rtl -> cosim -> estimate -> package -> report.

A design point is a card with a preset applied. Each stage writes one folder named by the content
key of exactly the card sections it depends on (training is shared by points that differ only
in firmware settings), atomically: a folder that exists is complete, and is not redone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console

from . import paths
from .card import Card, load_card
from .errors import CodesignError

console = Console(stderr=True)

STAGES = ["data", "train", "hls", "rtl", "cosim", "estimate", "package", "report"]
SIMULATORS = ("icarus", "verilator")
# Icarus evaluates the whole netlist every clock (~20-30 vectors/s for the 16->5 MLP): it checks the
# first 1000 vectors; Verilator (~17k vectors/s) checks all of them.
SIM_MAX_VECTORS = {"icarus": 1000, "verilator": None}


@dataclass(frozen=True)
class Point:
    card: Card

    @classmethod
    def from_file(cls, card_path: str | Path, preset: str | None = None) -> Point:
        return cls(load_card(card_path).with_preset(preset))

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def key(self) -> str:
        return self.card.key()

    @property
    def train_dir(self) -> Path:
        return paths.build_dir() / "train" / f"{self.name}-{self.card.train_key()}"

    @property
    def point_dir(self) -> Path:
        return paths.build_dir() / "points" / f"{self.name}-{self.key}"

    @property
    def bundle_dir(self) -> Path:
        return paths.root() / "firmware" / "ip" / f"{self.name}-{self.key}"

    @property
    def report_dir(self) -> Path:
        return paths.root() / "reports" / f"{self.name}-{self.key}"

    def stage_dir(self, stage: str) -> Path:
        return {"train": self.train_dir, "package": self.bundle_dir, "report": self.report_dir}.get(
            stage, self.point_dir / stage
        )

    def record(self, stage: str) -> dict:
        """The finished stage's record (stage.json); error if the stage has not run."""
        f = self.stage_dir(stage) / "stage.json"
        if not f.exists():
            raise CodesignError(f"{self.name}-{self.key}: stage '{stage}' has not run (run `codesign {stage}` or `codesign run`)")
        return json.loads(f.read_text())


# ---- stages: each takes (point, out_dir) and returns a JSON-able record ----------------------


def stage_data(point: Point, out: Path) -> dict:
    from . import data

    spec = point.card.data
    return {"file": str(data.module(spec.dataset).from_spec(spec)), **spec.model_dump(mode="json")}


def _load_data(point: Point) -> dict:
    from . import data

    return data.module(point.card.data.dataset).load(Path(point.record("data")["file"]))


def stage_train(point: Point, out: Path) -> dict:
    from .quant import trainer

    return trainer(point.card).train(point.card, _load_data(point), out)


def _model_and_reference(point: Point):
    from .quant.train import load_model

    d = point.train_dir
    ref = dict(np.load(d / "reference.npz"))
    return load_model(d / "model.keras"), ref


def n_vectors(point: Point, ref: dict) -> int:
    return min(point.card.firmware.cosim_vectors, len(ref["x"]))


def stage_hls(point: Point, out: Path) -> dict:
    from .hls.csim import build_hls

    model, ref = _model_and_reference(point)
    return build_hls(model, point.card, ref, out, n_vectors(point, ref))


def stage_rtl(point: Point, out: Path) -> dict:
    from .rtl.emit import emit_rtl

    model, ref = _model_and_reference(point)
    n = n_vectors(point, ref)
    core = emit_rtl(model, ref["x"][:n], ref["y"][:n], out, clock_ns=point.card.firmware.clock_ns, name=point.name)
    return {"core": core}


def stage_cosim(point: Point, out: Path) -> dict:
    from .rtl.cosim import run_cosim

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    core_dir = point.stage_dir("rtl")
    # Both simulators side by side (Icarus dominates the stage), each in its own process because
    # the runner sets process-wide environment variables (Verilator's PATH, MAKEFLAGS).
    with ProcessPoolExecutor(len(SIMULATORS), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {s: pool.submit(run_cosim, core_dir, s, paths.build_dir() / "simbuild", SIM_MAX_VECTORS[s]) for s in SIMULATORS}
        return {s: f.result() for s, f in futures.items()}


def stage_estimate(point: Point, out: Path) -> dict:
    from .estimate.cost import estimate

    return estimate(point, out)


def stage_package(point: Point, out: Path) -> dict:
    from .package.bundle import write_bundle

    return write_bundle(point, out)


def stage_report(point: Point, out: Path) -> dict:
    from .report.html import write_report

    return write_report(point, out)


STAGE_FUNCS: dict[str, Callable[[Point, Path], dict]] = {
    "data": stage_data, "train": stage_train, "hls": stage_hls, "rtl": stage_rtl, "cosim": stage_cosim,
    "estimate": stage_estimate, "package": stage_package, "report": stage_report,
}  # fmt: skip


def run_stage(point: Point, stage: str, force: bool = False) -> dict:
    """Run one stage unless its folder exists (then return its record)."""
    final = point.stage_dir(stage)
    if (final / "stage.json").exists() and not force:
        console.print(f"[dim]{stage:9s} cached   {final}[/dim]")
        return json.loads((final / "stage.json").read_text())
    console.print(f"[bold]{stage:9s}[/bold] running …")
    t0 = time.perf_counter()
    with paths.atomic_dir(final, replace=force) as tmp:
        record = STAGE_FUNCS[stage](point, tmp)
        record = {"stage": stage, "key": point.key, "seconds": round(time.perf_counter() - t0, 2), **record}
        (tmp / "stage.json").write_text(json.dumps(record, indent=1, default=str))
    record = json.loads((final / "stage.json").read_text())  # a concurrent twin may have won
    console.print(f"[green]{stage:9s} done[/green]     {record['seconds']:.1f} s  {final}")
    return record


# What each stage reads: `run` resolves these, so a sweep can ask for cost without co-simulation.
NEEDS = {
    "data": (), "train": ("data",), "hls": ("train",), "rtl": ("train",), "cosim": ("rtl",),
    "estimate": ("rtl",), "package": ("hls", "cosim", "estimate"), "report": ("package",),
}  # fmt: skip


def plan(targets: tuple[str, ...] | list[str]) -> list[str]:
    """The stages needed for `targets`, in flow order."""
    need: set[str] = set()

    def add(stage: str) -> None:
        if stage not in NEEDS:
            raise CodesignError(f"unknown stage '{stage}' (stages: {', '.join(STAGES)})")
        if stage not in need:
            need.add(stage)
            for dep in NEEDS[stage]:
                add(dep)

    for t in targets:
        add(t)
    return [s for s in STAGES if s in need]


def run(point: Point, until: str = "report", force: tuple[str, ...] = (), targets: tuple[str, ...] = ()) -> dict[str, dict]:
    """Run `until` (or all `targets`) and what they need; finished stages are skipped."""
    records = {}
    for stage in plan(targets or (until,)):
        records[stage] = run_stage(point, stage, force=stage in force)
    return records
