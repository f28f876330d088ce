"""Resource estimate of RTL by open synthesis: Debian's Yosys `synth_xilinx`, not Vivado.

The numbers are Yosys's technology mapping (LUT packing, no placement, no Vivado optimisation),
so they say "about this many", labelled as such. The core is synthesised out of context (no I/O
or clock buffers): it sits inside a larger trigger design. Yosys 0.23 maps carry chains to CARRY4
cells even for UltraScale+ (Vivado would use CARRY8), so `carry` counts 4-bit carry blocks.

Two modes:
  flat     the whole core, flattened (`-flatten`): one Yosys run.
  stages   da4ml writes one combinational module per pipeline stage (`<core>_dp_stage<k>`) and a
           datapath module that registers between them. Each stage is synthesised on its own, and
           the rest of the core (registers, valid pipeline, IO wrapper) with the stages as black
           boxes; the figures are added up. Runs in parallel (`workers`), and finishes on cores
           whose flat run does not: Yosys' run time grows faster than linearly with module size.
           What it cannot see: optimisation across a register boundary (a register bit whose
           every reader is constant stays), so the sum is an upper bound of the flat figure.
           Lookup-table ROMs (the table softmax) are synthesised once per table, each alone, and
           counted once per instance: flattened, a stage with 128 copies of one 4096-entry table
           builds and maps all 128 (over 250 s on the latent tagger's demo core, against 8 s for the
           table once). A copy whose inputs are partly constant or whose outputs are partly unread
           could map smaller inside its stage, so this too is an upper bound.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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


def rom_as_logic(text: str) -> str:
    """Yosys workaround: lookup-table ROMs as logic.

    da4ml's lookup_table.v marks its ROM `(* rom_style = "distributed" *)` (right for Vivado: a
    ROM in LUTs). Yosys' synth_xilinx (0.23 and 0.70 alike) stops on it with `no valid mapping
    found for memory ...lut_rom`: its Xilinx memory library has no write-port-less LUT RAM to map
    a "distributed" ROM to. `rom_style = "logic"` makes Yosys build the same ROM from LUTs, which
    is what a distributed ROM is on the chip. Only the copy Yosys reads is changed; the core's
    RTL (what the bundle ships and the simulators check) keeps "distributed".
    """
    return re.sub(r'\(\*\s*rom_style\s*=\s*"distributed"\s*\*\)', '(* rom_style = "logic" *)', text)


def synth_xilinx(
    rtl_dir: Path, top: str, family: str = "xcup", out_dir: Path | None = None, timeout_s: float = 1800,
    mode: str = "flat", workers: int = 1,
) -> dict:  # fmt: skip
    """Synthesise the core in `rtl_dir` (every .v file; top module `top`) with `synth_xilinx -family <family>
    -noiopad -noclkbuf`, then stat.

    Returns {lut, ff, dsp, bram, carry, cells (all cell types), seconds, cpu_s, log, source, mode} (+ `parts`:
    each stage's figures, in mode "stages"). cpu_s: Yosys's own CPU seconds, summed over its processes (what
    a figure costs whatever else loads the machine; seconds is the wall time). Logs and scripts go to `out_dir` (a new temporary folder if None).
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
    src = out / "src"  # the copy Yosys reads (rom_as_logic)
    src.mkdir(exist_ok=True)
    for f in sources:
        (src / f.name).write_text(rom_as_logic(f.read_text()))
    sources = [src / f.name for f in sources]
    t0 = time.perf_counter()
    if mode == "flat":
        cells = _run(yosys, sources, [], top, family, out, "flat", rtl_dir, timeout_s)
        parts, names = None, ["flat"]
    elif mode == "stages":
        stage_files = sorted((f for f in sources if re.fullmatch(r".*_dp_stage\d+\.v", f.name)), key=_stage_index)
        if not stage_files:
            raise CodesignError(f"{rtl_dir}: no da4ml pipeline stage modules (*_dp_stage<k>.v) to synthesise apart")
        helpers = [f for f in sources if f not in stage_files]
        tables, stubs, uses = _tables(stage_files, helpers, out)
        logic = [f for f in helpers if f not in tables]
        # (job, sources, black boxes, top, flatten before mapping)
        jobs = [(f.stem, [f, *logic], stubs, f.stem, True) for f in stage_files]
        jobs += [(name, [wrapper, *tables], [], name, True) for name, (wrapper, _) in uses.items()]  # each table once
        jobs.append(("shell", helpers, stage_files, top, False))  # registers and wrappers; stages are black boxes
        # Longest first, so the biggest stage does not start last. The registers first of all: their
        # Verilog is a few kB of wide vectors whatever their number (64k FF on the latent tagger's demo
        # core: 134 CPU-s, which started last and ended 130 s after every stage).
        jobs.sort(key=lambda j: (j[0] != "shell", -sum(p.stat().st_size for p in j[1])))
        deadline = t0 + timeout_s  # one budget for the whole core

        def job(j):
            left = deadline - time.perf_counter()
            if left <= 0:
                raise CodesignError(f"yosys synth_xilinx of {j[3]}: not started, the {timeout_s:g} s budget is spent")
            # The registers alone: a stage (black box) sits between any two data registers, so no shift
            # register of data can form, and they hold no arithmetic. SRL and DSP inference found nothing
            # there on the latent tagger's demo core (64,372 FDRE either way) and ran past 7 minutes on the
            # MET demo core's 138k registers.
            options = "-nosrl -nodsp " if j[0] == "shell" else ""
            return j[0], _run(yosys, j[1], j[2], j[3], family, out, j[0], rtl_dir, left, flatten=j[4], options=options)

        with ThreadPoolExecutor(max(1, workers)) as pool:
            futures = [pool.submit(job, j) for j in jobs]
        runs, failed = [], []
        for j, f in zip(jobs, futures):
            try:
                runs.append(f.result())
            except CodesignError as e:
                failed.append((j, e))
        if failed:  # say how far it got: the budget missed by about the share of Verilog left
            done = 1 - sum(j[1][0].stat().st_size for j, _ in failed) / sum(j[1][0].stat().st_size for j in jobs)
            raise CodesignError(f"{failed[0][1]} ({len(runs)}/{len(jobs)} stage jobs finished, {done:.0%} of the "
                                f"Verilog by size, in {time.perf_counter() - t0:.0f} s)")  # fmt: skip
        parts, names = {name: _counts(c) for name, c in sorted(runs)}, [j[0] for j in jobs]
        cells: dict[str, int] = {}
        for name, c in runs:
            for k, n in c.items():
                cells[k] = cells.get(k, 0) + n * (uses[name][1] if name in uses else 1)
        for name, (_, n) in uses.items():
            parts[name]["instances"] = n
    else:
        raise CodesignError(f"yosys synthesis mode '{mode}': expected 'flat' or 'stages'")
    how = (
        ""
        if mode == "flat"
        else (
            f", per pipeline stage ({len(stage_files)} stages + registers, summed"
            + (f"; {len(uses)} lookup tables synthesised once each, counted per instance" if uses else "")
            + ")"
        )
    )
    result = {
        **_counts(cells), "cells": cells, "seconds": round(time.perf_counter() - t0, 1),
        "cpu_s": round(sum(cpu_seconds(out / f"{n}.log") for n in names), 1), "log": str(out.resolve()),
        "mode": mode, "source": f"yosys {_version(yosys)} synth_xilinx -family {family}{how} (open synthesis, not Vivado)",
    }  # fmt: skip
    if parts is not None:
        result["parts"] = parts
    return result


_TABLE_USE = re.compile(r'(\w+_lookup_table)\s*#\(\s*(\d+)\s*,\s*(\d+)\s*,\s*"([^"]+)"\s*\)')


def _tables(stage_files: list[Path], helpers: list[Path], out: Path) -> tuple[list[Path], list[Path], dict]:
    """The lookup-table modules among `helpers`, a black-box stub of each (what the stages read
    instead), and {job name: (wrapper file, instances in the stages)}: one wrapper per distinct table
    (module, input and output widths, contents) that instantiates it alone."""
    tables = [f for f in helpers if f.name.endswith("_lookup_table.v")]
    if not tables:
        return [], [], {}
    stub_dir = out / "blackbox"
    stub_dir.mkdir(exist_ok=True)
    stubs = []
    for f in tables:  # ports and parameters as da4ml's lookup_table.v; a stub reads no .mem file
        stub = stub_dir / f.name
        stub.write_text(f"(* blackbox *)\nmodule {f.stem} #(parameter BW_IN = 8, parameter BW_OUT = 8, "
                        f'parameter MEM_FILE = "") (input [BW_IN-1:0] in, output [BW_OUT-1:0] out);\nendmodule\n')  # fmt: skip
        stubs.append(stub)
    count: dict[tuple, int] = {}
    for f in stage_files:
        text = f.read_text()
        found = _TABLE_USE.findall(text)
        if len(found) != sum(len(re.findall(rf"\b{t.stem}\b", text)) for t in tables):
            raise CodesignError(f"{f.name}: a lookup-table instance not of the form da4ml writes, "
                                f'`<core>_lookup_table #(BW_IN, BW_OUT, "<table>.mem") <name> (in, out)`')  # fmt: skip
        for use in found:
            count[use] = count.get(use, 0) + 1
    uses = {}
    for k, ((module, bw_in, bw_out, mem), n) in enumerate(sorted(count.items())):
        name = re.sub(r"\W", "_", f"table{k}_{Path(mem).stem}")[:60]
        wrapper = out / "src" / f"{name}.v"
        wrapper.write_text(f"module {name}(input [{bw_in}-1:0] in, output [{bw_out}-1:0] out);\n"
                           f'  {module} #({bw_in}, {bw_out}, "{mem}") u (in, out);\nendmodule\n')  # fmt: skip
        uses[name] = (wrapper, n)
    return tables, stubs, uses


