"""The CaloClouds II-style shower generator as a zoo card: the tiny flow end to end (no fidelity
threshold: tiny training is not physics), its honesty (ONNX = torch, the energy sum tracks the
incident energy), the reference simulator's determinism and geometry, and the refusals."""

import re

import numpy as np
import pytest
from conftest import REPO, codesign, in_home

from codesign.card import load_card
from codesign.errors import CodesignError

CARD = str(REPO / "models" / "showers_cc2.toml")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


def test_tiny_showers_runs_data_train_distil_evaluate_report(tiny):
    home, point = tiny
    assert point.stages == ["data", "train", "distil", "evaluate", "report"]
    ev, dist = point.record("evaluate"), point.record("distil")
    assert ev["n_test"] == point.card.data.n_test and ev["network_calls"] == {"teacher": 7, "student": 1}
    # ONNX in onnxruntime against torch, float32 both: they differ by summation order only. Flow and student
    # outputs are standardised features of order 1-10: 1e-4 is ~100 float32 ulps. The teacher's inputs are
    # points at noise level σ up to σ_max = 80 (values to ~300): 1e-3 there. A wrong export is off by O(1).
    diffs = dist["onnxruntime_max_abs_diff"]
    assert diffs["flow"] < 1e-4 and diffs["student"] < 1e-4 and diffs["teacher"] < 1e-3, diffs
    # Whole showers sampled through onnxruntime and torch from the same noise: the same point counts and
    # layers, and x, y, E, t equal to 1e-3 relative (exp and sinh of the network's outputs amplify its rounding).
    assert ev["onnx_same_point_counts"] and ev["onnx_layer_flip_fraction"] < 0.01
    assert ev["onnx_vs_torch_max_rel_diff"] < 1e-3
    # The sampled visible energy tracks the incident energy (incident energies span a factor 10).
    for sampler in ("teacher", "student"):
        t = ev["energy_tracking"][sampler]
        assert t["pearson_r"] > 0.9 and 0.5 < t["mean_ratio"] < 1.5, (sampler, t)
    assert ev["energy_tracking"]["reference"]["pearson_r"] > 0.99  # the simulator's own: 23 %/sqrt(E)
    # Every observable has its W1 row (floor, teacher, student) and the headline is their largest ratio.
    assert set(ev["w1"]) == {"n_hits", "energy_ratio", "hit_energy", "longitudinal", "radial", "cog_x", "cog_y",
                             "cog_z", "time_core", "time_tail"}  # fmt: skip
    assert ev["w1_ratio_max"] == pytest.approx(max(r["student_over_teacher"] for r in ev["w1"].values()))
    assert all(0.0 <= a <= 1.0 for a in ev["classifier_auc"].values())
    page = (point.report_dir / "index.html").read_text()
    assert "Wasserstein-1" in page and "not the ratio to Geant4" in page and "showers_radial.png" in page
    assert (point.report_dir / "showers_response.png").stat().st_size > 10_000


def test_a_new_distillation_reuses_the_teacher(tiny, tmp_path):
    """[model.distil] changes the student only: the train stage takes the cached teacher (same weights file)."""
    home, point = tiny
    text = (REPO / "models" / "showers_cc2.toml").read_text().replace("steps = 30\n", "steps = 20\n")
    card = tmp_path / "showers_cc2.toml"
    card.write_text(text)
    codesign("run", card, "--preset", "tiny", "--until", "train", home=home)
    from codesign import flow

    with in_home(home):
        other = flow.Point.from_file(card, "tiny")
        assert other.key != point.key and other.card.model.distil.steps == 20
        assert other.record("train")["teacher_cache"] == point.record("train")["teacher_cache"]
        a = (point.train_dir / "teacher.pt").read_bytes()
        assert a == (other.train_dir / "teacher.pt").read_bytes()


def test_an_energy_outside_the_trained_range_is_one_line(tiny):
    home, point = tiny
    from codesign.zoo import showers_cc2

    gen = showers_cc2.load(point.stage_dir("distil") / "model.pt", point.card.model, with_student=True)
    with pytest.raises(CodesignError, match=r"incident energy: 150 GeV is outside the trained range 10-100 GeV"):
        gen.points([50.0, 150.0], "student")
    pts, offs = gen.points([10.0, 100.0], "student")  # the edges are inside
    assert len(offs) == 3 and len(pts) == offs[-1]


