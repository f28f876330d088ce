"""Resource-aware training (quant/pareto.py): the β schedule and Pareto checkpoints of HGQ2's learned bit widths.

The JEDI-linear-style tagger's `budget_tiny` preset: trainable bit widths, β ramped 1e-6 -> 1e-4, the
Pareto-optimal (validation accuracy, EBOPs) checkpoints kept. Its final model and a kept checkpoint go
through C-simulation and both simulators bit-exactly; the same training at β = 0 (same seed) costs more.
"""

import json

import pytest
from conftest import REPO, codesign, in_home

from codesign.card import load_card
from codesign.errors import CodesignError

CARD = REPO / "models" / "jet_tagger_jedi.toml"
PRESET = "budget_tiny"


def _edited(tmp_path, old: str, new: str):
    text = CARD.read_text()
    start = text.index("[presets.budget_tiny.training.beta]")
    assert old in text[start:]
    bad = tmp_path / "bad.toml"
    bad.write_text(text[:start] + text[start:].replace(old, new, 1))
    return bad


@pytest.mark.parametrize(
    "old, new, field, says",
    [
        ("start_epoch = 2\nend_epoch = 12", "start_epoch = 8\nend_epoch = 4", "training.beta.end_epoch", "ends before"),
        ("start = 1e-6", "start = -1e-6", "training.beta.start", "greater than or equal to 0"),
        ("end = 1e-4", "end = -1e-4", "training.beta.end", "greater than or equal to 0"),
        ("end_epoch = 12", "end_epoch = 13", "training.beta.end_epoch", "at most training.epochs"),
        ("from_epoch = 2", "from_epoch = 2\ncheckpoint = -1", "training.pareto.checkpoint", "greater than or equal"),
    ],
)
def test_bad_recipe_is_one_line_naming_the_field(tmp_path, old, new, field, says):
    with pytest.raises(CodesignError) as e:
        load_card(_edited(tmp_path, old, new))
    msg = str(e.value)
    assert f"presets.{PRESET}.{field}'" in msg and says in msg and "bad.toml" in msg and "\n" not in msg


def test_recipe_needs_trainable_bits_and_checkpoint_keeps_the_training_key():
    card = load_card(CARD).with_preset(PRESET)
    with pytest.raises(CodesignError, match=r"'training.beta'.*precision.trainable = true"):
        card.with_overrides({"precision.trainable": False})
    picked = card.with_overrides({"training.pareto.checkpoint": 1})
    assert picked.train_key() == card.train_key() and picked.key() != card.key()
    assert card.training.beta.at(0) == pytest.approx(1e-6) and card.training.beta.at(12) == pytest.approx(1e-4)
    assert card.training.beta.at(7) == pytest.approx(1e-5)  # log shape: halfway in epochs, halfway in decades


@pytest.fixture(scope="module")
def budget(tmp_path_factory):
    """The budget_tiny flow, then the same card at β = 0 trained and emitted (rtl) in the same home."""
    from codesign import flow

    home = tmp_path_factory.mktemp("budget")
    codesign("run", CARD, "--preset", PRESET, home=home)
    zero = home / "zero.toml"
    text = CARD.read_text()
    start = text.index("[presets.budget_tiny.training.beta]")
    zero.write_text(text[:start] + text[start:].replace("start = 1e-6\nend = 1e-4", "start = 0.0\nend = 0.0", 1))
    codesign("rtl", zero, "--preset", PRESET, home=home)
    with in_home(home):
        yield home, flow.Point.from_file(CARD, PRESET), flow.Point.from_file(zero, PRESET)


def _bit_exact(point, n: int):
    hls = point.record("hls")
    assert hls["vectors"] == n and hls["mismatches"] == 0
    cosim = point.record("cosim")
    for sim in ("icarus", "verilator"):
        assert cosim[sim]["vectors"] == n and cosim[sim]["mismatches"] == 0 and cosim[sim]["passed"]


@pytest.mark.slow
@pytest.mark.pythia
@pytest.mark.sim
def test_final_model_is_bit_exact_and_keeps_a_pareto_front(budget):
    home, point, _ = budget
    _bit_exact(point, 1050)
    train = point.record("train")
    rows = train["pareto"]["checkpoints"]
    assert rows and [r["checkpoint"] for r in rows] == list(range(len(rows)))
    ebops = [r["ebops"] for r in rows]
    acc = [r["val_accuracy"] for r in rows]
    assert ebops == sorted(ebops) and acc == sorted(acc)  # a front: more EBOPs only for more accuracy
    assert all(r["epoch"] >= 2 for r in rows)  # pareto.from_epoch
    assert (point.train_dir / "pareto" / "0" / "model.keras").exists() and not (point.train_dir / "pareto_raw").exists()


