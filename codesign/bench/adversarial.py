"""Adversarial training bench: python -m codesign.bench.adversarial [--events 5000] [--kinds deepjet part] ...

Per float flavour kind (--kinds: deepjet = models/flavour_deepjet.toml, part = models/flavour_part.toml),
two trainings with the card's settings and seed on the nominal simulation (data.n_events = --events):
  nominal      the card as it is;
  adversarial  the card with [training.adversarial]: FGSM, --epsilon (units of each feature's std over
               the training jets), --fraction of each batch, after --warmup nominal epochs.
Evaluated on jets neither model saw:
  simulation   the card's test split of that data set;
  "data"       the mis-modelled variant (codesign/data/flavour.py MISMODEL["data"]: A14 tune, wider impact
               parameters with a tail, track/SV inefficiency, energy scales), --events per sample, seeded apart.
Figures (CMS's discriminants BvsL, CvsB, CvsL, with L = udsg; physics/flavour.py):
  AUCs on simulation, nominal inputs and FGSM inputs at each --attack-eps (each model attacked itself);
  nominal_auc_drop_max: max over the three of AUC(nominal model) - AUC(adversarial model) on nominal inputs
      (positive: adversarial training cost discrimination), with paired bootstrap errors;
  JS divergence (base 2; --bins bins of equal population in simulation) between the "data" and simulation
      shapes of each discriminant,
      per true flavour (b, c, udsg): 3 x 3 cells per model, with bootstrap errors (--bootstrap replicas, the
      jets of both samples resampled); the adversarial - nominal difference with a paired bootstrap error
      (the same resampled jets for both models);
  js_cells_improved: cells where the adversarial model's JS is below the nominal one's by more than one
      standard deviation of that difference (of the first kind in --kinds; every kind's in "models");
  js_floor: JS between two random halves of the simulation jets, scaled to the sizes of simulation and
      "data" (x (1/N_sim + 1/N_data) N_sim / 4): the JS that statistics alone give.
Truth labels of "data" are known here (it is simulation too); real data would need tag-and-probe regions.
Writes reports/bench/adversarial.json and adversarial.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

CARDS = {"deepjet": "models/flavour_deepjet.toml", "part": "models/flavour_part.toml"}
LABELS = {"deepjet": "DeepJet-like (float)", "part": "ParT (float)"}


def _cards(kind: str, path: str, args):
    from ..card import load_card

    epochs = args.epochs.get(kind, args.epochs.get("all"))
    base = {"data": {"n_events": args.events}} | ({"training": {"epochs": epochs}} if epochs else {})
    nominal = load_card(path).with_preset(None).with_overrides(base, where=f"{path} (bench)")
    adv = {"epsilon": args.epsilon, "fraction": args.fraction, "warmup_epochs": args.warmup}
    return nominal, nominal.with_overrides({"training.adversarial": adv}, where=f"{path} (bench)")


def _trained(card):
    """(point, torch model) of a card, trained through the flow (reused when its folder exists)."""
    import torch

    from .. import flow
    from ..quant.train_float import FLOAT_MODEL, build

    point = flow.Point(card)
    rec = flow.run(point, targets=("train",))
    model = build(card, 4)
    model.load_state_dict(torch.load(point.train_dir / FLOAT_MODEL, weights_only=True)["state_dict"])
    return point, model.eval(), rec["train"]["seconds"]


def _js_cells(d_sim, y_sim, d_data, y_data, names, bins, idx_sim=None, idx_data=None) -> np.ndarray:
    """(3 flavours, 3 discriminants) JS divergences; d_*: {discriminant: values}, idx_*: a bootstrap resampling."""
    from ..physics.flavour import CMS_DISCRIMINANTS, CMS_FLAVOURS, js_divergence

    if idx_sim is not None:
        y_sim, y_data = y_sim[idx_sim], y_data[idx_data]
    out = np.zeros((len(CMS_FLAVOURS), len(CMS_DISCRIMINANTS)))
    for i, classes in enumerate(CMS_FLAVOURS.values()):
        codes = [names.index(c) for c in classes]
        fs, fd = np.isin(y_sim, codes), np.isin(y_data, codes)
        for j, disc in enumerate(CMS_DISCRIMINANTS):
            a = d_sim[disc] if idx_sim is None else d_sim[disc][idx_sim]
            b = d_data[disc] if idx_data is None else d_data[disc][idx_data]
            out[i, j] = js_divergence(b[fd], a[fs], bins)
    return out


def _discs(logits, names) -> dict:
    from ..physics.flavour import CMS_DISCRIMINANTS, cms_discriminant, probabilities

    prob = probabilities(logits)
    return {k: cms_discriminant(prob, names, k) for k in CMS_DISCRIMINANTS}


def _table(a: np.ndarray) -> dict:
    from ..physics.flavour import CMS_DISCRIMINANTS, CMS_FLAVOURS

    return {f: {d: float(a[i, j]) for j, d in enumerate(CMS_DISCRIMINANTS)} for i, f in enumerate(CMS_FLAVOURS)}


def bench_kind(kind: str, args, progress=print) -> dict:
    import torch

    from ..data import flavour
    from ..physics.flavour import CMS_DISCRIMINANTS, CMS_FLAVOURS, cms_aucs
    from ..quant.adversarial import attack
    from ..quant.train import split
    from ..quant.train_float import predict
    from ..zoo.flavour_tokens import perturbable, tokens

    torch.set_num_threads(args.threads)
    nominal_card, adv_card = _cards(kind, CARDS[kind], args)
    sim = flavour.load(flavour.from_spec(nominal_card.data))
    data = flavour.load(flavour.generate(args.events, seed=nominal_card.data.seed, mismodel="data"))
    names = [str(c) for c in sim["class_names"]]
    _, te = split(len(sim["labels"]), nominal_card.data.test_fraction, nominal_card.data.seed)
    m = nominal_card.model
    x_sim, y_sim = tokens(sim, m.n_candidates, m.n_svs)[te], sim["labels"][te].astype(np.int64)
    x_data, y_data = tokens(data, m.n_candidates, m.n_svs), data["labels"].astype(np.int64)
    models, out = {}, {}
    for which, card in (("nominal", nominal_card), ("adversarial", adv_card)):
        t0 = time.perf_counter()
        point, model, train_s = _trained(card)
        progress(f"{kind} {which}: trained ({train_s:.0f} s, {point.train_dir.name})")
        scale = np.load(point.train_dir / "reference.npz")["scale"]
        ls, ld = predict(model, x_sim), predict(model, x_data)
        attacked = {f"{e:g}": cms_aucs(predict(model, attack(model, x_sim, y_sim, e, scale, perturbable)), y_sim, names)
                    for e in args.attack_eps}  # fmt: skip
        models[which] = {"sim": _discs(ls, names), "data": _discs(ld, names), "logits_sim": ls}
        out[which] = {"key": point.key, "train_dir": str(point.train_dir), "train_s": train_s,
                      "adversarial": None if card.training.adversarial is None
                      else card.training.adversarial.model_dump(mode="json"),
                      "auc": cms_aucs(ls, y_sim, names), "auc_data": cms_aucs(ld, y_data, names),
                      "auc_fgsm": attacked, "eval_s": round(time.perf_counter() - t0 - train_s, 1)}  # fmt: skip
    # JS divergences, bootstrap errors (jets of both samples resampled; the same draws for both models).
    js = {w: _js_cells(models[w]["sim"], y_sim, models[w]["data"], y_data, names, args.bins) for w in models}
    rng = np.random.default_rng(args.seed)
    reps = {w: [] for w in models}
    auc_diff = []
    for _ in range(args.bootstrap):
        i_s, i_d = rng.integers(0, len(y_sim), len(y_sim)), rng.integers(0, len(y_data), len(y_data))
        for w in models:
            reps[w].append(_js_cells(models[w]["sim"], y_sim, models[w]["data"], y_data, names, args.bins, i_s, i_d))
        an, aa = (cms_aucs(models[w]["logits_sim"][i_s], y_sim[i_s], names) for w in ("nominal", "adversarial"))
        auc_diff.append([an[k] - aa[k] for k in CMS_DISCRIMINANTS])
    # The statistical floor: JS between two random halves of the simulation jets (the same shape), scaled from
    # two samples of N/2 to samples of the simulation's and data's sizes (a small JS of same-shape samples
    # grows as 1/N1 + 1/N2), per flavour.
    half = rng.permutation(len(y_sim))
    a, b = half[: len(half) // 2], half[len(half) // 2 :]
    n_s, n_d = (
        [np.isin(y, [names.index(c) for c in cl]).sum() for cl in CMS_FLAVOURS.values()] for y in (y_sim, y_data)
    )
    to_sizes = np.array([(1 / ns + 1 / nd) * ns / 4 for ns, nd in zip(n_s, n_d)])[:, None]
    floor = {w: to_sizes * _js_cells({k: v[a] for k, v in models[w]["sim"].items()}, y_sim[a],
                                     {k: v[b] for k, v in models[w]["sim"].items()}, y_sim[b], names, args.bins)
             for w in models}  # fmt: skip
    err = {w: np.std(reps[w], axis=0, ddof=1) for w in models}
    diff = js["adversarial"] - js["nominal"]
    diff_err = np.std(np.array(reps["adversarial"]) - np.array(reps["nominal"]), axis=0, ddof=1)
    improved = diff < -diff_err
    drop = {k: out["nominal"]["auc"][k] - out["adversarial"]["auc"][k] for k in CMS_DISCRIMINANTS}
    drop_err = dict(zip(CMS_DISCRIMINANTS, np.std(auc_diff, axis=0, ddof=1).tolist()))
    sizes = {"sim": {f: int(np.isin(y_sim, [names.index(c) for c in cl]).sum()) for f, cl in CMS_FLAVOURS.items()},
             "data": {f: int(np.isin(y_data, [names.index(c) for c in cl]).sum()) for f, cl in CMS_FLAVOURS.items()}}  # fmt: skip
    from ..report.flavour_plots import discriminant_shapes

    Path(args.out).mkdir(parents=True, exist_ok=True)
    shapes = discriminant_shapes(models, y_sim, y_data, names, Path(args.out), f"adversarial_shapes_{kind}.png",
                                 LABELS[kind])  # fmt: skip
    return {
        "card": CARDS[kind], "label": LABELS[kind], "models": out, "shapes_png": shapes,
        "js": {w: _table(js[w]) for w in js}, "js_err": {w: _table(err[w]) for w in err},
        "js_floor": {w: _table(floor[w]) for w in floor},
        "js_diff": _table(diff), "js_diff_err": _table(diff_err),
        "js_improved": {f: {d: bool(v) for d, v in row.items()} for f, row in _table(improved).items()},
        "js_cells_improved": int(improved.sum()), "js_cells_lower": int((diff < 0).sum()),
        "nominal_auc_drop": drop, "nominal_auc_drop_err": drop_err, "nominal_auc_drop_max": max(drop.values()),
        "sizes": sizes, "n_train": int(len(sim["labels"]) - len(te)),
    }  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=5000, help='Pythia events per sample, simulation and "data" each')
    ap.add_argument("--kinds", nargs="+", choices=list(CARDS), default=["deepjet"])
    ap.add_argument("--epochs", nargs="*", default=[], metavar="[KIND=]N",
                    help="override the cards' epochs: N for every kind, KIND=N for one (default: the cards')")  # fmt: skip
    ap.add_argument("--epsilon", type=float, default=0.01, help="FGSM step of adversarial training (units of std)")
    ap.add_argument("--fraction", type=float, default=1.0, help="fraction of each batch made adversarial")
    ap.add_argument("--warmup", type=int, default=0, help="nominal epochs before adversarial batches")
    ap.add_argument("--attack-eps", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.1])
    ap.add_argument("--bins", type=int, default=20)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1, help="bootstrap seed")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--out", default="reports/bench")
    args = ap.parse_args(argv)
    epochs = {}
    for e in args.epochs:
        k, _, v = e.rpartition("=")
        if not v.isdigit() or int(v) < 1 or k not in ("", *CARDS):
            ap.error(f"--epochs: expected N or KIND=N (KIND in {', '.join(CARDS)}, N >= 1), got {e!r}")
        epochs[k or "all"] = int(v)
    args.epochs = epochs

    from ..errors import CodesignError

    t0 = time.perf_counter()
    try:
        per_kind = {k: bench_kind(k, args, lambda s: print(s, file=sys.stderr, flush=True)) for k in args.kinds}
    except CodesignError as e:
        print(f"codesign.bench.adversarial: error: {e}", file=sys.stderr)
        return 2
    first = per_kind[args.kinds[0]]
    result = {
        "command": "python -m codesign.bench.adversarial " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, 2 cores (shared)",
        "primary": args.kinds[0],
        "js_cells_improved": first["js_cells_improved"],
        "nominal_auc_drop_max": first["nominal_auc_drop_max"],
        "data": {"n_events_per_sample": args.events, "simulation": "nominal flavour data (codesign data flavour), "
                 "the card's test split", "data": "the mis-modelled variant (codesign data flavour --mismodel data), "
                 "all jets, its own seeds", "note": "both are Pythia; \"data\" carries the shifts of "
                 "codesign/data/flavour.py MISMODEL, so its truth labels are known"},
        "settings": {"epsilon": args.epsilon, "fraction": args.fraction, "warmup_epochs": args.warmup,
                     "attack_eps": args.attack_eps, "bins": args.bins, "bootstrap": args.bootstrap,
                     "epochs": args.epochs or "the cards'", "discriminants": "BvsL = b/(b+udsg), CvsB = c/(c+b), "
                     "CvsL = c/(c+udsg)", "js": "Jensen-Shannon divergence, base 2 (scipy jensenshannon squared), in bins of equal population in "
                     "simulation",
                     "improved": "adversarial JS below nominal by more than 1 sigma of the paired bootstrap difference"},
        "models": per_kind,
        "wall_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "adversarial.json").write_text(json.dumps(result, indent=1))
    (out / "adversarial.md").write_text(_markdown(result))
    print((out / "adversarial.md").read_text())
    return 0


def _f(v, fmt="{:.4f}"):
    return "—" if v is None else fmt.format(v)


def _markdown(r: dict) -> str:
    s = r["settings"]
    parts = [
        f"""# Adversarial training (FGSM) and data/simulation agreement of the float flavour taggers

