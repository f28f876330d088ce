"""Sweep benchmark: python -m codesign.bench.sweep [--workers 2] [--synth 4].

Writes reports/bench/sweep.json, sweep.md and the demo sweep's Pareto plots (sweep_pareto_*.png):
  - design points per hour, end to end (models/sweeps/jet_mlp_demo.toml: every point trains) and
    post-training (models/sweeps/jet_mlp_firmware.toml on one cached training);
  - the estimator comparison on --synth points of the demo sweep spanning its LUT range: da4ml's
    cost model and rule4ml (HLS project) against Yosys synth_xilinx of the same RTL.
Runs in a home of its own (build/bench/sweep-home) so nothing cached elsewhere is reused except the
generated events (data generation is not a design point's cost).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO, FIRMWARE = REPO / "models/sweeps/jet_mlp_demo.toml", REPO / "models/sweeps/jet_mlp_firmware.toml"


def _codesign(home: Path, *args: str) -> float:
    """Run a codesign command in `home`; return its wall time (fails loudly)."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "codesign.cli", *args],
        cwd=home,
        check=True,
        env={**os.environ, "CODESIGN_HOME": str(home)},
    )
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--synth", type=int, default=4, help="demo-sweep points synthesised with Yosys for the comparison")
    ap.add_argument("--out", default=str(REPO / "reports/bench"))
    ap.add_argument(
        "--reuse-training", action="store_true", help="copy build/train too (its seconds are excluded anyway)"
    )
    ap.add_argument("--from-store", action="store_true",
                    help="summarise the post-training sweep's store as it is (an interrupted run) without running anything")  # fmt: skip
    ap.add_argument("--post-training-only", action="store_true",
                    help="only the verifying post-training sweep; the end-to-end figures are kept from sweep.json")  # fmt: skip
    args = ap.parse_args(argv)

    home = REPO / "build" / "bench" / "sweep-home"
    if args.from_store:  # an interrupted verifying sweep: its finished points, over the time they took
        return _from_store(home, args)
    shutil.rmtree(home, ignore_errors=True)
    (home / "build").mkdir(parents=True)
    if (REPO / "build" / "data").is_dir():  # generated events are shared; nothing else is
        shutil.copytree(REPO / "build" / "data", home / "build" / "data")
    if args.reuse_training and (REPO / "build" / "train").is_dir():  # the post-training sweep's one training
        shutil.copytree(REPO / "build" / "train", home / "build" / "train")
    _codesign(home, "data", "jets", "--preset", "demo")
    w = str(args.workers)

    old = json.loads((Path(args.out) / "sweep.json").read_text()) if (Path(args.out) / "sweep.json").exists() else {}
    if not args.post_training_only:
        end_to_end_s = _codesign(home, "sweep", str(DEMO), "--workers", w)
    train_s = _codesign(home, "train", str(REPO / "models/jet_tagger_mlp.toml"), "--preset", "demo")
    post_s = _codesign(home, "sweep", str(FIRMWARE), "--workers", w)

    os.environ["CODESIGN_HOME"] = str(home)
    from ..sweep.run import store_for

    fw, _ = store_for(str(FIRMWARE))
    fw_rows = [r for r in fw.rows() if r["status"] == "done"]
    if not args.post_training_only:
        _codesign(home, "report", str(DEMO))
        demo, demo_spec = store_for(str(DEMO))
        demo_rows = [r for r in demo.rows() if r["status"] == "done"]
        comparison = _compare(demo_rows, demo_spec, args.synth)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plots = old.get("pareto_plots", [])
    if not args.post_training_only:
        plots = []
        for png in sorted((home / "reports" / demo_spec.name).glob("pareto_*.png")):
            shutil.copy(png, out / f"sweep_{png.name}")
            plots.append(f"sweep_{png.name}")
    verified = [r for r in fw_rows if _verified(r["metrics"])]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "workers": args.workers,
        "end_to_end": {**old.get("end_to_end", {}), "note": "kept from an earlier run of this bench"} if args.post_training_only else
                      {"spec": str(DEMO.relative_to(REPO)), "points_done": len(demo_rows), "failed": demo.counts().get("failed", 0),
                       "wall_s": round(end_to_end_s, 1), "points_per_hour": round(3600 * len(demo_rows) / end_to_end_s, 1)},
        "post_training": {"spec": str(FIRMWARE.relative_to(REPO)), "points_done": len(fw_rows), "failed": fw.counts().get("failed", 0),
                          "wall_s": round(post_s, 1), "training_s_excluded": round(train_s, 1),
                          "points_per_hour": round(3600 * len(fw_rows) / post_s, 1),
                          "verified_points": len(verified), "verified_points_per_hour": round(3600 * len(verified) / post_s, 1),
                          "median_point_s": round(statistics.median(r["seconds"] for r in fw_rows), 1) if fw_rows else None,
                          "per_point": [{"id": r["id"], "params": r["params"], "wall_s": round(r["seconds"], 1),
                                         **{k: r["metrics"].get(k) for k in ("lut", "ff", "latency_cycles", "hls_lut", "csim_vectors",
                                            "csim_mismatches", "verilator_vectors", "verilator_mismatches", "icarus_vectors",
                                            "icarus_mismatches")}} for r in fw_rows]},
        "estimators": old.get("estimators", {}) if args.post_training_only else comparison,
        "pareto_plots": plots,
        "vivado_reports": "none here: no Vivado, and no public post-route report of these designs was readable offline; "
                          "`codesign estimate --vendor-reports DIR` adds real figures when a firmware engineer sends them",
        "command": f"python -m codesign.bench.sweep --workers {args.workers} --synth {args.synth}"
                   + (" --post-training-only" if args.post_training_only else "")
                   + (" --reuse-training" if args.reuse_training else ""),
    }  # fmt: skip
    (out / "sweep.json").write_text(json.dumps(result, indent=1))
    (out / "sweep.md").write_text(_markdown(result))
    print(json.dumps({k: result[k] for k in ("end_to_end", "post_training")}, indent=1))
    return 0


