"""Pipelined Verilog from an HGQ2 model through da4ml, plus test vectors and a core description.

    out_dir/rtl/*.v            every Verilog file of the core (top module first in core.json)
    out_dir/vectors/inputs.txt one event per line: the raw integers of the input elements
    out_dir/vectors/expected.txt  the Python model's output on that event, raw integers
    out_dir/core.json          ports, formats, latency, II, da4ml's cost estimate (see `_core_json`)

Raw integers: an element's real value is `raw * 2**-fractional` of its port; raw is written as a
signed decimal (negative for negative values); the bits on the bus are `raw mod 2**width`.

The datapath is da4ml's own (its CMVM solver, its pipelining, its uniform-width IO wrapper). The
top module around it only adds a valid pipeline and a reset for it: da4ml's datapath has neither.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
import traceback
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..errors import CodesignError
from ..paths import atomic_dir
from ..verify import require_exact

# da4ml measures delay in adder levels (HWConfig(1, -1, -1): every add costs one level, whatever
# its width). Its CLI pairs a 5 ns clock with a cutoff of 5 levels, i.e. ~1 ns per level: one
# LUT + carry chain + routing on UltraScale+, clock uncertainty included. We keep that ratio.
NS_PER_ADDER_LEVEL = 1.0
# da4ml CLI default: delay constraint of each constant-matrix-vector block, in adder levels.
SOLVER_OPTIONS = {"hard_dc": 2}
# da4ml writes these helper modules under generic names; two cores in one design would clash.
_STATIC_MODULES = ("shift_adder", "negative", "mux", "multiplier", "binop", "lookup_table")


def latency_cutoff(clock_ns: float) -> int:
    """Adder levels allowed between two pipeline registers at this clock period."""
    return max(1, math.floor(clock_ns / NS_PER_ADDER_LEVEL))


def emit_rtl(
    model,
    x: np.ndarray,
    y_ref: np.ndarray,
    out_dir: Path,
    clock_ns: float = 5.0,
    name: str = "codesign_core",
    cutoff: float | None = None,
) -> dict:
    """Trace `model`, check da4ml's emulation of the pipeline against `y_ref` bit for bit, write the core.

    `cutoff` overrides the adder levels per pipeline stage (default: `latency_cutoff(clock_ns)`).
    Returns the core.json dict.
    """
    inputs, comb = traced(model)
    return _emit(comb, x, y_ref, out_dir, clock_ns, name, cutoff, lambda: _explain(model, x, inputs))


def save_trace(model, path: Path) -> None:
    """Write da4ml's combinational logic of `model` (`trace`) to `path`, for `emit_saved`."""
    trace(model).save(path)


def emit_saved(trace_file: Path, load_model, x: np.ndarray, y_ref: np.ndarray, out_dir: Path, clock_ns: float = 5.0,
               name: str = "codesign_core", cutoff: float | None = None) -> dict:  # fmt: skip
    """`emit_rtl` from a trace `save_trace` wrote: no Keras here, unless da4ml's emulation differs from
    `y_ref` and `load_model()` is called to name the first diverging layer."""
    from da4ml.types import CombLogic

    def explain():
        model = load_model()
        return _explain(model, x, traced(model)[0])

    return _emit(CombLogic.load(trace_file), x, y_ref, out_dir, clock_ns, name, cutoff, explain)


def _explain(model, x, inputs):
    from ..diagnose import diagnose_da4ml

    return diagnose_da4ml(model, x, inputs, SOLVER_OPTIONS)


def emit_traced(inputs, outputs, x, y_ref, out_dir: Path, clock_ns: float = 5.0, name: str = "codesign_core",
                cutoff: float | None = None) -> dict:  # fmt: skip
    """`emit_rtl` for a model another frontend traced itself: da4ml's (inputs, outputs) arrays of one event."""
    from da4ml.trace import comb_trace

    return _emit(comb_trace(inputs, outputs), x, y_ref, out_dir, clock_ns, name, cutoff)


