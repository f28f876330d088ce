"""Flavour tagging bench: python -m codesign.bench.flavour [--events 5000] [--n 8 16 32] [--variants 1:8:4 2:16:4] ...

On one flavour data set (the cards' data with --events Pythia events per sample):
  float references  ParT (models/flavour_part.toml) and DeepJet-like (models/flavour_deepjet.toml),
                    trained by `codesign train` with their cards' settings;
  L1 compact ParT   (models/flavour_l1.toml, HGQ2) for each heads:embed:head_dim variant and
                    candidate count N, trained with --l1-epochs, then traced by da4ml directly
                    (rtl/emit.py's trace and pipelining at the card's clock; the pipeline's
                    emulation is checked bit for bit against the Keras model on test jets):
                    latency cycles/ns, II, LUT/FF/DSP of da4ml's cost model.
Physics per model on the same test jets: AUCs (b vs light, b vs c, c vs light, c vs b) and the
light mistag at 70% / 85% b efficiency, inclusive and per jet-pT bin (physics/flavour.py).
A point that does not finish within --point-timeout seconds is recorded as such.
With --jedi, also the JEDI-linear-style tagger (models/jet_tagger_jedi.toml) on the 5-class jets,
per --jedi-variants, traced and costed the same way, next to the published JEDI-linear.
Writes reports/bench/flavour.json and flavour.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from ..sweep.task import call_isolated

FLOAT_CARDS = {"ParT (float)": "models/flavour_part.toml", "DeepJet-like (float)": "models/flavour_deepjet.toml"}
L1_CARD = "models/flavour_l1.toml"
LATENT_CARD = "models/flavour_l1_latent.toml"
JEDI_CARD = "models/jet_tagger_jedi.toml"
# The JEDI-linear anchor (public hls4ml 150-particle 5-class jets, 32 particles, VU13P).
ANCHOR = {"model": "JEDI-linear (published)", "particles": 32, "accuracy": 0.780, "lut": 45_000, "latency_cycles": 19,
          "latency_ns": 63, "data": "hls4ml 150-particle 5-class jet data set"}  # fmt: skip


# The scan's cost figures are da4ml's: Yosys on each ~100k-700k-LUT attention core of the scan would take
# longer than its training (the cards' demo presets do run it; reports/bench/estimate.md has those figures).
L1_FIRMWARE = {"open_synthesis": False}


def _point(card_path: str, overrides: dict):
    from ..card import load_card
    from ..flow import Point

    return Point(load_card(card_path).with_preset(None).with_overrides(overrides))


def _physics(train_dir: Path) -> dict:
    m = json.loads((train_dir / "metrics.json").read_text())
    fl = m["flavour"]
    return {"accuracy": m["accuracy"], "auc": fl["auc"], "mistag_light": fl["mistag_light"], "counts": fl["counts"],
            "n_train": m["n_train"], "n_test": m["n_test"], "parameters": m.get("parameters")}  # fmt: skip


def _l1_cost(point, n_check: int = 200) -> dict:
    """da4ml trace of the trained Keras model, pipelined at the card's clock; emulation bit-exact on test jets."""
    import numpy as np
    from da4ml.trace import to_pipeline

    from ..rtl.emit import emulate, latency_cutoff, trace
    from ..verify import require_exact
    from ..zoo.load import load_model

    model = load_model(point.train_dir / "model.keras")
    ref = np.load(point.train_dir / "reference.npz")
    t0 = time.perf_counter()
    clock = point.card.firmware.clock_ns
    pipe = to_pipeline(trace(model), latency_cutoff(clock), verbose=False)
    x, y = ref["x"][:n_check], ref["y"][:n_check]
    require_exact(y.reshape(len(y), -1).astype(np.float64), emulate(pipe, x.reshape(len(x), -1).astype(np.float64)),
                  "da4ml emulation of the pipelined flavour core")  # fmt: skip
    cycles = len(pipe.solutions)
    return {"latency_cycles": cycles, "latency_ns": cycles * clock, "ii": 1, "lut": round(float(pipe.cost)),
            "ff": int(pipe.reg_bits), "dsp": int(sum(op.opcode == 7 for s in pipe.solutions for op in s.ops)),
            "bit_exact_vectors": int(len(x)), "trace_s": round(time.perf_counter() - t0, 1)}  # fmt: skip


