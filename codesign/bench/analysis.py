"""The differentiable analysis against its baselines: python -m codesign.bench.analysis [--preset demo].

Runs models/analysis_wz.toml (data, train, fit: (a) cross-entropy with a grid-chosen cut and
binning, (b) trained on σ_μ, (c) (b) with a learned mass window; each with and without
systematics, judged on test jets no training or choice has seen) and the neos Gaussian-blob toy.
Writes reports/bench/analysis.json and analysis.md. Top-level keys: sigma_mu_ratio_syst,
sigma_mu_ratio_nosyst (σ_μ of (b) over (a)) and pyhf_max_rel_diff (the largest relative difference
of σ_μ, Z₀ and CLs between the torch likelihood and pyhf, over every model fitted here).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from .. import flow

CARD = "models/analysis_wz.toml"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--card", default=CARD)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--toy-steps", type=int, default=300)
    ap.add_argument("--out", default="reports/bench")
    args = ap.parse_args(argv)

    from ..analysis import neos_toy

    t0 = time.perf_counter()
    point = flow.Point.from_file(args.card, args.preset)
    flow.run(point)
    fit, train = point.record("fit"), point.record("train")
    analysis_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    toy = neos_toy.run(steps=args.toy_steps)
    toy_s = time.perf_counter() - t0
    rows = {n: {k: r[k] for k in ("sigma_mu", "z0", "cls")} | {"pyhf_sigma_mu": r["pyhf"]["sigma_mu"],
            "pyhf_z0": r["pyhf"]["z0"], "pyhf_cls": r["pyhf"]["cls"], "bins": len(r["bins"])}
            for n, r in fit["test"].items()}  # fmt: skip
    result = {
        "sigma_mu_ratio_syst": fit["sigma_mu_ratio_syst"],
        "sigma_mu_ratio_nosyst": fit["sigma_mu_ratio_nosyst"],
        "bootstrap": fit["bootstrap"],
        "pyhf_max_rel_diff": max(
            fit["pyhf_max_rel_diff"], toy["cross_entropy"]["pyhf_max_rel_diff"], toy["sigma_mu"]["pyhf_max_rel_diff"]
        ),  # fmt: skip
        "command": f"python -m codesign.bench.analysis --preset {args.preset} --toy-steps {args.toy_steps}",
        "card": args.card,
        "preset": args.preset,
        "point": f"{point.name}-{point.key}",
        "test_jets": fit["n_test"],
        "test_signal_jets": fit["n_test_signal"],
        "train_jets": train["n_train"],
        "validation_jets": train["n_validation"],
        "selections": rows,
        "impacts_b_syst": fit["impacts"],
        "grid_choice_a": train["grid"],
        "neos_toy": {
            k: toy[k]
            for k in (
                "cross_entropy",
                "sigma_mu",
                "n_train_per_sample",
                "n_test_per_sample",
                "steps",
                "bins",
                "bandwidth",
                "yields",
            )
        },  # fmt: skip
        "seconds": {"analysis": round(analysis_s, 1), "neos_toy": round(toy_s, 1)},
        "machine": f"{platform.node()} {platform.machine()}, {__import__('os').cpu_count()} cores",
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(json.dumps(result, indent=1, default=float))
    (out / "analysis.md").write_text(markdown(result))
    print(markdown(result))
    return 0


def markdown(r: dict) -> str:
    b = r["bootstrap"]
    lines = ["# Differentiable analysis: W/Z jets vs QCD, and the neos toy", "",
             f"Command: `{r['command']}`. Point {r['point']}: {r['train_jets']} training, {r['validation_jets']} "
             f"validation, {r['test_jets']} test jets ({r['test_signal_jets']} W/Z). Every figure below is on the "
             "test jets, hard cuts and histograms, bins merged until each holds enough background MC.", "",
             f"- σ_μ (b) / (a), with systematics: **{r['sigma_mu_ratio_syst']:.3f}** ± {b['ratio_syst']['std']:.3f} "
             f"(replicas: 16-84 % band {b['ratio_syst']['p16']:.3f}-{b['ratio_syst']['p84']:.3f}, below 1 in "
             f"{b['ratio_syst']['fraction_below_1']:.0%})",
             f"- σ_μ (b) / (a), without systematics: **{r['sigma_mu_ratio_nosyst']:.3f}** ± {b['ratio_nosyst']['std']:.3f} "
             f"(band {b['ratio_nosyst']['p16']:.3f}-{b['ratio_nosyst']['p84']:.3f}, below 1 in "
             f"{b['ratio_nosyst']['fraction_below_1']:.0%})",
             f"- ±: standard deviation over {b['replicas']} bootstrap replicas of the test jets (the test set's own "
             "statistics; one training seed). Replicas repeat jets, which doubles Σw² on average and so inflates the "
             "MC-statistics term; the replicas' ratios sit above the nominal one, so (b)'s selection pays more for it.",
             f"- largest torch / pyhf relative difference: {r['pyhf_max_rel_diff']:.1e}", "",
             "| selection | σ_μ | σ_μ (pyhf) | Z₀ | Z₀ (pyhf) | expected CLs (μ=1) | bins |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for n, s in r["selections"].items():
        lines.append(f"| {n} | {s['sigma_mu']:.4f} ± {b[n]['std']:.4f} | {s['pyhf_sigma_mu']:.4f} | {s['z0']:.3f} | "
                     f"{s['pyhf_z0']:.3f} | {s['cls']:.3g} | {s['bins']} |")  # fmt: skip
    lines += ["", "Nuisance parameters of (b) with systematics (Asimov data: pulls are 0 by construction):", "",
              "| parameter | post-fit σ | Δμ at +1σ | Δμ at −1σ |", "|---|---|---|---|"]  # fmt: skip
    for n, v in r["impacts_b_syst"].items():
        f = [("n/a" if d is None else f"{d:+.4f}") for d in (v["impact_up"], v["impact_down"])]
        lines.append(f"| {n} | {v['postfit_sigma']:.3f} | {f[0]} | {f[1]} |")
    t = r["neos_toy"]
    lines += ["", f"neos toy ({t['n_train_per_sample']} training and {t['n_test_per_sample']} test events per sample, "
              f"{t['bins']} bins, bandwidth {t['bandwidth']}, {t['steps']} steps, yields {t['yields']}): σ_μ "
              f"cross-entropy {t['cross_entropy']['sigma_mu']:.4f}, trained on σ_μ {t['sigma_mu']['sigma_mu']:.4f} "
              f"(ratio {t['sigma_mu']['sigma_mu'] / t['cross_entropy']['sigma_mu']:.3f}; neos' published 0.456 -> ~0.35 "
              "is for its own normalisation).", ""]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