def _nice() -> None:
    """Yosys runs at niceness 10 (not more: a niceness stacked on a niced caller starves it on a busy machine)."""
    os.nice(max(0, 10 - os.nice(0)))


def _stage_index(f: Path) -> int:
    return int(re.search(r"_dp_stage(\d+)\.v$", f.name).group(1))


_CPU = re.compile(r"CPU: user ([\d.]+)s system ([\d.]+)s")


def cpu_seconds(log: Path) -> float:
    """User + system CPU seconds from the end of a Yosys log ("End of script. ..., CPU: user Xs system Ys")."""
    m = _CPU.findall(log.read_text(errors="replace")) if log.exists() else []
    return float(m[-1][0]) + float(m[-1][1]) if m else 0.0


def _counts(cells: dict[str, int]) -> dict[str, int]:
    return {k: sum(n for c, n in cells.items() if re.fullmatch(p, c)) for k, p in _GROUPS.items()}


def _run(yosys, sources, blackboxes, top, family, out: Path, name: str, cwd: Path, timeout_s: float,
         flatten: bool | None = None, options: str = "") -> dict[str, int]:  # fmt: skip
    """One Yosys process: read `sources` (+ `blackboxes` as black boxes), synthesise `top`, return its cell
    counts. `flatten` (default: without black boxes) flattens before mapping, else after it."""
    stat, log, script = (out / f"{name}.stat.json").resolve(), (out / f"{name}.log").resolve(), out / f"{name}.ys"
    flatten = not blackboxes if flatten is None else flatten
    script.write_text(
        # -defer: elaborate only the parameterisations in use (an elaborated default lookup_table
        # would $readmemh its placeholder "whatever.mem")
        "".join(f"read_verilog -defer {f}\n" for f in sources)
        + "".join(f"read_verilog -lib {f}\n" for f in blackboxes)
        + f"synth_xilinx -family {family} {'-flatten ' if flatten else ''}{options}-noiopad -noclkbuf -top {top}\n"
        + ("" if flatten else "flatten\n")
        + f"tee -q -o {stat} stat -json\n"
    )
    try:
        # cwd: lookup-table ROMs are read with $readmemh relative to the core's rtl/ folder
        proc = subprocess.run([yosys, "-q", "-l", str(log), "-s", str(script.resolve())], cwd=cwd, capture_output=True,
                              text=True, timeout=timeout_s, preexec_fn=_nice)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise CodesignError(f"yosys synth_xilinx of {top}: no result within {timeout_s:g} s; log: {log}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise CodesignError(f"yosys synth_xilinx of {top} failed: {tail[0]}; log: {log}")
    return _cells(json.loads(stat.read_text()), set(Path(b).stem for b in blackboxes))


def _cells(stat: dict, blackboxes: set[str] = frozenset()) -> dict[str, int]:
    """Cell counts by type of the synthesised design from `stat -json` (black-box instances left out)."""
    modules = {k.lstrip("\\"): v for k, v in stat["modules"].items()}
    design = stat.get("design")
    if design is None:
        real = [v for k, v in modules.items() if k not in blackboxes]
        if len(real) != 1:
            raise CodesignError("yosys stat: more than one module left after synthesis")
        design = real[0]
    cells = {name.lstrip("\\$"): int(n) for name, n in design["num_cells_by_type"].items()}
    return {k: n for k, n in cells.items() if k not in blackboxes}


def _version(yosys: str) -> str:
    out = subprocess.run([yosys, "-V"], capture_output=True, text=True).stdout
    m = re.search(r"Yosys (\S+)", out)
    return m.group(1) if m else "unknown"
