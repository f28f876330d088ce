"""MET network scan: python -m codesign.bench.met [--n 16 32 64 128] [--forms linear quadratic] ...

For each network form and candidate count N: train on one shared dataset (the card's data with
--events / --pileup), then the flow up to `estimate` (da4ml RTL: latency, II, LUT/FF/DSP from
da4ml's cost model; open synthesis off: Yosys on designs this size takes longer than the bench).
Physics per point: the x/y resolution ratio to PUPPI per true-MET bin and the response, on the
test events. A point that does not finish within --point-timeout seconds is recorded as such.
Writes reports/bench/met.json and met.md (--name changes the file stem, for a second scan beside it).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from ..sweep.task import call_isolated

CARD = "models/met_gnn.toml"


def _point(card_path: str, overrides: dict):
    from ..card import load_card
    from ..flow import Point

    return Point(load_card(card_path).with_preset(None).with_overrides(overrides))


def run_point(card_path: str, overrides: dict) -> dict:
    """One N-scan point, trained and costed (run in its own process by sweep.task.call_isolated)."""
    from .. import flow

    point = _point(card_path, overrides)
    t0 = time.perf_counter()
    rec = flow.run(point, targets=("train", "estimate"))
    core, train, met = point.core(), rec["train"], rec["train"]["met"]
    return {
        "key": point.key, "latency_cycles": core.latency_cycles, "latency_ns": core.latency_ns, "ii": core.ii,
        "lut": core.estimate.lut, "ff": core.estimate.ff, "dsp": core.estimate.dsp,
        "cost_source": core.estimate.source, "rtl_s": rec["rtl"]["seconds"], "train_s": train["seconds"],
        "ratio_to_puppi": train["headline_ratio_to_puppi"], "response_above_100": train["response_above_100"],
        "ratio_to_puppi_float": met["ratio_to_puppi"]["float network"],
        "response_above_100_float": met["high_met"]["float network"]["response"],
        "response_by_bin": {b: v["response"] for b, v in met["vs_true_met"]["quantized network"].items()},
        "test_events_by_bin": {b: v["events"] for b, v in met["vs_true_met"]["puppi"].items()},
        "res_xy": {m: met["overall"][m]["res_xy"] for m in met["methods"]},
        "n_test": train["n_test"], "wall_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--card", default=CARD)
    ap.add_argument("--n", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--forms", nargs="+", default=["linear", "quadratic"])
    ap.add_argument(
        "--quadratic-n",
        type=int,
        nargs="+",
        help="N values for the quadratic form (default: --n); its cost grows as N^2",
    )
    ap.add_argument(
        "--extrapolate-n",
        type=int,
        nargs="*",
        default=[],
        help="N values whose quadratic-form cost is extrapolated (labelled) from >= 3 measured N, when tracing them is too slow here",
    )
    ap.add_argument("--events", type=int, default=6000)
    ap.add_argument("--pileup", type=float, default=140.0)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--point-timeout", type=float, default=900.0)
    ap.add_argument("--out", default="reports/bench")
    ap.add_argument("--name", default="met", help="file stem of the results in --out")
    args = ap.parse_args(argv)

    points = []
    for form in args.forms:
        for n in (args.quadratic_n or args.n) if form == "quadratic" else args.n:
            overrides = {"data": {"n_events": args.events, "pileup": args.pileup, "n_candidates": n},
                         "model": {"form": form}, "training": {"epochs": args.epochs},
                         "firmware": {"open_synthesis": False}}  # fmt: skip
            t0 = time.perf_counter()
            res = call_isolated("codesign.bench.met:run_point", {"card_path": args.card, "overrides": overrides},
                                args.point_timeout)  # fmt: skip
            res = (
                {"error": f"{res['error']} (bench limit {args.point_timeout:g} s)"[:500]}
                if res.get("ok") is False
                else res
            )
            res = {"form": form, "n": n, **res, "bench_wall_s": round(time.perf_counter() - t0, 1)}
            print(json.dumps(res), file=sys.stderr)
            points.append(res)
    points += extrapolate(points, "quadratic", args.extrapolate_n)
    result = {
        "command": "python -m codesign.bench.met " + " ".join(argv if argv is not None else sys.argv[1:]),
        "card": args.card, "events": args.events, "n_test_events": next((p["n_test"] for p in points if "n_test" in p), None), "pileup": args.pileup, "epochs": args.epochs,
        "machine": f"{platform.machine()}, 2 cores (shared)", "clock_ns": _point(args.card, {}).card.firmware.clock_ns,
        "cost_source": "da4ml cost model (LUT/FF/DSP of the emitted RTL; no vendor tool, no Yosys here)",
        "physics_note": "resolution = half-width of the central 68% of (MET - true) x/y residuals; ratio < 1 beats PUPPI MET "
                        "(over all candidates of the event); test events only",
        "points": points,
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    (out / f"{args.name}.md").write_text(_markdown(result))
    print((out / f"{args.name}.md").read_text())
    return 0


def extrapolate(points: list[dict], form: str, ns: list[int]) -> list[dict]:
    """Cost of `form` at N values not traced here, from the measured points of that form.

    LUT/FF/DSP: a quadratic in N through (least squares over) the measured N — the all-pairs edge
    network is replicated N(N-1) times, the node network N times; latency: a + b log2 N (adder trees).
    Rows are marked `extrapolated` with the N they came from; they carry no physics.
    """
    import numpy as np

    done = sorted(
        (p for p in points if p["form"] == form and "error" not in p and not p.get("extrapolated")),
        key=lambda p: p["n"],
    )
    if not ns or len(done) < 3:
        return [
            {"form": form, "n": n, "error": f"not extrapolated: {len(done)} measured {form} points, need 3"} for n in ns
        ]
    n = np.array([p["n"] for p in done], dtype=float)
    fit = {k: np.polyfit(n, [p[k] for p in done], 2) for k in ("lut", "ff", "dsp")}
    lat = np.polyfit(np.log2(n), [p["latency_cycles"] for p in done], 1)
    clock = done[0]["latency_ns"] / done[0]["latency_cycles"]
    rows = []
    for m in ns:
        cycles = int(round(np.polyval(lat, np.log2(m))))
        rows.append({"form": form, "n": m, "extrapolated": True, "from_n": [p["n"] for p in done],
                     **{k: int(round(np.polyval(f, m))) for k, f in fit.items()},
                     "latency_cycles": cycles, "latency_ns": cycles * clock, "ii": 1,
                     "cost_source": f"extrapolated from the da4ml cost of N = {', '.join(str(p['n']) for p in done)}"})  # fmt: skip
    return rows


def _f(v, fmt="{:.3g}"):
    return "—" if v is None else fmt.format(v)


def _markdown(r: dict) -> str:
    ok = [p for p in r["points"] if "error" not in p and not p.get("extrapolated")]
    bins = list(ok[0]["ratio_to_puppi"]) if ok else []
    cost = "\n".join(
        f"| {p['form']} | {p['n']}{' *' if p.get('extrapolated') else ''} | "
        + (f"{p['latency_cycles']} | {p['latency_ns']:g} | {p['ii']} | {p['lut']} | {p['ff']} | {p['dsp']} | "
           + (f"{_f(p['ratio_to_puppi'].get('all'))} | {_f(p['response_above_100'])} |" if "ratio_to_puppi" in p else "not trained | |")
           if "error" not in p else f"{p['error']} | | | | | | | |")
        for p in r["points"]
    )  # fmt: skip
    ratio = "\n".join(f"| {p['form']} | {p['n']} | {net} | " + " | ".join(_f(p[key].get(b)) for b in bins) + " |" for p in ok
                      for net, key in (("quantized", "ratio_to_puppi"), ("float", "ratio_to_puppi_float")) if key in p)  # fmt: skip
    n_by_bin = ok[0].get("test_events_by_bin", {}) if ok else {}
    counts = ("| test events | | | " + " | ".join(str(n_by_bin.get(b, "—")) for b in bins if b != "all") + f" | {r.get('n_test_events')} |"
              if n_by_bin else "")  # fmt: skip
    resp = "\n".join(f"| {p['form']} | {p['n']} | " + " | ".join(_f(p["response_by_bin"].get(b)) for b in bins if b != "all")
                     + f" | {_f(p.get('response_above_100_float'))} |" for p in ok)  # fmt: skip
    ex = [p for p in r["points"] if p.get("extrapolated")]
    extra = (
        f"\n\\* extrapolated, not measured: {ex[0]['cost_source']} (LUT/FF/DSP quadratic in N, latency a + b·log2 N); "
        "tracing and training the all-pairs form at these N does not fit this 2-core machine.\n"
        if ex
        else ""
    )
    forms = sorted({p["form"] for p in r["points"]})
    return f"""# L1 MET interaction network: N scan, {" and ".join(forms)} form{"s" if len(forms) > 1 else ""}

