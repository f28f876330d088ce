"""A user's own model file (`codesign run --model FILE --vectors SPEC`): to verified IP, or refused in one line.

The models are built here (tests/own_models.py): shapes and widths no zoo card has.
"""

import json
import re

import numpy as np
import pytest
from conftest import codesign, in_home
from own_models import hgq2_model, on_grid, write_vectors

from codesign.errors import CodesignError


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """(folder, .keras file, --vectors specs) of an HGQ2 model and 300 events in .npy, HDF5 and ROOT."""
    folder = tmp_path_factory.mktemp("user")
    hgq2_model().save(folder / "user_net.keras")
    return folder, folder / "user_net.keras", write_vectors(on_grid(300), folder)


def _records(home, what="points"):
    return {p.parent.name: json.loads(p.read_text()) for p in (home / "build" / what).glob("*/*/stage.json")}


@pytest.mark.slow
@pytest.mark.sim
def test_keras_file_to_ip_bundle_with_root_vectors(user, tmp_path):
    """HGQ2 .keras + ROOT vectors: C-sim, da4ml, Icarus and Verilator all at 0 mismatches, bundle written."""
    _, model, vectors = user
    codesign("run", "--model", model, "--vectors", vectors["root"], "--until", "package", home=tmp_path)
    recs = _records(tmp_path)
    assert recs["hls"]["vectors"] == 300 and recs["hls"]["mismatches"] == 0
    for sim in ("icarus", "verilator"):
        assert recs["cosim"][sim]["mismatches"] == 0 and recs["cosim"][sim]["vectors"] == 300
    (bundle,) = (tmp_path / "firmware" / "ip").iterdir()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["frontend"]["frontend"] == "user keras file"
    ref = np.load(next((tmp_path / "build" / "train").iterdir()) / "reference.npz")
    assert np.array_equal(ref["x"], np.load(vectors["npy"]).astype(np.float32))  # the user's events, in order


@pytest.mark.sim
def test_qonnx_file_with_hdf5_vectors(user, tmp_path):
    """The same events from HDF5, for a Brevitas QONNX export of the same shapes: C-sim and da4ml emulation exact;
    with an accumulator forced too narrow, the diagnosis names the ONNX node."""
    import torch

    from codesign.card import Card
    from codesign.quant.train_torch import export_qonnx
    from codesign.zoo import brevitas_mlp

    folder, _, vectors = user
    torch.manual_seed(0)
    card = Card(name="b", model={"frontend": "brevitas", "hidden": [11]})
    export_qonnx(brevitas_mlp.build(card, 7, 3), 7, folder / "brevitas_net.onnx")
    codesign("rtl", "--model", folder / "brevitas_net.onnx", "--vectors", vectors["h5"], home=tmp_path)
    codesign("hls", "--model", folder / "brevitas_net.onnx", "--vectors", vectors["h5"], home=tmp_path)
    recs = _records(tmp_path)
    assert recs["hls"]["vectors"] == 300 and recs["hls"]["mismatches"] == 0
    assert recs["rtl"]["core"]["vectors"]["count"] == 300  # da4ml's emulation was checked on all of them

    card = tmp_path / "narrow.toml"  # the second layer's accumulator forced too narrow: named, with its cause
    card.write_text('name = "narrow"\n[firmware]\nhls_precision = { "Dense_MatMul_1.accum" = "fixed<8,0>" }\n')
    r = codesign("hls", card, "--model", folder / "brevitas_net.onnx", "--vectors", vectors["h5"], home=tmp_path,
                 check=False)  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert (
        "first diverging layer 'MatMul_1' (MatMul; firmware: Dense_MatMul_1)" in r.stderr and "too narrow" in r.stderr
    )


