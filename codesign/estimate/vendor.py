"""Real figures from Vivado / Vitis report files a user brings: when present, they win.

    codesign estimate CARD --preset P --vendor-reports DIR

DIR is a folder as a firmware engineer sends it back (searched recursively). Each file is
recognised by its content, not its name (real folders name them `*_utilization_placed.rpt`,
`*-util-route.v`, `vivado_synth.rpt`, ...):
  csynth.xml                      Vivado/Vitis HLS synthesis of the hls4ml project
  csynth.rpt                      its text twin (read only where no csynth.xml of that top is present)
  report_utilization              Vivado 2019.x-2025.x, any stage (synthesised, placed, routed,
                                  physopt); hls4ml's `vivado_synth.rpt` is one (the HLS IP synthesised)
  report_timing_summary           WNS / TNS / WHS and the clock; `NA` (a design without clocked
                                  paths) is a defined value, not an error
  report_timing (path reports),   recognised and skipped: they hold paths, not totals
  report_power, other Vivado reports, logs, netlists
Every figure names its file and stage; the most implemented stage ranks highest, so a post-route
figure outranks post-place, post-synthesis and HLS estimates (`rank`, see estimate/cost.py).
Anything unreadable is a CodesignError naming the file and what was expected.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import CodesignError

# Ranks: higher wins the headline. Open-tool estimates are 0 (estimate/cost.py).
RANK = {"hls": 1, "synth": 2, "place": 3, "route": 4}
STAGE_WORDS = {"synth": "post-synthesis", "place": "post-place", "route": "post-route"}

# report_utilization row names -> our quantity (UltraScale+ "CLB", 7-series "Slice", Versal "Netlist").
_UTIL_ROWS = {
    r"(CLB|Slice) LUTs\*?": "lut",
    r"(CLB|Slice) Registers": "ff",
    r"DSPs": "dsp",
    r"Block RAM Tile": "bram",
    r"URAM": "uram",
}
_HEAD_CHARS = 4000  # the header that names the command sits in the first lines
_MAX_BYTES = 64 << 20  # bigger files are netlists or logs, never a summary report


def parse_reports(folder: Path) -> list[dict]:
    """Every figure found in `folder`: [{quantity, value, source, design, rank}] (rank: higher wins)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CodesignError(f"--vendor-reports {folder}: not a directory")
    files = [f for f in sorted(folder.rglob("*")) if f.is_file() and f.stat().st_size <= _MAX_BYTES]
    kinds = {f: sniff(f) for f in files}
    xml_tops = {_csynth_top(f) for f, k in kinds.items() if k == "csynth.xml"}
    rows: list[dict] = []
    for f, kind in kinds.items():
        if kind == "csynth.xml":
            rows += _csynth(f)
        elif kind == "csynth.rpt" and _csynth_rpt_top(f) not in xml_tops:
            rows += _csynth_rpt(f)
        elif kind == "report_utilization":
            rows += _utilization(f)
        elif kind == "report_timing_summary":
            rows += _timing_summary(f)
    if not rows:
        raise CodesignError(
            f"--vendor-reports {folder}: no *csynth.xml, csynth.rpt, report_utilization or report_timing_summary found"
        )
    return rows


def sniff(f: Path) -> str | None:
    """What report `f` is, from its content: 'csynth.xml', 'csynth.rpt', the Vivado command that wrote
    it ('report_utilization', 'report_timing_summary', 'report_timing', ...), or None (not a report)."""
    try:
        head = f.open("rb").read(_HEAD_CHARS).decode("utf-8", errors="replace")
    except OSError as e:
        raise CodesignError(f"{f}: cannot be read ({e.strerror})") from None
    if f.name.lower().endswith(".xml"):
        return (
            "csynth.xml"
            if ("<profile>" in head and "csynth" in f.name.lower()) or "<PerformanceEstimates>" in head
            else None
        )
    if re.search(r"== (Vivado|Vitis) HLS Report for", head):
        return "csynth.rpt"
    m = re.search(r"^\|\s*Command\s*:\s*(\w+)", head, re.M)
    if m:
        return m.group(1)
    if "| Design Timing Summary" in head:
        return "report_timing_summary"  # a report cut out of a longer log, without its header
    if "Utilization Design Information" in head or re.search(
        r"utilization.*\.rpt$|^vivado_synth\.rpt$", f.name.lower()
    ):
        return "report_utilization"  # by its title or its usual name: parsed, and judged there
    return None


