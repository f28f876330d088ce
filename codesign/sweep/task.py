"""One design point, run in its own process: `python -m codesign.sweep.task POINT.json RESULT.json`.

A process per point isolates crashes (a segfaulting compiler, an OOM kill) and lets the driver
enforce a time-out; the same entry runs under the local pool and on Dask workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path


def metrics_of(records: dict) -> dict:
    """The figures a sweep compares, flattened from the stage records (absent stages are absent)."""
    m: dict = {}
    if "train" in records:
        t = records["train"]
        aucs = [v for v in t["roc_auc"].values() if v is not None]
        m.update(accuracy=t["accuracy"], auc_mean=sum(aucs) / len(aucs), sparsity=t.get("sparsity", {}).get("total", 0.0))
    if "hls" in records:
        m.update(csim_vectors=records["hls"]["vectors"], csim_mismatches=records["hls"]["mismatches"])
    if "rtl" in records:
        core = records["rtl"]["core"]
        m.update(latency_cycles=core["latency_cycles"], latency_ns=core["latency_ns"], ii=core["ii"],
                 lut=core["estimate"]["lut"], ff=core["estimate"]["ff"], dsp=core["estimate"]["dsp"])  # fmt: skip
    if "estimate" in records and records["estimate"].get("yosys"):
        m.update(yosys_lut=records["estimate"]["yosys"]["lut"], yosys_ff=records["estimate"]["yosys"]["ff"])
    if "estimate" in records:  # the HLS project's learned estimate, where rule4ml applies
        hls = {e["quantity"]: e["value"] for e in records["estimate"]["estimates"] if "rule4ml" in e["source"]}
        m.update({f"hls_{q}": hls[q] for q in ("lut", "ff", "dsp", "latency_cycles") if q in hls})
    if "cosim" in records:
        m.update({f"{s}_mismatches": r["mismatches"] for s, r in records["cosim"].items() if isinstance(r, dict)})
    return m


def run_point(card_json: dict, source: str, targets: list[str]) -> dict:
    """In-process: run the stages of one point; never raises (errors are part of the result)."""
    from ..card import Card
    from ..flow import Point, run

    t0 = time.perf_counter()
    try:
        card = Card.model_validate({**card_json, "source": source})
        records = run(Point(card), targets=tuple(targets))
        return {"ok": True, "metrics": metrics_of(records), "stages": records, "seconds": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001  (a failed point is data, and the sweep goes on)
        return {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000], "trace": traceback.format_exc()[-4000:],
                "seconds": time.perf_counter() - t0}  # fmt: skip


def run_isolated(card_json: dict, source: str, targets: list[str], home: str, timeout_s: float) -> dict:
    """Run one point in a child process with a time-out (what executors submit)."""
    with tempfile.TemporaryDirectory() as tmp:
        job, res = Path(tmp) / "point.json", Path(tmp) / "result.json"
        job.write_text(json.dumps({"card": card_json, "source": source, "targets": targets}))
        env = {**os.environ, "CODESIGN_HOME": home, "TF_CPP_MIN_LOG_LEVEL": "2"}
        t0 = time.perf_counter()
        try:
            p = subprocess.run([sys.executable, "-m", "codesign.sweep.task", str(job), str(res)], env=env,
                               capture_output=True, text=True, timeout=timeout_s)  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"timed out after {timeout_s:g} s", "seconds": time.perf_counter() - t0}
        if res.exists():
            return json.loads(res.read_text())
        return {"ok": False, "error": f"worker exited with {p.returncode}: {p.stderr.strip()[-1500:]}",
                "seconds": time.perf_counter() - t0}  # fmt: skip


def main() -> int:
    job = json.loads(Path(sys.argv[1]).read_text())
    result = run_point(job["card"], job["source"], job["targets"])
    Path(sys.argv[2]).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