def _from_store(home: Path, args) -> int:
    """Figures of a post-training sweep stopped part way: finished points over the wall time since the points
    were submitted (the store keeps the submission time on points still running)."""
    import sqlite3

    db = sqlite3.connect(home / "build" / "sweeps" / "jet_mlp_firmware" / "results.sqlite")
    rows = db.execute("SELECT id, params, status, metrics, seconds, updated FROM points ORDER BY id").fetchall()
    start = min(r[5] for r in rows)
    fin = [r for r in rows if r[2] in ("done", "failed")]
    wall = max(r[5] for r in fin) - start
    done = [{"id": r[0], "params": json.loads(r[1]), "metrics": json.loads(r[3] or "{}"), "seconds": r[4]}
            for r in rows if r[2] == "done"]  # fmt: skip
    verified = [r for r in done if _verified(r["metrics"])]
    out = Path(args.out)
    old = json.loads((out / "sweep.json").read_text())
    old["post_training"] = {
        "spec": str(FIRMWARE.relative_to(REPO)), "points_done": len(done), "failed": sum(r[2] == "failed" for r in rows),
        "not_finished": sum(r[2] in ("pending", "running") for r in rows), "wall_s": round(wall, 1),
        "points_per_hour": round(3600 * len(done) / wall, 1), "verified_points": len(verified),
        "verified_points_per_hour": round(3600 * len(verified) / wall, 1),
        "median_point_s": round(statistics.median(r["seconds"] for r in done), 1) if done else None,
        "training_s_excluded": None,
        "note": f"stopped after {len(fin)} of {len(rows)} points (session time); wall from submission to the last finished point",
        "per_point": [{"id": r["id"], "params": r["params"], "wall_s": round(r["seconds"], 1),
                       **{k: r["metrics"].get(k) for k in ("lut", "ff", "latency_cycles", "hls_lut", "csim_vectors", "csim_mismatches",
                          "verilator_vectors", "verilator_mismatches", "icarus_vectors", "icarus_mismatches")}} for r in done],
    }  # fmt: skip
    old["command"] = (
        f"python -m codesign.bench.sweep --post-training-only --reuse-training --workers {args.workers} (stopped; then --from-store)"
    )
    old["end_to_end"] = {
        **old.get("end_to_end", {}),
        "note": "kept from an earlier run of this bench (targets then: hls, estimate)",
    }
    (out / "sweep.json").write_text(json.dumps(old, indent=1))
    (out / "sweep.md").write_text(_markdown(old))
    print(json.dumps(old["post_training"], indent=1)[:3000])
    return 0


def _verified(m: dict) -> bool:
    """A point whose every vector passed HLS C-sim and Verilator, and Icarus its sample: 0 mismatches each."""
    keys = ("csim_vectors", "verilator_vectors", "icarus_vectors")
    return all(m.get(k, 0) > 0 for k in keys) and all(m.get(k.replace("vectors", "mismatches")) == 0 for k in keys)