def _emit(comb, x, y_ref, out_dir, clock_ns, name, cutoff, explain=None) -> dict:
    """`explain()` names the first layer da4ml's emulation gets wrong (codesign/diagnose.py), if given."""
    from da4ml.trace import to_pipeline

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CodesignError(f"core name '{name}': not a Verilog identifier (letters, digits, _; no leading digit)")
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y_ref = np.asarray(y_ref, dtype=np.float64).reshape(len(y_ref), -1)
    pipe = to_pipeline(comb, cutoff or latency_cutoff(clock_ns), verbose=False)

    in_port, out_port = port_format("in_data", "input", pipe.inp_qint), port_format("out_data", "output", pipe.out_qint)
    raw_in, raw_out = to_raw(x, in_port, "input"), to_raw(y_ref, out_port, "expected output")
    what, y_emu = "da4ml emulation of the pipelined core", emulate(pipe, x)
    if explain is not None:
        from ..diagnose import require_exact_or_explain

        require_exact_or_explain(y_ref, y_emu, what, explain)
    require_exact(y_ref, y_emu, what)

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        widths = tuple(p["elements"] * p["width"] for p in (in_port, out_port))
        files = write_verilog(pipe, name, clock_ns, tmp / "rtl", widths)
        (tmp / "vectors").mkdir()
        write_vectors(tmp / "vectors" / "inputs.txt", raw_in)
        write_vectors(tmp / "vectors" / "expected.txt", raw_out)
        core = _core_json(pipe, name, clock_ns, files, in_port, out_port, len(x))
        (tmp / "core.json").write_text(json.dumps(core, indent=1))
    return core


def trace(model):
    """da4ml's combinational logic of the model, its input ports in the input quantizer's format."""
    return traced(model)[1]


def traced(model):
    """(the input FixedVariableArrays, da4ml's combinational logic) of the model (see `trace`)."""
    from da4ml.converter import trace_model
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    kif = input_kif(model)
    inputs = None if kif is None else FixedVariableArray.from_kif(*kif, HWConfig(1, -1, -1), 0.0, SOLVER_OPTIONS)
    try:
        inp, out = trace_model(model, solver_options=SOLVER_OPTIONS, inputs=inputs)
    except (AssertionError, ValueError, KeyError, NotImplementedError) as e:  # da4ml asserts on what it lacks
        where = traceback.extract_tb(e.__traceback__)[-1]  # a bare assert says nothing but its source line
        at = f"{Path(where.filename).name}:{where.lineno}"
        raise CodesignError(f"da4ml cannot trace model '{model.name}': {str(e) or where.line} ({at})") from None
    return inp, comb_trace(inp, out)


