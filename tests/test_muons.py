"""Tracker-muon pre-selection: the tiny flows of the latent and full forms and the baseline, the data's
determinism, ONNX against torch, permutation invariance, padding, empty events and refused input."""

import numpy as np
import pytest
from conftest import REPO, codesign, in_home

from codesign.errors import CodesignError

CARD = str(REPO / "models" / "muon_latent.toml")
FULL = str(REPO / "models" / "muon_full.toml")
MATCH = str(REPO / "models" / "muon_match.toml")
pytestmark = pytest.mark.filterwarnings("ignore")

# Float32 sums taken in another order (a padded axis, a permutation) round differently: measured up to
# 6e-7 on these logits (of order 1); EXACT leaves room and still sees a real leak (dropping one of 12
# segments moves a logit by 4e-3 (full) and 3e-2 (latent) with these weights). onnxruntime's own kernels
# (fused, other summation order) on events of up to 300 tracks: TOL.
EXACT = 1e-5
TOL = 1e-4


def _model(kind: str):
    import torch

    from codesign.card import load_card
    from codesign.zoo.muon_attention import build

    torch.manual_seed(0)
    model = build(load_card(FULL if kind == "full" else CARD).with_preset("tiny").model)
    for p in model.parameters():  # away from the zero-initialised null tokens: every path carries signal
        torch.nn.init.normal_(p, std=0.6)
    return model.eval()


def _event(rng, n: int, m: int):
    t = np.stack([np.exp(rng.uniform(0, 4, n)), rng.uniform(-2.5, 2.5, n), rng.uniform(-np.pi, np.pi, n),
                  rng.choice([-1.0, 1.0], n)], axis=1).astype(np.float32)  # fmt: skip
    s = np.stack([rng.integers(0, 4, m), rng.uniform(-2.4, 2.4, m), rng.uniform(-np.pi, np.pi, m),
                  0.1 * rng.standard_normal(m)], axis=1).astype(np.float32)  # fmt: skip
    return t, s


def _run(model, events):
    import torch

    from codesign.zoo.muon_inputs import SEGMENT_FEATURES, TRACK_FEATURES, pad, segment_features, track_features

    t, tm = pad([track_features(e[0]) for e in events], len(TRACK_FEATURES))
    s, sm = pad([segment_features(e[1]) for e in events], len(SEGMENT_FEATURES))
    with torch.no_grad():
        return model(*(torch.from_numpy(a) for a in (t, tm, s, sm))).numpy(), (t, tm, s, sm)


@pytest.mark.pythia
def test_tiny_latent_flow_and_its_figures(tiny):
    home, point = tiny
    assert point.stages == ["data", "train", "report"]
    train = point.record("train")
    m, b = train["model"], train["baseline"]
    assert m["efficiency"]["value"] >= 0.99 and b["efficiency"]["value"] >= 0.99  # the working point's definition
    # the pull matching separates the gun's muons from pileup tracks (measured: rejection 0.99 on the tiny sample)
    assert b["rejection"]["value"] > 0.95 and b["tracks_kept_fraction"] < 0.1
    assert sum(v["muons"] for v in m["vs_pt"].values()) == m["n_muons"] > 0
    assert train["onnxruntime_max_abs_diff"] < TOL
    ref = dict(np.load(point.train_dir / "reference.npz"))
    assert np.mean(ref["y"] >= m["working_point"]["cut"]) == pytest.approx(m["tracks_kept_fraction"])
    page = (point.report_dir / "index.html").read_text()
    assert (
        "fraction of tracks kept" in page and "muon_vs_pt.png" in page and (point.report_dir / "muon_roc.png").exists()
    )


@pytest.mark.pythia
def test_tiny_full_and_baseline_cards_run(tiny):
    home, _ = tiny
    for card in (FULL, MATCH):
        codesign("run", card, "--preset", "tiny", home=home)
    from codesign import flow

    with in_home(home):
        full, match = (flow.Point.from_file(c, "tiny").record("train") for c in (FULL, MATCH))
    assert full["onnxruntime_max_abs_diff"] < TOL and full["n_test"] == match["n_test"] == 36
    assert match["model"] == match["baseline"] == full["baseline"]  # one baseline, the same test tracks


