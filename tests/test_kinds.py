"""The model-kind registry: a kind declared and registered in this test alone (its own dataset, a
trainer, a stage of its own, figures and a report section) goes through card loading, the flow, a
sweep spec, a sweep point and the report, without any core file knowing it."""

import json
import types
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from conftest import REPO, in_home
from pydantic import Field

from codesign import kinds
from codesign.errors import CodesignError
from codesign.spec import Strict


class ToyData(Strict):
    dataset: Literal["toy_points"] = "toy_points"
    n: int = Field(200, ge=10, description="points drawn")
    seed: int = 1


def _toy_dataset() -> types.ModuleType:
    """A dataset module as codesign/data/ has them: Spec, from_spec, load, add_cli, from_cli."""
    from codesign.paths import atomic_file, data_dir

    mod = types.ModuleType("toy_points", "Toy points: N(0.3, 1) draws.")

    def from_spec(spec):
        path = data_dir() / f"toy-{spec.n}-{spec.seed}.npz"
        if not path.exists():
            with atomic_file(path) as tmp:
                np.savez(tmp, x=np.random.default_rng(spec.seed).normal(0.3, 1.0, spec.n))
        return path

    mod.Spec, mod.from_spec, mod.load = ToyData, from_spec, lambda path: dict(np.load(path))
    mod.add_cli = lambda p: p.add_argument("--n", type=int, default=200)
    mod.from_cli = lambda args: from_spec(ToyData(n=args.n))
    return mod


class ToyModel(Strict):
    kind: Literal["toy_fit"] = "toy_fit"
    frontend: Literal["numpy"] = "numpy"
    bins: int = Field(10, ge=2)


def _train(card, data, out: Path, progress: bool = True) -> dict:
    """'Training' is the sample mean; the reference is the model's output on ten test points."""
    x = data["x"]
    np.savez(out / "reference.npz", x=x[:10], y=np.full(10, x.mean()))
    metrics = {"mean": float(x.mean()), "error": float(x.std() / np.sqrt(len(x))), "n_train": len(x), "n_test": 10}
    (out / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def _fit(point, out: Path) -> dict:
    """The kind's own stage after training: the pull of the fitted mean from the true 0.3."""
    t = point.record("train")
    return {"pull": (t["mean"] - 0.3) / t["error"]}


def _report(point, train, ref, out):
    from codesign.report.sections import Section

    return Section([("fitted mean", f"{train['mean']:.4f}"), ("pull", f"{point.record('fit')['pull']:.3f}")],
                   sample="points")  # fmt: skip


def _check(card):
    if card.model.bins > card.data.n:
        return "model.bins", f"at most data.n = {card.data.n} bins (got {card.model.bins})"
    return None


@pytest.fixture
def toy(tmp_path):
    kind = kinds.register(kinds.ModelKind(
        name="toy_fit", spec=ToyModel, dataset=_toy_dataset(), trainers={"numpy": _train},
        figures={"mean_offset": "min"}, figures_of=lambda t: {"mean_offset": abs(t["mean"] - 0.3)},
        physics=lambda t: {"mean": t["mean"]}, ports=lambda card, t: "", report=_report,
        stages=("data", "train", "fit", "report"), extra_stages={"fit": kinds.Stage(_fit, needs=("train",))},
        check=_check, summary="a throw-away kind of the test suite",
    ))  # fmt: skip
    card = tmp_path / "toy.toml"
    card.write_text('name = "toy"\ndescription = "toy"\n[model]\nkind = "toy_fit"\nbins = 5\n[data]\nn = 400\n')
    try:
        with in_home(tmp_path):
            yield kind, card
    finally:
        kinds.unregister("toy_fit")


def test_card_sections_come_from_the_registered_kind(toy):
    from codesign.card import load_card

    kind, path = toy
    card = load_card(path)
    assert isinstance(card.model, ToyModel) and isinstance(card.data, ToyData) and card.kind is kind
    assert card.model.bins == 5 and card.data.n == 400
    good = path.read_text()
    for old, new, field in (
        ("bins = 5", "bins = 1", "model.bins"),
        ("n = 400", "n = 4", "data.n"),
        ("bins = 5", "bins = 900", "model.bins"),
    ):  # the last one: the kind's own check
        path.write_text(good.replace(old, new))
        with pytest.raises(CodesignError) as e:
            load_card(path)
        assert f"field '{field}'" in str(e.value) and str(path) in str(e.value), e.value
    path.write_text(good)
    path.write_text(path.read_text().replace('kind = "toy_fit"', 'kind = "toy_fitt"'))
    with pytest.raises(CodesignError, match=r"field 'model.kind': unknown model kind 'toy_fitt' \(have: .*toy_fit"):
        load_card(path)


def test_flow_runs_the_kinds_stages_and_report(toy):
    from codesign import flow
    from codesign.card import load_card

    _, path = toy
    point = flow.Point(load_card(path))
    assert point.stages == ["data", "train", "fit", "report"]
    records = flow.run(point)
    assert list(records) == ["data", "train", "fit", "report"]
    assert abs(records["fit"]["pull"]) < 5  # a mean of 400 N(0.3, 1) draws, in units of its error
    page = (point.report_dir / "index.html").read_text()
    assert "fitted mean" in page and "pull" in page and "400 training / 10 test points" in page
    with pytest.raises(CodesignError, match=r"stage 'hls' does not apply: model kind 'toy_fit'"):
        flow.run(point, until="hls")


def test_sweep_spec_and_point_read_the_kinds_figures(toy):
    from codesign.sweep.spec import load_sweep
    from codesign.sweep.task import run_point

    _, path = toy
    spec_file = path.parent / "toy_sweep.toml"
    text = (f'name = "toy_sweep"\ncard = "{path}"\ntargets = ["fit"]\n[axes]\n"data.n" = [100, 400]\n'
            '[search]\nobjectives = ["mean_offset:min"]\n')  # fmt: skip
    spec_file.write_text(text)
    spec = load_sweep(spec_file)
    assert [spec.card_for(p).data.n for p in spec.points()] == [100, 400]
    result = run_point(spec.card_for(spec.points()[0]).model_dump(mode="json"), str(path), ["fit"])
    assert result["ok"], result
    assert set(result["metrics"]) == {"mean_offset"} and result["metrics"]["mean_offset"] >= 0
    assert "fit" in result["stages"]
    spec_file.write_text(text.replace("mean_offset:min", "lut:min"))  # no firmware stages: no LUTs
    with pytest.raises(CodesignError, match=r"model kind 'toy_fit' has no figure 'lut' \(have: mean_offset\)"):
        load_sweep(spec_file)
    spec_file.write_text(text.replace('targets = ["fit"]', 'targets = ["cosim"]'))
    with pytest.raises(CodesignError, match=r"field 'targets': unknown stage 'cosim'"):
        load_sweep(spec_file)


def test_every_zoo_card_names_a_registered_kind_with_its_own_ports():
    from codesign.card import load_card

    mlp_ports = kinds.get("mlp").ports(None, {})
    for path in sorted((REPO / "models").glob("*.toml")):
        card = load_card(path)
        kind = card.kind
        assert card.model.frontend in kind.trainers, path
        if kind.firmware and kind.name != "mlp":  # each L1 core's README says what its ports carry
            assert kind.ports(card, {}) and kind.ports(card, {}) != mlp_ports, path
    qonnx = kinds.get("qonnx_file")
    assert "QONNX graph" in qonnx.ports(types.SimpleNamespace(model=types.SimpleNamespace(file="u.onnx")), {})
    assert not qonnx.firmware or "data" not in qonnx.stages
