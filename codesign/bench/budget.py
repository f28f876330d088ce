"""L1 models against a trigger budget: python -m codesign.bench.budget [--size small|large|full] [--families ...] [--package ...]

Runs the resource-aware sweeps (models/sweeps/{met,flavour,jedi}_budget.toml: HGQ2 trainable bit
widths under a β ramp, every kept Pareto checkpoint a point), draws their fronts (the sweep report,
with the budget and the aim), picks each front's chosen point (the best physics figure within the
budget, else the cheapest near the best), bundles the chosen points of the --package families, and writes
reports/bench/budget.{json,md} and budget_<family>_pareto_<cost>.png.

`--size small` lays SMALL's fields over each spec (fewer events, epochs and axis values) so the
bench fits minutes of two shared cores; `large` lays LARGE's over the families whose physics needs
more data than the small size gives (the JEDI-linear-style tagger on the large jets preset, about an
hour); `full` runs the specs as they are (hours of CPU). Each family's entry says which size made it,
and a run keeps the other families an earlier run wrote. Costs are da4ml's cost model of the traced, pipelined RTL (no vendor
tool, no Yosys); physics figures are the quantized model's on its test set.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

VU13P = {"lut": 1_728_000, "dsp": 12_288}
AIMS = {"met_n128_lut": 172_800, "met_n128_ratio": 0.70, "tagger_lut": 172_800, "tagger_dsp": 614,
        "tagger_auc_gap": 0.01, "jedi_n32_lut": 45_300}  # fmt: skip
ANCHOR = {  # JEDI-linear (published, post-route on a VU13P; hls4ml LHC jet data, 3 features per particle)
    "particles": [8, 16, 32, 64, 128], "accuracy": [0.657, 0.719, 0.780, 0.809, 0.809],
    "lut": [35_700, 43_800, 45_300, 70_700, 97_800], "latency_cycles": "19-21 at a 2 ns target",
}  # fmt: skip
SPECS = {"met": "models/sweeps/met_budget.toml", "flavour": "models/sweeps/flavour_budget.toml",
         "latent": "models/sweeps/flavour_latent_budget.toml", "jedi": "models/sweeps/jedi_budget.toml"}  # fmt: skip
TAGGERS = ("flavour", "latent")  # the compact taggers: N x N pair-biased attention, latent attention
# What `--size small` changes: data, epochs (β ramp scaled with them) and axis values.
SMALL = {
    # 10,000 events: 3,000 test events put the resolution ratio's error near 0.011 (0.020 with 900)
    "met": {"fixed": {"data.n_events": 10000, "data.pileup": 140.0, "data.pool_size": 500, "training.epochs": 12,
                      "training.batch_size": 64, "training.beta.start_epoch": 2, "training.beta.end_epoch": 12,
                      "training.pareto.from_epoch": 2},
            "axes": {"data.n_candidates": [64, 128], "training.beta.end": [1e-5, 1e-4]}},
    "flavour": {"fixed": {"data.n_events": 2000, "training.epochs": 10, "training.beta.start_epoch": 1,
                          "training.beta.end_epoch": 10, "training.pareto.from_epoch": 1},
                "axes": {"training.beta.end": [1e-5, 1e-4]}},
    # The latent tagger on the demo core's data (its AUC is the aim's reference), fewer epochs; the latent
    # queries M set the DSPs: the attention-weighted sum is M N H K non-constant products.
    "latent": {"fixed": {"data.n_events": 5000, "training.epochs": 15, "training.beta.start_epoch": 1,
                         "training.beta.end_epoch": 15, "training.pareto.from_epoch": 1},
               "axes": {"model.latents": [2, 3], "training.beta.end": [1e-5, 3e-5, 1e-4]}},
    "jedi": {"fixed": {"data.n_per_class": 700, "training.epochs": 30, "training.batch_size": 64,
                       "training.learning_rate": 1e-2, "training.beta.start": 1e-6, "training.beta.end": 1e-4,
                       "training.beta.start_epoch": 3, "training.beta.end_epoch": 30, "training.pareto.from_epoch": 3},
             "axes": {"model.n_particles": [8, 16, 32, 64]}},
}  # fmt: skip
LARGE_EPOCHS = 20
# What `--size large` changes, for the families it covers: the JEDI-linear-style tagger on the large jets
# preset (`codesign data jets --preset large`, 300k jets; JEDI-linear trained on ~620k), fewer epochs than
# the budget preset's 200 with larger batches, the β ramp scaled with them. With β ending at 1e-5 the
# N = 32 trainings kept no checkpoint under 53k LUT, above the anchor's 45.3k: a stronger end joins.
LARGE = {
    "jedi": {"fixed": {"data.n_per_class": 60000, "training.epochs": LARGE_EPOCHS, "training.batch_size": 1024,
                       "training.learning_rate": 3e-3, "training.beta.start": 1e-7, "training.beta.start_epoch": 2,
                       "training.beta.end_epoch": LARGE_EPOCHS, "training.pareto.from_epoch": 2},
             "axes": {"model.n_particles": [8, 16, 32, 64], "training.beta.end": [1e-5, 4e-5]}},
}  # fmt: skip


SIZES = {"small": SMALL, "large": LARGE, "full": None}  # None: the specs as they are


def _spec(family: str, size: str):
    from ..sweep.spec import load_sweep

    spec = load_sweep(SPECS[family])
    if SIZES[size] is not None:
        s = SIZES[size][family]
        spec = spec.model_copy(update={"name": f"{spec.name}_{size}", "fixed": {**spec.fixed, **s["fixed"]},
                                       "axes": s["axes"], "source": spec.source})  # fmt: skip
        for p in spec.points():
            spec.card_for(p)  # every point valid before anything runs
    return spec


def _rows(store) -> list[dict]:
    return [r for r in store.rows() if r["status"] == "done"]


def _pick(spec, rows: list[dict], where: dict | None = None) -> dict | None:
    from ..report.sweep import chosen

    rows = [r for r in rows if all(r["params"].get(k) == v for k, v in (where or {}).items())]
    return chosen(rows, *spec.physics, spec.choose)


def _summary(spec, r: dict | None) -> dict | None:
    if r is None:
        return None
    keep = (spec.physics[0], "lut", "ff", "dsp", "latency_cycles", "latency_ns", "ii", "ebops", "accuracy",
            "auc_b_vs_light", "mistag_light_b70")  # fmt: skip
    return {"id": r["id"], "params": r["params"], **{k: r["metrics"][k] for k in keep if k in r["metrics"]}}


def _front(spec, rows, x: str) -> list[dict]:
    from ..report.sweep import pareto

    return [_summary(spec, r) for r in pareto(rows, x, *spec.physics)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=list(SIZES), default="small")
    ap.add_argument("--families", nargs="+", choices=list(SPECS), default=list(SPECS))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--package", nargs="*", choices=list(SPECS), default=[], metavar="FAMILY",
                    help="bundle these families' chosen points (C-sim, both simulators, estimate)")  # fmt: skip
    ap.add_argument("--out", default="reports/bench")
    args = ap.parse_args(argv)

    from .. import flow, paths
    from ..report.sweep import write_sweep_report
    from ..sweep.run import run_sweep, stale_points, store_for, sweep_dir

    uncovered = [f for f in args.families if SIZES[args.size] is not None and f not in SIZES[args.size]]
    if uncovered:
        print(f"--size {args.size} covers the families {', '.join(SIZES[args.size])}; not {', '.join(uncovered)}",
              file=sys.stderr)  # fmt: skip
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fam: dict = {}
    earlier = _earlier(out / "budget.json", args.families)
    for family in args.families:
        spec = _spec(family, args.size)
        t = time.perf_counter()
        if stale_points(spec):  # SMALL or the spec changed since the store was made: its points are not these
            print(f"{spec.name}: the stored points come from other settings; starting the sweep afresh")
            shutil.rmtree(sweep_dir(spec.name))
        run_sweep(spec, workers=args.workers)
        store, _ = store_for(spec.name)
        write_sweep_report(store, spec)
        rows = _rows(store)
        pngs = []
        for png in sorted((paths.root() / "reports" / spec.name).glob("pareto_*.png")):
            name = f"budget_{family}_{png.name}"
            shutil.copy(png, out / name)
            pngs.append(name)
        fam[family] = {"spec": SPECS[family], "size": args.size, "sweep": spec.name, "fixed": spec.fixed, "axes": spec.axes,
                       "points_done": len(rows), "points_failed": store.counts().get("failed", 0),
                       "wall_s": round(time.perf_counter() - t, 1),
                       "points_s": round(sum(r.get("seconds") or 0 for r in rows), 1), "plots": pngs, "physics": spec.physics[0],
                       "front_lut": _front(spec, rows, "lut"), "chosen": _summary(spec, _pick(spec, rows)),
                       "command": _command(argv), "date": time.strftime("%Y-%m-%d")}  # fmt: skip
        fam[family].update(_trainings(spec, rows))
        if fam[family]["chosen"]:  # how many test events the physics figures rest on
            train = flow.Point(spec.card_for(fam[family]["chosen"]["params"])).record("train")
            fam[family]["n_test"] = train.get("n_test")
        if family == "met":
            fam[family]["chosen_by_n"] = {n: _summary(spec, _pick(spec, rows, {"data.n_candidates": n}))
                                          for n in spec.axes.get("data.n_candidates", [])}  # fmt: skip
        if family == "jedi":
            fam[family]["plots"].append(_anchor_plot(rows, out))
            fam[family]["against_anchor"] = _against_anchor(rows, fam[family].get("n_test"))
            fam[family]["chosen_by_n"] = {n: _summary(spec, _pick(spec, rows, {"model.n_particles": n}))
                                          for n in spec.axes.get("model.n_particles", [])}  # fmt: skip
        if family in args.package and fam[family]["chosen"]:
            point = flow.Point(spec.card_for(fam[family]["chosen"]["params"]))
            flow.run(point, until="package")
            fam[family]["bundle"] = str(point.bundle_dir)
        store.close()
    fam = {f: fam.get(f) or earlier[f] for f in SPECS if f in fam or f in earlier}
    for family, entry in fam.items():  # each chosen physics figure's statistical error, from its test set
        spec = _spec(family, entry["size"])
        for chosen in [entry["chosen"], *(entry.get("chosen_by_n") or {}).values()]:
            key = f"{spec.physics[0]}_err"
            if (
                chosen
                and key not in chosen
                and (err := _stat_error(family, spec, chosen, entry.get("n_test"))) is not None
            ):
                chosen[key] = err

    met128 = _get(fam, "met", "chosen_by_n", 128)
    jedi32 = _get(fam, "jedi", "chosen_by_n", 32)
    tag, tag_family = _tagger(fam)
    demo_auc = _demo_tagger_auc()
    result = {
        "met_n128_lut": met128 and met128.get("lut"), "met_n128_ratio": met128 and met128.get("resolution_ratio"),
        "tagger_lut": tag and tag.get("lut"), "tagger_dsp": tag and tag.get("dsp"),
        "tagger_auc_b_vs_light": tag and tag.get("auc_b_vs_light"), "jedi_n32_lut": jedi32 and jedi32.get("lut"),
        "jedi_n32_accuracy": jedi32 and jedi32.get("accuracy"), "tagger_family": tag_family, "aims": AIMS, "demo_tagger_auc_b_vs_light": demo_auc, "vu13p": VU13P, "anchor": ANCHOR,
        "size": {f: e["size"] for f, e in fam.items()}, "families": fam, "cost_source": "da4ml cost model of the traced, pipelined RTL",
        "command": _command(argv),
        "machine": f"{platform.machine()}, 2 cores (shared)", "bench_wall_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    (out / "budget.json").write_text(json.dumps(result, indent=1, default=str))
    (out / "budget.md").write_text(_markdown(result))
    print(json.dumps({k: result[k] for k in list(result)[:6]}))
    return 0


def _stat_error(family: str, spec, chosen: dict, n_test: int | None) -> float | None:
    """Statistical error of the family's physics figure at a chosen point: a binomial error for the JEDI
    accuracy (it needs only the count), else a bootstrap (200 resamples) of the point's test set, the
    MET resolution ratio to PUPPI (paired resamples) or the taggers' b-vs-light AUC. None where the
    figure has no error to give or an earlier run's point is gone."""
    import numpy as np

    from .. import flow

    if family == "jedi":
        return _binomial_error(chosen["accuracy"], n_test)
    reference = flow.Point(spec.card_for(chosen["params"])).train_dir / "reference.npz"
    if not reference.exists():
        return None
    ref = np.load(reference)
    if family == "met":
        from ..physics.met import ratio_error

        return round(ratio_error(ref["true_met"], ref["y"] * float(ref["unit"]), ref["puppi_met"]), 4)
    if family in TAGGERS:
        from ..physics.flavour import auc_error, probabilities

        err = auc_error(probabilities(ref["y"]), ref["labels"], [str(n) for n in ref["class_names"]])
        return None if err is None else round(err, 4)
    return None


