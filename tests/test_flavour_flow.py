"""The L1 flavour tagger (attention with ParT's pair bias) through the whole flow, bit-exact."""

import json
from pathlib import Path

import pytest
from conftest import codesign

REPO = Path(__file__).parents[1]
CARD = REPO / "models" / "flavour_l1.toml"


@pytest.fixture(scope="module")
def point(tiny):
    return tiny[1]


@pytest.mark.slow
def test_csim_and_both_simulators_bit_exact(point):
    hls = point.record("hls")
    assert hls["vectors"] == 300 and hls["mismatches"] == 0
    cosim = point.record("cosim")
    # Verilator checks every vector, Icarus the card's icarus_vectors (it is the slow one on large cores).
    for sim, n in (("icarus", 150), ("verilator", 300)):
        assert cosim[sim]["vectors"] == n and cosim[sim]["mismatches"] == 0 and cosim[sim]["passed"]


@pytest.mark.slow
def test_core_has_attention_tables_and_cost(point):
    core = point.record("rtl")["core"]
    assert core["ii"] == 1 and core["latency_cycles"] > 1
    assert core["mem_files"]  # the softmax exp / inverse tables
    assert core["estimate"]["lut"] > 0 and core["estimate"]["dsp"] > 0  # Q·Kᵀ and A·V products


@pytest.mark.slow
def test_flavour_metrics_and_report(point):
    m = json.loads((point.train_dir / "metrics.json").read_text())
    fl = m["flavour"]
    assert set(fl["auc"]) == {"b_vs_light", "b_vs_c", "c_vs_light", "c_vs_b"}
    assert fl["auc"]["b_vs_light"] > 0.6  # 4 epochs on ~1k jets already use the impact parameters
    assert set(fl["mistag_light"]) == {"70", "85"} and "30-50" in fl["mistag_light"]["70"]
    page = (point.report_dir / "index.html").read_text()
    assert "light mistag at 70% b eff, pT 30-50" in page and "ROC AUC b vs light" in page
    assert (point.bundle_dir / "manifest.json").exists()


@pytest.mark.slow
def test_latent_attention_card_bit_exact(tmp_path):
    """The latent-attention form (linear in N) through the whole flow: C-sim and both simulators exact."""
    codesign("run", str(REPO / "models" / "flavour_l1_latent.toml"), "--preset", "tiny", home=tmp_path)
    point_dir = next((tmp_path / "build" / "points").glob("flavour_l1_latent-*"))
    hls = json.loads((point_dir / "hls" / "stage.json").read_text())
    assert hls["vectors"] == 300 and hls["mismatches"] == 0
    cosim = json.loads((point_dir / "cosim" / "stage.json").read_text())
    for sim, n in (("icarus", 150), ("verilator", 300)):
        assert cosim[sim]["vectors"] == n and cosim[sim]["mismatches"] == 0 and cosim[sim]["passed"]


@pytest.mark.slow
def test_bundle_readme_names_the_flavour_ports(point):
    """The bundle README says what this core's ports carry, not the 5-class jet MLP's (a defect once)."""
    readme = (point.bundle_dir / "README.md").read_text()
    assert "4 class logits (b, c, light, g)" in readme and "4 candidates" in readme
    assert "16 jet features" not in readme and "(g, q, W, Z, t)" not in readme
    assert json.loads((point.bundle_dir / "manifest.json").read_text())["model_kind"] == "flavour_l1"
