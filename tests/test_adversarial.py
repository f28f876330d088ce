"""FGSM adversarial training and the mis-modelled "data" flavour variant: cards, keys, the attack, ε = 0."""

import json

import numpy as np
import pytest
import torch
from conftest import REPO, codesign
from test_flavour_float import _models, _tokens

from codesign.card import load_card
from codesign.errors import CodesignError
from codesign.physics.flavour import js_divergence
from codesign.quant.adversarial import attack, feature_scales
from codesign.quant.train_float import fit
from codesign.zoo.flavour_tokens import CONTINUOUS, N_PARTICLE, N_SV, perturbable

ADV = {"epsilon": 0.05, "fraction": 1.0, "warmup_epochs": 0}


def _deepjet_card(**training):
    return (
        load_card(REPO / "models" / "flavour_deepjet.toml").with_preset("tiny").with_overrides({"training": training})
    )


def test_cards_without_the_new_fields_keep_their_keys():
    """Absent [training.adversarial] and data.mismodel = "none" are not in the dump, so not in the key."""
    for f in sorted((REPO / "models").glob("*.toml")):
        card = load_card(f)
        for preset in (None, *(p for p in card.presets if p != "adversarial")):
            c = card.with_preset(preset)
            dump = c.model_dump(mode="json")
            assert "adversarial" not in dump["training"] and "mismodel" not in dump["data"], f.name
    adv_preset = load_card(REPO / "models" / "flavour_part.toml").with_preset("adversarial")
    assert adv_preset.training.adversarial.epsilon > 0 and adv_preset.kind.adversarial
    c = _deepjet_card()
    assert c.with_overrides({"data.mismodel": "none", "training.adversarial": None}).key() == c.key()
    data, adv = c.with_overrides({"data.mismodel": "data"}), c.with_overrides({"training.adversarial": ADV})
    assert len({c.key(), data.key(), adv.key()}) == len({c.train_key(), data.train_key(), adv.train_key()}) == 3
    assert adv.training.adversarial.epsilon == 0.05 and data.data.mismodel == "data"


def test_committed_bench_points_keep_their_keys():
    """The float and L1 points of reports/bench/flavour.json, rebuilt from their cards, have the keys recorded there."""
    import json

    from codesign.bench.flavour import L1_FIRMWARE, _point

    r = json.loads((REPO / "reports" / "bench" / "flavour.json").read_text())
    data, floats = {"n_events": r["data"]["n_events_per_sample"]}, {"epochs": r["float_epochs"]}
    for p in r["float"].values():
        assert _point(str(REPO / p["card"]), {"data": data, "training": floats}).key == p["key"]
    for p in r["l1"]:
        model = {"n_candidates": p["n"], "heads": p["heads"], "embed": p["embed"], "head_dim": p["head_dim"]}
        if p["form"] != "pairwise":
            continue
        ov = {"data": data, "model": model, "training": {"epochs": r["l1_epochs"]}, "firmware": L1_FIRMWARE}
        assert _point(str(REPO / "models" / "flavour_l1.toml"), ov).key == p["key"]


