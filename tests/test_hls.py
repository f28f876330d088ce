"""hls4ml C-simulation is bit-exact against the Keras model, for both frontends of one card."""

import numpy as np
import pytest

from codesign.card import Card
from codesign.errors import CodesignError
from codesign.fixedpoint import to_grid
from codesign.hls.csim import build_hls, check_supported
from codesign.zoo import mlp


def _trained(frontend: str, n: int = 2000):
    import keras

    card = Card(name="t", model={"frontend": frontend, "hidden": [16, 8]}, firmware={"cosim_vectors": n})
    model = mlp.build(card, 16, 5)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = to_grid(rng.normal(size=(n, 16)), mlp.input_format(card))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    model.fit(x, y, epochs=2, verbose=0)
    return card, model, {"x": x, "y": model.predict(x, verbose=0)}


@pytest.mark.sim
@pytest.mark.parametrize("frontend", ["hgq2", "qkeras"])
def test_csim_bit_exact(tmp_path, frontend):
    card, model, ref = _trained(frontend)
    rec = build_hls(model, card, ref, tmp_path, n_vectors=len(ref["x"]))
    assert rec["vectors"] == 2000 and rec["mismatches"] == 0
    assert (tmp_path / "prj" / "build_prj.tcl").exists()
    assert "export_design" in (tmp_path / "prj" / "build_prj.tcl").read_text()


@pytest.mark.sim
def test_csim_mismatch_is_reported_with_event_and_output(tmp_path):
    card, model, ref = _trained("hgq2", n=200)
    ref["y"] = ref["y"].copy()
    ref["y"][17, 3] += 2.0**-6  # one LSB-sized tamper of the reference
    with pytest.raises(CodesignError, match=r"1/200 events differ.*event 17, output 3"):
        build_hls(model, card, ref, tmp_path, n_vectors=200)


def test_unsupported_layer_named():
    import keras

    x = keras.Input((16,))
    model = keras.Model(x, keras.layers.Dense(5, name="plain_dense")(x))
    with pytest.raises(CodesignError, match=r"layer 'plain_dense' \(Dense\): not supported"):
        check_supported(model)


def test_qkeras_api_leaves_hgq2_layers_intact():
    """The hgq2 qkeras shim patches HGQ2 classes in place; building through it must not leak."""
    from hgq.layers import QDense

    init = QDense.__init__
    _trained("qkeras", n=50)
    assert QDense.__init__ is init
    card, model, ref = _trained("hgq2", n=200)
    assert all(layer.enable_iq for layer in model.layers[1:])
    assert np.array_equal(ref["y"] * 2**9, np.round(ref["y"] * 2**9))  # output stays on its fixed grid


def test_qkeras_model_reloads_with_half_up_rounding(tmp_path):
    """A saved QKeras-API model must reload with the card's RND rounding (QKeras' own config drops it)."""
    from codesign.zoo.load import load_model

    card = Card(name="qk", model={"frontend": "qkeras", "hidden": [16]})
    model = mlp.build(card, 16, 5)
    x = to_grid(np.random.default_rng(0).normal(size=(2000, 16)), mlp.input_format(card))
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    assert np.array_equal(np.asarray(model(x)), np.asarray(again(x)))  # exactly: same arithmetic
