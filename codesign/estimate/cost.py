"""Cost of a design point, every figure labelled with where it came from.

Latency and II are da4ml's pipeline (counted registers, exact for this RTL); LUT/FF/DSP come
from da4ml's cost model and from open synthesis of the same Verilog with Yosys. No Vivado runs
here, so no figure is post-place-and-route; a report from a real Vivado run would replace these.
"""

from __future__ import annotations

import json
from pathlib import Path

from .yosys import synth_xilinx

PIPELINE = "da4ml pipeline (register stages in the emitted RTL)"


def estimate(point, out: Path) -> dict:
    core = point.record("rtl")["core"]
    fw = point.card.firmware
    da = core["estimate"]
    ys = synth_xilinx(point.stage_dir("rtl") / "rtl", core["top"], family=fw.family, out_dir=out) if fw.open_synthesis else {}
    rows = [
        ("latency [cycles]", core["latency_cycles"], PIPELINE),
        (f"latency [ns] at {fw.clock_ns} ns", round(core["latency_cycles"] * fw.clock_ns, 3), PIPELINE),
        ("II [cycles]", core["ii"], PIPELINE),
    ]
    rows += [(f"{q.upper()}", da[q], da["source"]) for q in ("lut", "ff", "dsp")]
    rows += [(f"{q.upper()}", ys[q], ys["source"]) for q in ("lut", "ff", "dsp", "bram", "carry") if q in ys]
    # A sweep may skip open synthesis (firmware.open_synthesis = false): then only da4ml's figures exist.
    estimates = [{"quantity": q, "value": v, "source": s} for q, v, s in rows]
    (out / "cost.json").write_text(json.dumps(estimates, indent=1))
    return {"estimates": estimates, "yosys": {k: v for k, v in ys.items() if k != "source"}, "da4ml": da}
