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


def run_point(card_json: dict, source: str, targets: list[str]) -> dict:
    """In-process: run the stages of one point; never raises (errors are part of the result)."""
    from ..card import validate_card
    from ..flow import Point, run
    from .figures import metrics_of

    t0 = time.perf_counter()
    try:
        card = validate_card(card_json, source)
        records = run(Point(card), targets=tuple(targets))
        return {
            "ok": True,
            "metrics": metrics_of(card.kind, records),
            "stages": records,
            "seconds": time.perf_counter() - t0,
        }
    except Exception as e:  # noqa: BLE001  (a failed point is data, and the sweep goes on)
        return {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000], "trace": traceback.format_exc()[-4000:],
                "seconds": time.perf_counter() - t0}  # fmt: skip


def run_isolated(card_json: dict, source: str, targets: list[str], home: str, timeout_s: float) -> dict:
    """Run one point in a child process with a time-out (what executors submit)."""
    return call_isolated("codesign.sweep.task:run_point", {"card_json": card_json, "source": source, "targets": targets},
                         timeout_s, {"CODESIGN_HOME": home})  # fmt: skip


def call_isolated(target: str, kwargs: dict, timeout_s: float, env: dict | None = None) -> dict:
    """`module:function(**kwargs)` in a child Python with a time-out: JSON in, a JSON dict out.

    The one subprocess-with-timeout of the project (sweep points, benchmark points). A crash, a
    time-out or an exception comes back as {"ok": False, "error": ...}, never raised.
    """
    with tempfile.TemporaryDirectory() as tmp:
        job, res = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job.write_text(json.dumps({"target": target, "kwargs": kwargs}))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
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
    import importlib

    job = json.loads(Path(sys.argv[1]).read_text())
    module, _, name = job["target"].partition(":")
    try:
        result = getattr(importlib.import_module(module), name)(**job["kwargs"])
    except Exception as e:  # noqa: BLE001  (the caller records it)
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000], "trace": traceback.format_exc()[-4000:]}
    Path(sys.argv[2]).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