@pytest.mark.pythia
def test_more_tracks_than_the_configured_maximum_is_one_line(tiny, tmp_path):
    home, _ = tiny
    bad = tmp_path / "muon_latent.toml"
    bad.write_text((REPO / "models" / "muon_latent.toml").read_text().replace("max_tracks = 1500", "max_tracks = 20"))
    r = codesign("run", bad, "--preset", "tiny", home=home, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"{bad}: event " in r.stderr and "more than the model's configured maximum model.max_tracks = 20" in r.stderr


@pytest.mark.pythia
def test_muon_data_is_deterministic_and_labelled(tmp_path):
    from codesign.data import muons

    runs = []
    for i, workers in enumerate((1, 2)):
        with in_home(tmp_path / str(i)):
            runs.append(muons.load(muons.generate(8, "physics", 5.0, 20, seed=3, workers=workers, progress=False)))
    a, b = runs
    for k in (*muons.TRACK_ARRAYS, *muons.SEGMENT_ARRAYS, "track_counts", "segment_counts", "process"):
        assert np.array_equal(a[k], b[k]), k
    lab = a["track_label"] == 1
    assert lab.any() and (a["track_stations"][lab] >= 2).all()  # the tracker-muon definition
    assert set(np.unique(a["track_origin"][lab])) <= {0, 1, 2}  # only muons are muons
    assert set(np.unique(a["process"])) == {0, 1, 2, 3}
    # segments of a muon track sit near it: its own ones are within 0.5 rad in phi at every station
    t, s = a["track_offsets"], a["segment_offsets"]
    i = int(np.searchsorted(t, np.flatnonzero(lab)[0], side="right") - 1)
    own = a["segment_track"][s[i] : s[i + 1]] == np.flatnonzero(lab)[0] - t[i]
    dphi = (a["segments"][s[i] : s[i + 1]][own, 2] - a["tracks"][np.flatnonzero(lab)[0], 2] + np.pi) % (
        2 * np.pi
    ) - np.pi
    assert own.sum() >= 2 and (np.abs(dphi) < 0.5).all()


@pytest.mark.slow  # an ONNX export per form: 15-30 s
@pytest.mark.parametrize("kind", ["full", "latent"])
def test_onnx_equals_torch(kind, tmp_path):
    import torch

    from codesign.quant.train_muon import INPUT_NAMES, export_onnx, session

    model = _model(kind)
    rng = np.random.default_rng(1)
    _, ex = _run(model, [_event(rng, 5, 4), _event(rng, 7, 3)])
    sess = session(export_onnx(model, tuple(torch.from_numpy(a) for a in ex), tmp_path / "m.onnx"))
    for n, m in ((1, 1), (40, 12), (300, 36), (3, 0)):  # other track and segment counts than exported, and none
        want, arrays = _run(model, [_event(rng, n, m)])
        got = sess.run(None, dict(zip(INPUT_NAMES, arrays, strict=True)))[0]
        assert got.shape == want.shape and np.abs(got - want).max() < TOL, (n, m)


@pytest.mark.parametrize("kind", ["full", "latent"])
def test_permutations_of_tracks_and_segments(kind):
    model = _model(kind)
    rng = np.random.default_rng(2)
    t, s = _event(rng, 30, 12)
    y = _run(model, [(t, s)])[0][0]
    assert y.std() > 0.1  # the outputs differ per track: a permutation could show
    pt, ps = rng.permutation(len(t)), rng.permutation(len(s))
    assert np.abs(_run(model, [(t[pt], s)])[0][0] - y[pt]).max() < EXACT
    assert np.abs(_run(model, [(t, s[ps])])[0][0] - y).max() < EXACT
    assert np.abs(_run(model, [(t, s[:-1])])[0][0] - y).max() > 100 * EXACT  # one segment does matter


@pytest.mark.parametrize("kind", ["full", "latent"])
def test_padded_slots_change_nothing(kind):
    from codesign.zoo.muon_attention import PADDED_LOGIT

    model = _model(kind)
    rng = np.random.default_rng(3)
    small, big = _event(rng, 6, 2), _event(rng, 50, 20)
    alone = _run(model, [small])[0][0]
    y, (t, tm, s, sm) = _run(model, [small, big])  # small padded to 50 tracks and 20 segments
    assert tm[0].sum() == 6 and sm[0].sum() == 2
    assert np.abs(y[0, :6] - alone).max() < EXACT and (y[0, 6:] == PADDED_LOGIT).all()
    # garbage in the padded slots changes nothing either
    import torch

    t[0, 6:], s[0, 2:] = 1e3, -1e3
    with torch.no_grad():
        y2 = model(*(torch.from_numpy(a) for a in (t, tm, s, sm))).numpy()
    assert np.abs(y2 - y).max() < EXACT


@pytest.mark.parametrize("kind", ["full", "latent"])
def test_empty_events_have_a_defined_output(kind):
    from codesign.zoo.muon_attention import predict_event

    model = _model(kind)
    t, s = _event(np.random.default_rng(4), 10, 5)
    assert predict_event(model, t[:0], s, 100).shape == (0,)
    y = predict_event(model, t, s[:0], 100)
    assert y.shape == (10,) and np.isfinite(y).all()
    # no segments = every segment slot padded: the same answer
    padded, _ = _run(model, [(t, s[:0]), _event(np.random.default_rng(5), 3, 7)])
    assert np.abs(padded[0] - y).max() < EXACT


def test_bad_tracks_are_refused_naming_event_and_field():
    from codesign.quant.train_muon import check_data
    from codesign.zoo.muon_attention import predict_event

    model = _model("latent")
    t, s = _event(np.random.default_rng(6), 10, 5)
    t[4, 1] = np.nan
    with pytest.raises(CodesignError, match=r"^event 7: field 'tracks.eta' of track 4 is nan; expected finite"):
        predict_event(model, t, s, 100, where="event 7")
    with pytest.raises(CodesignError, match=r"^event 0: field 'tracks': 10 tracks, more than .*model.max_tracks = 9$"):
        predict_event(model, np.nan_to_num(t), s, 9)
    data = {"tracks": np.concatenate([np.nan_to_num(t), t]), "segments": np.concatenate([s, s]),
            "track_counts": np.array([10, 10]), "track_offsets": np.array([0, 10, 20]),
            "segment_offsets": np.array([0, 5, 10])}  # fmt: skip
    with pytest.raises(CodesignError, match=r"^data.h5: event 1: field 'tracks.eta' of track 4 is nan"):
        check_data(data, 100, "data.h5")
