"""The whole slice on the tiny preset: data -> ... -> bundle and report, bit-exact everywhere."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import codesign

REPO = Path(__file__).parents[1]
CARD = REPO / "models" / "jet_tagger_mlp.toml"


@pytest.mark.slow
def test_every_stage_bit_exact_on_1000_vectors(tiny):
    home, point = tiny
    hls = point.record("hls")
    assert hls["vectors"] >= 1000 and hls["mismatches"] == 0
    cosim = point.record("cosim")
    from codesign.rtl.cosim import toggle_cover

    assert cosim["verilator"]["vectors"] >= 1000  # every vector
    assert cosim["icarus"]["vectors"] == len(toggle_cover(point.stage_dir("rtl"), point.card.firmware.icarus_vectors))
    for sim in ("icarus", "verilator"):
        assert cosim[sim]["mismatches"] == 0 and cosim[sim]["passed"]
    train = point.record("train")
    assert train["accuracy"] > 0.5  # 5 classes: chance is 0.2; even 8 tiny epochs learn the jets
    assert (point.train_dir / train["da4ml_trace"]).exists()  # the rtl stage read it: no Keras there


@pytest.mark.slow
def test_the_rtl_stage_runs_without_tensorflow(tiny):
    """It pipelines the trace the train stage saved: the RTL lane of a point never waits for Keras."""
    home, point = tiny
    code = (f"import sys; from codesign import flow; p = flow.Point.from_file({str(CARD)!r}, 'tiny'); "
            "r = flow.run_stage(p, 'rtl', force=True); print(r['core']['top'], 'tensorflow' in sys.modules)")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "CODESIGN_HOME": str(home)}, capture_output=True,
                       text=True, check=True)  # fmt: skip
    assert r.stdout.split() == [point.record("rtl")["core"]["top"], "False"]


@pytest.mark.slow
def test_cost_has_sources(tiny):
    _, point = tiny
    est = point.record("estimate")["estimates"]
    sources = {e["source"] for e in est}
    assert any("da4ml" in s for s in sources) and any("yosys" in s.lower() for s in sources)
    luts = {e["design"]: e["value"] for e in est if e["quantity"] == "lut" and "rule4ml" not in e["source"]}
    assert len([e for e in est if e["quantity"] == "lut"]) == 3 and all(v > 0 for v in luts.values())
    hls = [e for e in est if e["design"] == "hls"]  # rule4ml's estimate of the HLS project
    assert {e["quantity"] for e in hls} >= {"lut", "ff", "dsp", "latency_cycles"} and all(
        "rule4ml" in e["source"] for e in hls
    )
    head = point.record("estimate")["headline"]
    assert head["lut"]["rank"] == 0 and head["latency_cycles"]["value"] == point.record("rtl")["core"]["latency_cycles"]


@pytest.mark.slow
def test_bundle_manifest_and_readme(tiny):
    _, point = tiny
    b = point.bundle_dir
    manifest = json.loads((b / "manifest.json").read_text())
    assert manifest["key"] == point.key and manifest["core"]["ii"] == 1
    for rel, digest in manifest["sha256"].items():
        assert hashlib.sha256((b / rel).read_bytes()).hexdigest() == digest, rel
    for must in ("hls/build_prj.tcl", "vivado/package_ip.tcl", "core.json", "Makefile", "sim/tb_core.py", "README.md"):
        assert must in manifest["sha256"], must
    readme = (b / "README.md").read_text()
    assert f"{manifest['core']['latency_cycles']} clock cycles" in readme and "II = 1" in readme
    assert "@" not in (b / "vivado" / "package_ip.tcl").read_text().replace("@NAME@", "")  # placeholders filled


@pytest.mark.slow
def test_bundle_checks_itself_without_codesign(tiny):
    _, point = tiny
    b = point.bundle_dir
    for f in (b / "sim").glob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+codesign\b", f.read_text(), re.M), f"{f.name} imports codesign"
    r = subprocess.run(
        ["make", "sim", "SIM=icarus"],
        cwd=b,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


@pytest.mark.slow
def test_report_and_rerun_is_cached(tiny):
    home, point = tiny
    index = point.report_dir / "index.html"
    assert index.exists() and (point.report_dir / "roc.png").stat().st_size > 10_000
    r = codesign("run", str(CARD), "--preset", "tiny", home=home)
    assert r.stderr.count("cached") == 8, r.stderr