def test_corrupt_files_are_one_line(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage that is not protobuf\xff\xff")
    (tmp_path / "bad.keras").write_text("not a zip")
    for f, what in (("bad.onnx", "not an ONNX model file"), ("bad.keras", "not a Keras 3 model file")):
        r = codesign("hls", "--model", tmp_path / f, home=tmp_path, check=False)
        assert r.returncode == 2 and "Traceback" not in r.stderr and what in r.stderr
        errors = [line for line in r.stderr.splitlines() if line.startswith("codesign: error:")]
        assert len(errors) == 1 and what in errors[0]  # one line (TensorFlow's start-up chatter aside)


def test_missing_branch_is_one_line(user, tmp_path):
    folder, model, vectors = user
    r = codesign("hls", "--model", model, "--vectors", f"{folder}/v.root:Events:x0,x1,pt", home=tmp_path, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "tree 'Events' has no branch 'pt'" in r.stderr and not (tmp_path / "build").exists()


def _refusal(model, tmp_path, vectors=None) -> str:
    from codesign import flow

    model.save(tmp_path / "m.keras")
    with in_home(tmp_path), pytest.raises(CodesignError) as e:
        flow.Point.from_model(tmp_path / "m.keras", vectors=vectors)
        flow.run(flow.Point.from_model(tmp_path / "m.keras", vectors=vectors), until="train")
    assert "\n" not in str(e.value)
    return str(e.value)


def test_float_model_refused(tmp_path):
    import keras

    x = keras.Input((4,))
    msg = _refusal(keras.Model(x, keras.layers.Dense(2, name="fc")(x)), tmp_path)
    assert "layer 'fc' (Dense): unquantized (float) layer" in msg and "QDense" in msg


def test_unsupported_layer_refused(tmp_path):
    import keras
    from hgq.layers import QDense

    x = keras.Input((4,))
    h = QDense(3, name="q")(x)
    msg = _refusal(keras.Model(x, keras.layers.LayerNormalization(name="norm")(h)), tmp_path)
    assert "layer 'norm' (LayerNormalization): neither hls4ml nor da4ml" in msg


def test_no_input_quantizer_refused(tmp_path):
    import keras
    from hgq.layers import QDense

    x = keras.Input((4,))
    msg = _refusal(keras.Model(x, QDense(3, name="q", enable_iq=False)(x)), tmp_path)
    assert "layer 'q' reads the model input without an input quantizer" in msg


def test_vectors_of_wrong_shape_and_off_grid(user, tmp_path):
    folder, _, _ = user
    np.save(tmp_path / "short.npy", on_grid(5)[:, :6])
    msg = _refusal(hgq2_model(), tmp_path, vectors=str(tmp_path / "short.npy"))
    assert "each event has shape (6,), the model's input takes (7,)" in msg
    x = on_grid(5)
    x[3, 4] = 0.3  # not a multiple of 2**-5
    np.save(tmp_path / "off.npy", x)
    msg = _refusal(hgq2_model(), tmp_path, vectors=str(tmp_path / "off.npy"))
    assert "event 3, element 4: value 0.3 is not on its grid" in msg


@pytest.mark.slow
@pytest.mark.sim
def test_qkeras_h5_to_ip_bundle_with_hdf5_vectors(user, tmp_path):
    """A QKeras 0.9 .h5 built by the real QKeras (isolated env), half-to-even rounding: its QONNX form equals
    QKeras on every vector and layer, then C-sim, da4ml, Icarus and Verilator at 0 mismatches."""
    from own_models import qkeras_h5

    folder, _, vectors = user
    qkeras_h5(folder / "qk_net.h5")
    codesign("run", "--model", folder / "qk_net.h5", "--vectors", vectors["h5"], "--until", "package", home=tmp_path)
    recs = _records(tmp_path)
    assert recs["hls"]["mismatches"] == 0 and recs["hls"]["vectors"] == 300
    assert all(
        recs["cosim"][s]["mismatches"] == 0 and recs["cosim"][s]["vectors"] == 300 for s in ("icarus", "verilator")
    )
    train = json.loads(next((tmp_path / "build" / "train").glob("qk_net-*/metrics.json")).read_text())
    assert train["frontend"] == "qkeras 0.9 file" and "QKeras 0.9" in train["reference"]


def _h5_with_config(path, layers: list) -> None:
    import h5py

    cfg = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"name": "x", "batch_input_shape": [None, 4]}, "inbound_nodes": []},
        *layers]}}  # fmt: skip
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)


