"""Benchmark of the first vertical slice: python -m codesign.bench.slice [--preset demo] [--runs 3].

Writes reports/bench/slice.json and slice.md: seconds per stage (as recorded when each stage ran),
co-simulation vectors/s per simulator (median of --runs runs on a built simulator), simulator build
times from an empty build folder (median of --runs), and LUT estimates from both sources.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from .. import flow, paths
from ..rtl.cosim import run_cosim
from .estimate import runtime_only_ccache

CARD = "models/jet_tagger_mlp.toml"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--card", default=CARD)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="reports/bench")
    ap.add_argument("--verified-runs", type=int, default=3, help="runs of the post-training verified point (median)")
    args = ap.parse_args(argv)

    point = flow.Point.from_file(args.card, args.preset)
    t0 = time.perf_counter()
    records = flow.run(point)
    core_dir = point.stage_dir("rtl")
    sims = {}
    for sim in flow.SIMULATORS:
        builds, speeds = [], []
        for i in range(args.runs):  # an empty build folder; ccache holds Verilator's runtime, not this core
            with tempfile.TemporaryDirectory(dir=paths.build_dir()) as fresh, \
                    runtime_only_ccache(paths.build_dir() / "bench" / f"ccache-slice-{i}"):  # fmt: skip
                builds.append(run_cosim(core_dir, sim, Path(fresh), max_vectors=10)["build_s"])
        warm = paths.build_dir() / "simbuild"
        events = flow.sim_events(point, sim)
        run_cosim(core_dir, sim, warm, max_vectors=10)  # make sure the cached build exists
        for _ in range(args.runs):
            r = run_cosim(core_dir, sim, warm, events=events)
            speeds.append(r["vectors_per_s"])
        sims[sim] = {
            "vectors": r["vectors"], "mismatches": r["mismatches"],
            "build_s_median": round(statistics.median(builds), 2), "build_s_runs": builds,
            "vectors_per_s_median": round(statistics.median(speeds), 1), "vectors_per_s_runs": speeds,
        }  # fmt: skip
    est = records["estimate"]
    result = {
        "card": args.card, "preset": args.preset, "key": point.key, "machine": f"{platform.machine()}, 2 cores",
        "stage_seconds": {s: records[s]["seconds"] for s in flow.STAGES},
        "stage_seconds_note": "as recorded by each stage when it ran (cached stages keep their first timing)",
        "cosim": sims,
        "cosim_build_note": "build_s: from an empty build folder, ccache holding Verilator's runtime only (as on any "
        "machine that has built one core), so the core's own C++ is compiled each run",
        "lut": {"da4ml cost model": est["da4ml"]["lut"], "yosys synth_xilinx": est["yosys"]["lut"]},
        "ff": {"da4ml cost model": est["da4ml"]["ff"], "yosys synth_xilinx": est["yosys"]["ff"]},
        "latency_cycles": point.core().latency_cycles, "clock_ns": point.card.firmware.clock_ns,
        "accuracy": records["train"]["accuracy"],
    }  # fmt: skip
    if args.verified_runs:  # codesign run --until estimate after training, sweep settings (bench/estimate.py)
        from .estimate import verified_point

        v = verified_point(args.preset, args.verified_runs)
        result["verified_point_seconds"] = v["median_s"]
        result["verified_point"] = v
    result["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "slice.json").write_text(json.dumps(result, indent=1))
    (out / "slice.md").write_text(_markdown(result))
    print((out / "slice.md").read_text())
    return 0


def _markdown(r: dict) -> str:
    stages = "\n".join(f"| {s} | {v:.1f} |" for s, v in r["stage_seconds"].items())
    sims = "\n".join(
        f"| {s} | {v['vectors']} | {v['mismatches']} | {v['build_s_median']} | {v['vectors_per_s_median']} |"
        for s, v in r["cosim"].items()
    )
    return f"""# Vertical slice benchmark: {r["card"]} (preset {r["preset"]}, point {r["key"]})

Made by `python -m codesign.bench.slice --preset {r["preset"]}` on {r["machine"]}.

| stage | seconds |
|---|---|
{stages}

| simulator | vectors | mismatches | build s (median) | vectors/s (median) |
|---|---|---|---|---|
{sims}

Post-training verified point (`{r.get("verified_point", {}).get("command", "not measured")}`): median {r.get("verified_point_seconds")} s wall.

| LUT (da4ml cost model) | LUT (Yosys synth_xilinx) | FF (da4ml) | FF (Yosys) | latency | accuracy |
|---|---|---|---|---|---|
| {r["lut"]["da4ml cost model"]} | {r["lut"]["yosys synth_xilinx"]} | {r["ff"]["da4ml cost model"]} | {r["ff"]["yosys synth_xilinx"]} | {r["latency_cycles"]} cycles at {r["clock_ns"]} ns | {r["accuracy"]:.4f} |
"""


if __name__ == "__main__":
    raise SystemExit(main())