def test_bad_adversarial_settings_name_the_field(tmp_path):
    mlp = load_card(REPO / "models" / "jet_tagger_mlp.toml")
    with pytest.raises(CodesignError, match=r"field 'training\.adversarial': model kind 'mlp' has no adversarial"):
        mlp.with_overrides({"training.adversarial": ADV})
    with pytest.raises(CodesignError, match=r"field 'training\.adversarial\.epsilon': .*greater than or equal to 0"):
        _deepjet_card(adversarial={"epsilon": -0.1})
    with pytest.raises(CodesignError, match=r"field 'training\.adversarial\.fraction'"):
        _deepjet_card(adversarial={"fraction": 0.0})
    with pytest.raises(CodesignError, match=r"field 'training\.adversarial\.warmup_epochs': must be below"):
        _deepjet_card(epochs=2, adversarial={"warmup_epochs": 2})
    # On the command line: one line naming the file and the field, non-zero exit, no traceback.
    card = tmp_path / "mlp_adv.toml"
    card.write_text(
        (REPO / "models" / "jet_tagger_mlp.toml").read_text() + "\n[training.adversarial]\nepsilon = 0.01\n"
    )
    r = codesign("train", card, "--preset", "tiny", home=tmp_path, check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert f"{card}: field 'training.adversarial': model kind 'mlp'" in r.stderr.strip().splitlines()[-1]


def test_perturbable_entries():
    x = _tokens(40)
    m = perturbable(x)
    cand, sv = x[..., N_PARTICLE - 1] > 0, x[..., N_PARTICLE + N_SV - 1] > 0
    assert (m[~cand & ~sv] == 0).all()  # padding never moves
    assert (m[..., CONTINUOUS == 0] == 0).all()  # charge, is-lepton, ntracks, exists never move
    assert (m[cand][:, :N_PARTICLE].sum(1) == 5).all()  # ln pT rel, Δη, Δφ, d0 sig, z0 sig
    assert (m[sv][:, N_PARTICLE : N_PARTICLE + N_SV].sum(1) == 8).all() and (m[sv][:, :N_PARTICLE] == 0).all()
    s = feature_scales(x, m)
    assert (s[CONTINUOUS == 0] == 0).all() and (s[:3] > 0).all()
    np.testing.assert_allclose(s[1], x[..., 1][cand].std(), rtol=1e-5)


@pytest.mark.parametrize("name", ["part", "deepjet"])
def test_fgsm_moves_only_perturbable_entries_by_epsilon_and_raises_the_loss(name):
    torch.manual_seed(0)
    model = _models()[name].eval()
    x = _tokens(200)
    labels = np.random.default_rng(0).integers(0, 4, len(x))
    scale = feature_scales(x, perturbable(x))
    eps = 0.05
    xa = attack(model, x, labels, eps, scale, perturbable)
    d = xa - x
    m = perturbable(x) > 0
    assert (d[~m] == 0).all()  # bit for bit outside the perturbable entries
    moved = d != 0
    # a moved entry moves by exactly ε·scale (to float32 rounding of x + ε·s)
    np.testing.assert_allclose(np.abs(d[moved]), np.broadcast_to(eps * scale, d.shape)[moved], rtol=1e-3)
    assert moved.sum() > 0.5 * m.sum()  # the gradient reaches most of them (ParT also through its kinematics)
    loss = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        before, after = (float(loss(model(torch.from_numpy(v)), torch.from_numpy(labels))) for v in (x, xa))
    assert after > before


def _fit(name, adversarial, epochs=2):
    torch.manual_seed(1)
    model = _models()[name]
    x = _tokens(240, seed=3)
    labels = np.random.default_rng(4).integers(0, 4, len(x))
    fit(model, x, labels, 4, epochs, 64, 3e-3, seed=5, adversarial=adversarial)
    return model.state_dict()


@pytest.mark.parametrize("name", ["deepjet", "part"])
def test_epsilon_zero_reproduces_nominal_training_bit_for_bit(name):
    card = _deepjet_card(epochs=2)
    nominal = _fit(name, None)
    for adv in ({"epsilon": 0.0}, {"epsilon": 0.0, "fraction": 0.5, "warmup_epochs": 1}):
        zero = _fit(name, card.with_overrides({"training.adversarial": adv}).training.adversarial)
        assert all(torch.equal(nominal[k], zero[k]) for k in nominal), adv
    moved = _fit(name, card.with_overrides({"training.adversarial": {"epsilon": 0.1}}).training.adversarial)
    assert not all(torch.equal(nominal[k], moved[k]) for k in nominal)


def test_js_divergence():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=5000)
    assert js_divergence(a, a) == 0.0
    assert js_divergence(np.full(100, 0.1), np.full(100, 0.9)) == pytest.approx(1.0)
    assert 0 < js_divergence(a, rng.uniform(size=5000)) < js_divergence(a, rng.beta(2, 5, size=5000))


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    import os

    from codesign.data import flavour

    os.environ["CODESIGN_HOME"] = str(tmp_path_factory.mktemp("mismodel"))
    try:
        paths = {m: flavour.generate(60, seed=3, workers=1, progress=False, mismodel=m) for m in ("none", "data")}
        yield {m: flavour.load(p) for m, p in paths.items()}, paths
    finally:
        del os.environ["CODESIGN_HOME"]


@pytest.mark.pythia
def test_data_variant_is_shifted_and_apart(variants):
    from codesign.data import flavour

    d, paths = variants
    assert paths["none"] != paths["data"] and paths["none"] == flavour.dataset_path(60, 3)
    assert "mismodel" not in d["none"]["attrs"] and d["data"]["attrs"]["mismodel"]["pythia"] == ["Tune:pp = 21"]
    assert d["data"]["attrs"]["settings"] == d["none"]["attrs"]["settings"]

    n = min(len(d["data"]["labels"]), len(d["none"]["labels"]))
    assert not np.array_equal(d["data"]["jets"][:n], d["none"]["jets"][:n])  # other seeds, other events
    again = flavour.load(flavour.generate(60, seed=3, workers=1, progress=False, mismodel="data"))
    assert np.array_equal(again["candidates"], d["data"]["candidates"])


