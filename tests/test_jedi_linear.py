"""JEDI-linear-style HGQ2 tagger (zoo/jedi_linear.py): the sum over particles is wiring + adders, bit-exact in da4ml."""

import json

import numpy as np
import pytest
from conftest import REPO, codesign

from codesign.fixedpoint import to_grid
from codesign.rtl.emit import emulate, latency_cutoff, trace
from codesign.verify import require_exact
from codesign.zoo import jedi_linear


def test_trace_is_bit_exact_and_permutation_invariant():
    from da4ml.trace import to_pipeline

    n = 4
    model = jedi_linear.build(n, 5, hidden=4, latent=4)
    x = to_grid(np.random.default_rng(1).normal(size=(100, n, 3)), (1, 2, 5))
    y = model.predict(x, verbose=0)
    assert np.abs(y).max() > 0
    np.testing.assert_array_equal(model.predict(x[:, ::-1], verbose=0), y)  # the sum ignores particle order
    pipe = to_pipeline(trace(model), latency_cutoff(5.0), verbose=False)
    assert (
        require_exact(y.astype(np.float64), emulate(pipe, x.reshape(len(x), -1).astype(np.float64)), "jedi core") == 100
    )


CARD = REPO / "models" / "jet_tagger_jedi.toml"


@pytest.mark.slow
def test_card_runs_the_whole_flow_bit_exact(tmp_path):
    """The zoo card (8 particles, tiny): C-sim and both simulators on every one of the 1050 test jets."""
    codesign("run", str(CARD), "--preset", "tiny", home=tmp_path)
    point_dir = next((tmp_path / "build" / "points").glob("jet_tagger_jedi-*"))
    hls = json.loads((point_dir / "hls" / "stage.json").read_text())
    assert hls["vectors"] == 1050 and hls["mismatches"] == 0
    cosim = json.loads((point_dir / "cosim" / "stage.json").read_text())
    for sim in ("icarus", "verilator"):
        assert cosim[sim]["vectors"] == 1050 and cosim[sim]["mismatches"] == 0 and cosim[sim]["passed"]
    core = json.loads((point_dir / "rtl" / "stage.json").read_text())["core"]
    assert core["ports"][0]["elements"] == 8 * 3 and core["estimate"]["dsp"] == 0  # constant weights only
    assert "8 constituents x 3 features" in next((tmp_path / "firmware" / "ip").glob("*/README.md")).read_text()


def test_card_must_read_constituents(tmp_path):
    """A jedi_linear card on the 16 features stops at load with the field named, writing nothing."""
    bad = tmp_path / "bad.toml"
    bad.write_text(CARD.read_text().replace('inputs = "constituents"', 'inputs = "features"'))
    r = codesign("train", str(bad), "--preset", "tiny", home=tmp_path, check=False)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert "bad.toml" in last and "data.inputs" in last and "constituents" in last
    assert not (tmp_path / "build").exists()
