"""da4ml RTL of a small HGQ2 MLP: emitted, co-simulated bit-exactly in Icarus and Verilator, synthesised by Yosys."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from da4ml.types import CombLogic

from codesign import flow
from codesign.card import Card
from codesign.errors import CodesignError
from codesign.estimate.yosys import synth_xilinx
from codesign.fixedpoint import to_grid
from codesign.rtl.cosim import SIM_DIR, run_cosim
from codesign.rtl.emit import emit_rtl, emit_saved, save_trace, trace
from codesign.zoo import mlp

N = 2000


@pytest.fixture(scope="module")
def trained():
    import keras

    card = Card(name="t", model={"frontend": "hgq2", "hidden": [16, 8]})
    model = mlp.build(card, 16, 5)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = to_grid(np.random.default_rng(0).normal(size=(N, 16)), mlp.input_format(card))
    model.fit(x, (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0), epochs=2, verbose=0)
    return model, x, model.predict(x, verbose=0)


@pytest.fixture(scope="module")
def core_dir(trained, tmp_path_factory):
    model, x, y = trained
    out = tmp_path_factory.mktemp("rtl") / "core"
    emit_rtl(model, x, y, out, clock_ns=5.0, name="tiny_core")
    return out


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("simbuild")


def test_core_description(core_dir, trained):
    core = json.loads((core_dir / "core.json").read_text())
    assert core["top"] == "tiny_core" and core["rtl_files"][0] == "tiny_core.v"
    assert all((core_dir / "rtl" / f).exists() for f in core["rtl_files"])
    assert core["ii"] == 1 and core["latency_cycles"] >= 1
    assert core["latency_ns"] == core["latency_cycles"] * 5.0
    assert core["estimate"]["source"] == "da4ml cost model" and core["estimate"]["lut"] > 0
    inp, out = core["ports"]
    assert (inp["elements"], out["elements"]) == (16, 5)
    raw = np.loadtxt(core_dir / "vectors" / "inputs.txt", dtype=np.int64)
    assert raw.shape == (N, 16)
    np.testing.assert_array_equal(raw * 2.0 ** -inp["fractional"], trained[1])  # raw integers round-trip exactly
    exp = np.loadtxt(core_dir / "vectors" / "expected.txt", dtype=np.int64)
    np.testing.assert_array_equal(exp * 2.0 ** -out["fractional"], trained[2])


@pytest.mark.sim
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_cosim_bit_exact(core_dir, build_dir, simulator):
    r = run_cosim(core_dir, simulator, build_dir)
    assert r["passed"] and r["vectors"] == N and r["mismatches"] == 0
    again = run_cosim(core_dir, simulator, build_dir, max_vectors=100)
    assert again["build_s"] == 0 and again["vectors"] == 100  # same RTL: build reused


@pytest.mark.sim
def test_cosim_names_first_mismatch(core_dir, build_dir, tmp_path):
    bad = tmp_path / "core"
    shutil.copytree(core_dir, bad)
    rows = (bad / "vectors" / "expected.txt").read_text().splitlines()
    vals = rows[17].split()
    vals[3] = str(int(vals[3]) + 1)
    rows[17] = " ".join(vals)
    (bad / "vectors" / "expected.txt").write_text("\n".join(rows) + "\n")
    with pytest.raises(CodesignError, match=r"1/2000 events differ; first: event 17, output 3: expected 0b\d+ \(raw"):
        run_cosim(bad, "verilator", build_dir)
    # a sample of events (Icarus's toggle cover) is named by the events' own indices, and sees only its own
    with pytest.raises(CodesignError, match=r"1/3 events differ; first: event 17, output 3"):
        run_cosim(bad, "verilator", build_dir, events=[1999, 17, 4])
    assert run_cosim(bad, "verilator", build_dir, events=[1999, 16, 4])["vectors"] == 3
    with pytest.raises(CodesignError, match=r"event 2000: not one of the 2000 test vectors"):
        run_cosim(bad, "verilator", build_dir, events=[3, 2000])


@pytest.mark.sim
def test_bundle_makefile_runs_standalone(core_dir, build_dir, tmp_path):
    """An IP bundle: core.json, rtl/, vectors/, sim/ and the Makefile; `make sim` without codesign."""
    bundle = tmp_path / "bundle"
    shutil.copytree(core_dir, bundle)
    shutil.copytree(SIM_DIR, bundle / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(SIM_DIR / "Makefile", bundle / "Makefile")
    cmd = ["make", "sim", "SIM=verilator", f"PYTHON={sys.executable}", f"BUILD_DIR={build_dir}", "MAX_VECTORS=300"]
    proc = subprocess.run(cmd, cwd=bundle, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "verilator: PASS 300 vectors, 0 mismatches" in proc.stdout
    (bundle / "vectors" / "icarus_events.txt").write_text("5\n1999\n17\n")  # as write_bundle lists them
    proc = subprocess.run([*cmd[:-1], "EVENTS=vectors/icarus_events.txt"], cwd=bundle, capture_output=True, text=True)
    assert "verilator: PASS 3 vectors, 0 mismatches" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    (bundle / "vectors" / "bad.txt").write_text("5\nseventeen\n")
    proc = subprocess.run([*cmd[:-1], "EVENTS=vectors/bad.txt"], cwd=bundle, capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "--events vectors/bad.txt: expected a file of event indices, one integer per line" in proc.stderr


def test_emit_rejects_reference_the_core_does_not_compute(trained, tmp_path):
    model, x, y = trained
    y = y.copy()
    y[17, 3] += 2.0**-8
    with pytest.raises(CodesignError, match=r"da4ml emulation.*1/2000 events differ.*event 17, output 3"):
        emit_rtl(model, x, y, tmp_path / "core")
    assert not (tmp_path / "core").exists()


def test_a_saved_trace_writes_the_same_core_without_the_model(trained, core_dir, tmp_path):
    model, x, y = trained
    save_trace(model, tmp_path / "trace.json")

    def no_model():
        raise AssertionError("the model was loaded")

    emit_saved(tmp_path / "trace.json", no_model, x, y, tmp_path / "core", clock_ns=5.0, name="tiny_core")

    def contents(d):
        return {f.relative_to(d): f.read_bytes() for f in d.rglob("*") if f.is_file()}

    assert contents(core_dir) and contents(tmp_path / "core") == contents(core_dir)  # RTL, vectors, core.json


def test_a_saved_trace_still_rejects_a_reference_the_core_does_not_compute(trained, tmp_path):
    model, x, y = trained
    y = y.copy()
    y[17, 3] += 2.0**-8
    save_trace(model, tmp_path / "trace.json")
    loaded = []
    with pytest.raises(CodesignError, match=r"da4ml emulation.*1/2000 events differ.*event 17, output 3"):
        emit_saved(tmp_path / "trace.json", lambda: loaded.append(1) or model, x, y, tmp_path / "core")
    assert loaded == [1] and not (tmp_path / "core").exists()  # the model, loaded to name a diverging layer


def test_emit_rejects_input_off_the_grid(trained, tmp_path):
    model, x, y = trained
    x = x.copy()
    x[5, 2] += 2.0**-20
    with pytest.raises(CodesignError, match=r"input event 5, element 2: value .* not representable"):
        emit_rtl(model, x, y, tmp_path / "core")


@pytest.mark.yosys
def test_yosys_estimate(core_dir, tmp_path):
    core = json.loads((core_dir / "core.json").read_text())
    r = synth_xilinx(core_dir / "rtl", core["top"], out_dir=tmp_path)
    assert r["source"] == "yosys 0.23 synth_xilinx -family xcup (open synthesis, not Vivado)"
    assert r["lut"] > 0 and r["ff"] > 0 and r["dsp"] == 0 and Path(r["log"]).exists()
    assert 0.5 < r["lut"] / core["estimate"]["lut"] < 2  # open synthesis and da4ml's model roughly agree


def test_yosys_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CodesignError, match="yosys: not found"):
        synth_xilinx(tmp_path, "top")


def test_untraceable_model_is_named(tmp_path):
    """A quantizer rounding ties-to-even (RND_CONV) cannot be traced by da4ml 0.6: a clear error, no core."""
    import keras
    from hgq.config import QuantizerConfig
    from hgq.layers import QDense

    x_in = keras.Input((16,))
    iq = QuantizerConfig("kif", "datalane", i0=3, f0=8, round_mode="RND_CONV", overflow_mode="SAT", trainable=False)
    model = keras.Model(x_in, QDense(5, iq_conf=iq)(x_in), name="t")
    x = to_grid(np.zeros((4, 16)), (1, 3, 8))
    with pytest.raises(CodesignError, match=r"da4ml cannot trace model 't': assert round_mode"):
        emit_rtl(model, x, model.predict(x, verbose=0), tmp_path / "core")
    assert not (tmp_path / "core").exists()
    # the train stage saves no trace of it, and trains on: the rtl stage, tracing again, says the above
    model.save(tmp_path / "model.keras")
    assert flow._save_trace(_mlp_point(), tmp_path) == {} and not (tmp_path / flow.TRACE).exists()


def _mlp_point():
    return flow.Point.from_file(Path(__file__).parents[1] / "models" / "jet_tagger_mlp.toml", "tiny")


def test_the_train_stage_saves_the_trace_the_rtl_stage_reads(trained, tmp_path):
    trained[0].save(tmp_path / "model.keras")
    assert flow._save_trace(_mlp_point(), tmp_path) == {"da4ml_trace": flow.TRACE}
    assert CombLogic.load(tmp_path / flow.TRACE) == trace(trained[0])


def test_qkeras_frontend_reaches_rtl_bit_exact(tmp_path):
    """The QKeras-API build of a card traces through da4ml and its emulation equals Keras."""
    card = Card(name="tq", model={"frontend": "qkeras", "hidden": [8]})
    model = mlp.build(card, 16, 5)
    x = to_grid(np.random.default_rng(3).normal(size=(1000, 16)), mlp.input_format(card))
    core = emit_rtl(model, x, model.predict(x, verbose=0), tmp_path / "core")
    assert core["vectors"]["count"] == 1000 and core["ii"] == 1
