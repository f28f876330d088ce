"""Generic cocotb testbench for a codesign core: bit-exact against the Python model's test vectors.

Reads core.json and the vector files from the folder in $CODESIGN_CORE_DIR, drives one event per
clock back to back into the pipelined core, checks that out_valid rises exactly latency_cycles
clocks after each event and that every output element equals the expected raw integer.
Optional: $CODESIGN_MAX_VECTORS (first N events only), $CODESIGN_EVENTS (a file of event indices,
one per line: those events only, back to back), $CODESIGN_SIM_RESULT (JSON summary path).

Ships inside an IP bundle, so it imports nothing from codesign. Inputs are driven and outputs
sampled on the falling edge: both are then stable, whatever the simulator's scheduling.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge


def read_vectors(path: Path, limit: int | None) -> list[list[int]]:
    with open(path) as f:
        rows = [[int(v) for v in line.split()] for line in f if line.strip()]
    return rows[:limit] if limit else rows


def pack(raw: list[int], width: int) -> int:
    """Element 0 in the least significant slot; each raw integer as `width` two's-complement bits."""
    mask = (1 << width) - 1
    return sum((v & mask) << (n * width) for n, v in enumerate(raw))


def unpack(bits: int, port: dict) -> list[int]:
    w, mask = port["width"], (1 << port["width"]) - 1
    vals = [(bits >> (n * w)) & mask for n in range(port["elements"])]
    return [v - (1 << w) if port["signed"] and v >> (w - 1) else v for v in vals]


def describe(raw: int | None, port: dict) -> str:
    """Raw integer as the element's bits and its real value."""
    if raw is None:
        return "X/Z"
    bits = format(raw & ((1 << port["width"]) - 1), f"0{port['width']}b")
    return f"0b{bits} (raw {raw}, value {raw * 2.0 ** -port['fractional']!r})"


def first_mismatch(event: int, expected: list[int], got: list[int] | None, port: dict) -> str | None:
    for n, e in enumerate(expected):
        g = None if got is None else got[n]
        if g != e:
            return f"event {event}, output {n}: expected {describe(e, port)}, got {describe(g, port)}"
    return None


def sample(handle, port: dict) -> list[int] | None:
    value = handle.value
    return unpack(value.to_unsigned(), port) if value.is_resolvable else None


@cocotb.test()
async def core_matches_reference(dut):
    core_dir = Path(os.environ["CODESIGN_CORE_DIR"])
    core = json.loads((core_dir / "core.json").read_text())
    inp, out = core["ports"]
    limit = int(os.environ.get("CODESIGN_MAX_VECTORS") or 0) or None
    x = read_vectors(core_dir / core["vectors"]["inputs"], limit)
    y = read_vectors(core_dir / core["vectors"]["expected"], limit)
    assert len(x) == len(y), f"{len(x)} input vectors but {len(y)} expected vectors"
    index = list(range(len(x)))  # each driven event's index in the vector files
    if os.environ.get("CODESIGN_EVENTS"):
        index = [int(v) for v in Path(os.environ["CODESIGN_EVENTS"]).read_text().split()]
        assert all(0 <= i < len(x) for i in index), f"an event index outside the {len(x)} vectors"
        x, y = [x[i] for i in index], [y[i] for i in index]
    lat = core["latency_cycles"]

    clk, rst, in_valid, out_valid = (getattr(dut, core[k]) for k in ("clock", "reset", "in_valid", "out_valid"))
    in_data, out_data = getattr(dut, inp["name"]), getattr(dut, out["name"])
    # In picoseconds (the cores' timescale precision), high for half of it rounded down: cocotb refuses a
    # period it cannot halve exactly in its unit (a 3.125 ns clock is 3125 ps).
    period_ps = round(core["clock_ns"] * 1000)
    cocotb.start_soon(Clock(clk, period_ps, unit="ps", period_high=period_ps // 2).start())
    rst.value, in_valid.value, in_data.value = 1, 0, 0
    for _ in range(3):
        await FallingEdge(clk)
    rst.value = 0

    t0 = time.perf_counter()
    mismatches, spurious, first = 0, 0, None
    # Event k is driven at falling edge k, sampled at rising edge k+1, and readable at falling edge k+1+lat.
    for k in range(len(x) + lat + 1):
        event = k - 1 - lat
        expect_valid = 0 <= event < len(x)
        bad = None
        if str(out_valid.value) != str(int(expect_valid)):
            bad = (
                f"clock {k}: out_valid is {out_valid.value}, expected {int(expect_valid)} (latency {lat} in core.json)"
            )
        elif expect_valid:
            bad = first_mismatch(index[event], y[event], sample(out_data, out), out)
        if bad:
            first = first or bad
            mismatches, spurious = mismatches + expect_valid, spurious + (not expect_valid)
        in_valid.value = int(k < len(x))
        if k < len(x):
            in_data.value = pack(x[k], inp["width"])
        await FallingEdge(clk)
    run_s = time.perf_counter() - t0

    passed = mismatches == spurious == 0
    message = (
        None
        if passed
        else f"{mismatches}/{len(x)} events differ"
        + (f" and out_valid is high on {spurious} clocks without an event" if spurious else "")
        + f"; first: {first}"
    )
    summary = {"vectors": len(x), "mismatches": mismatches, "passed": passed, "message": message, "run_s": run_s}
    if os.environ.get("CODESIGN_SIM_RESULT"):
        Path(os.environ["CODESIGN_SIM_RESULT"]).write_text(json.dumps(summary))
    assert passed, message
