"""The MET interaction network end to end on the tiny preset: bit-exact at C-sim and RTL, physics report."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).parents[1]
CARD = REPO / "models" / "met_gnn.toml"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "CODESIGN_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "codesign.cli", "run", str(CARD), "--preset", "tiny"], cwd=home, env=env,
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    from codesign import flow

    os.environ["CODESIGN_HOME"] = str(home)
    try:
        yield flow.Point.from_file(CARD, "tiny")
    finally:
        del os.environ["CODESIGN_HOME"]


@pytest.mark.slow
def test_met_tiny_bit_exact_everywhere(tiny):
    hls, cosim = tiny.record("hls"), tiny.record("cosim")
    assert hls["vectors"] == 200 and hls["mismatches"] == 0
    for sim in ("icarus", "verilator"):
        assert cosim[sim]["vectors"] == 200 and cosim[sim]["mismatches"] == 0 and cosim[sim]["passed"]
    core = tiny.record("rtl")["core"]
    assert core["ii"] == 1 and core["ports"][0]["elements"] == 16 * 8 and core["ports"][1]["elements"] == 2


@pytest.mark.slow
def test_met_reference_is_the_quantized_models_output(tiny):
    from codesign.quant.train import load_model

    ref = dict(np.load(tiny.train_dir / "reference.npz"))
    model = load_model(tiny.train_dir / "model.keras")
    np.testing.assert_array_equal(model.predict(ref["x"][:300], verbose=0), ref["y"][:300])  # exact, not close
    # An event whose candidates are all padding (zero candidates) gives MET exactly 0.
    assert (model.predict(np.zeros((1, *ref["x"].shape[1:]), np.float32), verbose=0) == 0).all()


@pytest.mark.slow
def test_met_metrics_report_and_bundle(tiny):
    m = json.loads((tiny.train_dir / "metrics.json").read_text())
    met = m["met"]
    assert set(met["methods"]) >= {"puppi", "float network", "quantized network"}
    # Training starts at PUPPI over the N candidates (zero correction) and the loss pins the response
    # to 1; PUPPI over the leading 16 alone has a low response (softer candidates are cut), so a
    # network that learned something has moved its response toward 1 (tiny is no physics test).
    topn = met["overall"]["puppi top 16"]["response"]
    assert abs(met["overall"]["quantized network"]["response"] - 1) < abs(topn - 1)
    assert 0 < m["headline_ratio_to_puppi"]["all"] < 2
    index = (tiny.report_dir / "index.html").read_text()
    assert "ratio_to_puppi.png" in index and (tiny.report_dir / "ratio_to_puppi.png").stat().st_size > 10_000
    manifest = json.loads((tiny.bundle_dir / "manifest.json").read_text())
    assert "headline_ratio_to_puppi" in manifest["physics"]
    assert "MET (px, py)" in (tiny.bundle_dir / "README.md").read_text()
