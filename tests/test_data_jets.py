"""The locally generated hls4ml jet dataset: reproducible, well-formed, and physically sensible."""

import itertools

import numpy as np
import pytest

from codesign.data import jets, substructure
from codesign.errors import CodesignError

N_PHYSICS = 30  # jets per class: enough for the median checks below to hold robustly


def _generate(home, n, seed, workers, monkeypatch):
    monkeypatch.setenv("CODESIGN_HOME", str(home))
    path = jets.generate(n, seed=seed, workers=workers, progress=False)
    return path, jets.load(path)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        return _generate(tmp_path_factory.mktemp("jets"), N_PHYSICS, 1, 2, mp)[1]


def _median(data, name, label):
    column = data["feature_names"].index(name)
    return np.median(data["features"][data["labels"] == label, column])


@pytest.mark.pythia
def test_same_seed_same_arrays_and_path_whatever_the_workers(tmp_path, monkeypatch):
    path_a, a = _generate(tmp_path / "a", 8, 5, 2, monkeypatch)
    path_b, b = _generate(tmp_path / "b", 8, 5, 1, monkeypatch)
    assert path_a.name == path_b.name
    for key in ("features", "labels", "constituents", "mask"):
        np.testing.assert_array_equal(a[key], b[key])
    path_c, c = _generate(tmp_path / "a", 8, 6, 1, monkeypatch)
    assert path_c != path_a
    assert not np.array_equal(a["features"], c["features"])


@pytest.mark.pythia
def test_cached_file_is_not_regenerated(tmp_path, monkeypatch):
    path, _ = _generate(tmp_path, 2, 1, 1, monkeypatch)
    monkeypatch.setattr(jets, "run_chunks", lambda *a, **k: pytest.fail("regenerated"))
    assert jets.generate(2, seed=1, workers=1, progress=False) == path


@pytest.mark.parametrize(
    "kwargs", [{"n_per_class": 0}, {"n_per_class": 2.5}, {"seed": -1}, {"workers": 0}, {"n_per_class": True}]
)
def test_bad_arguments_raise_one_line(kwargs):
    args = {"n_per_class": 5, "seed": 1, "workers": 1, "progress": False, **kwargs}
    with pytest.raises(CodesignError) as err:
        jets.generate(**args)
    assert "\n" not in str(err.value)


def test_load_missing_file(tmp_path):
    with pytest.raises(CodesignError, match="no such jet dataset"):
        jets.load(tmp_path / "nope.h5")


@pytest.mark.pythia
def test_shapes_names_and_labels(sample):
    n = 5 * N_PHYSICS
    assert sample["features"].shape == (n, 16) and sample["features"].dtype == np.float32
    assert sample["feature_names"] == jets.FEATURE_NAMES
    assert sample["class_names"] == ["g", "q", "W", "Z", "t"]
    assert sample["labels"].dtype == np.int64
    assert np.bincount(sample["labels"]).tolist() == [N_PHYSICS] * 5
    assert sample["constituents"].shape == (n, 150, len(sample["constituent_names"]))
    assert sample["mask"].shape == (n, 150) and sample["mask"].dtype == bool
    assert np.isfinite(sample["features"]).all() and np.isfinite(sample["constituents"]).all()
    assert sample["attrs"]["seed"] == 1 and sample["attrs"]["n_per_class"] == N_PHYSICS
    assert sample["attrs"]["generator_version"] == jets.GENERATOR_VERSION
    assert sample["attrs"]["settings"]["jet_r"] == 0.8
    # Shuffled: not grouped by class.
    assert (np.diff(sample["labels"]) != 0).sum() > 20


@pytest.mark.pythia
def test_constituents_are_sorted_padded_and_masked(sample):
    c, mask = sample["constituents"], sample["mask"]
    names = sample["constituent_names"]
    pt, dphi = c[..., names.index("pt")], c[..., names.index("dphi")]
    multiplicity = sample["features"][:, jets.FEATURE_NAMES.index("j_multiplicity")]
    np.testing.assert_array_equal(mask.sum(1), np.minimum(multiplicity, 150))
    assert (pt[mask] > 0).all() and (c[~mask] == 0).all()
    assert (np.diff(np.where(mask, pt, 0), axis=1) <= 0).all()  # sorted by pT, padding last
    assert np.abs(dphi).max() <= np.pi
    # Jet pT from its constituents lies in the kept window (up to the 150 cap, ~1%).
    jet_pt = pt.sum(1)
    assert ((jet_pt > 550) & (jet_pt < 1550)).all()
    assert set(np.unique(c[..., names.index("charge")][mask])) <= {-1.0, 0.0, 1.0}


@pytest.mark.pythia
def test_groomed_mass_per_class(sample):
    mass = {k: _median(sample, "j_mass_mmdt", i) for i, k in enumerate(sample["class_names"])}
    assert 60 < mass["W"] < 110 and 60 < mass["Z"] < 110
    assert mass["t"] > 140 and mass["t"] > max(mass["W"], mass["Z"])
    assert mass["q"] < min(mass["W"], mass["Z"])
    assert mass["g"] < mass["t"]


@pytest.mark.pythia
def test_substructure_separates_two_prong_from_one_prong(sample):
    d2 = [_median(sample, "j_d2_b2_mmdt", i) for i in range(5)]
    n2 = [_median(sample, "j_n2_b2_mmdt", i) for i in range(5)]
    assert max(d2[2], d2[3]) < min(d2[0], d2[1])
    assert max(n2[2], n2[3]) < min(n2[0], n2[1])
    # Gluons radiate more than quarks (C_A > C_F).
    assert _median(sample, "j_multiplicity", 0) > _median(sample, "j_multiplicity", 1)


def test_ecfs_match_brute_force_over_triples():
    rng = np.random.default_rng(0)
    n = 12
    pt = rng.exponential(50.0, n)
    y, phi = rng.normal(0, 0.3, n), rng.normal(0, 0.3, n)
    p4 = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(y), pt * np.cosh(y)], 1)
    z, r = substructure.ecf_inputs(p4)
    np.testing.assert_allclose(z, pt / pt.sum())
    np.testing.assert_allclose(r[0, 1], np.hypot(y[0] - y[1], phi[0] - phi[1]))

    pairs = list(itertools.combinations(range(n), 2))
    triples = list(itertools.combinations(range(n), 3))
    for b in (0, 1, 2):
        assert np.isclose(substructure.ecf_e2(z, r, b), sum(z[i] * z[j] * r[i, j] ** b for i, j in pairs))
    for b in (1, 2):

        def angles(t):
            i, j, k = t
            return sorted([r[i, j], r[i, k], r[j, k]])

        w = {t: z[t[0]] * z[t[1]] * z[t[2]] for t in triples}
        e3 = sum(w[t] * np.prod(angles(t)) ** b for t in triples)
        one = sum(w[t] * angles(t)[0] ** b for t in triples)
        two = sum(w[t] * (angles(t)[0] * angles(t)[1]) ** b for t in triples)
        assert np.isclose(substructure.ecf_e3(z, r, b), e3)
        m3, n3 = substructure.generalised_e3(z, r, block=50)  # small blocks: exercise the loop
        assert np.isclose(m3[b], one) and np.isclose(n3[b], two)