@pytest.mark.slow
@pytest.mark.pythia
@pytest.mark.sim
def test_a_kept_checkpoint_is_a_design_point_bit_exact(budget):
    home, point, _ = budget
    codesign("cosim", CARD, "--preset", PRESET, "--checkpoint", 0, home=home)
    codesign("hls", CARD, "--preset", PRESET, "--checkpoint", 0, home=home)
    from codesign import flow

    picked = flow.Point(point.card.with_overrides({"training.pareto.checkpoint": 0}))
    assert picked.card.train_key() == point.card.train_key()  # no second training
    _bit_exact(picked, 1050)
    row = point.record("train")["pareto"]["checkpoints"][0]
    assert picked.record("train")["pareto_checkpoint"] == row
    n = len(point.record("train")["pareto"]["checkpoints"])
    r = codesign("hls", CARD, "--preset", PRESET, "--checkpoint", n, home=home, check=False)
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 2 and "training.pareto.checkpoint" in last and f"no kept checkpoint {n}" in last
    assert not (flow.Point(point.card.with_overrides({"training.pareto.checkpoint": n})).train_dir).exists()


@pytest.mark.slow
@pytest.mark.pythia
def test_beta_lowers_ebops_and_da4ml_lut_on_the_same_seed(budget):
    _, point, zero = budget
    with_beta, without = point.record("train"), zero.record("train")
    assert with_beta["ebops"] < without["ebops"]
    assert point.core().estimate.lut < zero.core().estimate.lut
    assert json.dumps(without["history"]["beta"][-1]) == "0.0"


def test_chunked_generation_resumes_after_an_interruption(tmp_path):
    """A dataset's finished chunks are kept: a rerun after a failure runs only the rest, same result."""
    import numpy as np

    from codesign.data.generation import run_chunks

    calls = []

    def chunk(task, report):
        calls.append(task)
        if task == 2 and len(calls) == 3:  # the first pass dies at its third chunk
            raise KeyboardInterrupt
        report(0, 1)
        return {"x": np.full(3, task, np.float32)}

    with pytest.raises(KeyboardInterrupt):
        run_chunks(chunk, [0, 1, 2, 3], 1, [("chunks", 4)], progress=False, resume=tmp_path / "c")
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["0.npz", "1.npz"]
    calls.clear()
    out = run_chunks(chunk, [0, 1, 2, 3], 1, [("chunks", 4)], progress=False, resume=tmp_path / "c")
    assert calls == [2, 3] and [int(r["x"][0]) for r in out] == [0, 1, 2, 3]


def _row(i, lut, ratio, dsp=0):
    return {"id": i, "params": {}, "metrics": {"lut": lut, "resolution_ratio": ratio, "dsp": dsp}}


def test_fronts_and_chosen_point_follow_the_objective_and_the_budget():
    """A minimised physics figure (MET resolution ratio): the front, and the best point inside the budget."""
    from codesign.report.sweep import _miss, chosen, pareto
    from codesign.sweep.spec import Choose

    rows = [_row(1, 300e3, 0.60), _row(2, 150e3, 0.75), _row(3, 100e3, 0.80), _row(4, 200e3, 0.90, dsp=700)]
    assert [r["id"] for r in pareto(rows, "lut", "resolution_ratio", "min")] == [3, 2, 1]
    budget = Choose(within={"lut": 172800, "dsp": 614}, aim=0.70)
    assert chosen(rows, "resolution_ratio", "min", budget)["id"] == 2
    assert "aim missed by 0.05" in _miss(rows[1], "lut", "resolution_ratio", "min", 172800, 0.70)
    # nothing inside the budget: the fewest LUTs within the tolerance of the best
    assert chosen(rows, "resolution_ratio", "min", Choose(within={"lut": 1000}))["id"] == 1
    assert "missed by 127,200" in _miss(rows[0], "lut", "resolution_ratio", "min", 172800, None)


