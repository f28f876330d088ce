"""RTL co-simulation of an emitted core: cocotb drives it in Icarus Verilog or Verilator, bit-exact.

The implementation is sim/run_sim.py with sim/tb_core.py: they ship inside IP bundles, where
codesign is not installed, so this module loads run_sim by path instead of duplicating it, and
turns a failed check into a CodesignError naming the first mismatch.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import CodesignError

SIM_DIR = Path(__file__).resolve().parents[2] / "sim"
SIMULATORS = ("icarus", "verilator")


@cache
def _run_sim():
    spec = importlib.util.spec_from_file_location("codesign_sim_run_sim", SIM_DIR / "run_sim.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cosim(
    core_dir: Path, simulator: str, build_dir: Path, max_vectors: int | None = None, events: list[int] | None = None
) -> dict:
    """Co-simulate the core in `core_dir` (emit_rtl's output); builds are cached in `build_dir` by content.

    Checks the first `max_vectors` events (None: all), or only the listed `events` (indices into the
    vector files, in order; mismatches are named by these indices). Returns {simulator, vectors,
    mismatches, build_s, run_s, vectors_per_s, passed}: build_s is 0 when a build of the same RTL was
    reused; run_s times the testbench's vector loop (simulator start-up excluded). Raises CodesignError
    on any mismatch, naming the first.
    """
    if simulator not in SIMULATORS:
        raise CodesignError(f"simulator '{simulator}': not supported; choose one of {', '.join(SIMULATORS)}")
    try:
        r = _run_sim().run(Path(core_dir), simulator, Path(build_dir), max_vectors, events)
    except RuntimeError as e:
        raise CodesignError(f"{simulator} co-simulation of {core_dir}: {e}") from None
    if not r["passed"]:
        raise CodesignError(f"{simulator} co-simulation of {core_dir}: {r['message']}")
    return {k: r[k] for k in ("simulator", "vectors", "mismatches", "build_s", "run_s", "vectors_per_s", "passed")}


def toggle_cover(core_dir: Path, first: int = 1) -> list[int]:
    """Events for a sampling simulator (sorted indices into the core's test vectors): the first `first`,
    then, chosen greedily (most new bit values first), the fewest further events with which every input
    and output port bit that changes anywhere in the vectors has been both 0 and 1.

    A rare bit (a large output, a sign that flips once) is reached by its event wherever it lies, rather
    than by simulating every event before it."""
    core_dir = Path(core_dir)
    core = json.loads((core_dir / "core.json").read_text())
    values = []  # per port: events x (bit is 1 | bit is 0) for its bits that change
    for port, f in zip(core["ports"], (core["vectors"]["inputs"], core["vectors"]["expected"])):
        raw = np.loadtxt(core_dir / f, dtype=np.int64, ndmin=2)
        w = port["width"]
        if w == 0 or not len(raw):
            continue
        bits = (((raw[:, :, None] % (1 << w)) >> np.arange(w)) & 1).astype(bool).reshape(len(raw), -1)
        changing = bits.any(0) & ~bits.all(0)
        values.append(np.concatenate([bits[:, changing], ~bits[:, changing]], 1))
    n = len(values[0]) if values else 0
    chosen = list(range(min(max(first, 1), n)))
    if not values:
        return chosen
    values = np.concatenate(values, 1)
    seen = values[chosen].any(0)
    while not seen.all():
        e = int(np.argmax(values[:, ~seen].sum(1)))  # every unseen value occurs in some event: gain >= 1
        chosen.append(e)
        seen |= values[e]
    return sorted(chosen)
