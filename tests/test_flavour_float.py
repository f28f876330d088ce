"""Float offline flavour taggers (ParT, DeepJet-like): shapes, masking, ONNX hand-over, `codesign train`."""

import json

import numpy as np
import pytest
import torch
from conftest import REPO, codesign

from codesign.card import load_card
from codesign.interchange import check_onnxruntime
from codesign.zoo import deepjet, part
from codesign.zoo.flavour_tokens import KIN, N_PARTICLE, N_SV, SV, TOKEN_COLUMNS

N, S = 8, 2


def _tokens(n_jets=300, seed=1):
    """Synthetic jets in the token layout: 3..N candidates with positive pT/E, 0..S vertices."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_jets, N + S, TOKEN_COLUMNS), np.float32)
    n_c, n_s = rng.integers(3, N + 1, n_jets), rng.integers(0, S + 1, n_jets)
    for j in range(n_jets):
        c = slice(0, n_c[j])
        x[j, c, : N_PARTICLE - 1] = rng.normal(size=(n_c[j], N_PARTICLE - 1))
        x[j, c, N_PARTICLE - 1] = 1.0
        pt = rng.uniform(1, 50, n_c[j])
        x[j, c, KIN] = np.stack(
            [pt, pt * rng.uniform(1, 2, n_c[j]), rng.normal(0, 0.15, n_c[j]), rng.normal(0, 0.15, n_c[j])], 1
        )
        s = slice(N, N + n_s[j])
        x[j, s, SV.start : SV.stop - 1] = rng.normal(size=(n_s[j], N_SV - 1))
        x[j, s, SV.stop - 1] = 1.0
    return x


def _models():
    return {
        "part": part.ParticleTransformer(4, 16, 2, 1, 1, 8),
        "deepjet": deepjet.DeepJetLike(N, S, 4, (16, 8), 16, (8,), 8, 16),
    }


@pytest.mark.parametrize("name", ["part", "deepjet"])
def test_onnxruntime_matches_torch(tmp_path, name):
    """Both run float32 but sum in different orders (onnxruntime's blocked MatMul, fused softmax and
    LayerNorm), so they agree to float32 rounding: 1e-5 of the output scale (~100 float32 ulps through
    a few layers), not bit for bit. A wrong op or a lost mask differs by O(scale)."""
    x = _tokens()
    model = _models()[name].eval()
    diff = check_onnxruntime(model, x, tmp_path / f"{name}.onnx")
    with torch.no_grad():
        scale = float(model(torch.from_numpy(x)).abs().max())
    assert scale > 0 and np.isfinite(diff) and diff <= 1e-5 * scale


@pytest.mark.parametrize("name", ["part", "deepjet"])
def test_padding_does_not_change_the_output(name):
    """Garbage in padding slots (exists = 0 and no pair features) must not reach the logits."""
    x = _tokens(50)
    model = _models()[name].eval()
    y = x.copy()
    pad = (y[..., N_PARTICLE - 1] + y[..., SV.stop - 1]) == 0
    noise = np.random.default_rng(2).normal(size=y.shape).astype(np.float32)
    noise[..., N_PARTICLE - 1] = noise[..., SV.stop - 1] = 0.0
    noise[..., KIN] = 0.0  # pair features are built from the kinematics of real candidates only
    y[pad] = noise[pad]
    with torch.no_grad():
        a, b = model(torch.from_numpy(x)), model(torch.from_numpy(y))
    # ParT: padded tokens are zeroed after the embedding and their keys get exp(-1e4) = 0 weight;
    # DeepJet-like: padded slots are zeroed after the convolutions, so the LSTM sees zeros.
    assert torch.equal(a, b)


def test_pair_features_match_the_l1_inputs():
    """ParT's in-graph pair features are the L1 tagger's (quant/train_flavour.py) to float32 rounding."""
    from codesign.zoo.flavour_inputs import pair_features as np_pairs

    x = _tokens(20)
    names = ["pt", "e", "deta", "dphi", "charge", "pdgid", "d0", "z0", "d0sig", "z0sig"]
    cand = np.zeros((20, N, len(names)), np.float32)
    cand[..., :4] = x[:, :N, KIN]
    data = {"candidates": cand, "mask": x[:, :N, N_PARTICLE - 1] > 0, "candidate_names": names}
    want = np_pairs(data, N)
    got = part.pair_features(torch.from_numpy(x)).numpy()[:, :N, :N]
    np.testing.assert_allclose(got, want, atol=1e-4)  # float32 logs of float64 reference values
    assert np.all(part.pair_features(torch.from_numpy(x)).numpy()[:, N:] == 0)  # SV tokens have no pair bias


@pytest.mark.slow
def test_cards_validate_and_firmware_is_refused(tmp_path):
    for f, kind in (("flavour_part.toml", "part"), ("flavour_deepjet.toml", "deepjet")):
        card = load_card(REPO / "models" / f).with_preset("tiny")
        assert card.model.kind == kind and card.model.frontend == "torch"
    home = tmp_path
    codesign("train", str(REPO / "models" / "flavour_part.toml"), "--preset", "tiny", home=home)
    train_dir = next((home / "build" / "train").glob("flavour_part-*"))
    m = json.loads((train_dir / "metrics.json").read_text())
    assert set(m["flavour"]["auc"]) == {"b_vs_light", "b_vs_c", "c_vs_light", "c_vs_b"}
    assert m["onnxruntime_max_abs_diff"] < 1e-3 and (train_dir / "float_model.onnx").exists()
    r = codesign("rtl", str(REPO / "models" / "flavour_part.toml"), "--preset", "tiny", home=home, check=False)
    assert r.returncode != 0 and "float offline model" in r.stderr and not list(home.glob("build/points/*/rtl"))
    # `run` on a float card: data, train and the physics report (discriminant ROC curves), no bundle.
    codesign("run", str(REPO / "models" / "flavour_part.toml"), "--preset", "tiny", home=home)
    report = next((home / "reports").glob("flavour_part-*"))
    assert (report / "roc_flavour.png").stat().st_size > 10_000 and "b vs light" in (report / "index.html").read_text()
    assert not (home / "firmware").exists()