def run_point(kind: str, card_path: str, overrides: dict) -> dict:
    """One bench point, trained (and costed for L1 kinds), in its own process (sweep.task.call_isolated)."""
    import torch

    from .. import flow

    torch.set_num_threads(2)
    point = _point(card_path, overrides)
    t0 = time.perf_counter()
    rec = flow.run(point, targets=("train",))
    res = {"key": point.key, "train_dir": str(point.train_dir), "train_s": rec["train"]["seconds"]}
    if kind == "jedi":  # 5-class jets: accuracy, no flavour figures
        m = json.loads((point.train_dir / "metrics.json").read_text())
        c = point.card
        res |= {"particles": c.model.n_particles, "accuracy": m["accuracy"], "epochs": c.training.epochs,
                "n_train": m["n_train"], "n_test": m["n_test"], "jets_per_class": c.data.n_per_class,
                "model": f"per-particle MLP 3-{c.model.hidden}-{c.model.latent} (ReLU), sum over particles, MLP "
                         f"{c.model.latent}-{c.model.hidden}-5; HGQ2 " + (
                             f"bit widths trained per weight and activation (EBOPs, beta {c.precision.beta:g}) from "
                             "8-bit activations, 6-bit weights" if c.precision.trainable
                             else "8-bit activations, 6-bit weights (fixed formats)")}  # fmt: skip
    else:
        res |= _physics(point.train_dir)
    if kind in ("l1", "jedi"):  # the trace of a big core takes minutes: kept beside the build, keyed by the point
        from ..paths import build_dir

        cache = build_dir() / "bench" / "flavour_cost" / f"{point.key}.json"
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(_l1_cost(point)))
        res["cost"] = json.loads(cache.read_text())
    return {**res, "wall_s": round(time.perf_counter() - t0, 1)}


def _jedi_overrides(variant: str, epochs: int) -> dict:
    """Card overrides of a JEDI-linear-style variant: hidden:latent:fixed or hidden:latent:hgq:beta."""
    hidden, latent, bits, *beta = variant.split(":")
    precision = {"trainable": bits == "hgq"} | ({"beta": float(beta[0])} if beta else {})
    return {
        "model": {"hidden": int(hidden), "latent": int(latent)},
        "precision": precision,
        "training": {"epochs": epochs},
    }