@pytest.mark.parametrize(
    "layer, message",
    [
        ({"class_name": "Lambda", "config": {"name": "code"}}, "layer 'code' (Lambda): carries Python code"),
        ({"class_name": "Dense", "config": {"name": "fc"}}, "layer 'fc' (Dense): unquantized (float) layer"),
        ({"class_name": "QActivation", "config": {"name": "q", "activation": "quantized_bits(8, 2, alpha='auto_po2')"}},
         "alpha='auto_po2' scales per channel"),
        ({"class_name": "QDense", "config": {"name": "d", "units": 2, "kernel_quantizer": "quantized_bits(4, 0, alpha=1)",
                                               "bias_quantizer": "quantized_bits(8, 2, alpha=1)"}},
         "layer 'd' reads the model input without an input quantizer"),
    ],
)  # fmt: skip
def test_qkeras_h5_refused_from_its_config(tmp_path, layer, message):
    """Read from the file's JSON config, before QKeras (or anything of the file) runs."""
    from codesign import flow

    _h5_with_config(tmp_path / "m.h5", [{**layer, "inbound_nodes": [[["x", 0, 0, {}]]]}])
    with pytest.raises(CodesignError, match=re.escape(message)):
        flow.Point.from_model(tmp_path / "m.h5")


@pytest.mark.slow
def test_sweep_of_a_user_model_over_hls_precision(user, tmp_path):
    """A sweep spec names `model = ...`: every point is C-simulated and costed into the store. The point whose
    override forces an accumulator too narrow fails, and the diagnosis names that layer: the second one, behind
    a first layer whose intermediate hls4ml keeps narrower than Keras (legitimately), and the sweep goes on."""
    from codesign.sweep.store import Store

    folder, model, vectors = user
    spec = tmp_path / "own.toml"
    spec.write_text(f'''name = "own"
model = "{model}"
vectors = "{vectors["npy"]}"
targets = ["hls", "estimate"]
[fixed]
"firmware.open_synthesis" = false
[axes]
"firmware.hls_precision" = [{{}}, {{ "out.accum" = "fixed<10,1>" }}]
[search]
objectives = ["lut:min", "latency_cycles:min"]
''')
    codesign("sweep", spec, "--workers", "1", home=tmp_path)
    rows = {
        json.dumps(r["params"]["firmware.hls_precision"]): r
        for r in Store(next(tmp_path.glob("build/sweeps/own/*.sqlite"))).rows()
    }
    ok, narrow = rows["{}"], rows['{"out.accum": "fixed<10,1>"}']
    assert ok["status"] == "done" and ok["metrics"]["csim_mismatches"] == 0 and ok["metrics"]["lut"] > 0
    assert narrow["status"] == "failed" and "first diverging layer 'out'" in narrow["error"]
    assert "too narrow" in narrow["error"] and "out.accum" in narrow["error"]  # the cause and the setting
    (diag,) = (tmp_path / "build" / "points").glob("*/hls.diagnosis.json")
    d = json.loads(diag.read_text())
    assert d["layer"] == "out" and d["model_value"] != d["hls_value"] and "accum" in d["fix"]


def test_da4ml_diagnosis_names_the_layer():
    """RTL path: the first layer whose da4ml emulation differs from the Keras layer is named, with both values
    (here the core was traced from a model whose 'out' kernel differs in one weight from the reference model)."""
    from codesign.diagnose import diagnose_da4ml
    from codesign.rtl.emit import SOLVER_OPTIONS, traced

    core_model, reference = hgq2_model(), hgq2_model()
    inputs, _ = traced(core_model)
    kernel = reference.get_layer("out").kernel
    w = np.asarray(kernel)
    w[3, 1] += 0.5
    kernel.assign(w)
    d = diagnose_da4ml(reference, on_grid(100), inputs, SOLVER_OPTIONS, traced=core_model)
    assert d["layer"] == "out" and d["element"] == 1 and d["model_value"] != d["hls_value"]


def test_divergence_error_crosses_processes_with_its_diagnosis():
    """A stage run in a process of its own (flow.ALONGSIDE, sweep workers) raises DivergenceError across the
    boundary: it must unpickle with its message and diagnosis (else the pool breaks and the diagnosis is lost)."""
    import pickle

    from codesign.diagnose import DivergenceError

    e = pickle.loads(pickle.dumps(DivergenceError("C-sim: first diverging layer 'out'", {"layer": "out"})))
    assert isinstance(e, DivergenceError) and str(e) == "C-sim: first diverging layer 'out'"
    assert e.diagnosis == {"layer": "out"}
