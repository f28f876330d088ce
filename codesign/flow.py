"""The flow: data -> train -> hls -> rtl -> cosim -> estimate -> package -> report.

A design point is a card with a preset applied. Each stage writes one folder named by the content
key of exactly the card sections it depends on (training is shared by points that differ only
in firmware settings), atomically: a folder that exists is complete, and is not redone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from . import kinds, paths, records
from .card import Card, load_card
from .errors import CodesignError

console = Console(stderr=True)

STAGES = ["data", "train", "hls", "rtl", "cosim", "estimate", "package", "report"]
SIMULATORS = ("icarus", "verilator")


@dataclass(frozen=True)
class Point:
    card: Card
    # Vivado/Vitis report files a user brought (estimate/vendor.py); not part of the key.
    vendor_reports: Path | None = None
    # A model file a user brings (`codesign run --model FILE`: a kind with a `file_suffix`): it replaces
    # the data and train stages (quant/qonnx_import.py, keras_import.py, qkeras_h5.py) and its sha256
    # (and that of the user's test vectors) joins the key. allow_unsafe lets models the guard rails
    # refuse through to conversion (warned; the bit-exact checks still apply); it joins the key too.
    model_file: Path | None = None
    allow_unsafe: bool = False

    @classmethod
    def from_file(
        cls, card_path: str | Path, preset: str | None = None, vendor_reports: str | Path | None = None
    ) -> Point:
        return cls(load_card(card_path).with_preset(preset), Path(vendor_reports) if vendor_reports else None)

    def __post_init__(self):
        # A card of a user's model file (from `--model`, or a sweep's point) carries its file: the key
        # reads its sha256 whichever way the point was made.
        if self.model_file is None and self.card.kind.file_suffix:
            object.__setattr__(self, "model_file", Path(self.card.model.file))
            object.__setattr__(self, "allow_unsafe", self.card.model.allow_unsafe)

    @classmethod
    def from_model(cls, model: str | Path, card_path: str | Path | None = None, preset: str | None = None,
                   allow_unsafe: bool = False, vectors: str | None = None) -> Point:  # fmt: skip
        """A user's model file: firmware settings from `card_path` (its preset applied), else defaults.

        The file (and the vectors' file) is checked here, before anything is written: a refusal names
        the layer or node and the fix.
        """
        card = user_card(model, card_path, preset, allow_unsafe, vectors)
        if vectors:
            from .data.vectors import read_vectors

            read_vectors(vectors)  # a missing file, dataset or branch fails here
        problems = check_user_model(Path(card.model.file), allow_unsafe)
        for p in problems:
            console.print(f"[bold red]WARNING (--allow-unsafe): {card.source}: {p}[/bold red]")
        if problems:
            console.print("[bold red]WARNING: converting a model the guard rails refuse: the firmware may compute "
                          "something else than the model; the bit-exact checks will tell.[/bold red]")  # fmt: skip
        return cls(card)

    from_onnx = from_model  # `--onnx FILE`, kept

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def key(self) -> str:
        if self.model_file is None and not self.allow_unsafe:
            return self.card.key()
        from .qonnx_guard import sha256

        vectors = getattr(self.card.model, "vectors", None)
        extra = {"card": self.card.key(), "onnx": self.model_file and sha256(self.model_file),
                 "allow_unsafe": self.allow_unsafe}  # fmt: skip
        if vectors:
            from .data.vectors import vectors_file

            extra["vectors"] = sha256(vectors_file(vectors))
        return hashlib.sha256(json.dumps(extra, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def train_dir(self) -> Path:
        """The train stage's folder; a point taking a Pareto checkpoint has its own, copied from the training's."""
        key = self.key if self.model_file else self.card.train_key()
        ckpt = self.card.training.checkpoint
        return paths.build_dir() / "train" / (f"{self.name}-{key}" + (f"-checkpoint{ckpt}" if ckpt is not None else ""))

    def trained(self) -> Point:
        """The point whose training this one reads: itself, or without its Pareto checkpoint."""
        if self.card.training.checkpoint is None:
            return self
        return Point(self.card.with_overrides({"training.pareto.checkpoint": None}), self.vendor_reports)

    @property
    def kind(self) -> kinds.ModelKind:
        return self.card.kind

    @property
    def stages(self) -> list[str]:
        """The stages this point has, as its kind declares them (a float offline model: data, train,
        report; a user's QONNX file: no data stage; a kind's own stages where it lists them)."""
        return list(self.kind.stages)

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
            raise CodesignError(
                f"{self.name}-{self.key}: stage '{stage}' has not run (run `codesign {stage}` or `codesign run`)"
            )
        return json.loads(f.read_text())

    # Typed views of the records later stages read (codesign/records.py).
    def core(self) -> records.Core:
        return records.Rtl.model_validate(self.record("rtl")).core

    def hls(self) -> records.Hls:
        return records.Hls.model_validate(self.record("hls"))

    def sims(self) -> dict[str, records.Sim]:
        return records.Cosim.model_validate(self.record("cosim")).sims()

    def cost(self) -> records.Cost:
        return records.Cost.model_validate(self.record("estimate"))


def user_card(model: str | Path, card_path: str | Path | None = None, preset: str | None = None,
              allow_unsafe: bool = False, vectors: str | None = None) -> Card:  # fmt: skip
    """The card of a user's model file (kind by suffix), firmware settings from `card_path`; not yet checked."""
    import re

    from .card import FirmwareSpec

    model = Path(model).resolve()
    kind = _user_kind(model)
    fw = load_card(card_path).with_preset(preset).firmware if card_path else FirmwareSpec()
    name = re.sub(r"[^a-z0-9_]", "_", model.stem.lower())
    name = name if re.match(r"[a-z]", name) else f"m_{name}"
    if vectors:
        from .data.vectors import absolute

        vectors = absolute(vectors)
    spec = {
        "kind": kind.name,
        "file": str(model),
        "allow_unsafe": allow_unsafe,
        **({"vectors": vectors} if vectors else {}),
    }
    return Card(name=name, description=f"{model.name}: {kind.summary}", firmware=fw, source=str(model), model=spec)


def _user_kind(path: Path) -> kinds.ModelKind:
    have = kinds.user_file_kinds()
    if path.suffix.lower() not in have:
        raise CodesignError(f"{path}: a model file of your own is one of {', '.join(sorted(have))} "
                            f"({'; '.join(k.summary for k in have.values())})")  # fmt: skip
    return have[path.suffix.lower()]


def check_user_model(path: Path, allow_unsafe: bool) -> list[str]:
    """The guard rails of the file's kind (ModelKind.guard); raises on the first problem unless allow_unsafe."""
    return _user_kind(path).guard(path, allow_unsafe)


# ---- stages: each takes (point, out_dir) and returns a JSON-able record ----------------------


def stage_data(point: Point, out: Path) -> dict:
    spec = point.card.data
    return {"file": str(point.kind.dataset.from_spec(spec)), **spec.model_dump(mode="json")}


def load_data(point: Point) -> dict | None:
    """The point's dataset as arrays (None for a kind that reads none)."""
    if point.kind.dataset is None:
        return None
    return point.kind.dataset.load(Path(point.record("data")["file"]))


def stage_train(point: Point, out: Path) -> dict:
    if point.card.training.checkpoint is not None:  # a kept checkpoint of the training (quant/pareto.py)
        from .quant.pareto import take_checkpoint

        base = point.trained()
        run_stage(base, "train")
        record = take_checkpoint(base.train_dir, point.card.training.checkpoint, out, point.card.source or point.name)
    else:
        record = point.kind.trainer(point.card)(point.card, load_data(point), out)
    return {**record, **_save_trace(point, out)}


# da4ml's trace of a trained Keras model, saved beside it by the train stage (which has Keras loaded):
# the rtl stage then pipelines and writes it without importing TensorFlow (~5 CPU-s per design point).
TRACE = "da4ml_trace.json"


def _save_trace(point: Point, out: Path) -> dict:
    """{"da4ml_trace": file name} once saved; a model da4ml cannot trace gets none, and the rtl stage,
    tracing it again, says why."""
    if not (point.kind.firmware and (out / "model.keras").exists()):
        return {}
    from .rtl.emit import save_trace
    from .zoo.load import load_model

    try:
        save_trace(load_model(out / "model.keras"), out / TRACE)
    except Exception as e:  # noqa: BLE001  (a model da4ml cannot trace is still trained; the rtl stage says why)
        (out / TRACE).unlink(missing_ok=True)
        console.print(f"[dim]train: no da4ml trace saved ({type(e).__name__}); the rtl stage traces the model[/dim]")
        return {}
    return {"da4ml_trace": TRACE}


# The one place where frontends part: the firmware stages take what the train stage wrote. A Keras
# model (HGQ2, QKeras) goes to hls4ml's Keras converter and da4ml's Keras tracer; a QONNX graph
# (Brevitas, or a user's file) to hls/qonnx_frontend.py and rtl/qonnx_trace.py. Everything after
# hls and rtl (cosim, estimate, package, report) reads only their outputs.
FIRMWARE_PATHS = {
    "model.keras": {"model": "Keras 3", "hls": "hls4ml Keras converter", "rtl": "da4ml trace of the Keras model"},
    "model.onnx": {"model": "QONNX", "hls": "qonnx cleanup + GemmToMatMul, hls4ml ONNX converter",
                   "rtl": "da4ml trace of the QONNX graph (rtl/qonnx_trace.py)"},
}  # fmt: skip


def firmware_input(point: Point) -> tuple[Path, dict, dict]:
    """(model file, its FIRMWARE_PATHS entry, reference) of a trained point."""
    d = point.train_dir
    for fname, how in FIRMWARE_PATHS.items():
        if (d / fname).exists():
            return d / fname, how, dict(np.load(d / "reference.npz"))
    if not point.kind.firmware:
        raise CodesignError(f"{point.card.source or point.name}: field 'model.kind': '{point.card.model.kind}' has no "
                            f"firmware stages (its stages: {', '.join(point.stages)})")  # fmt: skip
    raise CodesignError(f"{d}: no model file ({' or '.join(FIRMWARE_PATHS)}); rerun `codesign train --force`")


def n_vectors(point: Point, ref: dict) -> int:
    return min(point.card.firmware.cosim_vectors, len(ref["x"]))


def stage_hls(point: Point, out: Path) -> dict:
    model_file, how, ref = firmware_input(point)
    if model_file.suffix == ".onnx":
        from .hls.qonnx_frontend import build_hls

        record = build_hls(model_file, point.card, ref, out, n_vectors(point, ref), allow_unsafe=point.allow_unsafe)
    else:
        from .hls.csim import build_hls
        from .zoo.load import load_model

        record = build_hls(load_model(model_file), point.card, ref, out, n_vectors(point, ref))
    return {**record, "path": f"{how['model']} -> {how['hls']}"}


def stage_rtl(point: Point, out: Path) -> dict:
    from .rtl.emit import emit_rtl, emit_saved, emit_traced

    model_file, how, ref = firmware_input(point)
    n = n_vectors(point, ref)
    args = (ref["x"][:n], ref["y"][:n], out)
    kw = {"clock_ns": point.card.firmware.clock_ns, "name": point.name}
    if model_file.suffix == ".onnx":
        from .rtl.qonnx_trace import trace_qonnx

        core = emit_traced(*trace_qonnx(model_file, point.allow_unsafe), *args, **kw)
    else:
        from .zoo.load import load_model

        if (point.train_dir / TRACE).exists():
            core = emit_saved(point.train_dir / TRACE, lambda: load_model(model_file), *args, **kw)
        else:  # trained before the train stage saved traces, or untraceable: tracing again says why
            core = emit_rtl(load_model(model_file), *args, **kw)
    return {"core": core, "path": f"{how['model']} -> {how['rtl']}"}


def sim_events(point: Point, simulator: str) -> list[int] | None:
    """Which of the core's vectors `simulator` checks (None: all).

    Verilator checks all of them. Icarus, the slow second opinion, checks the card's first
    icarus_vectors events plus the fewest further events with which every port bit that ever changes
    has taken both values (rtl/cosim.py: toggle_cover), whatever the card says.
    """
    if simulator != "icarus":
        return None
    from .rtl.cosim import toggle_cover

    return toggle_cover(point.stage_dir("rtl"), point.card.firmware.icarus_vectors)


def stage_cosim(point: Point, out: Path) -> dict:
    from .rtl.cosim import run_cosim

    core_dir = point.stage_dir("rtl")
    # Both simulators side by side (Icarus dominates the stage), each in its own process because
    # the runner sets process-wide environment variables (Verilator's PATH, MAKEFLAGS).
    with ProcessPoolExecutor(len(SIMULATORS), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {s: pool.submit(run_cosim, core_dir, s, paths.build_dir() / "simbuild", events=sim_events(point, s))
                   for s in SIMULATORS}  # fmt: skip
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


def _stage_func(point: Point, stage: str) -> Callable[[Point, Path], dict]:
    extra = point.kind.extra_stages.get(stage)
    return extra.run if extra else STAGE_FUNCS[stage]


def run_stage(point: Point, stage: str, force: bool = False) -> dict:
    """Run one stage unless its folder exists (then return its record)."""
    final = point.stage_dir(stage)
    if (final / "stage.json").exists() and not force:
        console.print(f"[dim]{stage:9s} cached   {final}[/dim]")
        return json.loads((final / "stage.json").read_text())
    console.print(f"[bold]{stage:9s}[/bold] running …")
    t0 = time.perf_counter()
    with paths.atomic_dir(final, replace=force) as tmp:
        try:
            record = _stage_func(point, stage)(point, tmp)
        except CodesignError as e:  # a failed bit-exact check that names its first diverging layer keeps it
            if getattr(e, "diagnosis", None):
                final.parent.mkdir(parents=True, exist_ok=True)
                (final.parent / f"{stage}.diagnosis.json").write_text(json.dumps(e.diagnosis, indent=1))
            raise
        record = {"stage": stage, "key": point.key, "seconds": round(time.perf_counter() - t0, 2), **record}
        (tmp / "stage.json").write_text(json.dumps(record, indent=1, default=str))
    record = json.loads((final / "stage.json").read_text())  # a concurrent twin may have won
    console.print(f"[green]{stage:9s} done[/green]     {record['seconds']:.1f} s  {final}")
    return record


# Stages `run` hands, in this order, to one second process as soon as what they read exists (and this
# one has other stages to run meanwhile), and collects when a later stage needs them (or at the end):
# the HLS C-simulation (hls4ml's g++ compile, which also changes the working directory) runs beside
# the RTL stages, which share nothing with it, then the cost estimate (which reads the RTL, not the
# co-simulation) beside the co-simulation, in the same process: the only one that imports Keras
# (~5 CPU-s) where the rtl stage reads the trace the training saved (TRACE).
ALONGSIDE = ("hls", "estimate")

# What each stage reads: `run` resolves these, so a sweep can ask for cost without co-simulation.
NEEDS = {
    "data": (), "train": ("data",), "hls": ("train",), "rtl": ("train",), "cosim": ("rtl",),
    "estimate": ("rtl",), "package": ("hls", "cosim", "estimate"), "report": ("package",),
}  # fmt: skip


def plan(targets: tuple[str, ...] | list[str], kind: kinds.ModelKind | None = None) -> list[str]:
    """The stages needed for `targets`, in flow order (a kind's own stages where it lists them).

    Without a kind, every stage any kind may have is known. The report needs the last stage before
    it that the kind has (package for L1 kinds; train, or a kind's own stage, for offline kinds).
    """
    order = list(kind.stages) if kind else STAGES
    needs = _needs(kind)
    need: set[str] = set()

    def add(stage: str) -> None:
        if stage not in need:
            need.add(stage)
            for dep in needs[stage]:
                if dep in order:  # a kind without it has what it gives otherwise (a user's file comes trained)
                    add(dep)

    for t in targets:
        if t not in needs or t not in order:
            raise CodesignError(f"unknown stage '{t}' (stages: {', '.join(order)})")
        add(t)
    return [s for s in order if s in need]


def through(point: Point, until: str) -> tuple[str, ...]:
    """Every stage the point has, in flow order, up to and including `until` (() if it has no such stage)."""
    return tuple(point.stages[: point.stages.index(until) + 1]) if until in point.stages else ()


def run(
    point: Point, until: str = "report", force: tuple[str, ...] = (), targets: tuple[str, ...] = ()
) -> dict[str, dict]:
    """Run `until` (or all `targets`) and what they need; finished stages are skipped."""
    for t in targets or (until,):
        if t in STAGES and t not in point.stages:
            raise CodesignError(f"{point.card.source or point.name}: stage '{t}' does not apply: model kind "
                                f"'{point.kind.name}' ({point.kind.summary}) has the stages {', '.join(point.stages)}")  # fmt: skip
    order, needs = plan(targets or (until,), point.kind), _needs(point.kind)
    records: dict[str, dict] = {}
    alongside: dict = {}  # stage -> future of its run in a process of its own
    with contextlib.ExitStack() as stack:
        pool = None

        def hand_over() -> None:
            nonlocal pool
            for t in to_hand_over(order, needs, records, alongside):
                if t in force or not (point.stage_dir(t) / "stage.json").exists():
                    pool = pool or stack.enter_context(second_process())
                    alongside[t] = pool.submit(run_stage, point, t, t in force)

        for stage in order:
            hand_over()
            if stage in alongside:
                continue
            for d in needs[stage]:
                if d in alongside:
                    records[d] = alongside.pop(d).result()
                    hand_over()  # what waited for it goes before this stage starts
            records[stage] = run_stage(point, stage, force=stage in force)
        for t, f in alongside.items():
            records[t] = f.result()
    return {s: records[s] for s in order}


def second_process() -> ProcessPoolExecutor:
    """The process the ALONGSIDE stages run in: forked, sharing what this one has imported (the stages
    start ~1 s sooner than in a new interpreter), unless TensorFlow is imported here: once its runtime
    has started, its threads do not survive a fork, and the process is spawned instead."""
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method))


def to_hand_over(order: list[str], needs: dict, done, handed) -> list[str]:
    """The ALONGSIDE stages of `order` whose inputs are `done` and that are not yet done or handed over,
    where a stage not needing them is left to run here meanwhile (else they run here: `codesign
    estimate` imports Keras once, not twice)."""
    out = []
    for t in ALONGSIDE:
        meanwhile = [s for s in order if s != t and s not in done and s not in handed and t not in needs[s]]
        if t in order and t not in done and t not in handed and meanwhile and all(d in done for d in needs[t]):
            out.append(t)
    return out


def _needs(kind: kinds.ModelKind | None) -> dict[str, tuple[str, ...]]:
    """What each stage reads (NEEDS, a kind's own stages, the report after the kind's last stage)."""
    needs = {**NEEDS, **({s: st.needs for s, st in kind.extra_stages.items()} if kind else {})}
    if kind:
        order = list(kind.stages)
        needs["report"] = tuple(order[: order.index("report")][-1:]) if "report" in order else ()
    return needs