Made by `{r["command"]}` on {r["machine"]}: {r["events"]} events at <PU> = {r["pileup"]:g} ({r.get("n_test_events")} held-out
test events), {r["epochs"]} epochs float + {r["epochs"]} quantization-aware per point, clock {r["clock_ns"]} ns. Cost: {r["cost_source"]}. Physics: {r["physics_note"]}.

| form | N | latency [cycles] | latency [ns] | II | LUT | FF | DSP | resolution ratio to PUPPI (all) | response (true MET > 100) |
|---|---|---|---|---|---|---|---|---|---|
{cost}
{extra}
For scale, the VU13P (xcvu13p) has 1,728k LUT, 3,456k FF and 12,288 DSP.

Resolution ratio network / PUPPI per true-MET bin [GeV] (goal: <= 0.8 in every bin):

| form | N | network | {" | ".join(bins)} |
|---|---|---|{"---|" * len(bins)}
{ratio}
{counts}

The widths come from the test events in each bin (row above): where a bin holds a few tens of events its ratio carries a
statistical error of tens of percent, so the bins above 150 GeV are indicative only; more events (`--events`) narrow them.

Response ⟨MET·n / |true MET|⟩ of the quantized network per true-MET bin [GeV] (— : no response below 20 GeV or too few events):

| form | N | {" | ".join(b for b in bins if b != "all")} | float network, true MET > 100 |
|---|---|{"---|" * (len([b for b in bins if b != "all"]) + 1)}
{resp}
"""


if __name__ == "__main__":
    raise SystemExit(main())
