"""JEDI-linear-style HGQ2 tagger (zoo/jedi_linear.py): the sum over particles is wiring + adders, bit-exact in da4ml."""

import numpy as np

from codesign.quant.train import to_grid
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
    assert require_exact(y.astype(np.float64), emulate(pipe, x.reshape(len(x), -1).astype(np.float64)), "jedi core") == 100