# ---- HLS ----------------------------------------------------------------------------------------


def _csynth_top(f: Path) -> str | None:
    try:
        node = ET.parse(f).getroot().find("UserAssignments/TopModelName")
    except ET.ParseError:
        return None
    return node.text.strip() if node is not None and node.text else None


def _csynth(f: Path) -> list[dict]:
    try:
        root = ET.parse(f).getroot()
    except ET.ParseError as e:
        raise CodesignError(f"{f}: not a readable csynth.xml ({e})") from None
    perf, area = root.find("PerformanceEstimates"), root.find("AreaEstimates/Resources")
    if perf is None or area is None:
        raise CodesignError(f"{f}: no PerformanceEstimates / AreaEstimates (is this an HLS csynth.xml?)")
    version = root.findtext("ReportVersion/Version", "").strip()
    src = f"Vivado/Vitis HLS {version} csynth ({f.name})".replace("  ", " ")
    out = []
    for tag, q in (("LUT", "lut"), ("FF", "ff"), ("DSP", "dsp"), ("DSP48E", "dsp"), ("BRAM_18K", "bram_18k"),
                   ("URAM", "uram")):  # fmt: skip
        text = area.findtext(tag)
        if text and text.strip().isdigit():
            out.append(_row(q, int(text), src, "hls", RANK["hls"]))
    for path, q in (("SummaryOfOverallLatency/Worst-caseLatency", "latency_cycles"), ("SummaryOfOverallLatency/Interval-max", "ii"),
                    ("SummaryOfTimingAnalysis/EstimatedClockPeriod", "clock_ns_estimated")):  # fmt: skip
        text = (perf.findtext(path) or "").strip()
        if text and text != "undef":
            try:
                out.append(_row(q, float(text), src, "hls", RANK["hls"]))
            except ValueError:
                raise CodesignError(f"{f}: {path} is '{text}', expected a number or 'undef'") from None
    if not out:
        raise CodesignError(f"{f}: no LUT/FF/DSP or latency figures in AreaEstimates / PerformanceEstimates")
    return out


def _csynth_rpt_top(f: Path) -> str | None:
    m = re.search(r"HLS Report for '([^']+)'", _read(f)[:_HEAD_CHARS])
    return m.group(1) if m else None


def _csynth_rpt(f: Path) -> list[dict]:
    """The text csynth report: the utilization 'Total' row and the latency summary."""
    text = _read(f)
    version = re.search(r"\* Version:\s*(\S+)", text)
    src = f"Vivado/Vitis HLS {version.group(1) if version else ''} csynth ({f.name})".replace("  ", " ")
    out = []
    util = text.split("== Utilization Estimates", 1)[-1]
    names = next((_cells(line) for line in util.splitlines() if re.match(r"\|\s*Name\s*\|", line)), None)
    total = next((_cells(line) for line in util.splitlines() if re.match(r"\|\s*Total\s*\|", line)), None)
    if names and total:
        for name, value in zip(names[1:], total[1:]):
            q = {"LUT": "lut", "FF": "ff", "DSP": "dsp", "DSP48E": "dsp", "BRAM_18K": "bram_18k", "URAM": "uram"}.get(
                name
            )
            if q and value.isdigit():
                out.append(_row(q, int(value), src, "hls", RANK["hls"]))
    lat = text.split("+ Latency:", 1)[-1].splitlines()
    for line in lat[:12]:  # first data row of the latency summary: min, max, abs min, abs max, II min, II max
        cells = _cells(line)
        if len(cells) >= 6 and cells[0].isdigit() and cells[1].isdigit():
            out += [_row("latency_cycles", float(cells[1]), src, "hls", RANK["hls"])]
            if cells[5].isdigit():
                out.append(_row("ii", float(cells[5]), src, "hls", RANK["hls"]))
            break
    if not out:
        raise CodesignError(f"{f}: no 'Utilization Estimates' Total row or latency summary (is this a csynth.rpt?)")
    return out


# ---- Vivado -------------------------------------------------------------------------------------