def _trainings(spec, rows: list[dict]) -> dict:
    """How many trainings the sweep's points come from and their seconds, as each train record measured
    them (a rerun reuses them: the bench's own wall time does not show them)."""
    from .. import flow

    dirs = {flow.Point(spec.card_for(r["params"])).trained().train_dir for r in rows}
    seconds = [
        json.loads((d / "stage.json").read_text()).get("seconds") or 0 for d in dirs if (d / "stage.json").exists()
    ]
    return {"trainings": len(dirs), "train_s": round(sum(seconds), 1)}


def _binomial_error(p: float, n: int | None) -> float | None:
    return round((p * (1 - p) / n) ** 0.5, 4) if n else None


def _against_anchor(rows: list[dict], n_test: int | None) -> list[dict]:
    """Per N of JEDI-linear's published points that the sweep has: our best accuracy among the points at that N
    with no more LUT than theirs there (None if none is that small), with its binomial error."""
    out = []
    for n, acc, lut in zip(ANCHOR["particles"], ANCHOR["accuracy"], ANCHOR["lut"]):
        at_n = [r["metrics"] for r in rows if r["params"].get("model.n_particles") == n and "lut" in r["metrics"]]
        if at_n:
            best = max((m for m in at_n if m["lut"] <= lut), key=lambda m: m["accuracy"], default=None)
            out.append({"particles": n, "anchor_accuracy": acc, "anchor_lut": lut, "points": len(at_n),
                        "accuracy": best and round(best["accuracy"], 4), "lut": best and best["lut"],
                        "accuracy_err": best and _binomial_error(best["accuracy"], n_test)})  # fmt: skip
    return out


