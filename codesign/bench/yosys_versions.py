"""Debian's Yosys 0.23 against the current Yosys of the `pyosys` wheel, on zoo cores:
python -m codesign.bench.yosys_versions CORE_DIR... [--timeout 600]

CORE_DIR: a point's rtl stage folder (core.json, rtl/). The same script (read, synth_xilinx -flatten,
stat) runs in each Yosys, one at a time, each in a process of its own under the timeout; LUT, FF,
CARRY and seconds go to reports/bench/yosys_versions.{json,md}. pyosys is not a dependency of the
flow: `pip install pyosys==0.70` to run this comparison.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..estimate.yosys import _GROUPS, rom_as_logic

REPO = Path(__file__).resolve().parents[2]
PYOSYS = """
import sys
from pyosys import libyosys as ys
d = ys.Design()
for line in open(sys.argv[1]).read().splitlines():
    if line.strip():
        ys.run_pass(line, d)
"""


def _script(core_dir: Path, work: Path, stat: Path) -> Path:
    core = json.loads((core_dir / "core.json").read_text())
    (work / "src").mkdir(parents=True, exist_ok=True)
    reads = []
    for f in sorted((core_dir / "rtl").glob("*.v")):
        (work / "src" / f.name).write_text(rom_as_logic(f.read_text()))
        reads.append(f"read_verilog -defer {work / 'src' / f.name}")
    script = work / "synth.ys"
    script.write_text("\n".join([*reads, f"synth_xilinx -family xcup -flatten -noiopad -noclkbuf -top {core['top']}",
                                 f"tee -q -o {stat} stat -json", ""]))  # fmt: skip
    return script


def run_one(core_dir: Path, which: str, timeout_s: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"yosys-{which}-"))
    stat = work / "stat.json"
    script = _script(core_dir, work, stat)
    if which == "debian":
        cmd = [shutil.which("yosys"), "-q", "-s", str(script)]
    else:
        (work / "run.py").write_text(PYOSYS)
        cmd = [sys.executable, str(work / "run.py"), str(script)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=core_dir / "rtl", capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout_s:g} s", "seconds": timeout_s}
    seconds = round(time.perf_counter() - t0, 1)
    if p.returncode != 0 or not stat.exists():
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:], "seconds": seconds}
    cells = {k.lstrip("\\$"): n for k, n in json.loads(stat.read_text())["design"]["num_cells_by_type"].items()}
    counts = {k: sum(n for c, n in cells.items() if re.fullmatch(p, c)) for k, p in _GROUPS.items()}
    return {**counts, "seconds": seconds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cores", nargs="+")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", default=str(REPO / "reports" / "bench"))
    args = ap.parse_args(argv)
    from importlib.metadata import version

    versions = {"debian": subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.split("(")[0].strip(),
                "pyosys": f"pyosys {version('pyosys')}"}  # fmt: skip
    rows = {}
    for c in args.cores:
        core_dir = Path(c).resolve()
        name = json.loads((core_dir / "core.json").read_text())["top"] + f" ({core_dir.parent.name})"
        rows[name] = {which: run_one(core_dir, which, args.timeout) for which in ("debian", "pyosys")}
    result = {"versions": versions, "cores": rows, "command": "python -m codesign.bench.yosys_versions " + " ".join(
        argv if argv is not None else sys.argv[1:])}  # fmt: skip
    out = Path(args.out)
    (out / "yosys_versions.json").write_text(json.dumps(result, indent=1))
    lines = ["# Yosys versions on zoo cores (synth_xilinx -family xcup -flatten)", "", f"`{result['command']}`", "",
             f"| core | {versions['debian']} LUT | FF | CARRY | s | {versions['pyosys']} LUT | FF | CARRY | s |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in rows.items():
        cells = []
        for which in ("debian", "pyosys"):
            x = r[which]
            cells += [x.get("lut", x.get("error")), x.get("ff", ""), x.get("carry", ""), x["seconds"]]
        lines.append(f"| {name} | " + " | ".join(map(str, cells)) + " |")
    (out / "yosys_versions.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
