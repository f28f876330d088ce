"""Pruning reaches its target, keeps pruned weights exactly zero, and the zeros cost nothing."""

import numpy as np
import pytest

from codesign.card import Card, PruningSpec
from codesign.fixedpoint import to_grid
from codesign.quant import prune
from codesign.zoo import mlp


def test_schedule_ramps_to_target_and_holds():
    spec = PruningSpec(sparsity=0.8, start=0.2, end=0.6)
    s = [prune.target_at(spec, e, 10) for e in range(10)]
    assert s[0] == 0.0 and all(a <= b for a, b in zip(s, s[1:]))
    assert s[5] == pytest.approx(0.8) and s[-1] == pytest.approx(0.8)


def _train(sparsity: float, kind: str = "magnitude"):
    import keras

    card = Card(name="p", model={"hidden": [32, 16]}, pruning={"sparsity": sparsity, "kind": kind},
                training={"epochs": 6})  # fmt: skip
    model = mlp.build(card, 16, 5)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = to_grid(rng.normal(size=(3000, 16)), mlp.input_format(card))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    cbs = [prune.callback(card.pruning, 6)] if sparsity else []
    model.fit(x, y, epochs=6, batch_size=256, verbose=0, callbacks=cbs)
    return model, x


def test_magnitude_pruning_reaches_target_exactly_zero():
    model, _ = _train(0.7)
    sp = prune.sparsity_of(model)
    assert all(v == pytest.approx(0.7, abs=0.02) for v in sp["per_layer"].values())  # per-layer rounding


def test_structured_pruning_removes_whole_neurons_not_outputs():
    model, _ = _train(0.5, "structured")
    k = [np.asarray(la.kernel.numpy()) for la in prune._dense_layers(model)]
    dead = [(w == 0).all(axis=0).sum() for w in k]
    assert dead[0] == 16 and dead[1] == 8 and dead[2] == 0


def test_sparsity_shows_in_da4ml_cost(tmp_path):
    from codesign.rtl.emit import emit_rtl

    luts = []
    for s in (0.0, 0.75):
        model, x = _train(s)
        core = emit_rtl(model, x[:100], model.predict(x[:100], verbose=0), tmp_path / f"s{s}")
        luts.append(core["estimate"]["lut"])
    assert luts[1] < 0.6 * luts[0], luts  # a quarter of the weights left: well under 60% of the adders
