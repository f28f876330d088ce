"""The MET interaction network end to end on the tiny preset: bit-exact at C-sim and RTL, physics report."""

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).parents[1]
CARD = REPO / "models" / "met_gnn.toml"


@pytest.fixture(scope="module")
def point(tiny):
    return tiny[1]


@pytest.mark.slow
def test_met_tiny_bit_exact_everywhere(point):
    hls, cosim = point.record("hls"), point.record("cosim")
    assert hls["vectors"] == 200 and hls["mismatches"] == 0
    for sim in ("icarus", "verilator"):
        assert cosim[sim]["vectors"] == 200 and cosim[sim]["mismatches"] == 0 and cosim[sim]["passed"]
    core = point.record("rtl")["core"]
    assert core["ii"] == 1 and core["ports"][0]["elements"] == 16 * 8 and core["ports"][1]["elements"] == 2


@pytest.mark.slow
def test_met_reference_is_the_quantized_models_output(point):
    from codesign.zoo.load import load_model

    ref = dict(np.load(point.train_dir / "reference.npz"))
    model = load_model(point.train_dir / "model.keras")
    np.testing.assert_array_equal(model.predict(ref["x"][:300], verbose=0), ref["y"][:300])  # exact, not close
    # An event whose candidates are all padding (zero candidates) gives MET exactly 0.
    assert (model.predict(np.zeros((1, *ref["x"].shape[1:]), np.float32), verbose=0) == 0).all()


@pytest.mark.slow
def test_met_metrics_report_and_bundle(point):
    m = json.loads((point.train_dir / "metrics.json").read_text())
    met = m["met"]
    assert set(met["methods"]) >= {"puppi", "float network", "quantized network"}
    # Training starts at PUPPI over the N candidates (zero correction) and the loss pins the response
    # to 1; PUPPI over the leading 16 alone has a low response (softer candidates are cut), so a
    # network that learned something has moved its response toward 1 (tiny is no physics test).
    topn = met["overall"]["puppi top 16"]["response"]
    assert abs(met["overall"]["quantized network"]["response"] - 1) < abs(topn - 1)
    assert 0 < m["headline_ratio_to_puppi"]["all"] < 2
    index = (point.report_dir / "index.html").read_text()
    assert "ratio_to_puppi.png" in index and (point.report_dir / "ratio_to_puppi.png").stat().st_size > 10_000
    manifest = json.loads((point.bundle_dir / "manifest.json").read_text())
    assert "headline_ratio_to_puppi" in manifest["physics"]
    assert "MET (px, py)" in (point.bundle_dir / "README.md").read_text()


@pytest.mark.slow
def test_met_sweep_records_points_done_with_met_figures(tiny, tmp_path):
    """A tiny MET sweep: every point done, with the MET figures (once every point failed on 'roc_auc')."""
    import sqlite3

    from conftest import codesign

    home, _ = tiny
    spec = tmp_path / "met_sweep.toml"
    spec.write_text(f'name = "met_tiny"\ncard = "{CARD}"\npreset = "tiny"\ntargets = ["rtl"]\n'
                    '[axes]\n"firmware.clock_ns" = [5.0, 4.0]\n'
                    '[search]\nobjectives = ["resolution_ratio:min", "lut:min"]\n')  # fmt: skip
    codesign("sweep", spec, "--workers", "1", home=home)
    with sqlite3.connect(home / "build" / "sweeps" / "met_tiny" / "results.sqlite") as c:
        rows = c.execute("SELECT status, metrics, error FROM points").fetchall()
    assert len(rows) == 2 and all(status == "done" for status, _, _ in rows), rows
    m = json.loads(rows[0][1])
    assert 0 < m["resolution_ratio"] < 2 and m["resolution_xy"] > 0 and m["lut"] > 0
    train = json.loads((tiny[1].train_dir / "metrics.json").read_text())
    assert m["resolution_ratio"] == train["headline_ratio_to_puppi"]["all"]
    # The objective is checked against the MET kind's figures: a classifier figure is refused.
    spec.write_text(spec.read_text().replace("resolution_ratio:min", "accuracy:max"))
    r = codesign("sweep", spec, home=home, check=False)
    assert r.returncode == 2 and "model kind 'met_gnn' has no figure 'accuracy'" in r.stderr
