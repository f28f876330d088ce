"""Real figures from Vivado / Vitis report files a user brings: when present, they win.

    codesign estimate CARD --preset P --vendor-reports DIR

DIR is searched (recursively) for
  *csynth.xml               Vivado/Vitis HLS synthesis of the hls4ml project (hls/prj/build_prj.tcl)
  *utilization*.rpt         Vivado `report_utilization` (the bundle's vivado/synth_ooc.tcl writes
                            utilization_synth.rpt and utilization_route.rpt for the RTL core)
  *timing*.rpt              Vivado `report_timing_summary` (worst negative slack)
hls4ml's own `parse_vivado_report` needs the whole HLS project tree after a run; a firmware
engineer usually sends the report files alone, so they are read one by one here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import CodesignError

# report_utilization row names -> our quantity (UltraScale+ "CLB", 7-series "Slice" wording).
_UTIL_ROWS = {
    r"(CLB|Slice) LUTs\*?": "lut",
    r"(CLB|Slice) Registers": "ff",
    r"DSPs": "dsp",
    r"Block RAM Tile": "bram",
    r"URAM": "uram",
}


def parse_reports(folder: Path) -> list[dict]:
    """Every figure found in `folder`: [{quantity, value, source, design, rank}] (rank: higher wins)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CodesignError(f"--vendor-reports {folder}: not a directory")
    rows: list[dict] = []
    for f in sorted(folder.rglob("*")):
        name = f.name.lower()
        if name.endswith("csynth.xml"):
            rows += _csynth(f)
        elif "utilization" in name and name.endswith(".rpt"):
            rows += _utilization(f)
        elif "timing" in name and name.endswith(".rpt"):
            rows += _timing(f)
    if not rows:
        raise CodesignError(f"--vendor-reports {folder}: no *csynth.xml, *utilization*.rpt or *timing*.rpt found")
    return rows


def _csynth(f: Path) -> list[dict]:
    try:
        root = ET.parse(f).getroot()
    except ET.ParseError as e:
        raise CodesignError(f"{f}: not a readable csynth.xml ({e})") from None
    perf, area = root.find("PerformanceEstimates"), root.find("AreaEstimates/Resources")
    if perf is None or area is None:
        raise CodesignError(f"{f}: no PerformanceEstimates / AreaEstimates (is this an HLS csynth.xml?)")
    src = f"Vivado/Vitis HLS csynth ({f.name})"
    out = []
    for tag, q in (("LUT", "lut"), ("FF", "ff"), ("DSP", "dsp"), ("DSP48E", "dsp"), ("BRAM_18K", "bram_18k")):
        node = area.find(tag)
        if node is not None and node.text:
            out.append(_row(q, int(node.text), src, "hls", 1))
    for path, q in (("SummaryOfOverallLatency/Worst-caseLatency", "latency_cycles"), ("SummaryOfOverallLatency/Interval-max", "ii"),
                    ("SummaryOfTimingAnalysis/EstimatedClockPeriod", "clock_ns_estimated")):  # fmt: skip
        node = perf.find(path)
        if node is not None and node.text and node.text.strip() not in ("undef", ""):
            out.append(_row(q, float(node.text), src, "hls", 1))
    return out


def _utilization(f: Path) -> list[dict]:
    text = f.read_text(errors="replace")
    state = re.search(r"Design State\s*:\s*(\w+)", text)  # Synthesized | Placed | Routed
    implemented = state.group(1) in ("Routed", "Placed") if state else bool(re.search(r"(?i)route|place", f.name))
    stage = "route" if implemented else "synth"
    src = f"Vivado report_utilization, post-{stage} ({f.name})"
    out, seen = [], set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        for pattern, q in _UTIL_ROWS.items():
            if q not in seen and re.fullmatch(pattern, cells[0]):
                try:
                    value = float(cells[1])
                except ValueError:
                    continue
                out.append(
                    _row(q, int(value) if value.is_integer() else value, src, "vivado", 3 if stage == "route" else 2)
                )
                seen.add(q)
    if not out:
        raise CodesignError(f"{f}: no '| CLB LUTs | n |' style rows (is this a Vivado report_utilization?)")
    return out


def _timing(f: Path) -> list[dict]:
    lines = f.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if "WNS(ns)" in line and i + 2 < len(lines):
            wns = float(lines[i + 2].split()[0])
            return [_row("wns_ns", wns, f"Vivado report_timing_summary ({f.name})", "vivado", 3)]
    raise CodesignError(f"{f}: no 'WNS(ns)' table (is this a Vivado report_timing_summary?)")


def _row(quantity: str, value, source: str, design: str, rank: int) -> dict:
    return {"quantity": quantity, "value": value, "source": source, "design": design, "rank": rank}
