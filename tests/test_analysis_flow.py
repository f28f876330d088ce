"""The W/Z differentiable analysis as a zoo card: the tiny flow end to end, its hand-overs (ONNX,
pyhf workspace), the neos toy's training, the dataset's determinism and the card's refusals."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, codesign

from codesign.card import load_card
from codesign.errors import CodesignError

CARD = str(REPO / "models" / "analysis_wz.toml")
pytestmark = [pytest.mark.pythia, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_tiny_analysis_runs_data_train_fit_report(tiny):
    home, point = tiny
    assert point.stages == ["data", "train", "fit", "report"]
    fit, train = point.record("fit"), point.record("train")
    assert set(fit["test"]) == {f"{s}_{k}" for s in "abc" for k in ("syst", "nosyst")}
    for name, r in fit["test"].items():
        assert r["sigma_mu"] > 0 and np.isfinite(r["sigma_mu"]), (name, r)
    # The same hard-histogram models through pyhf. σ_μ: both are exact Hessians (autodiff), and pyhf's
    # -log L at our fitted parameters equals ours to float64 rounding. Z₀ and CLs also test pyhf's SLSQP fits,
    # which on the tiny preset's weakly constrained models stop early along the flat μ direction
    # (measured: a free fit of Asimov background-only data ending at μ̂ = 0.98 instead of 0, its -log L
    # 1.7e-3 above ours): those are compared where the model constrains μ (σ_μ < 1), to 1e-4.
    for name, r in fit["test"].items():
        assert r["sigma_mu"] == pytest.approx(r["pyhf"]["sigma_mu"], rel=1e-9), name
        assert r["rel_diff"]["nll"] < 1e-10, name  # float64 sums of lgamma and logs; a modelling slip shows at >1e-6
        if r["sigma_mu"] < 1:
            assert r["z0"] == pytest.approx(r["pyhf"]["z0"], rel=1e-4), name
            assert r["cls"] == pytest.approx(r["pyhf"]["cls"], rel=1e-4), name
    assert fit["sigma_mu_ratio_syst"] == pytest.approx(
        fit["test"]["b_syst"]["sigma_mu"] / fit["test"]["a_syst"]["sigma_mu"]
    )
    # ONNX of (b)'s network in float32 against the float64 torch model: float32 rounding of a sigmoid score.
    assert train["onnxruntime_max_abs_diff"] < 1e-5
    # (c) learned its mass window: the thresholds moved from the card's start.
    assert train["validation"]["c_syst"]["window"] != list(point.card.model.mass_window)
    assert {"lumi", "bkg_norm", "fsr", "isr", "jms", "staterror_sr[0]"} <= set(fit["impacts"])
    bs = fit["bootstrap"]  # the test set's statistical spread: replicas differ
    assert bs["replicas"] == 50 and bs["b_syst"]["std"] > 0 and bs["ratio_syst"]["p16"] < bs["ratio_syst"]["p84"]
    page = (point.report_dir / "index.html").read_text()
    assert "σ_μ (b) / (a), with systematics" in page and "b_syst" in page


def test_the_shipped_workspace_reproduces_the_expected_cls_in_pyhf(tiny):
    home, point = tiny
    fit = point.record("fit")
    r = subprocess.run(["bash", "-c", fit["cls_command"].replace("python ", f"{sys.executable} ", 1)],
                       capture_output=True, text=True, check=True)  # fmt: skip
    assert float(r.stdout.strip()) == pytest.approx(fit["test"]["b_syst"]["pyhf"]["cls"], rel=1e-9)
    from codesign.analysis.pyhf_check import load_workspace

    # pyhf's own command line: default interpolation codes and optimizer, as the fit stage records.
    pyhf_cli = str(Path(sys.executable).parent / "pyhf")
    cli = subprocess.run([pyhf_cli, "cls", fit["workspace"]], capture_output=True, text=True, check=True)
    assert json.loads(cli.stdout)["CLs_obs"] == pytest.approx(fit["cls_pyhf_default_codes"], rel=1e-9)
    ws = load_workspace(fit["workspace"])
    assert {m["name"] for s in ws["channels"][0]["samples"] for m in s["modifiers"]} >= {"mu", "lumi", "fsr", "jms"}


def test_boosted_v_is_deterministic(tmp_path):
    from conftest import in_home

    from codesign.data import boosted_v

    files = []
    for i in range(2):
        with in_home(tmp_path / str(i)):
            files.append(boosted_v.load(boosted_v.generate(12, seed=3, workers=1, progress=False)))
    for k in ("features", "labels", "signal", "shower_weights"):
        assert np.array_equal(files[0][k], files[1][k]), k
    w = files[0]["shower_weights"]
    assert w.shape == (48, 4) and (w > 0).all() and not np.allclose(w, 1.0)  # real variations, not copies


@pytest.mark.parametrize("field,value", [("temperature", 0.0), ("bandwidth", -0.1), ("mass_temperature", 0)])
def test_nonpositive_temperature_or_bandwidth_in_a_card_is_one_line(tmp_path, field, value):
    import re

    text = (REPO / "models" / "analysis_wz.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(re.sub(rf"^{field} = .*$", f"{field} = {value}", text, count=1, flags=re.M))
    with pytest.raises(CodesignError, match=rf"{bad}: field 'model.{field}': Input should be greater than 0"):
        load_card(bad)
    r = codesign("run", bad, "--preset", "tiny", home=tmp_path, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr and f"field 'model.{field}'" in r.stderr
    assert not (tmp_path / "build").exists()  # nothing written


@pytest.mark.filterwarnings("ignore")
def test_neos_toy_training_on_sigma_mu_lowers_it():
    """A few steps on the toy: the soft σ_μ falls (the gradient through the fit points downhill)."""
    import copy

    from codesign.analysis import neos_toy

    procs = neos_toy.processes(neos_toy.blobs(400, 0))
    net = neos_toy.network(0)
    edges = np.linspace(0.0, 1.0, 5)
    start = float(neos_toy.sigma_mu(copy.deepcopy(net), procs, edges, True, 0.1).detach())
    history = neos_toy.train_sigma_mu(net, procs, edges, 0.1, steps=15, lr=3e-3)
    assert history[0] == pytest.approx(start) and history[-1] < 0.95 * start, history
