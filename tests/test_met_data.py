"""MET events with pileup: reproducible, cached, well-formed, PUPPI does its job, bad input refused."""

import numpy as np
import pytest

from codesign.data import l1pf, met
from codesign.errors import CodesignError


def _gen(home, monkeypatch, n=40, seed=2, workers=1, pileup=30.0):
    monkeypatch.setenv("CODESIGN_HOME", str(home))
    path = met.generate(n, pileup=pileup, pool_size=40, seed=seed, workers=workers, progress=False)
    return path, met.load(path)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        return _gen(tmp_path_factory.mktemp("met"), mp, n=100, workers=2)


@pytest.mark.pythia
def test_same_seed_same_arrays_whatever_the_workers(sample, tmp_path, monkeypatch):
    path_a, a = sample
    path_b, b = _gen(tmp_path, monkeypatch, n=100, workers=1)
    assert path_a.name == path_b.name
    for key in ("candidates", "mask", "true_met", "puppi_met", "npv"):
        np.testing.assert_array_equal(a[key], b[key])
    monkeypatch.setattr(met, "run_chunks", lambda *a, **k: pytest.fail("regenerated"))
    assert met.generate(100, pileup=30.0, pool_size=40, seed=2, workers=1, progress=False) == path_b


@pytest.mark.pythia
def test_events_are_well_formed(sample):
    _, d = sample
    c, m = d["candidates"], d["mask"]
    assert c.shape == (100, met.STORED_CANDIDATES, len(l1pf.CANDIDATE_NAMES)) and np.isfinite(c).all()
    pt = c[..., 0]
    assert (np.diff(pt, axis=1) <= 0).all()  # sorted by pT, padding (0) last
    assert (pt[~m] == 0).all() and (pt[m] > 0).all()
    w = c[..., 3][m]
    assert ((w >= 0) & (w <= 1)).all()
    tracked = c[..., 4][m] > 0
    assert set(np.unique(w[tracked])) <= {0.0, 1.0}  # tracks: vertex association, 0/1
    assert 20 < d["npv"].mean() < 42  # Poisson(30) + 1
    # Processes with real MET have it; QCD and Z->ll have (almost) none.
    true = np.hypot(*d["true_met"].T)
    proc = np.asarray(d["process_names"])[d["process"]]
    assert np.median(true[proc == "znunu"]) > 40 and np.median(true[np.isin(proc, ["qcd", "zll"])]) < 10


@pytest.mark.pythia
def test_puppi_beats_raw_met(sample):
    """PUPPI MET must be closer to the truth than the sum of all stored candidates (raw)."""
    _, d = sample
    c, m = d["candidates"], d["mask"]
    raw = -np.stack([(c[..., 0] * np.cos(c[..., 2]) * m).sum(1), (c[..., 0] * np.sin(c[..., 2]) * m).sum(1)], 1)
    res = lambda r: np.std(r - d["true_met"])  # noqa: E731
    assert res(d["puppi_met_topn"]) < 0.9 * res(raw)


@pytest.mark.pythia
def test_top_n_and_bad_input(sample):
    path, d = sample
    small = met.load(path, n_candidates=16)
    np.testing.assert_array_equal(small["candidates"], d["candidates"][:, :16])
    with pytest.raises(CodesignError, match="n_candidates must be in 1..128"):
        met.load(path, n_candidates=200)
    bad = d["candidates"][:2].copy()
    bad[1, 3, 0] = np.nan
    with pytest.raises(CodesignError, match="event 1, candidate 3: non-finite"):
        met.check_candidates(bad, d["mask"][:2], "x")
    bad[1, 3, 0] = np.inf
    with pytest.raises(CodesignError, match="event 1, candidate 3"):
        met.check_candidates(bad, d["mask"][:2], "x")


def test_empty_event_gives_zero_features_and_zero_puppi():
    rng = np.random.default_rng(0)
    z = np.zeros(0)
    c = l1pf.candidates(z, z, z, z, z.astype(int), z, z.astype(bool), rng)
    assert c.shape == (0, len(l1pf.CANDIDATE_NAMES))
    assert (met._puppi_met(c) == 0).all()
    f = met.features(np.zeros((1, 4, 7), np.float32), np.zeros((1, 4), bool), 8.0)
    assert f.shape == (1, 4, len(met.FEATURE_NAMES)) and (f == 0).all()


@pytest.mark.parametrize(
    "kwargs", [{"n_events": 0}, {"pileup": -1.0}, {"pileup": float("nan")}, {"pool_size": 0}, {"seed": -1}]
)
def test_bad_arguments_raise_one_line(kwargs):
    args = {"n_events": 5, "pileup": 10.0, "pool_size": 5, "seed": 1, "workers": 1, "progress": False, **kwargs}
    with pytest.raises(CodesignError) as err:
        met.generate(**args)
    assert "\n" not in str(err.value)
