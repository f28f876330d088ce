"""What a verified point runs and records: the stages up to `--until`, Icarus' sample size, and the
bit-exact counts a sweep shows beside the cost."""

import json

import numpy as np
import pytest

from codesign import flow
from codesign.rtl.cosim import toggle_cover
from codesign.sweep.figures import metrics_of
from codesign.sweep.spec import load_sweep

REPO = __import__("pathlib").Path(__file__).parents[1]


def _core(tmp_path, inputs, expected, widths=(4, 3)):
    ports = [{"name": n, "width": w, "elements": 2} for n, w in zip(("in_data", "out_data"), widths)]
    (tmp_path / "core.json").write_text(
        json.dumps({"ports": ports, "vectors": {"inputs": "in.txt", "expected": "out.txt"}})
    )
    np.savetxt(tmp_path / "in.txt", np.asarray(inputs), fmt="%d")
    np.savetxt(tmp_path / "out.txt", np.asarray(expected), fmt="%d")
    return tmp_path


def test_toggle_cover_adds_the_events_that_set_each_changing_bit_both_ways(tmp_path):
    # input element 0 first goes high (all 3 low bits) at event 3, element 1 low there; the output too
    core = _core(tmp_path, [[0, 1], [0, 1], [0, 1], [7, 0], [0, 1]], [[0, 0], [0, 0], [0, 0], [-1, 0], [0, 0]])
    assert toggle_cover(core) == [0, 3]  # event 3 wherever it lies, not the prefix up to it
    assert toggle_cover(core, 2) == [0, 1, 3]  # the card's first events, then the cover
    assert toggle_cover(core, 9) == [0, 1, 2, 3, 4]  # never more events than there are
    # greedy: event 4 gives both missing values of input element 0 (bits 0 and 1 high) and beats 1 and 2 apart
    core = _core(tmp_path, [[0, 0], [1, 0], [2, 0], [0, 0], [3, 0]], [[0, 0]] * 5)
    assert toggle_cover(core) == [0, 4]
    core = _core(tmp_path, [[5, 5]] * 3, [[1, 1]] * 3)  # nothing changes: one vector is enough
    assert toggle_cover(core) == [0]


def test_run_until_means_every_stage_up_to_it():
    point = flow.Point.from_file(REPO / "models" / "jet_tagger_mlp.toml", "tiny")
    assert flow.through(point, "estimate") == ("data", "train", "hls", "rtl", "cosim", "estimate")
    assert flow.plan(("estimate",), point.kind) == ["data", "train", "rtl", "estimate"]  # `codesign estimate`
    assert flow.through(point, "fit") == ()  # not a stage of this kind: run() names the problem


def test_hls_then_estimate_go_to_the_second_process_only_when_this_one_has_work_meanwhile():
    point = flow.Point.from_file(REPO / "models" / "jet_tagger_mlp.toml", "tiny")
    kind, verified = point.kind, list(flow.through(point, "estimate"))  # `codesign run --until estimate`
    needs = flow._needs(kind)
    done = {"data": {}, "train": {}}
    assert flow.to_hand_over(verified, needs, done, {}) == ["hls"]  # beside rtl -> cosim
    assert flow.to_hand_over(verified, needs, {**done, "rtl": {}}, {"hls": None}) == ["estimate"]  # beside cosim
    assert flow.to_hand_over(verified, needs, {**done, "rtl": {}, "cosim": {}}, {"hls": None}) == []  # nothing beside
    alone = flow.plan(("estimate",), kind)  # `codesign estimate`: runs here, one Keras import
    assert flow.to_hand_over(alone, needs, {**done, "rtl": {}}, {}) == []


def test_sweep_metrics_carry_vectors_and_mismatches_per_checker():
    records = {
        "hls": {"vectors": 5000, "mismatches": 0, "compile_s": 1, "predict_s": 1, "backend": "Vitis", "strategy": "Latency",
                "reuse_factor": 1, "io_type": "io_parallel", "part": "x", "clock_ns": 5, "hls4ml": "1.3.0", "project": "prj"},
        "cosim": {"icarus": {"vectors": 100, "mismatches": 0}, "verilator": {"vectors": 5000, "mismatches": 0}},
    }  # fmt: skip
    m = metrics_of(flow.Point.from_file(REPO / "models" / "jet_tagger_mlp.toml").kind, records)
    assert (m["csim_vectors"], m["verilator_vectors"], m["icarus_vectors"]) == (5000, 5000, 100)
    assert m["icarus_mismatches"] == m["verilator_mismatches"] == m["csim_mismatches"] == 0


@pytest.mark.parametrize("spec", ["jet_mlp_firmware.toml", "jet_mlp_demo.toml"])
def test_default_jet_sweeps_verify_every_point(spec):
    s = load_sweep(REPO / "models" / "sweeps" / spec)
    assert {"hls", "cosim", "estimate"} <= set(s.targets)


@pytest.mark.sim
def test_a_clock_period_cocotb_cannot_halve_simulates(tmp_path):
    """3.125 ns (a sweep axis of the jet MLP) is 3125 ps: the testbench gives the high time itself."""
    from codesign.card import Card
    from codesign.fixedpoint import to_grid
    from codesign.rtl.cosim import run_cosim
    from codesign.rtl.emit import emit_rtl
    from codesign.zoo import mlp

    card = Card(name="t", model={"frontend": "hgq2", "hidden": [4]}, precision={"weight_bits": 4, "input_bits": 6})
    model = mlp.build(card, 6, 3)
    x = to_grid(np.random.default_rng(2).normal(size=(40, 6)), mlp.input_format(card))
    emit_rtl(model, x, model.predict(x, verbose=0), tmp_path / "core", clock_ns=3.125, name="odd_clock")
    r = run_cosim(tmp_path / "core", "icarus", tmp_path / "build")
    assert r["passed"] and r["vectors"] == 40 and r["mismatches"] == 0


def test_verilator_builds_use_ccache_only_where_it_can_write(tmp_path, monkeypatch):
    import shutil

    from codesign.rtl.cosim import _run_sim

    run_sim = _run_sim()
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("CCACHE_DIR", str(blocked / "cache"))  # under a file: ccache could not write
    assert "OBJCACHE" not in run_sim._build_speed()
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "cache"))
    assert ("OBJCACHE=ccache" in run_sim._build_speed()) == bool(shutil.which("ccache"))
    assert run_sim._build_speed().startswith("-j")  # not in build_key: they change speed, not the build


@pytest.mark.parametrize("tf_first, expected", [(False, "fork"), (True, "spawn")])
def test_the_second_process_is_forked_unless_tensorflow_is_imported(tmp_path, tf_first, expected):
    """A fork shares the imports; after TensorFlow's import its runtime's threads would not survive one."""
    import os
    import subprocess
    import sys

    code = ("import tensorflow\n" if tf_first else "") + (
        "from codesign import flow\n"
        "with flow.second_process() as pool:\n"
        "    assert pool.submit(eval, '1 + 1').result() == 2\n"
        "    print(pool._mp_context.get_start_method())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "CODESIGN_HOME": str(tmp_path)},
                       capture_output=True, text=True, check=True)  # fmt: skip
    assert r.stdout.split() == [expected]
