"""Cards are validated at the edge: a bad field is one line naming the file and the field."""

import subprocess
import sys
from pathlib import Path

import pytest

from codesign.card import load_card
from codesign.errors import CodesignError

CARD = Path(__file__).parents[1] / "models" / "jet_tagger_mlp.toml"


def test_zoo_card_loads_and_presets_apply():
    card = load_card(CARD)
    tiny = card.with_preset("tiny")
    assert tiny.data.n_per_class < card.data.n_per_class
    assert tiny.key() != card.with_preset("demo").key()
    # Firmware-only changes keep the training key: training is shared between such points.
    other = tiny.model_copy(update={"firmware": tiny.firmware.model_copy(update={"clock_ns": 3.0})})
    assert other.train_key() == tiny.train_key()
    assert other.key() != tiny.key()


@pytest.mark.parametrize(
    "edit, field",
    [
        (("weight_bits = 6", "weight_bits = 'six'"), "precision.weight_bits"),
        (("hidden = [64, 32, 32]", "hidden = [64, 0]"), "model.hidden.1"),
        (('activation = "relu"', 'activation = "gelu"'), "model.activation"),
        (("clock_ns = 5.0 ", "clock_ns = 5.0\nclokc = 3 "), "firmware.clokc"),
    ],
)
def test_malformed_card_names_file_and_field(tmp_path, edit, field):
    bad = tmp_path / "bad.toml"
    text = CARD.read_text()
    assert edit[0] in text
    bad.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(CodesignError) as e:
        load_card(bad)
    msg = str(e.value)
    assert str(bad) in msg and f"'{field}'" in msg and "\n" not in msg


def test_cli_bad_card_exits_nonzero_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(CARD.read_text().replace("epochs = 40", "epochs = 0", 1))
    r = subprocess.run(
        [sys.executable, "-m", "codesign.cli", "run", str(bad), "--preset", "tiny"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"CODESIGN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "training.epochs" in lines[0] and str(bad) in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_unknown_preset_is_refused():
    with pytest.raises(CodesignError, match="no preset 'huge'"):
        load_card(CARD).with_preset("huge")


def test_bad_preset_fails_at_load_naming_the_preset_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(CARD.read_text().replace("n_per_class = 700", "n_per_class = -3", 1))
    with pytest.raises(CodesignError, match=r"'presets\.tiny\.data\.n_per_class'"):
        load_card(bad)


def test_plots_name_the_jets_as_particles_and_the_rest_as_detector_level():
    """The jets (`codesign data jets`) are Pythia's visible particles; every other data set goes through a
    parametric detector: a sweep's or a page's plot label follows the card's data set."""
    from codesign.report.label import DETECTOR, llabel_for
    from codesign.sweep.spec import load_sweep

    assert llabel_for(load_sweep(CARD.parent / "sweeps" / "jedi_budget.toml").base.data.dataset) == (
        "Pythia 8 particles, no detector"
    )
    assert llabel_for(load_sweep(CARD.parent / "sweeps" / "met_budget.toml").base.data.dataset) == DETECTOR
    assert llabel_for(None) == DETECTOR
