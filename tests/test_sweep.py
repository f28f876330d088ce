"""Sweeps: a 12-point grid completes, survives SIGKILL and resumes exactly once, and Dask agrees."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.sweep.spec import load_sweep

REPO = Path(__file__).parents[1]
SPEC = REPO / "models" / "sweeps" / "jet_mlp_tiny.toml"


def sweep_cmd(home: Path, *extra: str, spec: Path = SPEC) -> list[str]:
    return [sys.executable, "-m", "codesign.cli", "sweep", str(spec), "--workers", "2", *extra]


def env(home: Path) -> dict:
    return {**os.environ, "CODESIGN_HOME": str(home)}


def rows(home: Path) -> list[tuple]:
    db = home / "build" / "sweeps" / "jet_mlp_tiny" / "results.sqlite"
    with sqlite3.connect(db) as c:
        return c.execute("SELECT id, params, status, metrics, error FROM points ORDER BY id").fetchall()


def test_spec_validation_names_file_and_axis(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text(
        SPEC.read_text()
        .replace('"pruning.sparsity"', '"pruning.sparsty"')
        .replace("../jet_tagger_mlp.toml", str(REPO / "models/jet_tagger_mlp.toml"))
    )
    with pytest.raises(CodesignError, match=r"s.toml: axis 'pruning.sparsty': no such card field"):
        load_sweep(bad)
    bad.write_text(
        SPEC.read_text()
        .replace("[4, 6, 8]", "[4, 1, 8]")
        .replace("../jet_tagger_mlp.toml", str(REPO / "models/jet_tagger_mlp.toml"))
    )
    with pytest.raises(CodesignError, match=r"field 'precision.weight_bits'"):
        load_sweep(bad)
    assert len(load_sweep(SPEC).points()) == 12


def test_a_store_from_other_fixed_settings_is_refused_not_resumed(tmp_path, monkeypatch):
    """Changing `fixed` (or the card) changes every point: resuming would mix old results with new ones."""
    from codesign.sweep.run import run_sweep, stale_points
    from codesign.sweep.store import Store

    monkeypatch.setenv("CODESIGN_HOME", str(tmp_path))
    spec = load_sweep(SPEC)
    store = Store(tmp_path / "build" / "sweeps" / spec.name / "results.sqlite")
    first = spec.points()[0]
    store.add(first, spec.card_for(first).key(), "t")
    store.close()
    assert stale_points(spec) == []  # the same settings: resumable
    changed = spec.model_copy(update={"fixed": {**spec.fixed, "training.epochs": 3}})
    assert [r["params"] for r in stale_points(changed)] == [first]
    with pytest.raises(CodesignError, match=r"sweep 'jet_mlp_tiny': 1 stored points were made from another card"):
        run_sweep(changed)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Run the sweep, SIGKILL it (driver and its point processes) after some points, resume."""
    home = tmp_path_factory.mktemp("sweep")
    p = subprocess.Popen(sweep_cmd(home), cwd=home, env=env(home), start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 900
    while time.time() < deadline and p.poll() is None:
        time.sleep(2)
        try:
            if sum(r[2] == "done" for r in rows(home)) >= 3:
                break
        except sqlite3.OperationalError:  # store not created yet
            pass
    killed_at = sum(r[2] == "done" for r in rows(home))
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    r = subprocess.run(sweep_cmd(home), cwd=home, env=env(home), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return home, killed_at


@pytest.mark.slow
def test_sigkill_then_resume_every_point_exactly_once(killed_and_resumed):
    home, killed_at = killed_and_resumed
    assert 3 <= killed_at < 12  # the kill really happened mid-sweep
    got = rows(home)
    assert len(got) == 12 and len({r[1] for r in got}) == 12
    assert all(r[2] == "done" for r in got), [r[4] for r in got if r[2] != "done"]
    for r in got:
        m = json.loads(r[3])
        assert m["csim_mismatches"] == 0 and m["csim_vectors"] >= 1000 and m["lut"] > 0
    db = home / "build" / "sweeps" / "jet_mlp_tiny" / "results.sqlite"
    with sqlite3.connect(db) as c:
        per_point = c.execute("SELECT point_id, COUNT(*) FROM stages GROUP BY point_id").fetchall()
    assert len(per_point) == 12 and {n for _, n in per_point} == {5}  # data, train, hls, rtl, estimate


@pytest.mark.slow
def test_sparsity_and_bits_move_the_cost(killed_and_resumed):
    home, _ = killed_and_resumed
    m = {r[1]: json.loads(r[3]) for r in rows(home)}

    def lut(bits, sparsity, reuse=1):
        return m[
            json.dumps(
                {"firmware.reuse_factor": reuse, "precision.weight_bits": bits, "pruning.sparsity": sparsity},
                sort_keys=True,
            )
        ]["lut"]

    assert lut(4, 0.0) < lut(8, 0.0)
    assert lut(6, 0.5) < lut(6, 0.0)
    assert lut(6, 0.0, 1) == lut(6, 0.0, 2)  # da4ml RTL is fully unrolled: reuse is an HLS-only knob


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_results(killed_and_resumed, tmp_path):
    home, _ = killed_and_resumed
    # Share the data and trainings; the firmware stages of one weight width (4 of the 12 points: both
    # sparsities and reuse factors) are recomputed on the Dask workers. The whole grid on Dask too would
    # add about 10 minutes to the suite and test nothing more of the executor.
    for sub in ("data", "train"):
        shutil.copytree(home / "build" / sub, tmp_path / "build" / sub)
    text = SPEC.read_text()
    part = text.replace('"../jet_tagger_mlp.toml"', f'"{REPO / "models" / "jet_tagger_mlp.toml"}"')
    part = part.replace('"precision.weight_bits" = [4, 6, 8]', '"precision.weight_bits" = [6]')
    assert part.count("[6]") == 1 and '"../jet_tagger_mlp.toml"' not in part
    spec = tmp_path / SPEC.name
    spec.write_text(part)
    cmd = sweep_cmd(tmp_path, "--executor", "dask", spec=spec)
    r = subprocess.run(cmd, cwd=tmp_path, env=env(tmp_path), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    local = {p: json.loads(m) for _, p, _, m, _ in rows(home)}
    dask = {p: json.loads(m) for _, p, _, m, _ in rows(tmp_path)}
    assert len(dask) == 4 and all(json.loads(p)["precision.weight_bits"] == 6 for p in dask)
    assert all(local[k] == dask[k] for k in dask)


@pytest.mark.slow
def test_report_and_package_from_sweep(killed_and_resumed):
    home, _ = killed_and_resumed
    r = subprocess.run([sys.executable, "-m", "codesign.cli", "report", str(SPEC)],
                       cwd=home, env=env(home), capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    page = (home / "reports" / "jet_mlp_tiny" / "index.html").read_text()
    assert (
        "Pareto" in page
        and "class='chosen'" in page
        and (home / "reports" / "jet_mlp_tiny" / "pareto_lut.png").exists()
    )
    r = subprocess.run([sys.executable, "-m", "codesign.cli", "package", "--from-sweep", "jet_mlp_tiny", "--point", "99"],
                       cwd=home, env=env(home), capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 2 and "no point 99" in r.stderr
    r = subprocess.run([sys.executable, "-m", "codesign.cli", "package", "--from-sweep", "jet_mlp_tiny", "--point", "1"],
                       cwd=home, env=env(home), capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    bundle = Path(r.stdout.strip().split("bundle -> ")[1])
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["bit_exact"]["hls_csim"]["mismatches"] == 0 and manifest["card"]["precision"]["weight_bits"] == 4


@pytest.mark.slow
def test_optuna_search_visits_budget_distinct_points_and_resumes(killed_and_resumed, tmp_path):
    """Multi-objective Optuna over the same grid: `budget` distinct points, each exactly once, also on a rerun.

    It runs in the killed-and-resumed home, so every stage is a cache hit: this tests the search, not the flow.
    """
    home, _ = killed_and_resumed
    spec = tmp_path / "opt.toml"
    spec.write_text(SPEC.read_text().replace('name = "jet_mlp_tiny"', 'name = "jet_mlp_opt"')
                    .replace("../jet_tagger_mlp.toml", str(REPO / "models/jet_tagger_mlp.toml"))
                    .replace('kind = "grid"', 'kind = "optuna"\nbudget = 5'))  # fmt: skip
    cmd = [sys.executable, "-m", "codesign.cli", "sweep", str(spec), "--workers", "2"]
    for _ in range(2):  # the second run finds the budget spent and adds nothing
        r = subprocess.run(cmd, cwd=home, env=env(home), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
        with sqlite3.connect(home / "build" / "sweeps" / "jet_mlp_opt" / "results.sqlite") as c:
            got = c.execute("SELECT params, status FROM points").fetchall()
        assert len(got) == 5 and all(s == "done" for _, s in got)
        assert len({p for p, _ in got}) == 5 and all(json.loads(p) in load_sweep(spec).points() for p, _ in got)