def input_kif(model) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per-element (keep_negative, integer, fractional) of the quantizer that first reads the input.

    The inputs are on that quantizer's grid, so the core's input ports take exactly that format
    and the quantizer itself costs no logic. Without it da4ml would treat the input as unbounded:
    that only works for a WRAP quantizer (it then spends one more bit on rounding), not SAT.
    None (da4ml's default) for a model whose single input is not read by an HGQ2 quantizer first.
    """
    import keras
    from hgq.quantizer import Quantizer

    layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    if len(model.inputs) != 1 or not layers:
        return None
    first = layers[0]
    q = first if isinstance(first, Quantizer) else first.iq if getattr(first, "enable_iq", False) else None
    if q is None or q.scaler not in (None, 1.0) or q.affine is not None or not hasattr(q.quantizer, "kif"):
        return None  # a scaled input grid is not the quantizer's own
    shape = (1, *model.inputs[0].shape[1:])
    to_x = q.quantizer.bw_mapper.bw_to_x
    return tuple(np.asarray(keras.ops.convert_to_numpy(to_x(v, shape)))[0].astype(np.int8) for v in q.quantizer.kif)


def emulate(pipe, x: np.ndarray) -> np.ndarray:
    """da4ml's C++ interpreter run stage by stage: exactly the logic that is written as Verilog."""
    for stage in pipe.solutions:
        # da4ml 0.6 bug: CombLogic.to_binary fails (float64 -> int32 cast) on a stage whose
        # lookup_tables is an empty tuple rather than None, as to_pipeline leaves in a model with
        # tables (e.g. a softmax) on the stages without one. Same logic, no tables: pass None.
        if stage.lookup_tables is not None and len(stage.lookup_tables) == 0:
            stage = stage._replace(lookup_tables=None)
        x = stage.predict(x)
    return x


# ---- ports and raw integers -------------------------------------------------------------------


def port_format(port: str, direction: str, qints) -> dict:
    """One uniform slot per element, as da4ml's IO wrapper lays it out (element 0 at bit 0).

    The slot holds the widest integer part and the finest fraction of all elements; each
    element's own minimal format is listed too (its value never leaves it: on inputs the bits
    outside it are ignored, on outputs they are sign or zero extension). `integer` counts
    integer bits without the sign bit.
    """
    from da4ml.types import minimal_kif

    kifs = [minimal_kif(q) for q in qints]
    signed = any(k for k, _, _ in kifs)
    integer = max(i for _, i, _ in kifs)  # without the sign bit
    frac = max(f for _, _, f in kifs)
    elements = [dict(signed=bool(k), integer=int(i), fractional=int(f), width=int(k + i + f)) for k, i, f in kifs]
    return {
        "name": port, "direction": direction, "elements": len(kifs), "signed": signed, "integer": int(integer),
        "fractional": int(frac), "width": int(signed + integer + frac),
        "packing": "element 0 in the least significant slot; element n at bits [n*width, (n+1)*width)",
        "element_formats": elements,
    }  # fmt: skip


def to_raw(values: np.ndarray, port: dict, what: str) -> np.ndarray:
    """Values -> raw integers of the port; raise naming the first value that is not representable."""
    scaled = values * 2.0 ** port["fractional"]
    raw = np.rint(scaled)
    ok = raw == scaled
    for j, e in enumerate(port["element_formats"]):
        if e["width"] == 0:  # no bits: an input the core never reads, or an output that is always 0
            ok[:, j] = True if port["direction"] == "input" else values[:, j] == 0
            raw[:, j] = 0
            continue
        step = 2 ** (port["fractional"] - e["fractional"])  # raw must be a multiple of the element's LSB
        lo = -(2 ** (e["width"] - 1)) if e["signed"] else 0
        hi = 2 ** (e["width"] - e["signed"]) - 1
        ok[:, j] &= (raw[:, j] % step == 0) & (raw[:, j] >= lo * step) & (raw[:, j] <= hi * step)
    if not ok.all():
        ev, el = map(int, np.argwhere(~ok)[0])
        e = port["element_formats"][el]
        raise CodesignError(
            f"{what} event {ev}, element {el}: value {values[ev, el]!r} is not representable in the core's format "
            f"{'s' if e['signed'] else 'u'}fixed<{e['width']},{e['integer'] + e['signed']}> (integer bits incl. sign)"
        )
    return raw.astype(np.int64)


def write_vectors(path: Path, raw: np.ndarray) -> None:
    np.savetxt(path, raw, fmt="%d", delimiter=" ")


# ---- Verilog ----------------------------------------------------------------------------------


def write_verilog(pipe, name: str, clock_ns: float, rtl_dir: Path, widths: tuple[int, int]) -> list[str]:
    """Write da4ml's pipeline + IO wrapper + our valid/reset top into rtl_dir; return file names, top first."""
    from da4ml.codegen import RTLModel

    dp = f"{name}_dp"
    rtl_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as prj:
        RTLModel(pipe, dp, prj, flavor="verilog", clock_period=clock_ns, print_latency=False).write()
        src = Path(prj) / "src"
        generated = {f.name: f.read_text() for f in src.glob("*.v")}
        used = {m for m in _STATIC_MODULES if any(re.search(rf"\b{m}\s*#\(", t) for t in generated.values())}
        # Only the helper modules the datapath instantiates: an unused lookup_table would make
        # synthesis read its placeholder ROM file.
        generated |= {f"{m}.v": (src / "static" / f"{m}.v").read_text() for m in used}
        if "lookup_table.v" in generated:
            # da4ml 0.6's lookup_table.v computes its rom_style attribute from BW_IN, which Icarus
            # Verilog 11 rejects ("not a constant expression"); the expression is "distributed"
            # for every table da4ml writes (BW_IN <= 999), so write that constant instead.
            generated["lookup_table.v"] = re.sub(
                r"\(\*\s*rom_style\s*=\s*\(BW_IN <= 999\) \? \"distributed\" : \"block\"\s*\*\)",
                '(* rom_style = "distributed" *)',
                generated["lookup_table.v"],
            )
        rename = re.compile(r"\b(" + "|".join(_STATIC_MODULES) + r")\b")
        for fname, text in generated.items():
            prefix = f"{name}_" if fname[:-2] in _STATIC_MODULES else ""
            (rtl_dir / f"{prefix}{fname}").write_text(rename.sub(rf"{name}_\1", text))
        for f in (src / "memfiles").glob("*.mem"):  # lookup tables, read by $readmemh from the sim's cwd
            shutil.copy(f, rtl_dir / f.name)
    (rtl_dir / f"{name}.v").write_text(_top_verilog(name, dp, len(pipe.solutions), *widths))
    return [f"{name}.v", *sorted(p.name for p in rtl_dir.iterdir() if p.name != f"{name}.v")]


def _top_verilog(name: str, dp: str, latency: int, w_in: int, w_out: int) -> str:
    return f"""`timescale 1 ns / 1 ps
// {name}: da4ml's pipelined datapath ({dp}_wrapper, II = 1, latency {latency} clocks) plus a
// valid pipeline. rst (synchronous, active high) clears the valid pipeline only: the datapath
// has no reset and needs none (its output is ignored while out_valid is low).
module {name} (
    input clk,
    input rst,
    input in_valid,
    input [{w_in - 1}:0] in_data,
    output out_valid,
    output [{w_out - 1}:0] out_data
);
    reg [{latency}:0] valid_pipe;
    always @(posedge clk) begin
        if (rst) valid_pipe <= {latency + 1}'b0;
        else valid_pipe <= {{valid_pipe[{latency - 1}:0], in_valid}};
    end
    assign out_valid = valid_pipe[{latency}];

    {dp}_wrapper datapath (.clk(clk), .model_inp(in_data), .model_out(out_data));
endmodule
"""


# ---- core.json --------------------------------------------------------------------------------


def _core_json(pipe, name, clock_ns, files, in_port, out_port, n_vectors) -> dict:
    latency = len(pipe.solutions)
    levels = [max(s.latency) for s in pipe.solutions]  # adder levels from the input to each stage's end
    return {
        "top": name,
        "rtl_files": [f for f in files if f.endswith(".v")],
        "mem_files": [f for f in files if f.endswith(".mem")],
        "clock": "clk",
        "clock_ns": clock_ns,
        "reset": "rst",
        "reset_active_high": True,
        "in_valid": "in_valid",
        "out_valid": "out_valid",
        "handshake": (
            "in_valid marks an event on in_data (one may enter every clock); its result appears on out_data "
            f"with out_valid high {latency} clocks later; no backpressure. rst (synchronous, active high) "
            "clears the valid pipeline only."
        ),
        "ports": [in_port, out_port],
        "format_convention": (
            "width = signed + integer + fractional; `integer` excludes the sign bit, so a port is "
            "ap_fixed<width, integer + 1> if signed else ap_ufixed<width, integer>"
        ),
        "latency_cycles": latency,
        "latency_ns": latency * clock_ns,
        "latency_definition": "an event sampled at rising edge t is on out_data after rising edge t + latency_cycles",
        "ii": 1,
        "pipeline": {
            "stages": latency,
            "adder_levels": float(levels[-1]),
            "ns_per_adder_level": NS_PER_ADDER_LEVEL,
            "cutoff_adder_levels": float(max(lvl / (i + 1) for i, lvl in enumerate(levels))),  # after retiming
        },  # fmt: skip
        "estimate": {
            "source": "da4ml cost model",
            "lut": round(float(pipe.cost)),
            "ff": int(pipe.reg_bits),  # da4ml counts the datapath's pipeline registers
            "dsp": sum(op.opcode == 7 for s in pipe.solutions for op in s.ops),  # only non-constant products
        },
        "vectors": {
            "count": n_vectors,
            "inputs": "vectors/inputs.txt",
            "expected": "vectors/expected.txt",
            "format": "one event per line, one signed decimal raw integer per element (value = raw * 2**-fractional)",
        },  # fmt: skip
        "da4ml_version": version("da4ml"),
    }
