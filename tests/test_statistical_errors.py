"""The statistical errors the budget bench quotes beside its chosen physics figures (bootstrap over the
test set): the MET resolution ratio to PUPPI and the b-vs-light AUC."""

import numpy as np

from codesign.physics.flavour import auc_error, roc
from codesign.physics.met import ratio_error


def _met(n, rng):
    true = rng.normal(0, 40, (n, 2))
    puppi = true + rng.normal(0, 20, (n, 2))
    return true, true + rng.normal(0, 14, (n, 2)), puppi  # resolution ratio 0.7


def test_met_ratio_error_covers_the_truth_and_falls_as_one_over_root_n():
    rng = np.random.default_rng(3)
    small, large = _met(900, rng), _met(8100, rng)
    e_small, e_large = ratio_error(*small), ratio_error(*large)
    # a 68% half-width from 2n residuals: about 0.7 * sqrt(2) * 1.1 / sqrt(2n) = 0.02 at n = 900
    assert 0.012 < e_small < 0.03
    # 9x the events, a third of the error; 200 resamples know each error to about 5%, hence 25%
    assert abs(e_large / e_small - 1 / 3) < 0.25 / 3
    res = [float(0.5 * np.subtract(*np.percentile((r - t).ravel(), [84, 16]))) for t, r in ((small[0], small[1]),
                                                                                             (small[0], small[2]))]  # fmt: skip
    assert abs(res[0] / res[1] - 0.7) < 3 * e_small


def test_auc_error_agrees_with_hanley_mcneil():
    rng = np.random.default_rng(4)
    n_b, n_l = 1000, 1500
    labels = np.r_[np.zeros(n_b, int), np.full(n_l, 1)]
    score = np.r_[rng.normal(1.8, 1, n_b), rng.normal(0, 1, n_l)]
    prob = np.c_[1 / (1 + np.exp(-score)), 1 - 1 / (1 + np.exp(-score))]
    names = ["b", "light"]
    auc = roc(prob, labels, names, "b", "light")[2]
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    hm = np.sqrt((auc * (1 - auc) + (n_b - 1) * (q1 - auc**2) + (n_l - 1) * (q2 - auc**2)) / (n_b * n_l))
    # Hanley-McNeil assumes exponential score shapes and 200 resamples know the bootstrap to ~5%: 20%
    assert abs(auc_error(prob, labels, names) / hm - 1) < 0.2
    assert auc_error(prob[labels == 0], labels[labels == 0], names) is None  # no light jets: no AUC