def test_bad_mismodel_names_the_field():
    with pytest.raises(CodesignError, match=r"field 'data\.mismodel': Input should be 'none' or 'data'"):
        _deepjet_card().with_overrides({"data.mismodel": "mc"})


def test_data_shifts_on_prompt_tracks():
    """The detector shifts of "data" on jets of prompt pions and photons (no Pythia): resolution, tail,
    track efficiency, energy scales, as MISMODEL["data"] declares them."""
    from codesign.data import flavour

    rng = np.random.default_rng(7)
    n = 16  # 8 charged pions then 8 photons per jet, all from the primary vertex
    pid = np.array([211, -211] * 4 + [22] * 8)
    mis = flavour.MISMODEL["data"]
    out = {"none": [], "data": []}
    for _ in range(600):
        pt = rng.uniform(2, 40, n)
        phi, eta = rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)
        flat = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "e": pt * np.cosh(eta),
                "x": np.zeros(n), "y": np.zeros(n), "z": np.zeros(n)}  # fmt: skip
        jpx, jpy, jpz, je = (flat[k].sum() for k in ("px", "py", "pz", "e"))
        jet = (jpx, jpy, jpz, je, np.hypot(jpx, jpy), np.arcsinh(jpz / np.hypot(jpx, jpy)), np.arctan2(jpy, jpx))
        for m in out:
            out[m].append(flavour._describe(np.arange(n), jet, flat, pt, eta, phi, pid, lambda p: np.sign(p) * (np.abs(p) == 211),
                                            rng, flavour.MISMODEL.get(m)))  # fmt: skip
    names = flavour.CANDIDATE_NAMES
    res = {}
    for m, rows in out.items():
        c, mask = np.stack([r["candidates"] for r in rows]), np.stack([r["mask"] for r in rows])
        ch, neu = mask & (c[..., names.index("charge")] != 0), mask & (c[..., names.index("charge")] == 0)
        sig = c[..., names.index("d0sig")][ch]
        res[m] = {"charged": ch.sum() / (600 * 8), "core": np.std(sig[np.abs(sig) < 3]), "tail": (np.abs(sig) > 5).mean(),
                  "neutral_pt": c[..., 0][neu].sum(), "jet_pt": np.stack([r["jets"] for r in rows])[:, 0].sum()}  # fmt: skip
    none, data = res["none"], res["data"]
    assert none["charged"] == 1.0 and abs(data["charged"] - mis["track_efficiency"]) < 0.01  # 4800 tracks: σ 0.0025
    assert abs(none["core"] - 0.97) < 0.03 and data["core"] > 1.1  # |sig| < 3 of N(0, 1) has std 0.97
    assert none["tail"] < 1e-3 and data["tail"] > 0.01  # 5% of tracks with 4.8 σ: 1.5% beyond 5
    assert data["neutral_pt"] / none["neutral_pt"] == pytest.approx(mis["neutral_energy_scale"], rel=1e-3)
    assert data["jet_pt"] / none["jet_pt"] == pytest.approx(mis["jet_energy_scale"], rel=1e-4)


@pytest.mark.pythia
def test_a_tiny_adversarial_training_runs_end_to_end(tmp_path):
    """The DeepJet-like card's tiny preset with [training.adversarial], through `codesign run`: data,
    FGSM training, ONNX hand-over and the report that says how the tagger was trained."""
    from conftest import REPO, codesign

    text = (REPO / "models" / "flavour_deepjet.toml").read_text()
    card = tmp_path / "adv.toml"
    card.write_text(text + '\n[presets.tiny.training.adversarial]\nmethod = "fgsm"\nepsilon = 0.05\n')
    codesign("run", card, "--preset", "tiny", home=tmp_path)
    train_dir = next((tmp_path / "build" / "train").glob("flavour_deepjet-*"))
    metrics = json.loads((train_dir / "metrics.json").read_text())
    assert metrics["adversarial"]["epsilon"] == 0.05 and metrics["onnxruntime_max_abs_diff"] < 1e-3
    page = next((tmp_path / "reports").glob("flavour_deepjet-*")).joinpath("index.html").read_text()
    assert "adversarial (FGSM, ε = 0.05" in page
