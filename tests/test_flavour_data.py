"""Flavour jets: labels, impact parameters, SVs, determinism; ParT pair features; the card."""

import numpy as np
import pytest

from codesign.card import Card, load_card
from codesign.errors import CodesignError

N_EVENTS = 60


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import os

    from codesign.data import flavour

    home = tmp_path_factory.mktemp("flavour")
    os.environ["CODESIGN_HOME"] = str(home)
    try:
        path = flavour.generate(N_EVENTS, seed=3, workers=1, progress=False)
        assert flavour.generate(N_EVENTS, seed=3, workers=1, progress=False) == path  # cached, not redone
        yield flavour.load(path), path
    finally:
        del os.environ["CODESIGN_HOME"]


@pytest.mark.pythia
def test_jets_and_labels(data):
    d, _ = data
    n = len(d["labels"])
    assert n > 100 and d["candidates"].shape == (n, 32, 10) and d["svs"].shape == (n, 4, 9)
    assert set(np.unique(d["labels"])) <= {0, 1, 2, 3} and list(d["class_names"]) == ["b", "c", "light", "g"]
    pt = d["jets"][:, 0]
    assert (pt > 30).all() and (pt < 1000).all() and (np.abs(d["jets"][:, 1]) < 2.4).all()
    assert all(np.isfinite(d[k]).all() for k in ("candidates", "svs", "jets"))
    ttbar_b = (d["sample"] == 0) & (d["labels"] == 0)
    assert ttbar_b.sum() > 0.15 * (d["sample"] == 0).sum()  # ttbar: two b jets per event


@pytest.mark.pythia
def test_impact_parameters_and_svs(data):
    d, _ = data
    c, mask = d["candidates"], d["mask"]
    names = list(d["candidate_names"])
    charged = mask & (c[..., names.index("charge")] != 0)
    neutral = mask & (c[..., names.index("charge")] == 0)
    sig = c[..., names.index("d0sig")]
    assert (sig[neutral] == 0).all() and (sig[charged] != 0).all()
    b, light = d["labels"] == 0, d["labels"] == 2
    # b hadrons fly millimetres: many more large lifetime-signed significances than in light jets.
    frac = [(sig[charged & m[:, None]] > 3).mean() for m in (b, light)]
    assert frac[0] > 2 * frac[1], frac
    nsv = d["sv_mask"].sum(axis=1)
    assert nsv[b].mean() > 2 * nsv[light].mean()


@pytest.mark.pythia
def test_deterministic(data, tmp_path, monkeypatch):
    from codesign.data import flavour

    d, path = data
    monkeypatch.setenv("CODESIGN_HOME", str(tmp_path))
    again = flavour.load(flavour.generate(N_EVENTS, seed=3, workers=1, progress=False))
    assert again["attrs"]["settings"] == d["attrs"]["settings"]
    for k in ("candidates", "svs", "labels", "jets"):
        assert np.array_equal(again[k], d[k]), k


@pytest.mark.pythia
def test_pair_features(data):
    from codesign.zoo.flavour_inputs import l1_inputs, pair_features

    d, _ = data
    n = 8
    p = pair_features(d, n)
    assert p.shape == (len(d["labels"]), n, n, 5)
    assert np.allclose(p, p.transpose(0, 2, 1, 3))  # symmetric in the pair
    assert (p[:, np.arange(n), np.arange(n)] == 0).all()  # no self-pairs
    j = int(np.flatnonzero(d["mask"][:, 1])[0])
    c = d["candidates"][j].astype(np.float64)
    delta = np.hypot(c[0, 2] - c[1, 2], c[0, 3] - c[1, 3])
    assert p[j, 0, 1, 0] == pytest.approx((np.log(delta + 1e-8) + 4) / 2, rel=1e-6)  # float rounding only
    assert l1_inputs(d, n).shape == (len(d["labels"]), n, 8 + n * 5)


def test_card_sections_by_dataset_and_kind():
    card = load_card("models/flavour_l1.toml").with_preset("tiny")
    assert card.data.dataset == "flavour" and card.model.kind == "flavour_l1" and card.model.n_candidates == 4
    jets = load_card("models/jet_tagger_mlp.toml")
    assert jets.data.dataset == "jets" and jets.model.kind == "mlp"
    assert Card.model_validate({"name": "x"}).data.dataset == "jets"  # old cards: jets/mlp defaults
    with pytest.raises(Exception, match="flavour"):
        Card.model_validate({"name": "x", "data": {"dataset": "nope"}})


def test_bad_field_names_file_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[data]\ndataset = "flavour"\nn_per_class = 5\n')
    with pytest.raises(CodesignError, match=r"bad.toml: field 'data.*n_per_class"):
        load_card(bad)