def _get(fam: dict, *path):
    """fam[path[0]][path[1]]..., None where a step is missing. JSON (an earlier run's families) turns the
    integer keys of chosen_by_n into strings: both read."""
    v = fam
    for p in path:
        v = (v.get(p) if p in v else v.get(str(p))) if isinstance(v, dict) else None
    return v


def _command(argv) -> str:
    return "python -m codesign.bench.budget " + " ".join(argv if argv is not None else sys.argv[1:])


def _earlier(path: Path, running: list[str]) -> dict:
    """The families an earlier run wrote to budget.json and this run does not redo: a family's sweep is
    hours of CPU, so `--families latent` updates that family and keeps the others, each entry naming the
    size, command and date it came from (a budget.json from before sizes were per family gives its one size)."""
    if not path.exists():
        return {}
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    kept = {f: e for f, e in (old.get("families") or {}).items() if f in SPECS and f not in running}
    for f, e in kept.items():
        e.setdefault("command", old.get("command"))
        size = old.get("size")
        e.setdefault("size", size.get(f) if isinstance(size, dict) else size)
    return {f: e for f, e in kept.items() if e["size"] in SIZES}


def _anchor_plot(rows: list[dict], out: Path) -> str:
    """Our JEDI-linear-style points per N (final models and kept checkpoints) beside JEDI-linear's published ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from ..report.label import label, llabel_for

    hep.style.use("CMS")
    fig, ax = plt.subplots(figsize=(8, 6.5))
    for n, c in zip([8, 16, 32, 64], ["#3f90da", "#ffa90e", "#bd1f01", "#94a4a2"]):
        have = [r["metrics"] for r in rows if r["params"].get("model.n_particles") == n and "lut" in r["metrics"]]
        ax.scatter([m["lut"] for m in have], [m["accuracy"] for m in have], c=c, s=30, label=f"ours, N = {n}")
    an = ANCHOR
    ax.scatter(an["lut"], an["accuracy"], marker="s", s=60, c="k", label="JEDI-linear (published, other data)")
    for n, lut, acc in zip(an["particles"], an["lut"], an["accuracy"]):
        ax.annotate(f"N = {n}", (lut, acc), fontsize=11, xytext=(5, -12), textcoords="offset points")
    ax.axvline(AIMS["jedi_n32_lut"], ls="--", c="#3f90da", label="budget: JEDI-linear N = 32 (45.3k LUT)")
    ax.set(xlabel="LUT (ours: da4ml cost model; theirs: post-route)", ylabel="accuracy (5 classes, test set)")
    ax.legend(loc="lower right", fontsize=11)
    label(ax, "13 TeV", fontsize=16, llabel=llabel_for("jets"))
    name = "budget_jedi_vs_anchor.png"
    fig.savefig(out / name, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return name


def _tagger(fam: dict) -> tuple[dict | None, str | None]:
    """The compact tagger's chosen point: the best b-vs-light AUC of the taggers' chosen points inside the
    budget (LUT and DSP); if none is, the one that overshoots the budget least (largest LUT or DSP ratio)."""
    picks = [(f, fam[f]["chosen"]) for f in TAGGERS if fam.get(f) and fam[f]["chosen"]]

    def over(c):
        return max(c.get("lut", 1e12) / AIMS["tagger_lut"], c.get("dsp", 1e12) / AIMS["tagger_dsp"])

    inside = [(f, c) for f, c in picks if over(c) <= 1]
    if inside:
        f, c = max(inside, key=lambda fc: fc[1].get("auc_b_vs_light") or 0.0)
        return c, f
    f, c = min(picks, key=lambda fc: over(fc[1]), default=(None, None))
    return c, f


def _demo_tagger_auc() -> float | None:
    """Today's demo core (fixed bits, H=2 D=16 K=4, N=16) b-vs-light AUC from reports/bench/flavour.json."""
    f = Path("reports/bench/flavour.json")
    if not f.exists():
        return None
    for r in json.loads(f.read_text()).get("l1", []):
        if (r.get("form"), r.get("heads"), r.get("embed"), r.get("head_dim"), r.get("n")) == ("pairwise", 2, 16, 4, 16):
            return r["auc"]["b_vs_light"]
    return None


