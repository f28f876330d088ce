"""Sweep report: reports/<sweep>/index.html with Pareto fronts and the full, sortable table."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from .. import paths
from .label import DETECTOR, label, llabel_for

FRONTS = [
    ("lut", "LUT (da4ml cost model)"),
    ("latency_ns", "latency [ns] (da4ml pipeline)"),
    ("dsp", "DSP (da4ml cost model)"),
]


def pareto(rows: list[dict], x: str, y: str = "accuracy", side: str = "max") -> list[dict]:
    """Points not dominated in (min x, `side` y), sorted by x."""
    sign = 1.0 if side == "max" else -1.0
    have = [r for r in rows if r["metrics"].get(x) is not None and r["metrics"].get(y) is not None]
    pts = sorted(have, key=lambda r: (r["metrics"][x], -sign * r["metrics"][y]))
    front, best = [], -np.inf
    for r in pts:
        if sign * r["metrics"][y] > best:
            front.append(r)
            best = sign * r["metrics"][y]
    return front


def chosen(rows: list[dict], y: str = "accuracy", side: str = "max", choose=None) -> dict | None:
    """The highlighted point: the best `y` within the budget `choose.within` if any point is; else
    (or without a budget) the fewest LUTs within `choose.tolerance` (default 0.01) of the best `y`."""
    rows = [r for r in rows if r["metrics"].get(y) is not None]
    if not rows:
        return None
    sign = 1.0 if side == "max" else -1.0
    within = dict(choose.within) if choose else {}
    inside = [r for r in rows if all(r["metrics"].get(f, np.inf) <= v for f, v in within.items())]
    if within and inside:
        return max(inside, key=lambda r: (sign * r["metrics"][y], -r["metrics"].get("lut", 0)))
    tol = choose.tolerance if choose else 0.01
    best = max(sign * r["metrics"][y] for r in rows)
    return min((r for r in rows if sign * r["metrics"][y] >= best - tol), key=lambda r: r["metrics"].get("lut", 0))


def _plot(rows, x, xlabel, pick, out: Path, y: str = "accuracy", side: str = "max", choose=None,
          llabel: str = DETECTOR) -> str:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    hep.style.use("CMS")
    fig, ax = plt.subplots(figsize=(8, 6.5))
    have = [r for r in rows if r["metrics"].get(x) is not None and r["metrics"].get(y) is not None]
    ax.scatter([r["metrics"][x] for r in have], [r["metrics"][y] for r in have], c="#7a8ba8", s=30,
               label="design points")  # fmt: skip
    front = pareto(have, x, y, side)
    ax.step([r["metrics"][x] for r in front], [r["metrics"][y] for r in front], where="post", c="#e42536", lw=2,
            label="Pareto front")  # fmt: skip
    if pick and x in pick["metrics"]:
        ax.scatter([pick["metrics"][x]], [pick["metrics"][y]], marker="*", s=350, c="#f89c20", zorder=5,
                   label=f"chosen (id {pick['id']})")  # fmt: skip
    for r in front:
        ax.annotate(str(r["id"]), (r["metrics"][x], r["metrics"][y]), fontsize=11, xytext=(4, -12),
                    textcoords="offset points")  # fmt: skip
    budget = choose.within.get(x) if choose else None
    if budget is not None:
        ax.axvline(budget, ls="--", c="#3f90da", label=f"budget {x} ≤ {budget:,.0f}")
    if choose and choose.aim is not None:
        ax.axhline(choose.aim, ls=":", c="#3f90da", label=f"aim {y} {'≥' if side == 'max' else '≤'} {choose.aim:g}")
    miss = None
    if pick and (budget is not None or (choose and choose.aim is not None)):
        miss = _miss(pick, x, y, side, budget, choose.aim if choose else None)
    ax.set(xlabel=xlabel, ylabel=f"{y} (quantized, test set)")
    ax.legend(loc="best", fontsize=12, title=miss, title_fontsize=11)
    label(ax, "13 TeV", fontsize=16, llabel=llabel)
    name = f"pareto_{x}.png"
    fig.savefig(out / name, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return name


def _miss(pick: dict, x: str, y: str, side: str, budget: float | None, aim: float | None) -> str:
    """How far the chosen point is from the budget and the aim (or that it meets them)."""
    m, parts = pick["metrics"], []
    if budget is not None and m.get(x) is not None:
        over = m[x] / budget
        parts.append(f"{x} {over:.2f}x budget" + (" (met)" if over <= 1 else f" (missed by {m[x] - budget:,.0f})"))
    if aim is not None:
        gap = (m[y] - aim) if side == "min" else (aim - m[y])
        parts.append(f"{y} {m[y]:.3g}" + (" (aim met)" if gap <= 0 else f" (aim missed by {gap:.3g})"))
    return "chosen: " + "; ".join(parts)


def write_sweep_report(store, spec) -> Path:
    out = paths.root() / "reports" / spec.name
    out.mkdir(parents=True, exist_ok=True)
    rows = store.rows()
    done = [r for r in rows if r["status"] == "done"]
    y, side = spec.physics
    pick = chosen(done, y, side, spec.choose)
    # A user's model sweep labels its data as theirs (and does not load the model file again for it).
    llabel = "your model and vectors" if spec.model else llabel_for(getattr(spec.base.data, "dataset", None))
    pngs = [_plot(done, x, label, pick, out, y, side, spec.choose, llabel) for x, label in FRONTS
            if any(r["metrics"].get(x) is not None for r in done)]  # fmt: skip
    axes = list(spec.axes)
    cols = list(dict.fromkeys([y, "accuracy", "auc_mean", "lut", "ff", "dsp", "latency_cycles", "latency_ns", "ebops",
                               "sparsity"]))  # fmt: skip
    # Bit-exact checks beside the cost: vectors checked and mismatches per checker, where the sweep ran it.
    cols += [c for c in ("csim_vectors", "csim_mismatches", "verilator_vectors", "verilator_mismatches", "icarus_vectors",
                         "icarus_mismatches") if any(c in (r["metrics"] or {}) for r in rows)]  # fmt: skip
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
<p>Chosen point (highlighted, ★): {_rule(spec, y, side)}{f": id {pick['id']}, {html.escape(json.dumps(pick['params']))}" if pick else ""}.
Bundle it with <code>codesign package --from-sweep {spec.name} --point {pick["id"] if pick else "ID"}</code>.</p>
<h2>Pareto fronts: {html.escape(y)} against cost</h2>
{"".join(f'<img src="{p}">' for p in pngs) or "<p>No finished point has a cost yet.</p>"}
<h2>All points (click a column to sort)</h2><table id="pts"><tr>{head}</tr>{"".join(body)}</table></body></html>"""
    (out / "index.html").write_text(page)
    return out / "index.html"


def _rule(spec, y: str, side: str) -> str:
    c = spec.choose
    budget = " and ".join(f"{f} ≤ {v:,.0f}" for f, v in c.within.items())
    tol = f"the fewest LUTs within {c.tolerance:g} of the best {y}"
    return html.escape(f"the best {y} ({side}) within {budget} (if none is: {tol})" if budget else tol)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else v


def _error_cell(error: str) -> str:
    """A failed point's error, short; a bit-exact failure shows its diagnosis (first diverging layer, cause, fix)."""
    at = error.find("first diverging layer")
    return error[:200] if at < 0 else error[at : at + 500]
