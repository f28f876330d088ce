"""Cost of a design point, every figure labelled with where it came from and which design it is.

Two designs come out of the flow: the RTL core (da4ml's Verilog, what the IP bundle packages)
and the hls4ml HLS project. Latency and II of the RTL are da4ml's pipeline (counted registers,
exact for this RTL); LUT/FF/DSP come from da4ml's cost model and from open synthesis of the
same Verilog with Yosys; rule4ml's learned estimate covers the HLS project. No Vivado runs
here; when a user brings Vivado/Vitis reports (`--vendor-reports`), their figures are added and
become the headline (`rank`: a real post-route figure outranks post-synthesis, which outranks
an HLS estimate, which outranks open-tool estimates).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from ..errors import CodesignError
from .yosys import synth_xilinx

PIPELINE = "da4ml pipeline (register stages in the emitted RTL)"
# Above this many LUTs (da4ml's estimate) Yosys runs per pipeline stage, two at a time (estimate/yosys.py):
# a flat run's time grows faster than the core (jet MLP, ~40k LUT: 100 s flat, ~45 s per stage, +3% LUT).
STAGES_ABOVE_LUT = 30_000
YOSYS_BUDGET_S = 1800
console = Console(stderr=True)


def estimate(point, out: Path) -> dict:
    core = point.core()
    fw = point.card.firmware
    da = core.estimate.model_dump()
    ys: dict = {}
    if fw.open_synthesis:
        mode = "stages" if da["lut"] > STAGES_ABOVE_LUT else "flat"
        try:
            ys = synth_xilinx(point.stage_dir("rtl") / "rtl", core.top, family=fw.family, out_dir=out / "yosys",
                              timeout_s=YOSYS_BUDGET_S, mode=mode, workers=2 if mode == "stages" else 1)  # fmt: skip
        except CodesignError as e:  # the other figures stand; the record says why this one is missing
            console.print(f"[bold red]estimate: no Yosys figure: {e}[/bold red]")
            ys = {"error": str(e)}
    rows = [
        ("latency_cycles", core.latency_cycles, PIPELINE, "rtl", 0),
        ("latency_ns", round(core.latency_cycles * fw.clock_ns, 3), PIPELINE + f" at {fw.clock_ns} ns", "rtl", 0),
        ("ii", core.ii, PIPELINE, "rtl", 0),
    ]
    rows += [(q, da[q], da["source"], "rtl", 0) for q in ("lut", "ff", "dsp")]
    # A sweep may skip open synthesis (firmware.open_synthesis = false): then only da4ml's figures exist.
    rows += [(q, ys[q], ys["source"], "rtl", 0) for q in ("lut", "ff", "dsp", "bram", "carry") if q in ys]
    if "error" in ys:
        rows += [("open_synthesis", "no result", f"yosys synth_xilinx: {ys['error']}", "rtl", 0)]
    estimates = [{"quantity": q, "value": v, "source": s, "design": d, "rank": r} for q, v, s, d, r in rows]
    estimates += _hls_estimate(point)
    if point.vendor_reports:
        from .vendor import parse_reports

        estimates += parse_reports(point.vendor_reports)
    (out / "cost.json").write_text(json.dumps(estimates, indent=1))
    return {
        "estimates": estimates,
        "headline": headline(estimates),
        "yosys": {k: v for k, v in ys.items() if k not in ("source", "parts")},
        "da4ml": da,
    }


def _hls_estimate(point) -> list[dict]:
    """rule4ml's learned estimate of the hls4ml project, where it applies (else nothing, said once)."""
    from . import hls_rule4ml

    reason = hls_rule4ml.why_not(point.card)
    if reason:
        console.print(f"[dim]estimate: no HLS estimate: {reason}[/dim]")
        return []
    import numpy as np

    ref = np.load(point.train_dir / "reference.npz")
    n_in, n_out = int(np.prod(ref["x"].shape[1:])), int(np.prod(ref["y"].shape[1:]))
    est = hls_rule4ml.estimate_hls(point.card, n_in, n_out)
    return [
        {"quantity": q, "value": v, "source": hls_rule4ml.source(), "design": "hls", "rank": 0} for q, v in est.items()
    ]


def headline(estimates: list[dict]) -> dict:
    """Per quantity, the figure of highest rank (ties: the first, i.e. the RTL's own)."""
    best: dict[str, dict] = {}
    for e in estimates:
        if e["quantity"] not in best or e["rank"] > best[e["quantity"]]["rank"]:
            best[e["quantity"]] = e
    return best