Made by `{r["command"]}` on {r["machine"]} ({r["wall_s"]:.0f} s).
Simulation: {r["data"]["simulation"]}; "data": {r["data"]["data"]}; {r["data"]["n_events_per_sample"]} events per
sample each ({r["data"]["note"]}). Adversarial training: FGSM, ε = {s["epsilon"]} (units of each continuous feature's
std over the training jets), fraction {s["fraction"]}, warm-up {s["warmup_epochs"]} epochs; epochs: {s["epochs"]}.
Discriminants: {s["discriminants"]}. JS: {s["js"]}, {s["bins"]} bins; errors: {s["bootstrap"]} bootstrap replicas.

**{r["primary"]}: JS cells improved {r["js_cells_improved"]} / 9; largest nominal AUC drop {r["nominal_auc_drop_max"]:+.4f}**
(improved = {s["improved"]}).
"""
    ]
    for m in r["models"].values():
        nom, adv = m["models"]["nominal"], m["models"]["adversarial"]
        eps = list(nom["auc_fgsm"])
        auc = "\n".join(
            f"| {w} | " + " | ".join(_f(x["auc"][d]) for d in ("BvsL", "CvsB", "CvsL")) + " | "
            + " | ".join(" / ".join(_f(x["auc_fgsm"][e][d], "{:.3f}") for d in ("BvsL", "CvsB", "CvsL")) for e in eps)
            + f" | {x['train_s']:.0f} |"
            for w, x in (("nominal", nom), ("adversarial", adv))
        )  # fmt: skip
        drop = " · ".join(
            f"{d} {v:+.4f} ± {m['nominal_auc_drop_err'][d]:.4f}" for d, v in m["nominal_auc_drop"].items()
        )
        rows = []
        for f in m["js"]["nominal"]:
            for d in m["js"]["nominal"][f]:
                rows.append(
                    f"| {f} | {d} | {m['js']['nominal'][f][d]:.5f} ± {m['js_err']['nominal'][f][d]:.5f} | "
                    f"{m['js']['adversarial'][f][d]:.5f} ± {m['js_err']['adversarial'][f][d]:.5f} | "
                    f"{m['js_diff'][f][d]:+.5f} ± {m['js_diff_err'][f][d]:.5f} | {'yes' if m['js_improved'][f][d] else 'no'} | "
                    f"{m['sizes']['sim'][f]} / {m['sizes']['data'][f]} |"
                )
        js = "\n".join(rows)
        fl = m["js_floor"]
        floor = "; ".join(f"{f} {d} {fl['nominal'][f][d]:.5f} / {fl['adversarial'][f][d]:.5f}" for f in fl["nominal"]
                          for d in fl["nominal"][f])  # fmt: skip
        parts.append(f"""
## {m["label"]} ({m["card"]}, {m["n_train"]} training jets)

AUC on simulation test jets: nominal inputs, then under FGSM (BvsL / CvsB / CvsL) at ε = {", ".join(eps)}.

| training | BvsL | CvsB | CvsL | {" | ".join(f"FGSM ε={e}" for e in eps)} | train [s, wall, shared cores] |
|---|---|---|---|{"---|" * len(eps)}---|
{auc}

Nominal AUC drop (nominal − adversarial model, nominal inputs; paired bootstrap σ): {drop}.

JS divergence between "data" and simulation discriminant shapes per true flavour: {m["js_cells_improved"]} of 9 cells
improved beyond 1σ, {m["js_cells_lower"]} of 9 lower at all. Shapes and data/simulation ratios: `{m["shapes_png"]}`.

| flavour | discriminant | nominal training | adversarial training | adversarial − nominal | improved | jets sim / data |
|---|---|---|---|---|---|---|
{js}

Statistical floor (JS between two random halves of the simulation test jets, scaled to the sizes compared;
nominal / adversarial model):
{floor}.
""")
    return "".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
