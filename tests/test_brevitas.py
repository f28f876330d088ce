"""PyTorch frontend: Brevitas QAT -> QONNX -> hls4ml C-sim and da4ml trace, bit-exact; the guard
rails that refuse graphs hls4ml would convert silently wrong; float ONNX interchange."""

import re
import time

import numpy as np
import pytest
import torch

from codesign.card import Card
from codesign.errors import CodesignError
from codesign.fixedpoint import input_format, to_grid
from codesign.hls.qonnx_frontend import to_hls
from codesign.interchange import check_onnxruntime, float_zoo_models
from codesign.qonnx_guard import check_qonnx
from codesign.quant.train_torch import bake_pruning, export_qonnx, fit, prune_, train
from codesign.verify import count_mismatches, require_exact
from codesign.zoo import brevitas_mlp

# Pruned to 50% during QAT, so the bit-exact checks also cover the zeros pruning leaves.
CARD = Card(
    name="tiny_bv",
    model={"hidden": [16, 8]},
    training={"epochs": 4, "batch_size": 64, "learning_rate": 1e-2},
    pruning={"sparsity": 0.5},
)


def _jets(n=3600, seed=0):
    """Four separable classes in 16 features: enough structure for a 4-epoch QAT to learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    features = rng.normal(size=(n, 16))
    features[:, :4] += 2.0 * np.eye(4)[labels]
    names = [f"f{i}" for i in range(16)]
    return {
        "features": features,
        "labels": labels,
        "class_names": np.array(list("abcd")),
        "feature_names": np.array(names),
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train_bv")
    metrics = train(CARD, _jets(), out, progress=False)
    return out, metrics, dict(np.load(out / "reference.npz"))


def test_train_outputs(trained):
    out, metrics, ref = trained
    assert len(ref["x"]) >= 1000 and ref["y"].shape == (len(ref["x"]), 4)
    assert metrics["accuracy"] > 0.7  # chance is 0.25
    assert all(v >= 0.5 for v in metrics["sparsity"]["per_layer"].values())
    frac = brevitas_mlp.output_fractional(CARD)
    assert np.array_equal(ref["y"] * 2.0**frac, np.round(ref["y"] * 2.0**frac))  # on the logits' grid
    np.testing.assert_array_equal(ref["x"], to_grid(ref["x"], input_format(CARD.precision)))  # on the input grid
    model = brevitas_mlp.load(CARD, 16, 4, out / "model.pt")  # weights_only load
    with torch.no_grad():
        np.testing.assert_array_equal(model(torch.from_numpy(ref["x"])).numpy(), ref["y"])


@pytest.mark.sim
def test_csim_bit_exact(trained, tmp_path):
    out, _, ref = trained
    hm = to_hls(out / "model.onnx", CARD, tmp_path / "prj")
    t0 = time.perf_counter()
    hm.compile()
    print(f"C-sim compile {time.perf_counter() - t0:.1f} s")
    got = hm.predict(np.ascontiguousarray(ref["x"])).reshape(ref["y"].shape)
    assert require_exact(ref["y"], got, "Brevitas C-sim") >= 1000
    assert "export_design" in (tmp_path / "prj" / "build_prj.tcl").read_text()


def test_da4ml_trace_bit_exact(trained):
    from da4ml.trace import comb_trace

    from codesign.rtl.qonnx_trace import trace_qonnx

    out, _, ref = trained
    inp, outp = trace_qonnx(out / "model.onnx")
    assert (inp.shape, outp.shape) == ((16,), (4,))
    assert require_exact(ref["y"], comb_trace(inp, outp).predict(ref["x"]), "da4ml emulation") >= 1000
    assert _relu_ties(CARD, out, ref["x"]) > 0  # the ReLU's ties-to-even rounding was exercised


def _relu_ties(card, out, x) -> int:
    """Pre-activations exactly half-way between two ReLU output steps (where half-up would differ)."""
    model = brevitas_mlp.load(card, 16, 4, out / "model.pt")
    f = card.precision.activation_bits - 1 - card.precision.activation_integer
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.value.detach().numpy()))
             for name, m in model.named_children() if name.startswith("fc")]  # fmt: skip
    with torch.no_grad():
        model(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    return int(sum(((v > 0) & ((v * 2**f) % 1 == 0.5)).sum() for v in seen))


# ---- guard rails -------------------------------------------------------------------------------


def _export(model, path, n_in=16):
    export_qonnx(model, n_in, path)
    return path


def _float_scale_model(x, y):
    """Brevitas' defaults: float per-tensor scales (Int8ActPerTensorFloat, Int8WeightPerTensorFloat,
    Uint8ActPerTensorFloat) and a float bias."""
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        QuantIdentity(), QuantLinear(16, 16, bias=True), QuantReLU(), QuantLinear(16, 4, bias=True)
    )
    fit(model, x, y, CARD.training, progress=False)
    return model.eval()


@pytest.mark.sim
def test_float_scales_refused_then_csim_disagrees(trained, tmp_path):
    out, _, ref = trained
    x, labels = ref["x"], ref["labels"]
    model = _float_scale_model(x, labels)
    path = _export(model, tmp_path / "float_scale.onnx")
    with pytest.raises(CodesignError, match=r"node 'Quant_0' \(input quantizer\): scale [\d.e-]+ is not a power of two; "
                                            r"use Int8ActPerTensorFixedPoint .*\(\+\d+ more problem"):  # fmt: skip
        check_qonnx(path)
    problems = check_qonnx(path, allow_unsafe=True)
    assert any(re.search(r"\(weight quantizer of Gemm 'Gemm_0'\): scale .* use Int8WeightPerTensorFixedPoint", p)
               for p in problems)  # fmt: skip
    with pytest.warns(UserWarning, match="is not a power of two"):
        hm = to_hls(path, CARD, tmp_path / "prj", allow_unsafe=True)
    hm.compile()
    got = hm.predict(np.ascontiguousarray(x)).reshape(len(x), -1)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    n_bad, _ = count_mismatches(want, got)
    agree = float((got.argmax(1) == want.argmax(1)).mean())
    print(f"float scales: {n_bad}/{len(x)} events differ, argmax agreement {agree:.1%}")
    assert n_bad > len(x) // 2  # the guard's point: hls4ml converts it, and it is wrong


def test_gemm_without_bias_reported(tmp_path):
    from brevitas.nn import QuantIdentity, QuantLinear

    q = brevitas_mlp.quantizers(CARD)
    model = torch.nn.Sequential(
        QuantIdentity(act_quant=q["input"], return_quant_tensor=True),
        QuantLinear(16, 4, bias=False, weight_quant=q["weight"]),
    )
    path = _export(model, tmp_path / "nobias.onnx")
    with pytest.raises(CodesignError, match=r"node 'Gemm_0' \(Gemm\): no bias; .*bias=True"):
        check_qonnx(path)


def test_float_bias_and_unquantized_input_reported(tmp_path):
    from brevitas.nn import QuantLinear

    q = brevitas_mlp.quantizers(CARD)
    model = torch.nn.Sequential(QuantLinear(16, 4, bias=True, weight_quant=q["weight"], bias_quant=None))
    problems = check_qonnx(_export(model, tmp_path / "float_bias.onnx"), allow_unsafe=True)
    assert any("reads the float constant" in p and "Int32Bias" in p for p in problems)
    assert any("reads the graph input" in p and "QuantIdentity" in p for p in problems)


def test_unsupported_op_and_narrow_input_port(trained, tmp_path):
    from brevitas.nn import QuantIdentity

    q = brevitas_mlp.quantizers(CARD)
    model = torch.nn.Sequential(QuantIdentity(act_quant=q["input"]), torch.nn.Tanh())
    with pytest.raises(CodesignError, match=r"node 'Tanh_0' \(Tanh\): not supported by the firmware flow"):
        check_qonnx(_export(model, tmp_path / "tanh.onnx"))
    k, i, f = input_format(CARD.precision)
    with pytest.raises(CodesignError, match=r"input quantizer\): holds fixed<12,4> but the input port is fixed<10,4>"):
        check_qonnx(trained[0] / "model.onnx", (k, i, f - 2))


def test_trainable_bits_refused():
    card = CARD.model_copy(update={"precision": CARD.precision.model_copy(update={"trainable": True})})
    with pytest.raises(CodesignError, match="precision.trainable"):
        brevitas_mlp.build(card, 16, 4)


@pytest.mark.parametrize("kind", ["magnitude", "structured"])
def test_prune_semantics_and_bake(kind):
    from codesign.quant.train_torch import sparsity_of

    model = brevitas_mlp.build(CARD, 16, 4)
    prune_(model, 0.25, kind)
    prune_(model, 0.5, kind)  # the schedule's next step: earlier zeros stay pruned
    bake_pruning(model)
    assert not any(hasattr(m, "weight_mask") or hasattr(m, "bias_mask") for m in model.modules())
    assert set(model.state_dict()) == set(brevitas_mlp.build(CARD, 16, 4).state_dict())  # loads like unpruned
    per = sparsity_of(model)["per_layer"]
    if kind == "magnitude":
        assert per == {"fc0": 128 / 256, "fc1": 64 / 128, "logits": 16 / 32}  # int(0.5 * size) per layer
    else:  # whole neurons (rows) with their bias; the output layer keeps all its neurons
        dead = (model.fc0.weight == 0).all(dim=1)
        assert int(dead.sum()) == 8 and bool((model.fc0.bias[dead] == 0).all()) and per["logits"] == 0.0


@pytest.mark.parametrize("name", sorted(float_zoo_models()))
def test_float_interchange_onnxruntime(tmp_path, name):
    """Every float zoo torch model through ONNX and onnxruntime. Both run float32, but onnxruntime's
    MatMul sums in another order than torch's (blocking, vectorisation), so outputs agree to float32
    rounding: a relative 1e-5 of the output scale (about 100 float32 ulps over a few layers), not
    bit for bit. Firmware models never take this path (they go through QONNX, bit-exact)."""
    model, shape = float_zoo_models()[name]
    x = np.random.default_rng(1).normal(size=(1000, *shape)).astype(np.float32)
    diff = check_onnxruntime(model, x, tmp_path / f"{name}.onnx")
    with torch.no_grad():
        scale = float(np.abs(model(torch.from_numpy(x)).numpy()).max())
    assert scale > 0 and diff <= 1e-5 * scale