def _in_subprocess(kind, card_path, overrides, timeout) -> dict:
    t0 = time.perf_counter()
    res = call_isolated("codesign.bench.flavour:run_point", {"kind": kind, "card_path": card_path, "overrides": overrides},
                        timeout)  # fmt: skip
    if res.get("ok") is False:
        res = {"error": f"{res['error']} (bench limit {timeout:g} s)"[:500]}
    res["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps({"kind": kind, **overrides.get("model", {}), **res})[:400], file=sys.stderr, flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=5000, help="Pythia events per sample (ttbar, QCD)")
    ap.add_argument("--n", type=int, nargs="+", default=[8, 16, 32], help="L1 candidate counts")
    ap.add_argument(
        "--variants", nargs="+", default=["1:8:4", "2:16:4"], help="L1 N x N attention: heads:embed:head_dim"
    )
    ap.add_argument(
        "--latent-variants",
        nargs="*",
        default=["2:16:4:4:4"],
        help="L1 latent attention (models/flavour_l1_latent.toml): heads:embed:head_dim:latents:pair_embed",
    )
    ap.add_argument("--l1-epochs", type=int, default=10)
    ap.add_argument("--float-epochs", type=int, help="override the float cards' epochs (default: the cards')")
    ap.add_argument("--skip-float", action="store_true", help="only the L1 scan")
    ap.add_argument(
        "--jedi", action="store_true", help="also a JEDI-linear-style HGQ2 tagger on the 5-class jets (32 particles)"
    )
    ap.add_argument("--jedi-epochs", type=int, default=60)
    ap.add_argument(
        "--jedi-variants",
        nargs="+",
        default=["16:16:fixed", "32:32:fixed", "32:32:hgq:1e-7"],
        help="hidden:latent:fixed or hidden:latent:hgq:beta (trained bit widths)",
    )
    ap.add_argument("--point-timeout", type=float, default=900.0)
    ap.add_argument("--out", default="reports/bench")
    args = ap.parse_args(argv)

    data = {"n_events": args.events}
    floats = {}
    if not args.skip_float:
        for name, card in FLOAT_CARDS.items():
            ov = {"data": data} | ({"training": {"epochs": args.float_epochs}} if args.float_epochs else {})
            floats[name] = {"card": card, **_in_subprocess("float", card, ov, args.point_timeout)}
    l1 = []
    for v in args.variants + [f"latent:{lv}" for lv in args.latent_variants]:
        latent = v.startswith("latent:")
        h, d, k, *mc = (int(t) for t in v.removeprefix("latent:").split(":"))
        for n in args.n:
            model = {"n_candidates": n, "heads": h, "embed": d, "head_dim": k}
            if latent:
                model |= {"latents": mc[0], "pair_embed": mc[1]}
            ov = {"data": data, "model": model, "training": {"epochs": args.l1_epochs}, "firmware": L1_FIRMWARE}
            form = f"latent M={mc[0]} C={mc[1]}" if latent else "pairwise"
            l1.append({"form": form, "heads": h, "embed": d, "head_dim": k, "n": n,
                       **_in_subprocess("l1", LATENT_CARD if latent else L1_CARD, ov, args.point_timeout)})  # fmt: skip
    l1_card = _point(L1_CARD, {}).card
    jedi = None
    if args.jedi:
        jedi = [{"variant": v, **_in_subprocess("jedi", JEDI_CARD, _jedi_overrides(v, args.jedi_epochs), args.point_timeout)}
                for v in args.jedi_variants]  # fmt: skip
    result = {
        "command": "python -m codesign.bench.flavour " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, 2 cores (shared)",
        "data": {"dataset": "flavour (codesign data flavour)", "n_events_per_sample": args.events,
                 "note": "a small set for a CPU bench (Pythia ttbar + QCD, about 10k jets, not millions): mistag rates "
                         "carry statistical errors of order 1/sqrt(light jets passing), and the models are trained "
                         "for minutes. The detector is idealised (impact parameters from true production vertices "
                         "with Gaussian smearing, truth secondary vertices, no fake tracks, material or pileup), so "
                         "b vs light is far easier than in CMS: compare models with each other, not with CMS taggers"},
        "l1_epochs": args.l1_epochs, "float_epochs": args.float_epochs or "the cards'", "clock_ns": l1_card.firmware.clock_ns, "part": l1_card.firmware.part,
        "l1_precision": l1_card.precision.model_dump(mode="json"),
        "cost_source": "da4ml cost model of the traced, pipelined core (LUT/FF/DSP; no vendor tool, no Yosys)",
        "float": floats, "l1": l1, "jedi_linear": jedi, "anchor": ANCHOR,
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result["roc_plot"] = _roc_plot(result, out)
    (out / "flavour.json").write_text(json.dumps(result, indent=1))
    (out / "flavour.md").write_text(_markdown(result))
    print((out / "flavour.md").read_text())
    return 0


def _roc_plot(r: dict, out: Path) -> str | None:
    """The float references and the best L1 configuration (b vs light AUC) overlaid, on the same test jets."""
    import numpy as np

    from ..report.flavour_plots import roc_panels

    l1 = [p for p in r["l1"] if "error" not in p]
    best = max(l1, key=lambda p: p["auc"]["b_vs_light"], default=None)
    rows = [(n, p) for n, p in r["float"].items() if "error" not in p]
    if best:
        rows.append((_l1_label(best), best))
    models = {}
    for name, p in rows:
        ref = np.load(Path(p["train_dir"]) / "reference.npz")
        models[name] = (ref["y"], ref["labels"], ref["class_names"])
    if not models:
        return None
    return roc_panels(models, out, "flavour_roc.png", "13 TeV")


def _f(v, fmt="{:.3f}"):
    return "—" if v is None else fmt.format(v)


def _rows(r: dict):
    """(label, physics dict) of every trained model, float first."""
    for name, p in r["float"].items():
        yield name, p
    for p in r["l1"]:
        yield _l1_label(p), p


def _l1_label(p: dict) -> str:
    return f"L1 HGQ2 {p.get('form', 'pairwise')} H={p['heads']} D={p['embed']} K={p['head_dim']} N={p['n']}"


def _markdown(r: dict) -> str:
    ok = [(n, p) for n, p in _rows(r) if "error" not in p]
    bins = [b for b in (ok[0][1]["mistag_light"]["70"] if ok else {}) if b != "inclusive"]
    auc = "\n".join(f"| {n} | {_f(p['accuracy'])} | " + " | ".join(_f(p["auc"][k]) for k in ("b_vs_light", "b_vs_c", "c_vs_light", "c_vs_b"))
                    + f" | {p['parameters'] or '—'} |" for n, p in ok)  # fmt: skip
    mis = "\n".join(f"| {n} | {e}% | " + " | ".join(_f(p["mistag_light"][e].get(b), "{:.4f}") for b in ["inclusive", *bins]) + " |"
                    for n, p in ok for e in ("70", "85"))  # fmt: skip
    cost = "\n".join(
        f"| {p.get('form', 'pairwise')} | {p['heads']} | {p['embed']} | {p['head_dim']} | {p['n']} | "
        + (f"{c['latency_cycles']} | {c['latency_ns']:g} | {c['ii']} | {c['lut']} | {c['ff']} | {c['dsp']} | "
           f"{_f(p['auc']['b_vs_light'])} | {_f(p['mistag_light']['70']['inclusive'])} |"
           if "error" not in p and (c := p["cost"]) else f"{p['error']} | | | | | | | |")
        for p in r["l1"]
    )  # fmt: skip
    js = r.get("jedi_linear") or []
    jrow = "".join(
        f"| JEDI-linear-style {j['variant']} (this project) | {j['particles']} | {j['accuracy']:.1%} | {j['cost']['lut']} | {j['cost']['ff']} | "
        f"{j['cost']['dsp']} | {j['cost']['latency_cycles']} / {j['cost']['latency_ns']:g} ns |\n"
        if "error" not in j else f"| JEDI-linear-style (this project) | — | {j['error']} | | | | |\n" for j in js
    ) or "| JEDI-linear-style (this project) | — | not run (--jedi) | | | | |\n"  # fmt: skip
    jdesc = "; ".join(f"{j['variant']}: {j['model']}" for j in js if "error" not in j) or "—"
    j = next((j for j in js if "error" not in j), {})
    counts = ", ".join(f"{k} {v}" for k, v in ok[0][1].get("counts", {}).items()) if ok else "—"
    errors = "\n".join(f"- {n}: {p['error']}" for n, p in _rows(r) if "error" in p) or "- none"
    a = r["anchor"]
    d = r["data"]
    return f"""# Flavour tagging: float ParT and DeepJet-like references vs the L1 compact ParT

Made by `{r["command"]}` on {r["machine"]}.
Data: {d["dataset"]}, {d["n_events_per_sample"]} events per sample; {d["note"]}.
Float models: {r["float_epochs"]} epochs; L1 models: {r["l1_epochs"]} epochs each, precision {r["l1_precision"]}; cost: {r["cost_source"]},
clock {r["clock_ns"]} ns, {r["part"]}.

## Discrimination (test jets)

| model | accuracy | AUC b vs light | AUC b vs c | AUC c vs light | AUC c vs b | parameters |
|---|---|---|---|---|---|---|
{auc}
{f"{chr(10)}![ROC curves of the four discriminants: float references and the best L1 configuration]({r['roc_plot']}){chr(10)}" if r.get("roc_plot") else ""}
## Light-jet mistag at 70% / 85% b efficiency, per jet pT [GeV]

Test jets (same split for every model): {counts}. A mistag of 0 means below 1 / (light jets in the bin).

| model | b eff | inclusive | {" | ".join(bins)} |
|---|---|---|{"---|" * len(bins)}
{mis}

## L1 compact ParT firmware cost (da4ml)

Attention forms: pairwise = softmax(QKᵀ + U)·V over all N x N candidate pairs with ParT's pair bias U,
then class attention (models/flavour_l1.toml; 2·N²·H·K non-constant products); latent = M learned
queries per head attend over the N candidates, the pair features entering as per-candidate sums of
pointwise pair embeddings (models/flavour_l1_latent.toml; M·N·H·K non-constant products, the pair
embedding N²·C constant ones).

| attention | H | D | K | N | latency [cycles] | latency [ns] | II | LUT | FF | DSP | AUC b vs light | light mistag @70% b |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{cost}

## 5-class jets: JEDI-linear-style model next to the anchor

| model | particles | accuracy | LUT | FF | DSP | latency |
|---|---|---|---|---|---|---|
{jrow}| {a["model"]} | {a["particles"]} | {a["accuracy"]:.1%} | {a["lut"]} | — | — | {a["latency_cycles"]} / {a["latency_ns"]} ns |

The project's jets are generated locally (codesign data jets, {j.get("jets_per_class", "—")} jets per class, {j.get("n_train", "—")} for
training), not the public hls4ml file (which has ~600k training jets): accuracies compare in kind, not to the digit.
On these jets the project's 16-feature MLP reaches 72.6% (reports/bench/slice.md). Models: {jdesc};
{j.get("epochs", "—")} epochs, cosine learning-rate decay; inputs ln pT, Δη, Δφ of the 32 leading constituents (as the anchor: pT/η/φ only).

Anchor: {a["model"]}: {a["particles"]} particles, {a["accuracy"]:.1%} accuracy, {a["lut"]} LUT, {a["latency_cycles"]} cycles /
{a["latency_ns"]} ns on VU13P ({a["data"]}; a different task and data set: the 5-class jet tagging accuracy is not a
flavour-tagging figure).

Points that did not finish:
{errors}
"""


if __name__ == "__main__":
    raise SystemExit(main())