def test_sweep_spec_budget_names_a_known_figure(tmp_path):
    from codesign.sweep.spec import load_sweep

    spec = REPO / "models" / "sweeps" / "jedi_budget.toml"
    assert load_sweep(spec).physics == ("accuracy", "max") and load_sweep(spec).checkpoints
    bad = tmp_path / "s.toml"
    bad.write_text(spec.read_text().replace("../jet_tagger_jedi.toml", str(CARD)).replace("lut = 45300", "luts = 1"))
    with pytest.raises(CodesignError, match=r"s.toml: field 'choose.within.luts': no such figure"):
        load_sweep(bad)


def test_bench_keeps_the_families_an_earlier_run_made_each_with_its_size(tmp_path):
    """`--families latent` redoes that sweep only: the other families come from the earlier budget.json, each
    with the command and size that made it (a file from before sizes were per family gives its one size; an
    unknown size is dropped); JSON's string keys of chosen_by_n still read."""
    from codesign.bench.budget import _earlier, _get

    old = {"size": "small", "command": "python -m codesign.bench.budget --families met latent",
           "families": {"met": {"chosen_by_n": {"128": {"lut": 1}}}, "latent": {"chosen": {}}, "bogus": {}}}  # fmt: skip
    path = tmp_path / "budget.json"
    path.write_text(json.dumps(old))
    kept = _earlier(path, ["latent"])
    assert list(kept) == ["met"] and kept["met"]["command"] == old["command"] and kept["met"]["size"] == "small"
    assert _get(kept, "met", "chosen_by_n", 128) == {"lut": 1} and _get(kept, "jedi", "chosen_by_n", 32) is None
    old.update(size={"met": "small", "jedi": "large"}, families={"met": {}, "jedi": {"size": "large"}})
    path.write_text(json.dumps(old))
    assert {f: e["size"] for f, e in _earlier(path, ["latent"]).items()} == {"met": "small", "jedi": "large"}
    old.update(size="huge")
    path.write_text(json.dumps(old))
    assert list(_earlier(path, [])) == ["jedi"]
    assert _earlier(tmp_path / "none.json", []) == {}


def test_a_size_refuses_the_families_it_does_not_cover(capsys):
    from codesign.bench.budget import main

    assert main(["--size", "large", "--families", "met", "jedi"]) == 2
    assert capsys.readouterr().err.strip() == "--size large covers the families jedi; not met"


def test_every_size_gives_valid_cards_for_the_families_it_covers():
    """A typo in SMALL or LARGE (a field the card does not have, an epoch past the end) fails here, not an
    hour into a bench run: _spec builds every point's card."""
    from codesign.bench.budget import SIZES, _spec

    for size, table in SIZES.items():
        for family in table or {}:
            assert _spec(family, size).name.endswith(f"_{size}")


def test_against_the_anchor_takes_our_best_point_within_their_lut_at_each_n():
    from codesign.bench.budget import _against_anchor

    def row(n, acc, lut):
        return {"params": {"model.n_particles": n}, "metrics": {"accuracy": acc, "lut": lut}}

    rows = [row(8, 0.60, 30_000), row(8, 0.62, 36_000), row(32, 0.70, 50_000), row(32, 0.65, 45_300)]
    got = {a["particles"]: a for a in _against_anchor(rows, 10_000)}
    assert sorted(got) == [8, 32]  # only the N the sweep has
    assert (got[8]["accuracy"], got[8]["lut"], got[8]["anchor_lut"]) == (0.60, 30_000, 35_700)  # 36k > their 35.7k
    assert (got[32]["accuracy"], got[32]["accuracy_err"]) == (0.65, round((0.65 * 0.35 / 10_000) ** 0.5, 4))
    assert _against_anchor([row(16, 0.7, 50_000)], 100)[0]["accuracy"] is None


def test_trainings_are_counted_once_however_many_checkpoints_they_give(tmp_path, monkeypatch):
    """A training's kept checkpoints are points of their own: its seconds count once, from its train record."""
    from codesign import flow
    from codesign.bench.budget import _spec, _trainings

    monkeypatch.setenv("CODESIGN_HOME", str(tmp_path))
    spec = _spec("jedi", "small")
    rows = [{"params": {"model.n_particles": 8}}, {"params": {"model.n_particles": 8, "training.pareto.checkpoint": 1}},
            {"params": {"model.n_particles": 16}}]  # fmt: skip
    for n, seconds in ((8, 12.5), (16, 30.0)):
        d = flow.Point(spec.card_for({"model.n_particles": n})).train_dir
        d.mkdir(parents=True)
        (d / "stage.json").write_text(json.dumps({"seconds": seconds}))
    assert _trainings(spec, rows) == {"trainings": 2, "train_s": 42.5}
