"""A stage that fails or is killed leaves nothing half-written; a finished one is not redone."""

import pytest

from codesign import flow
from codesign.card import Card
from codesign.paths import atomic_dir


def test_atomic_dir_failure_leaves_nothing(tmp_path):
    final = tmp_path / "stage"
    with pytest.raises(RuntimeError):
        with atomic_dir(final) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_run_stage_failure_then_success_then_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_HOME", str(tmp_path))
    point = flow.Point(Card(name="t"))
    calls = []

    def flaky(p, out):
        calls.append(out)
        (out / "artifact.txt").write_text("partial")
        if len(calls) == 1:
            raise RuntimeError("stage crashed")
        return {"ok": True}

    monkeypatch.setitem(flow.STAGE_FUNCS, "hls", flaky)
    with pytest.raises(RuntimeError):
        flow.run_stage(point, "hls")
    assert not point.stage_dir("hls").exists()
    assert flow.run_stage(point, "hls")["ok"] is True
    assert (point.stage_dir("hls") / "artifact.txt").exists()
    assert flow.run_stage(point, "hls")["ok"] is True and len(calls) == 2  # cached: not rerun


def test_plan_resolves_what_a_stage_needs():
    assert flow.plan(["estimate"]) == ["data", "train", "rtl", "estimate"]
    assert flow.plan(["hls", "estimate"]) == ["data", "train", "hls", "rtl", "estimate"]
    assert flow.plan(["report"]) == flow.STAGES
    with pytest.raises(flow.CodesignError, match="unknown stage 'synth'"):
        flow.plan(["synth"])