def _compare(rows: list[dict], spec, n: int) -> dict:
    """Yosys on n points spanning the LUT range; ratios of every estimator to it."""
    from ..estimate.yosys import synth_xilinx
    from ..flow import Point

    rows = sorted((r for r in rows if "lut" in r["metrics"]), key=lambda r: r["metrics"]["lut"])
    if not rows:
        return {}
    picks = [rows[round(i * (len(rows) - 1) / max(1, n - 1))] for i in range(min(n, len(rows)))]
    picks = list({id(p): p for p in picks}.values())

    def synth(r):
        point = Point(spec.card_for(r["params"]))
        return synth_xilinx(point.stage_dir("rtl") / "rtl", point.core().top, family=point.card.firmware.family)

    with ThreadPoolExecutor(2) as pool:  # Yosys is single-threaded: two at a time on two cores
        synths = list(pool.map(synth, picks))
    table = []
    for r, ys in zip(picks, synths):
        m = r["metrics"]
        table.append({
            "id": r["id"], "params": r["params"], "yosys_lut": ys["lut"], "yosys_ff": ys["ff"], "yosys_s": ys.get("seconds"),
            "da4ml_lut": m["lut"], "da4ml_ff": m["ff"], "rule4ml_hls_lut": m.get("hls_lut"), "rule4ml_hls_dsp": m.get("hls_dsp"),
            "da4ml_over_yosys_lut": round(m["lut"] / ys["lut"], 3), "da4ml_over_yosys_ff": round(m["ff"] / ys["ff"], 3),
            "rule4ml_hls_over_yosys_rtl_lut": round(m["hls_lut"] / ys["lut"], 3) if m.get("hls_lut") else None,
        })  # fmt: skip
    med = lambda k: round(statistics.median(t[k] for t in table if t[k] is not None), 3)  # noqa: E731
    return {"points": table, "median_da4ml_over_yosys_lut": med("da4ml_over_yosys_lut"), "median_da4ml_over_yosys_ff": med("da4ml_over_yosys_ff"),
            "median_rule4ml_hls_over_yosys_rtl_lut": med("rule4ml_hls_over_yosys_rtl_lut"),
            "note": "da4ml and Yosys cost the same RTL; rule4ml estimates the hls4ml HLS project of the same model "
                    "(a different implementation, sparsity-blind, one uniform precision), so its ratio compares designs as well as estimators"}  # fmt: skip


def _training(seconds) -> str:
    """The shared training's time, or that it was reused from an earlier run (--reuse-training)."""
    return "reused from an earlier run" if seconds is None else f"{seconds} s, excluded"


def _markdown(r: dict) -> str:
    e, p, c = r["end_to_end"], r["post_training"], r["estimators"]
    lines = [
        "# Sweep benchmark", "", f"`{r['command']}` on {r['machine']}, {r['workers']} workers (a shared, noisy machine).", "",
        "| sweep | points done | failed | wall [s] | points / hour |", "|---|---|---|---|---|",
        f"| end to end (`{e['spec']}`: each point trains) | {e['points_done']} | {e['failed']} | {e['wall_s']} | **{e['points_per_hour']}** |",
        f"| post-training, every point verified (`{p['spec']}`: one shared training, {_training(p['training_s_excluded'])}) | {p['points_done']} | {p['failed']} | {p['wall_s']} | **{p['points_per_hour']}** |",
        "", f"Fully verified points (HLS C-sim and Verilator on every vector, Icarus on its sample, 0 mismatches): "
        f"{p.get('verified_points')} of {p['points_done']}, **{p.get('verified_points_per_hour')} per hour**; median point wall "
        f"{p.get('median_point_s')} s (each point in its own process, {r['workers']} at a time).", "",
        "| point | params | wall s | da4ml LUT | C-sim vectors / mismatches | Verilator | Icarus |", "|---|---|---|---|---|---|---|",
        *(f"| {q['id']} | `{json.dumps(q['params'])}` | {q['wall_s']} | {q['lut']} | {q['csim_vectors']} / {q['csim_mismatches']} | "
          f"{q['verilator_vectors']} / {q['verilator_mismatches']} | {q['icarus_vectors']} / {q['icarus_mismatches']} |"
          for q in p.get("per_point", [])),
        "", "## Estimators against Yosys synth_xilinx of the same RTL", "",
        "| point | params | Yosys LUT | da4ml LUT | da4ml/Yosys LUT | Yosys FF | da4ml FF | da4ml/Yosys FF | rule4ml HLS LUT | rule4ml HLS DSP |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for t in c.get("points", []):
        lines.append(f"| {t['id']} | `{json.dumps(t['params'])}` | {t['yosys_lut']} | {t['da4ml_lut']} | {t['da4ml_over_yosys_lut']} | "
                     f"{t['yosys_ff']} | {t['da4ml_ff']} | {t['da4ml_over_yosys_ff']} | {t['rule4ml_hls_lut']} | {t['rule4ml_hls_dsp']} |")  # fmt: skip
    if c:
        lines += ["", f"Medians: da4ml/Yosys LUT {c['median_da4ml_over_yosys_lut']}, FF {c['median_da4ml_over_yosys_ff']}; "
                  f"rule4ml (HLS project) / Yosys (RTL) LUT {c['median_rule4ml_hls_over_yosys_rtl_lut']}.", "", c["note"] + "."]  # fmt: skip
    lines += ["", f"Vivado: {r['vivado_reports']}.", "", "## Pareto fronts of the demo sweep", ""]
    lines += [f"![{png}]({png})" for png in r["pareto_plots"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
