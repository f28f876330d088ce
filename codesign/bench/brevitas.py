"""The Brevitas twin next to the HGQ2 and QKeras builds of one card: python -m codesign.bench.brevitas [--preset demo].

Each frontend trains the same card (same data, split, input grid, formats, epochs) and goes through
the hls (C-sim, bit-exact) and rtl (da4ml pipeline, emulation bit-exact) stages. Writes
reports/bench/brevitas.json and brevitas.md: test accuracy, mean ROC AUC, and the core's cost from
da4ml's cost model (LUT, FF, DSP) and pipeline (latency). No vendor tool and no open synthesis ran.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from .. import flow
from ..card import Card, load_card
from ..errors import CodesignError
from ..records import Core

CARD = "models/jet_tagger_mlp.toml"
FRONTENDS = ("hgq2", "qkeras", "brevitas")


def card_for(card_path: str, preset: str, frontend: str) -> Card:
    return load_card(card_path).with_preset(preset).with_overrides({"model.frontend": frontend})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--card", default=CARD)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--out", default="reports/bench")
    args = ap.parse_args(argv)

    rows = {}
    for frontend in FRONTENDS:
        t0 = time.perf_counter()
        point = flow.Point(card_for(args.card, args.preset, frontend))
        train = flow.run(point, targets=("train",))["train"]
        # A failed bit-exactness check is a result of this benchmark, not the end of it.
        hls, rtl = _try(point, "hls"), _try(point, "rtl")
        core = Core.model_validate(rtl["core"]) if "core" in rtl else None
        aucs = [v for v in train["roc_auc"].values() if v is not None]
        rows[frontend] = {
            "key": point.key, "accuracy": round(train["accuracy"], 4), "auc_mean": round(sum(aucs) / len(aucs), 4),
            **({"lut": core.estimate.lut, "ff": core.estimate.ff, "dsp": core.estimate.dsp,
                "latency_cycles": core.latency_cycles, "latency_ns": core.latency_ns,
                "rtl_emulation_vectors": core.vectors["count"]} if core else {}),
            "csim_vectors": hls.get("vectors"), "csim_mismatches": hls.get("mismatches"), "csim_error": hls.get("error"),
            "rtl_error": rtl.get("error"), "hls_path": hls.get("path"), "rtl_path": rtl.get("path"),
            "train_s": train["seconds"], "wall_s": round(time.perf_counter() - t0, 1),
        }  # fmt: skip
    card = card_for(args.card, args.preset, "brevitas")
    result = {
        "card": args.card, "preset": args.preset, "machine": f"{platform.machine()}, 2 cores",
        "n_train": train["n_train"], "n_test": train["n_test"], "epochs": card.training.epochs,
        "hidden": card.model.hidden, "precision": card.precision.model_dump(), "clock_ns": card.firmware.clock_ns,
        "cost_source": "da4ml cost model (LUT, FF = pipeline register bits, DSP) and da4ml pipeline (latency)",
        "frontends": rows,
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "brevitas.json").write_text(json.dumps(result, indent=1))
    (out / "brevitas.md").write_text(_markdown(result))
    print((out / "brevitas.md").read_text())
    return 0


def _markdown(r: dict) -> str:
    rows = "\n".join(
        f"| {f} | {v['accuracy']:.4f} | {v['auc_mean']:.4f} | {v.get('lut', '-')} | {v.get('ff', '-')} | {v.get('dsp', '-')} | "
        f"{_latency(v)} | {_csim(v)} | {v['hls_path'] or '-'} |"
        for f, v in r["frontends"].items()
    )
    errors = "".join(f"\n- {f} ({k}): {v[k + '_error']}" for f, v in r["frontends"].items() for k in ("csim", "rtl")
                     if v[k + "_error"])  # fmt: skip
    if errors:
        errors = "\nFailed checks (the flow stops at a mismatch; the RTL path does not go through hls4ml):" + errors
    p = r["precision"]
    return f"""# Brevitas twin vs HGQ2 and QKeras: {r["card"]} (preset {r["preset"]})

Made by `python -m codesign.bench.brevitas --preset {r["preset"]}` on {r["machine"]}.
Same card for all three: 16 -> {" -> ".join(map(str, r["hidden"]))} -> 5, inputs {p["input_bits"]} bits
({p["input_integer"]} integer), weights {p["weight_bits"]} bits, activations {p["activation_bits"]} bits,
{r["epochs"]} epochs on {r["n_train"]} jets, tested on {r["n_test"]}. Cost: {r["cost_source"]}, at {r["clock_ns"]} ns;
not Vivado, not open synthesis.

| frontend | accuracy | mean ROC AUC | LUT | FF | DSP | latency (cycles) | C-sim vectors / mismatches | HLS path |
|---|---|---|---|---|---|---|---|---|
{rows}

Every row with a cost passed da4ml's emulation of its pipelined RTL bit-exactly on the same
vectors. Brevitas rounds its ReLU outputs half to even (the Keras builds round half up); the QONNX
tracer reproduces that with extra adders per ReLU output (part of its extra FFs and pipeline stage;
the trained weights differ too).
{errors}
"""


def _try(point, stage: str) -> dict:
    try:
        return flow.run(point, targets=(stage,))[stage]
    except CodesignError as e:
        return {"error": str(e)}


def _latency(v: dict) -> str:
    return f"{v['latency_cycles']} ({v['latency_ns']:g} ns)" if "latency_cycles" in v else "- (rtl failed)"


def _csim(v: dict) -> str:
    if v["csim_error"]:
        return "FAILED: " + v["csim_error"].split("): ", 1)[-1].split(";")[0]
    return f"{v['csim_vectors']} / {v['csim_mismatches']}"


if __name__ == "__main__":
    raise SystemExit(main())
