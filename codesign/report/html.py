"""One self-contained HTML page (plus PNGs) per design point: physics, bit-exactness, cost."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np


def _plots(ref: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from .label import label
    from scipy.special import softmax
    from sklearn.metrics import confusion_matrix, roc_curve

    hep.style.use("CMS")
    prob = softmax(ref["y"].astype(np.float64), axis=1)
    labels, names = ref["labels"], [str(c) for c in ref["class_names"]]

    fig, ax = plt.subplots(figsize=(8, 7))
    for c, name in enumerate(names):
        if 0 < (labels == c).sum() < len(labels):
            fpr, tpr, _ = roc_curve(labels == c, prob[:, c])
            ax.plot(tpr, np.maximum(fpr, 1e-4), label=f"{name} vs rest")
    ax.set(yscale="log", xlabel="signal efficiency", ylabel="background efficiency", ylim=(1e-4, 1.2))
    ax.legend(loc="lower right")
    label(ax, "13 TeV")
    fig.savefig(out / "roc.png", dpi=90, bbox_inches="tight")
    plt.close(fig)

    cm = confusion_matrix(labels, prob.argmax(axis=1), labels=range(len(names)), normalize="true")
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=13, color="white" if v > 0.5 else "black")
    ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true")  # fmt: skip
    ax.minorticks_off()
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.savefig(out / "confusion.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return ["roc.png", "confusion.png"]


def _table(rows: list[tuple], head: tuple) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _firmware_html(point) -> str:
    hls, cosim, cost = point.record("hls"), point.record("cosim"), point.record("estimate")
    core = point.record("rtl")["core"]
    exact = [("HLS C-sim (g++)", hls["vectors"], hls["mismatches"], f"compile {hls['compile_s']} s")] + [
        (f"RTL cocotb ({s})", r["vectors"], r["mismatches"], f"build {r['build_s']} s, {r['vectors_per_s']:.0f} vectors/s")
        for s, r in cosim.items() if isinstance(r, dict) and "vectors" in r
    ]  # fmt: skip
    costs = [(e["quantity"], e["value"], e["design"], e["source"]) for e in cost["estimates"]]

    return f"""<h2>Bit-exactness against the Python model</h2>
{_table(exact, ("check", "vectors", "mismatching events", "timing"))}
<h2>Cost</h2><p>Target clock {point.card.firmware.clock_ns} ns, part {point.card.firmware.part}.
No vendor tool ran: every figure names its source.</p>{_table(costs, ("quantity", "value", "design", "source"))}
<h2>Artifacts</h2><p>IP bundle: <code>{html.escape(str(point.bundle_dir))}</code> (README.md, manifest.json);
RTL top <code>{html.escape(str(core.get("top", "")))}</code>.</p>"""


def write_report(point, out: Path) -> dict:
    train = point.record("train")
    ref = dict(np.load(point.train_dir / "reference.npz"))
    regression = "met" in train  # metrics.json of a MET regression (quant/train_met.py)
    if regression:
        from . import met_plots

        pngs = met_plots.plots(train, out)
    else:
        pngs = _plots(ref, out) if "labels" in ref else []  # a user's QONNX file comes without labels
    if "flavour" in train:
        from .flavour_plots import roc_panels

        pngs.append(roc_panels({point.name: (ref["y"], ref["labels"], ref["class_names"])}, out, "roc_flavour.png", "13 TeV, test jets"))
    firmware = _firmware_html(point) if "hls" in point.stages else (
        "<h2>Firmware</h2><p>None: a float offline model (torch); its ONNX export "
        f"(<code>{html.escape(str(point.train_dir / 'float_model.onnx'))}</code>) matched onnxruntime to "
        f"{train.get('onnxruntime_max_abs_diff', float('nan')):.2g} on the test jets.</p>")  # fmt: skip

    physics = [("accuracy", f"{train['accuracy']:.4f}")] + [
        (f"ROC AUC {c}", f"{v:.4f}") for c, v in train["roc_auc"].items() if v is not None
    ] if "accuracy" in train else [("reference", train.get("reference", "")), ("test vectors", train["n_test"])]  # fmt: skip
    for name, auc in train.get("flavour", {}).get("auc", {}).items():  # flavour taggers: discriminants
        physics.append((f"ROC AUC {name.replace('_', ' ')}", "n/a" if auc is None else f"{auc:.4f}"))
    for eff, bins in train.get("flavour", {}).get("mistag_light", {}).items():  # per jet-pT bin [GeV]
        for pt_bin, rate in bins.items():
            physics.append((f"light mistag at {eff}% b eff, pT {pt_bin}", "n/a" if rate is None else f"{rate:.4f}"))
    physics_table = _table(physics, ("metric", "value"))
    if regression:
        physics_table = (_table(met_plots.physics_rows(train), ("metric", "value")) + "<h3>Per true-MET bin</h3>"
                         + _table(*met_plots.table_rows(train)))  # fmt: skip
    events = (f"{train['n_train']} training / {train['n_test']} test {'events' if regression else 'jets'} (Pythia 8, generated locally)" if "n_train" in train
              else f"QONNX file {train.get('file', '')}")  # fmt: skip
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{point.name} {point.key}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}
th{{background:#eef}}img{{max-width:48%}}code{{background:#f4f4f4}}</style></head><body>
<h1>{html.escape(point.name)} <small>design point {point.key}</small></h1>
<p>{html.escape(point.card.description)}. Card: <code>{html.escape(point.card.source)}</code>;
{html.escape(events)}.</p>
<h2>Physics ({"quantized" if "hls" in point.stages else "float"} model, test set)</h2>{physics_table}
{"".join(f'<img src="{p}">' for p in pngs)}
{firmware}
</body></html>"""
    (out / "index.html").write_text(page)
    return {"index": str(point.report_dir / "index.html"), "plots": pngs}
