"""Estimator table and the verified point: python -m codesign.bench.estimate [--runs 3] [--preset demo].

Writes reports/bench/estimate.json and estimate.md:
  - verified_point_seconds: median wall time of a post-training verified jet-MLP point, i.e.
    `codesign run models/jet_tagger_mlp.toml --preset P --until estimate` with the training cached and
    everything after it redone from empty (HLS C-sim on every vector, Verilator on every vector, Icarus
    on its sample, the da4ml cost and rule4ml), open synthesis off as in the sweeps (Yosys has its own
    column below); --runs runs, each with a fresh simulator build folder;
  - verified_points_per_hour: the default verifying sweep (models/sweeps/jet_mlp_firmware.toml), as
    measured by `python -m codesign.bench.sweep` (read from reports/bench/sweep.json);
  - yosys: per zoo card with firmware, its demo core's Yosys LUT and seconds (flat, and per pipeline
    stage with 2 workers), each run under a --timeout budget; a core that misses it says how far it got;
  - da4ml's own estimate and rule4ml's (HLS project, Dense models only) with their seconds, and any
    Vivado figures found under reports/vendor/<card>/ (a firmware engineer's reports, dropped in).
Runs in CODESIGN_HOME (default: the current folder): the cards' demo points must have reached the rtl
stage there (`codesign rtl CARD --preset demo`), else the card's row says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import flow, paths
from ..card import load_card
from ..errors import CodesignError

REPO = Path(__file__).resolve().parents[2]
MLP = REPO / "models" / "jet_tagger_mlp.toml"
YOSYS_AIM_S = 600  # every zoo demo core's Yosys figure within 10 minutes on 2 cores


def zoo_cards() -> list[Path]:
    """Every card of the zoo whose kind has firmware stages."""
    return [c for c in sorted((REPO / "models").glob("*.toml")) if load_card(c).kind.firmware]


def verified_point(preset: str, runs: int) -> dict:
    """Wall seconds of `codesign run --until estimate` after training, from empty point and simulator folders."""
    home = paths.root()
    card = Path(tempfile.mkdtemp(prefix="card-")) / MLP.name
    text = MLP.read_text()
    card.write_text(text.replace("[firmware]\n", "[firmware]\nopen_synthesis = false\n", 1))
    point = flow.Point.from_file(card, preset)
    cmd = [sys.executable, "-m", "codesign.cli", "run", str(card), "--preset", preset, "--until", "estimate"]
    env = {**os.environ, "CODESIGN_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([*cmd[:-1], "train"], env=env, check=True, capture_output=True)  # training: cached, not timed
    walls, stages, reference = [], [], []
    for i in range(runs):
        shutil.rmtree(point.point_dir, ignore_errors=True)
        shutil.rmtree(paths.build_dir() / "simbuild", ignore_errors=True)
        with runtime_only_ccache(home / "build" / "bench" / f"ccache-{i}") as ccache:
            env["CCACHE_DIR"] = ccache
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        walls.append(round(time.perf_counter() - t0, 1))
        t0 = time.perf_counter()  # the machine's speed at the time: a fixed CPU-bound task, beside each run
        subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, check=True, capture_output=True)
        reference.append(round(time.perf_counter() - t0, 2))
        stages.append({s: point.record(s)["seconds"] for s in ("hls", "rtl", "cosim", "estimate")})
    cosim = point.record("cosim")
    return {
        "command": " ".join(["codesign", *cmd[3:]]).replace(str(card), "models/jet_tagger_mlp.toml (open_synthesis = false)"),
        "median_s": statistics.median(walls), "runs_s": walls, "stage_seconds_per_run": stages,
        "reference_task_s": reference, "reference_task": "`python -c 'import tensorflow'` after each run: this shared "
        "machine's speed drifts by up to 1.5x within an hour; walls over the reference compare across sessions",
        "wall_over_reference": round(statistics.median(w / r for w, r in zip(walls, reference)), 2),
        "checks": {"csim_vectors": point.record("hls")["vectors"], **{f"{s}_vectors": cosim[s]["vectors"] for s in flow.SIMULATORS},
                   **{f"{s}_build_s": cosim[s]["build_s"] for s in flow.SIMULATORS}},
        "note": "hls, then estimate, run alongside rtl -> cosim (flow.ALONGSIDE); cosim runs Icarus and Verilator "
                "side by side; each run starts with a ccache holding Verilator's runtime only (as every sweep point "
                "but a machine's first), so the core's own C++ is compiled; the rtl stage reads the da4ml trace the "
                "training saved, where it did (da4ml_trace_from_training)",
        "da4ml_trace_from_training": (point.train_dir / flow.TRACE).exists(),
        "ccache": bool(shutil.which("ccache")),
    }  # fmt: skip


@contextlib.contextmanager
def runtime_only_ccache(folder: Path):
    """A fresh ccache folder (yielded, and CCACHE_DIR for the block) that holds Verilator's runtime objects
    and nothing of the measured core: a two-register core is built through it first (sim/run_sim.py),
    which compiles the same runtime."""
    from cocotb_tools.runner import get_runner

    from ..rtl.cosim import _run_sim

    run_sim = _run_sim()
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "core" / "rtl").mkdir(parents=True)
    (folder / "core" / "rtl" / "warm.v").write_text(
        "module warm(input clk, input [3:0] a, output reg [3:0] y); always @(posedge clk) y <= a; endmodule\n"
    )
    with run_sim._environ({"CCACHE_DIR": str(folder / "cache")}):
        run_sim._build(get_runner("verilator"), "verilator", folder / "core", {"top": "warm", "rtl_files": ["warm.v"]},
                       folder / "build")  # fmt: skip
        yield str(folder / "cache")


def card_row(card: Path, preset: str, timeout_s: float, flat: bool) -> dict:
    from ..estimate import hls_rule4ml
    from ..estimate.yosys import synth_xilinx

    point = flow.Point.from_file(card, preset)
    row: dict = {"card": str(card.relative_to(REPO)), "preset": preset, "key": point.key, "yosys_budget_s": timeout_s,
                 "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    try:
        core = point.core()
    except CodesignError as e:
        return {**row, "missing": str(e)}
    fw = point.card.firmware
    rtl = point.stage_dir("rtl") / "rtl"
    row["da4ml"] = {**core.estimate.model_dump(), "latency_cycles": core.latency_cycles}
    row["rtl_kbytes"] = round(sum(f.stat().st_size for f in rtl.glob("*.v")) / 1024)
    out = paths.build_dir() / "bench" / "yosys" / f"{point.name}-{point.key}"
    shutil.rmtree(out, ignore_errors=True)
    ys = {}
    for mode, workers in (("flat", 1), ("stages", 2)) if flat else (("stages", 2),):
        t0 = time.perf_counter()
        try:
            r = synth_xilinx(rtl, core.top, family=fw.family, out_dir=out / mode, timeout_s=timeout_s, mode=mode,
                             workers=workers)  # fmt: skip
            ys[mode] = {k: r[k] for k in ("lut", "ff", "dsp", "carry", "seconds", "cpu_s", "source")}
        except CodesignError as e:
            ys[mode] = {"error": str(e), "seconds": round(time.perf_counter() - t0, 1)}
    row["yosys"] = ys
    reason = hls_rule4ml.why_not(point.card)
    if reason is None:
        import numpy as np

        ref = np.load(point.train_dir / "reference.npz")
        t0 = time.perf_counter()
        est = hls_rule4ml.estimate_hls(point.card, int(np.prod(ref["x"].shape[1:])), int(np.prod(ref["y"].shape[1:])))
        row["rule4ml"] = {**est, "seconds": round(time.perf_counter() - t0, 1), "design": "hls"}
    else:
        row["rule4ml"] = {"not_applicable": reason}
    vendor = REPO / "reports" / "vendor" / point.name
    if vendor.is_dir():
        from ..estimate.cost import headline
        from ..estimate.vendor import parse_reports

        row["vivado"] = {
            q: {"value": e["value"], "source": e["source"]} for q, e in headline(parse_reports(vendor)).items()
        }
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--runs", type=int, default=3, help="verified-point runs (median)")
    ap.add_argument("--timeout", type=float, default=600, help="Yosys budget per core and mode [s]")
    ap.add_argument("--cards", nargs="*", help="cards for the Yosys table (default: every zoo card with firmware)")
    ap.add_argument("--no-flat", action="store_true", help="per-stage synthesis only")
    ap.add_argument("--skip-verified", action="store_true", help="keep the verified point of the existing JSON")
    ap.add_argument("--verified-only", action="store_true", help="only the verified point: keep the Yosys table")
    ap.add_argument("--out", default=str(REPO / "reports" / "bench"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    old = json.loads((out / "estimate.json").read_text()) if (out / "estimate.json").exists() else {}

    verified = old.get("verified_point") if args.skip_verified else verified_point(args.preset, args.runs)
    cards = [] if args.verified_only else [Path(c).resolve() for c in args.cards] if args.cards else zoo_cards()
    rows = {load_card(c).name: card_row(c, args.preset, args.timeout, not args.no_flat) for c in cards}
    if args.cards or args.verified_only:  # a partial rerun keeps the other cards' rows
        rows = {**old.get("cards", {}), **rows}
    sweep = REPO / "reports" / "bench" / "sweep.json"
    per_hour = (
        json.loads(sweep.read_text())["post_training"].get("verified_points_per_hour") if sweep.exists() else None
    )

    def best(r):
        ys = r.get("yosys", {})
        ok = [m for m in ("flat", "stages") if "lut" in ys.get(m, {})]
        if ok:
            y = ys[ok[0]]
            return {"lut": y["lut"], "seconds": y["seconds"], "cpu_s": y.get("cpu_s"), "mode": ok[0],
                    "preset": r["preset"], "within_aim": y["seconds"] <= YOSYS_AIM_S}  # fmt: skip
        why = ys.get("stages", ys.get("flat", {})).get("error") or r.get("missing")
        return {"lut": None, "seconds": None, "preset": r["preset"], "why": why}

    result = {
        "verified_point_seconds": verified and verified["median_s"],
        "verified_points_per_hour": per_hour,
        "yosys": {name: best(r) for name, r in rows.items()},
        "verified_point": verified, "cards": rows,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared (load from other jobs while measuring)",
        "command": "python -m codesign.bench.estimate " + " ".join(argv if argv is not None else sys.argv[1:]),
        "verified_points_per_hour_source": "reports/bench/sweep.json post_training (python -m codesign.bench.sweep)",
        "yosys_aim_s": YOSYS_AIM_S,
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "estimate.json").write_text(json.dumps(result, indent=1))
    (out / "estimate.md").write_text(_markdown(result))
    print((out / "estimate.md").read_text())
    return 0


def _markdown(r: dict) -> str:
    v = r["verified_point"] or {}
    lines = [
        "# Cost estimators on the zoo's cores, and the verified point", "",
        f"`{r['command']}` on {r['machine']}.", "",
        "## A verified jet-MLP point, after training", "",
        f"`{v.get('command', '')}`: median **{r['verified_point_seconds']} s** wall (runs: {v.get('runs_s')}), "
        f"checks {v.get('checks')}. Stage seconds per run: {v.get('stage_seconds_per_run')}.", "",
        f"The machine's speed beside each run: {v.get('reference_task_s')} s for a fixed task "
        f"(`import tensorflow`); median wall / reference = {v.get('wall_over_reference')}.", "",
        f"Verified points per hour, default verifying sweep: **{r['verified_points_per_hour']}** "
        f"({r['verified_points_per_hour_source']}).", "",
        "## Every zoo core: da4ml, Yosys (flat and per pipeline stage), rule4ml", "",
        "Yosys seconds are wall seconds on 2 cores (and, where recorded, Yosys's own CPU seconds, which do not "
        "depend on what else ran).", "",
        "| card | da4ml LUT | da4ml FF | Yosys flat LUT | s | Yosys per-stage LUT | s | rule4ml (HLS) LUT | s | Vivado |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, c in r["cards"].items():
        if "missing" in c:
            lines.append(f"| {name} ({c['preset']}) | not built: {c['missing']} | | | | | | | | |")
            continue
        ys, rl = c["yosys"], c.get("rule4ml", {})

        def cell(m, ys=ys):
            y = ys.get(m)
            if y is None:
                return "not run", ""
            if "lut" not in y:
                return f"no result: {y['error']}", y["seconds"]
            return y["lut"], f"{y['seconds']} ({y['cpu_s']} CPU-s)" if y.get("cpu_s") else y["seconds"]

        (fl, fs), (sl, ss) = cell("flat"), cell("stages")
        rlut = rl.get("lut", rl.get("not_applicable", ""))
        viv = "; ".join(f"{q} {e['value']}" for q, e in c.get("vivado", {}).items()) or "none dropped in"
        lines.append(f"| {name} ({c['preset']}) | {c['da4ml']['lut']} | {c['da4ml']['ff']} | {fl} | {fs} | {sl} | {ss} | {rlut} | "
                     f"{rl.get('seconds', '')} | {viv} |")  # fmt: skip
    slow = {n: y["seconds"] for n, y in r["yosys"].items() if y.get("within_aim") is False}
    if slow:
        lines += ["", f"Over the {r['yosys_aim_s']} s aim (a figure, in more time): "
                  + ", ".join(f"{n} {s} s" for n, s in slow.items()) + "."]  # fmt: skip
    lines += [
        "", "Yosys per-stage: each da4ml pipeline stage synthesised alone (2 at a time) plus the registers, summed; "
        "it cannot optimise across registers, so it is an upper bound of the flat figure. rule4ml estimates the "
        "hls4ml HLS project (a different implementation), not the RTL. Vivado figures come from reports a firmware "
        "engineer drops into reports/vendor/<card>/ (`codesign estimate --vendor-reports`).",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
