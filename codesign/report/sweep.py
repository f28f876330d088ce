"""Sweep report: reports/<sweep>/index.html with Pareto fronts and the full, sortable table."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from .. import paths

FRONTS = [
    ("lut", "LUT (da4ml cost model)"),
    ("latency_ns", "latency [ns] (da4ml pipeline)"),
    ("dsp", "DSP (da4ml cost model)"),
]


def pareto(rows: list[dict], x: str, y: str = "accuracy") -> list[dict]:
    """Points not dominated in (min x, max y), sorted by x."""
    pts = sorted(
        (r for r in rows if x in r["metrics"] and y in r["metrics"]), key=lambda r: (r["metrics"][x], -r["metrics"][y])
    )
    front, best = [], -np.inf
    for r in pts:
        if r["metrics"][y] > best:
            front.append(r)
            best = r["metrics"][y]
    return front


def chosen(rows: list[dict]) -> dict | None:
    """The highlighted point: the cheapest (LUT) within 1% absolute accuracy of the best."""
    if not rows:
        return None
    best = max(r["metrics"]["accuracy"] for r in rows)
    return min((r for r in rows if r["metrics"]["accuracy"] >= best - 0.01), key=lambda r: r["metrics"].get("lut", 0))


def _plot(rows, x, xlabel, pick, out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from .label import label

    hep.style.use("CMS")
    fig, ax = plt.subplots(figsize=(8, 6.5))
    have = [r for r in rows if x in r["metrics"]]
    ax.scatter(
        [r["metrics"][x] for r in have],
        [r["metrics"]["accuracy"] for r in have],
        c="#7a8ba8",
        s=30,
        label="design points",
    )
    front = pareto(have, x)
    ax.step(
        [r["metrics"][x] for r in front],
        [r["metrics"]["accuracy"] for r in front],
        where="post",
        c="#e42536",
        lw=2,
        label="Pareto front",
    )
    if pick and x in pick["metrics"]:
        ax.scatter(
            [pick["metrics"][x]],
            [pick["metrics"]["accuracy"]],
            marker="*",
            s=350,
            c="#f89c20",
            zorder=5,
            label=f"chosen (id {pick['id']})",
        )
    for r in front:
        ax.annotate(
            str(r["id"]),
            (r["metrics"][x], r["metrics"]["accuracy"]),
            fontsize=11,
            xytext=(4, -12),
            textcoords="offset points",
        )
    ax.set(xlabel=xlabel, ylabel="accuracy (quantized, test set)")
    ax.legend(loc="lower right", fontsize=14)
    label(ax, "13 TeV", fontsize=16)
    name = f"pareto_{x}.png"
    fig.savefig(out / name, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return name


def write_sweep_report(store, spec) -> Path:
    out = paths.root() / "reports" / spec.name
    out.mkdir(parents=True, exist_ok=True)
    rows = store.rows()
    done = [r for r in rows if r["status"] == "done"]
    pick = chosen(done)
    pngs = [_plot(done, x, label, pick, out) for x, label in FRONTS if any(x in r["metrics"] for r in done)]
    axes = list(spec.axes)
    cols = ["accuracy", "auc_mean", "lut", "ff", "dsp", "latency_cycles", "latency_ns", "sparsity", "csim_mismatches"]
    head = "".join(
        f"<th onclick='sortBy({i})'>{html.escape(c)}</th>"
        for i, c in enumerate(["id", "status", *axes, *cols, "error"])
    )
    body = []
    for r in rows:
        m = r["metrics"] or {}
        cells = [
            r["id"],
            r["status"],
            *(r["params"].get(a) for a in axes),
            *(_fmt(m.get(c)) for c in cols),
            _error_cell(r["error"] or ""),
        ]
        cls = " class='chosen'" if pick and r["id"] == pick["id"] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    counts = store.counts()
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>sweep {spec.name}</title>
<style>body{{font-family:sans-serif;max-width:1300px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px}}th{{background:#eef;cursor:pointer}}tr.chosen{{background:#fde8b0}}
img{{max-width:32%}}</style>
<script>function sortBy(c){{const t=document.getElementById('pts'),rows=[...t.rows].slice(1);
const d=t.dataset.dir=(t.dataset.col==c&&t.dataset.dir=='1')?'-1':'1';t.dataset.col=c;
rows.sort((a,b)=>{{const x=a.cells[c].innerText,y=b.cells[c].innerText,nx=parseFloat(x),ny=parseFloat(y);
return (isNaN(nx)||isNaN(ny)?x.localeCompare(y):nx-ny)*d}});rows.forEach(r=>t.tBodies[0].appendChild(r))}}</script>
</head><body><h1>Sweep {html.escape(spec.name)}</h1>
<p>{"Model file" if spec.model else "Card"} <code>{html.escape(spec.model or spec.card)}</code> (preset {spec.preset}), search {spec.search.kind}, targets {", ".join(spec.targets)}.
{counts.get("done", 0)} done, {counts.get("failed", 0)} failed, {counts.get("pending", 0) + counts.get("running", 0)} not finished.
Costs are da4ml's cost model of the RTL; latency from its pipeline (no vendor tool ran).</p>
<p>Chosen point (highlighted, ★): the fewest LUTs within 1% accuracy of the best{f": id {pick['id']}, {html.escape(json.dumps(pick['params']))}" if pick else ""}.
Bundle it with <code>codesign package --from-sweep {spec.name} --point {pick["id"] if pick else "ID"}</code>.</p>
<h2>Pareto fronts: accuracy against cost</h2>
{"".join(f'<img src="{p}">' for p in pngs) or "<p>No finished point has a cost yet.</p>"}
<h2>All points (click a column to sort)</h2><table id="pts"><tr>{head}</tr>{"".join(body)}</table></body></html>"""
    (out / "index.html").write_text(page)
    return out / "index.html"


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else v


def _error_cell(error: str) -> str:
    """A failed point's error, short; a bit-exact failure shows its diagnosis (first diverging layer, cause, fix)."""
    at = error.find("first diverging layer")
    return error[:200] if at < 0 else error[at : at + 500]
