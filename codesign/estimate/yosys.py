"""Resource estimate of RTL by open synthesis: Debian's Yosys `synth_xilinx`, not Vivado.

The numbers are Yosys's technology mapping (LUT packing, no placement, no Vivado optimisation),
so they say "about this many", labelled as such. The core is synthesised out of context (no I/O
or clock buffers): it sits inside a larger trigger design. Yosys 0.23 maps carry chains to CARRY4
cells even for UltraScale+ (Vivado would use CARRY8), so `carry` counts 4-bit carry blocks.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import CodesignError

# What each reported quantity counts, by cell-name pattern.
_GROUPS = {
    "lut": r"LUT[1-6]",
    "ff": r"FD\w*",
    "dsp": r"DSP48\w*",
    "bram": r"RAMB\w*",
    "carry": r"CARRY\w*",
}


def synth_xilinx(
    rtl_dir: Path, top: str, family: str = "xcup", out_dir: Path | None = None, timeout_s: float = 1800
) -> dict:
    """Synthesise every .v file in `rtl_dir`: `synth_xilinx -family <family> -flatten -noiopad -noclkbuf`, then stat.

    Returns {lut, ff, dsp, bram, carry, cells (all cell types), seconds, log, source}. The log
    and script are written to `out_dir` (a new temporary folder if None).
    """
    yosys = shutil.which("yosys")
    if yosys is None:
        raise CodesignError("yosys: not found on PATH; install it (Debian: `apt-get install yosys`, or `make system`)")
    rtl_dir = Path(rtl_dir).resolve()
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="yosys-"))
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(rtl_dir.glob("*.v"))
    if not sources:
        raise CodesignError(f"{rtl_dir}: no Verilog (.v) files to synthesise")
    stat, log = (out / "stat.json").resolve(), (out / "yosys.log").resolve()
    script = out / "synth.ys"
    script.write_text(
        "".join(f"read_verilog {f}\n" for f in sources)
        + f"synth_xilinx -family {family} -flatten -noiopad -noclkbuf -top {top}\ntee -q -o {stat} stat -json\n"
    )
    t0 = time.perf_counter()
    try:
        # cwd = rtl_dir: lookup-table ROMs are read with $readmemh relative to it
        proc = subprocess.run([yosys, "-q", "-l", str(log), "-s", str(script.resolve())], cwd=rtl_dir,
                              capture_output=True, text=True, timeout=timeout_s)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise CodesignError(f"yosys synth_xilinx of {top}: no result within {timeout_s:g} s; log: {log}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise CodesignError(f"yosys synth_xilinx of {top} failed: {tail[0]}; log: {log}")
    cells = _cells(json.loads(stat.read_text()))
    counts = {k: sum(n for c, n in cells.items() if re.fullmatch(p, c)) for k, p in _GROUPS.items()}
    return {
        **counts, "cells": cells, "seconds": round(time.perf_counter() - t0, 1), "log": str(log),
        "source": f"yosys {_version(yosys)} synth_xilinx -family {family} (open synthesis, not Vivado)",
    }  # fmt: skip


def _cells(stat: dict) -> dict[str, int]:
    """Cell counts by type of the (flattened) design from `stat -json`."""
    modules = list(stat["modules"].values())
    design = stat.get("design", modules[0] if len(modules) == 1 else None)
    if design is None:
        raise CodesignError("yosys stat: more than one module left after -flatten")
    return {name.lstrip("\\$"): int(n) for name, n in design["num_cells_by_type"].items()}


def _version(yosys: str) -> str:
    out = subprocess.run([yosys, "-V"], capture_output=True, text=True).stdout
    m = re.search(r"Yosys (\S+)", out)
    return m.group(1) if m else "unknown"