def _verdict(value, aim, smaller: bool = True) -> str:
    if value is None:
        return "not run"
    ok = value <= aim if smaller else value >= aim
    gap = abs(value - aim)
    return "met" if ok else f"missed by {gap:,.0f}" if gap >= 100 or gap == int(gap) else f"missed by {gap:.4f}"


def _markdown(r: dict) -> str:
    fam = r["families"]
    lines = ["# L1 models against a trigger budget: resource-aware QAT (HGQ2 β schedule + Pareto checkpoints)", "",
             f"Made by `{r['command']}` on {r['machine']}, {r['bench_wall_s']:.0f} s wall (the other families "
             "by the commands named in their sections). Sizes: " + ", ".join(f"{f} **{s}**" for f, s in r["size"].items())
             + ". The sizes (SMALL and LARGE in codesign/bench/budget.py) run fewer events and epochs than the cards' "
             "budget presets: small shows the method and the cost side, not converged physics; large gives the "
             "JEDI-linear-style tagger the large jets preset.", "",
             f"Costs: {r['cost_source']}; a VU13P has {r['vu13p']['lut']:,} LUT and {r['vu13p']['dsp']:,} DSP. "
             "Physics: the quantized model on its test set. Every point of a sweep is a training's final model or one "
             "of its kept Pareto checkpoints (validation metric against EBOPs).", "",
             "The chosen point of a front is the best physics figure within the budget, picked among the sweep's "
             "points on their test-set figures (the Pareto checkpoints were kept on the validation set): with few "
             "test events this choice is optimistic by about the figure's statistical error.", "",
             "## Chosen points against the aims", "",
             "| figure | value | aim | verdict |", "|---|---|---|---|"]  # fmt: skip
    a = r["aims"]
    demo = r["demo_tagger_auc_b_vs_light"]
    rows = [("met_n128_lut", r["met_n128_lut"], f"≤ {a['met_n128_lut']:,}", _verdict(r["met_n128_lut"], a["met_n128_lut"])),
            ("met_n128_ratio", r["met_n128_ratio"], f"≤ {a['met_n128_ratio']}", _verdict(r["met_n128_ratio"], a["met_n128_ratio"])),
            ("tagger_lut", r["tagger_lut"], f"≤ {a['tagger_lut']:,}", _verdict(r["tagger_lut"], a["tagger_lut"])),
            ("tagger_dsp", r["tagger_dsp"], f"≤ {a['tagger_dsp']:,}", _verdict(r["tagger_dsp"], a["tagger_dsp"])),
            ("tagger_auc_b_vs_light", r["tagger_auc_b_vs_light"], f"≥ {demo:.4f} - 0.01 (demo core)" if demo else "—",
             _verdict(r["tagger_auc_b_vs_light"], demo - 0.01, smaller=False) if demo else "no demo figure"),
            ("tagger_family", r["tagger_family"], "—", "the tagger sweep the chosen point is from"),
            ("jedi_n32_accuracy", r["jedi_n32_accuracy"], f"{ANCHOR['accuracy'][2]} (JEDI-linear, other data)",
             _verdict(r["jedi_n32_accuracy"], ANCHOR["accuracy"][2], smaller=False)),
            ("jedi_n32_lut", r["jedi_n32_lut"], f"≤ {a['jedi_n32_lut']:,} (JEDI-linear)", _verdict(r["jedi_n32_lut"], a["jedi_n32_lut"]))]  # fmt: skip
    errors = {"met_n128_ratio": _get(fam, "met", "chosen_by_n", 128, "resolution_ratio_err"),
              "tagger_auc_b_vs_light": _get(fam, r["tagger_family"] or "", "chosen", "auc_b_vs_light_err"),
              "jedi_n32_accuracy": _get(fam, "jedi", "chosen_by_n", 32, "accuracy_err")}  # fmt: skip
    for name, v, aim, verdict in rows:
        shown = "—" if v is None else (v if isinstance(v, str) else f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4f}")
        if errors.get(name):
            shown += f" ± {errors[name]:.4f}"
            if verdict.startswith("missed by "):
                verdict += f" ({float(verdict.split()[-1]) / errors[name]:.1f} σ)"
        lines.append(f"| {name} | {shown} | {aim} | {verdict} |")
    for family, f in fam.items():
        lines += ["", f"## {family}: `{f['spec']}` (sweep {f['sweep']}, size {f['size']})", "",
                  f"Made by `{f.get('command', r['command'])}`" + (f" on {f['date']}" if f.get("date") else "") + ".", "",
                  f"{f['points_done']} points done, {f['points_failed']} failed"
                  + (f", from {f['trainings']} trainings ({f['train_s']:.0f} s of training)" if f.get("trainings") else "")
                  + f"; {f['points_s']:.0f} s in the points' firmware-stage processes (a rerun reuses finished "
                  f"points and trainings: {f['wall_s']:.0f} s in this run); "
                  f"{f.get('n_test')} test events (jets) behind each physics figure. "
                  f"Fixed: `{json.dumps(f['fixed'])}`; axes: `{json.dumps(f['axes'])}`.", "",
                  f"Pareto front ({f['physics']} against LUT):", "",
                  f"| id | params | {f['physics']} | LUT | DSP | latency [cycles] | EBOPs |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for p in f["front_lut"]:
            lines.append(f"| {p['id']} | `{json.dumps(p['params'])}` | {p.get(f['physics'], 0):.4f} | {p.get('lut', 0):,.0f} "
                         f"| {p.get('dsp', 0):,.0f} | {p.get('latency_cycles', '')} | {p.get('ebops', 0):,.0f} |")  # fmt: skip
        if f.get("chosen_by_n"):
            lines += ["", "Chosen per N: " + "; ".join(
                f"N = {n}: " + (f"{c[f['physics']]:.4f} at {c.get('lut', 0):,.0f} LUT" if c else "none")
                for n, c in f["chosen_by_n"].items())]  # fmt: skip
        if f.get("bundle"):
            lines += ["", f"Chosen point packaged: `{f['bundle']}`."]
        lines += [""] + [f"![{p}]({p})" for p in f["plots"]]
    an = r["anchor"]
    lines += ["", "## JEDI-linear's published points (the anchor)", "",
              "The data differ: theirs is the hls4ml LHC jet data set (150 particles, 3 features), ours local Pythia "
              "jets (`codesign data jets`); their LUTs are post-route Vivado figures, ours da4ml's cost model.", "",
              "| particles | accuracy | LUT |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {n} | {acc} | {lut:,} |" for n, acc, lut in zip(an["particles"], an["accuracy"], an["lut"])]
    lines += ["", f"Latency: {an['latency_cycles']}.", ""]
    jedi = fam.get("jedi") or {}
    if jedi.get("against_anchor"):
        lines += [f"Ours against theirs at the same N: our best accuracy among the points ({jedi['size']} size, "
                  f"{jedi.get('n_test')} test jets) with no more LUT than theirs at that N.", "",
                  "| N | JEDI-linear accuracy | their LUT | our accuracy | our LUT | ours − theirs | points at N |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for a in jedi["against_anchor"]:
            ours = "none that small" if a["accuracy"] is None else f"{a['accuracy']:.4f} ± {a['accuracy_err'] or 0:.4f}"
            diff = "—" if a["accuracy"] is None else f"{a['accuracy'] - a['anchor_accuracy']:+.4f}"
            lut = "—" if a["lut"] is None else f"{a['lut']:,.0f}"
            lines.append(f"| {a['particles']} | {a['anchor_accuracy']} | {a['anchor_lut']:,} | {ours} | {lut} | {diff} "
                         f"| {a['points']} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