def _stage(text: str, f: Path) -> str:
    """synth | place | route: from 'Design State' (2019.2+), else from the file name, else synth."""
    state = re.search(r"^\|\s*Design State\s*:\s*(.+?)\s*$", text[:_HEAD_CHARS], re.M)
    hint = state.group(1) if state else f.name
    if re.search(r"(?i)route", hint):
        return "route"
    if re.search(r"(?i)plac", hint):
        return "place"
    return "synth"


def _utilization(f: Path) -> list[dict]:
    text = _read(f)
    stage = _stage(text, f)
    if f.name.lower() == "vivado_synth.rpt":
        src, design = f"hls4ml vivado_synth.rpt: Vivado report_utilization of the HLS IP, {STAGE_WORDS[stage]}", "hls"
    else:
        src, design = f"Vivado report_utilization, {STAGE_WORDS[stage]} ({f.name})", "vivado"
    out, seen = [], set()
    for line in text.splitlines():
        cells = _cells(line)
        if len(cells) < 2:
            continue
        for pattern, q in _UTIL_ROWS.items():
            if q not in seen and re.fullmatch(pattern, cells[0]):
                try:
                    value = float(cells[1])
                except ValueError:
                    raise CodesignError(f"{f}: row '{cells[0]}': Used is '{cells[1]}', expected a number") from None
                out.append(_row(q, int(value) if value.is_integer() else value, src, design, RANK[stage]))
                seen.add(q)
    if "lut" not in seen:
        raise CodesignError(f"{f}: no '| CLB LUTs | n |' (or Slice LUTs) row (is this a Vivado report_utilization?)")
    return out


def _timing_summary(f: Path) -> list[dict]:
    """WNS, TNS, WHS, THS of the Design Timing Summary (NA where nothing is clocked) and the clock."""
    text = _read(f)
    stage = _stage(text, f)
    lines = text.splitlines()
    try:
        i = next(i for i, line in enumerate(lines) if line.split()[:2] == ["WNS(ns)", "TNS(ns)"])
    except StopIteration:
        raise CodesignError(
            f"{f}: no 'Design Timing Summary' WNS(ns) table (is this a Vivado report_timing_summary?)"
        ) from None
    values = lines[i + 2].split() if i + 2 < len(lines) else []
    if len(values) < 6:
        raise CodesignError(
            f"{f}: the WNS(ns) table has no value row (expected 'WNS TNS ... WHS THS ...' numbers or NA)"
        )
    clock = _clock(lines)
    where = f"{STAGE_WORDS[stage]}, clock {clock[0]} at {clock[1]} ns" if clock else f"{STAGE_WORDS[stage]}, no clock"
    src = f"Vivado report_timing_summary, {where} ({f.name})"
    out = []
    for q, v in (("wns_ns", values[0]), ("tns_ns", values[1]), ("whs_ns", values[4]), ("ths_ns", values[5])):
        if v == "NA":  # no clocked path (a combinational core): defined, and said so
            out.append(_row(q, "NA", src + "; NA: no clocked paths", "vivado", RANK[stage]))
            continue
        try:
            out.append(_row(q, float(v), src, "vivado", RANK[stage]))
        except ValueError:
            raise CodesignError(f"{f}: {q.split('_')[0].upper()}(ns) is '{v}', expected a number or NA") from None
    if clock:
        out.append(_row("clock_ns", clock[1], src, "vivado", RANK[stage]))
    return out


def _clock(lines: list[str]) -> tuple[str, float] | None:
    """(name, period ns) of the first clock in the Clock Summary, if any."""
    for i, line in enumerate(lines):
        if line.split()[:2] == ["Clock", "Waveform(ns)"]:
            for row in lines[i + 2 : i + 6]:
                m = re.match(r"\s*(\S+)\s+\{[^}]*\}\s+([\d.]+)", row)
                if m:
                    return m.group(1), float(m.group(2))
            return None
    return None


def _read(f: Path) -> str:
    try:
        return f.read_text(errors="replace")
    except OSError as e:
        raise CodesignError(f"{f}: cannot be read ({e.strerror})") from None


def _cells(line: str) -> list[str]:
    line = line.strip()
    if not line.startswith("|"):
        return []
    return [c.strip() for c in line.strip("|").split("|")]


def _row(quantity: str, value, source: str, design: str, rank: int) -> dict:
    return {"quantity": quantity, "value": value, "source": source, "design": design, "rank": rank}
