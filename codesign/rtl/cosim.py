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


def run_cosim(core_dir: Path, simulator: str, build_dir: Path, max_vectors: int | None = None) -> dict:
    """Co-simulate the core in `core_dir` (emit_rtl's output); builds are cached in `build_dir` by content.

    Returns {simulator, vectors, mismatches, build_s, run_s, vectors_per_s, passed}: build_s is 0
    when a build of the same RTL was reused; run_s times the testbench's vector loop (simulator
    start-up excluded). Raises CodesignError on any mismatch, naming the first.
    """
    if simulator not in SIMULATORS:
        raise CodesignError(f"simulator '{simulator}': not supported; choose one of {', '.join(SIMULATORS)}")
    try:
        r = _run_sim().run(Path(core_dir), simulator, Path(build_dir), max_vectors)
    except RuntimeError as e:
        raise CodesignError(f"{simulator} co-simulation of {core_dir}: {e}") from None
    if not r["passed"]:
        raise CodesignError(f"{simulator} co-simulation of {core_dir}: {r['message']}")
    return {k: r[k] for k in ("simulator", "vectors", "mismatches", "build_s", "run_s", "vectors_per_s", "passed")}


def toggle_cover(core_dir: Path) -> int:
    """The shortest prefix of the core's test vectors in which every input and output port bit that
    changes anywhere in them has been both 0 and 1 (at least 1): the fewest vectors a sampling
    simulator must run so that no port bit goes unexercised."""
    core_dir = Path(core_dir)
    core = json.loads((core_dir / "core.json").read_text())
    need = 1
    for port, f in zip(core["ports"], (core["vectors"]["inputs"], core["vectors"]["expected"])):
        raw = np.loadtxt(core_dir / f, dtype=np.int64, ndmin=2)
        w = port["width"]
        if w == 0 or not len(raw):
            continue
        bits = ((raw[:, :, None] % (1 << w)) >> np.arange(w)) & 1  # events x elements x bits
        bits = bits.reshape(len(raw), -1).astype(bool)
        changing = bits.any(0) & ~bits.all(0)
        both = np.logical_or.accumulate(bits, 0) & np.logical_or.accumulate(~bits, 0)  # seen 1 and seen 0 so far
        need = max(need, int(np.argmax(both[:, changing].all(1))) + 1)
    return need