@pytest.mark.parametrize("field,value,message", [
    ("response_energies", "[10.0, 150.0]", "150 GeV is outside the trained range 10-100 GeV"),
    ("max_points", "20000", "20000 points per shower, more than the 11726 cells of the geometry"),
])  # fmt: skip
def test_a_card_beyond_range_or_geometry_is_one_line(tmp_path, field, value, message):
    text = (REPO / "models" / "showers_cc2.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(re.sub(rf"^{field} = .*$", f"{field} = {value}", text, count=1, flags=re.M))
    with pytest.raises(CodesignError, match=rf"field 'model.{field}': {message}"):
        load_card(bad)
    r = codesign("run", bad, "--preset", "tiny", home=tmp_path, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr and f"field 'model.{field}'" in r.stderr
    assert not (tmp_path / "build").exists()  # nothing written


def test_a_weights_file_that_is_not_the_models_is_refused(tiny, tmp_path):
    import torch

    from codesign.zoo import showers_cc2

    home, point = tiny
    spec = point.card.model
    good = point.stage_dir("distil") / "model.pt"

    class Payload:  # a pickle that would run code on load: weights_only refuses it
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"kind": "showers_cc2", "x": Payload()}, tmp_path / "pickle.pt")
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "linear.pt")
    (tmp_path / "text.pt").write_text("not a weights file\n")
    for name in ("pickle.pt", "linear.pt", "text.pt"):
        with pytest.raises(CodesignError, match=r"not a showers_cc2 weights file"):
            showers_cc2.load(tmp_path / name, spec)
    wider = spec.model_copy(update={"hidden": spec.hidden * 2})  # the right file, another card's sizes
    with pytest.raises(CodesignError, match=r"field 'teacher\.layers\.0\.layer\.weight': expected shape"):
        showers_cc2.load(good, wider)
    with pytest.raises(CodesignError, match=r"expected the keys .*student"):
        showers_cc2.load(point.train_dir / "teacher.pt", spec, with_student=True)  # the teacher alone has no student


def test_showers_data_is_deterministic_and_cells_add_up(tmp_path):
    from codesign.data import showers

    spec = showers.Spec(n_train=30, n_test=10, seed=3)
    files = []
    for i in range(2):
        with in_home(tmp_path / str(i)):
            files.append(showers.load(showers.generate(spec, progress=False)))
    for k in ("incident_energy", "points", "point_offsets", "cell_id", "cell_energy", "cell_time", "cell_offsets"):
        assert np.array_equal(files[0][k], files[1][k]), k
    with in_home(tmp_path / "other"):
        other = showers.load(showers.generate(spec.model_copy(update={"seed": 4}), progress=False))
    assert not np.array_equal(other["incident_energy"], files[0]["incident_energy"])
    d = files[0]
    assert np.bincount(d["split"]).tolist() == [30, 10, 10]
    e = d["incident_energy"]
    assert e.min() >= 10 and e.max() <= 100
    # Cells hold the points' energy: per shower, the cell sum (MIP) equals the sum of the points inside the
    # instrumented disc within the noise (0.12 MIP per cell) and the threshold (hits below 0.5 MIP dropped),
    # far below the ~1200 MIP of a 10 GeV shower.
    p = d["points"]
    inside = showers.nearest_cell(p[:, 0].astype(float), p[:, 1].astype(float)) >= 0
    pts = np.add.reduceat(p[:, 3] * inside, d["point_offsets"][:-1]) / showers.MIP_MEV
    cells = np.add.reduceat(d["cell_energy"], d["cell_offsets"][:-1])
    assert np.all(np.abs(cells - pts) < 0.02 * pts), np.max(np.abs(cells - pts) / pts)
    assert d["cell_id"].max() < showers.N_CELLS


def test_the_hexagonal_geometry():
    from codesign.data import showers

    c = showers.cell_centres()
    assert len(c) == showers.CELLS_PER_LAYER and np.all(np.hypot(*c.T) <= showers.RADIUS_CM)
    assert np.array_equal(showers.nearest_cell(c[:, 0], c[:, 1]), np.arange(len(c)))  # a centre is in its cell
    # A point is in the cell whose centre is nearest (hexagons tile the plane: Voronoi cells of the lattice).
    rng = np.random.default_rng(0)
    xy = rng.uniform(-8, 8, (2000, 2))
    got = showers.nearest_cell(xy[:, 0], xy[:, 1])
    want = np.argmin(((xy[:, None, :] - c[None]) ** 2).sum(-1), 1)
    assert np.array_equal(got, want)
    assert showers.nearest_cell(np.array([20.0]), np.array([0.0]))[0] == -1  # outside the disc
    area = 3 * np.sqrt(3) / 2 * showers._hex_side() ** 2
    assert area == pytest.approx(showers.CELL_AREA_CM2)
