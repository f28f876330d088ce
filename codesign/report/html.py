"""One self-contained HTML page (plus PNGs) per design point: physics, bit-exactness, cost.

The physics section is the model kind's own (ModelKind.report, report/sections.py); the
firmware sections read the stage records, for kinds that have firmware stages.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from .sections import table


def _firmware_html(point) -> str:
    hls, sims, cost, core = point.hls(), point.sims(), point.cost(), point.core()
    exact = [("HLS C-sim (g++)", hls.vectors, hls.mismatches, f"compile {hls.compile_s} s")] + [
        (f"RTL cocotb ({s})", r.vectors, r.mismatches, f"build {r.build_s} s, {r.vectors_per_s:.0f} vectors/s")
        for s, r in sims.items()
    ]  # fmt: skip
    costs = [(e["quantity"], e["value"], e["design"], e["source"]) for e in cost.estimates]

    return f"""<h2>Bit-exactness against the Python model</h2>
{table(exact, ("check", "vectors", "mismatching events", "timing"))}
<h2>Cost</h2><p>Target clock {point.card.firmware.clock_ns} ns, part {point.card.firmware.part}.
No vendor tool ran: every figure names its source.</p>{table(costs, ("quantity", "value", "design", "source"))}
<h2>Artifacts</h2><p>IP bundle: <code>{html.escape(str(point.bundle_dir))}</code> (README.md, manifest.json);
RTL top <code>{html.escape(core.top)}</code>.</p>"""


def _offline_html(point, train: dict) -> str:
    onnx = point.train_dir / "float_model.onnx"
    if not onnx.exists():
        return "<h2>Firmware</h2><p>None: an offline model.</p>"
    return ("<h2>Firmware</h2><p>None: a float offline model (torch); its ONNX export "
            f"(<code>{html.escape(str(onnx))}</code>) matched onnxruntime to "
            f"{train.get('onnxruntime_max_abs_diff', float('nan')):.2g} on the test jets.</p>")  # fmt: skip


def write_report(point, out: Path) -> dict:
    train = point.record("train")
    ref = dict(np.load(point.train_dir / "reference.npz"))
    section = point.kind.report(point, train, ref, out)
    firmware = _firmware_html(point) if point.kind.firmware else _offline_html(point, train)
    events = (f"{train['n_train']} training / {train['n_test']} test {section.sample} ({section.source})"
              if "n_train" in train else f"QONNX file {train.get('file', '')}")  # fmt: skip
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{point.name} {point.key}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}
th{{background:#eef}}img{{max-width:48%}}code{{background:#f4f4f4}}</style></head><body>
<h1>{html.escape(point.name)} <small>design point {point.key}</small></h1>
<p>{html.escape(point.card.description)}. Card: <code>{html.escape(point.card.source)}</code>;
{html.escape(events)}.</p>
<h2>Physics ({"quantized" if point.kind.firmware else "float"} model, test set)</h2>{table(section.rows, ("metric", "value"))}
{section.html}
{"".join(f'<img src="{p}">' for p in section.plots)}
{firmware}
</body></html>"""
    (out / "index.html").write_text(page)
    return {"index": str(point.report_dir / "index.html"), "plots": section.plots}
