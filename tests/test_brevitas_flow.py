"""The Brevitas twin of the jet tagger through the whole flow (tiny preset): C-sim and RTL co-sim
bit-exact, a bundle that says which path it took; a user's QONNX file through the CLI, refused
when unsafe, with an override."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import codesign

from codesign.card import Card, load_card
from codesign.errors import CodesignError
from codesign.rtl.cosim import toggle_cover

REPO = Path(__file__).parents[1]
CARD = REPO / "models" / "jet_tagger_mlp.toml"


def brevitas_card() -> Card:
    """The jet tagger card's tiny preset, frontend brevitas; open synthesis off (Yosys takes ~2 min
    and is covered by the Keras flow test: the estimate stage is frontend-blind)."""
    return (
        load_card(CARD)
        .with_preset("tiny")
        .with_overrides({"model.frontend": "brevitas", "firmware.open_synthesis": False})
    )


@pytest.fixture(scope="module")
def point(tmp_path_factory):
    from codesign import flow

    home = tmp_path_factory.mktemp("home_bv")
    os.environ["CODESIGN_HOME"] = str(home)
    try:
        p = flow.Point(brevitas_card())
        flow.run(p, until="package")
        yield p
    finally:
        del os.environ["CODESIGN_HOME"]


@pytest.mark.slow
def test_brevitas_jet_tagger_bit_exact_with_bundle(point):
    assert (point.train_dir / "model.onnx").exists() and not (point.train_dir / "model.keras").exists()
    assert point.record("train")["accuracy"] > 0.5  # 5 classes: chance is 0.2
    hls = point.record("hls")
    assert hls["vectors"] >= 1000 and hls["mismatches"] == 0 and hls["path"].startswith("QONNX ->")
    cosim = point.record("cosim")
    assert cosim["verilator"]["vectors"] >= 1000  # every vector; Icarus, the slow second opinion, a sample:
    assert cosim["icarus"]["vectors"] == len(toggle_cover(point.stage_dir("rtl"), point.card.firmware.icarus_vectors))
    for sim in ("icarus", "verilator"):
        assert cosim[sim]["mismatches"] == 0 and cosim[sim]["passed"]
    manifest = json.loads((point.bundle_dir / "manifest.json").read_text())
    assert manifest["frontend"]["frontend"] == "brevitas"
    assert "hls4ml ONNX converter" in manifest["frontend"]["hls"] and "QONNX graph" in manifest["frontend"]["rtl"]
    assert manifest["bit_exact"]["rtl_icarus"] == {"vectors": cosim["icarus"]["vectors"], "mismatches": 0}
    assert "hls/build_prj.tcl" in manifest["sha256"] and manifest["physics"]["accuracy"] > 0.5


@pytest.mark.slow
def test_brevitas_path_can_fail(point, tmp_path):
    """The checks are not vacuous on this path: one LSB off in the reference fails C-sim and the
    da4ml emulation, naming the event; a changed weight in the QONNX graph fails C-sim."""
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.hls.qonnx_frontend import build_hls
    from codesign.rtl.emit import emit_traced
    from codesign.rtl.qonnx_trace import trace_qonnx

    onnx = point.train_dir / "model.onnx"
    ref = dict(np.load(point.train_dir / "reference.npz"))
    bad = {**ref, "y": ref["y"].copy()}
    bad["y"][17, 3] += 2.0**-8  # one LSB of the logits' grid (brevitas_mlp.output_fractional = 8)
    (tmp_path / "hls").mkdir()
    with pytest.raises(CodesignError, match=r"HLS C-simulation .*1/200 events differ.*event 17, output 3"):
        build_hls(onnx, point.card, bad, tmp_path / "hls", 200)
    with pytest.raises(CodesignError, match=r"da4ml emulation.*1/200 events differ.*event 17, output 3"):
        emit_traced(*trace_qonnx(onnx), bad["x"][:200], bad["y"][:200], tmp_path / "rtl")

    mw = ModelWrapper(str(onnx))
    name = next(i.name for i in mw.graph.initializer if mw.get_initializer(i.name).ndim == 2)
    w = mw.get_initializer(name).copy()
    w.flat[int(np.argmax(np.abs(w)))] *= -1  # flip the sign of the largest weight
    mw.set_initializer(name, w)
    mw.save(str(tmp_path / "changed.onnx"))
    (tmp_path / "hls2").mkdir()
    with pytest.raises(CodesignError, match=r"events differ from the Python reference"):
        build_hls(tmp_path / "changed.onnx", point.card, ref, tmp_path / "hls2", 200)


@pytest.mark.slow
def test_user_onnx_through_the_cli(point, tmp_path):
    """A user's QONNX file (here: the one the Brevitas point exported) with the card's tiny firmware
    settings: reference by qonnx execution, C-sim and da4ml emulation bit-exact."""
    user = tmp_path / "My-Tagger.onnx"
    shutil.copy(point.train_dir / "model.onnx", user)
    for stage in ("hls", "rtl"):  # the second reuses the first's train stage (same key)
        r = codesign(stage, "--onnx", str(user), str(CARD), "--preset", "tiny", home=tmp_path, check=False)
        assert r.returncode == 0, r.stderr[-3000:]
    assert "train     cached" in r.stderr
    train = json.loads(next((tmp_path / "build" / "train").glob("my_tagger-*/stage.json")).read_text())
    assert train["frontend"] == "qonnx file" and train["n_test"] == 1000  # the tiny preset's cosim_vectors
    hls = json.loads(next((tmp_path / "build" / "points").glob("my_tagger-*/hls/stage.json")).read_text())
    assert hls["vectors"] == 1000 and hls["mismatches"] == 0
    rtl = json.loads(next((tmp_path / "build" / "points").glob("my_tagger-*/rtl/stage.json")).read_text())
    assert (
        rtl["core"]["vectors"]["count"] == 1000
        and rtl["path"] == "QONNX -> da4ml trace of the QONNX graph (rtl/qonnx_trace.py)"
    )
    assert not (tmp_path / "build" / "data").exists()  # a user's model needs no data stage
    ref = np.load(next((tmp_path / "build" / "train").glob("my_tagger-*/reference.npz")))
    assert np.abs(ref["x"]).max() >= 7.9  # half the vectors span the input quantizer's range (fixed<12,4>)


def _fixed_input_float_weights(path: Path):
    """A model the guard refuses: fixed-point input, Brevitas' default float-scale weights and ReLU."""
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU

    from codesign.quant.train_torch import export_qonnx
    from codesign.zoo import brevitas_mlp

    torch.manual_seed(0)
    q = brevitas_mlp.quantizers(brevitas_card())
    model = torch.nn.Sequential(QuantIdentity(act_quant=q["input"], return_quant_tensor=True),
                                QuantLinear(16, 16, bias=True), QuantReLU(), QuantLinear(16, 5, bias=True))  # fmt: skip
    export_qonnx(model, 16, path)


@pytest.mark.sim
def test_unsafe_user_onnx_refused_then_overridden(tmp_path):
    onnx = tmp_path / "float_w.onnx"
    _fixed_input_float_weights(onnx)
    home = tmp_path / "home"
    home.mkdir()
    r = codesign("hls", "--onnx", str(onnx), home=home, check=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "node 'Quant_1' (weight quantizer of Gemm 'Gemm_0'): scale" in r.stderr
    assert "use Int8WeightPerTensorFixedPoint" in r.stderr
    assert list(home.iterdir()) == []  # nothing written

    r = codesign("hls", "--onnx", str(onnx), "--allow-unsafe", home=home, check=False)
    assert "WARNING (--allow-unsafe)" in r.stderr and "Quant_1" in r.stderr
    # Past the guard, hls4ml converts the graph; C-sim then shows it computes something else.
    assert r.returncode == 2 and "HLS C-simulation of float_w" in r.stderr and "events differ" in r.stderr, r.stderr[
        -2000:
    ]
