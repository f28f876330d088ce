"""Vivado/Vitis reports a user brings are parsed, and their figures outrank every open-tool estimate."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.estimate.cost import headline
from codesign.estimate.vendor import parse_reports

DATA = Path(__file__).parent / "data" / "vivado"


def test_parse_csynth_utilization_and_timing():
    rows = parse_reports(DATA)
    got = {(r["quantity"], r["design"]): r for r in rows}
    assert got[("lut", "hls")]["value"] == 38411 and got[("dsp", "hls")]["value"] == 71
    assert got[("latency_cycles", "hls")]["value"] == 9 and got[("ii", "hls")]["value"] == 1
    assert got[("lut", "vivado")]["value"] == 36120 and got[("ff", "vivado")]["value"] == 7911
    assert got[("dsp", "vivado")]["value"] == 0 and got[("wns_ns", "vivado")]["value"] == 0.412
    assert "post-route" in got[("lut", "vivado")]["source"]  # "Design State : Routed"


def test_vendor_figures_win_the_headline():
    ours = [{"quantity": "lut", "value": 40522, "source": "da4ml cost model", "design": "rtl", "rank": 0},
            {"quantity": "lut", "value": 39790, "source": "yosys", "design": "rtl", "rank": 0},
            {"quantity": "latency_cycles", "value": 7, "source": "da4ml pipeline", "design": "rtl", "rank": 0}]  # fmt: skip
    head = headline(ours + parse_reports(DATA))
    assert head["lut"]["value"] == 36120 and "report_utilization" in head["lut"]["source"]
    assert head["latency_cycles"]["value"] == 9  # the csynth figure outranks da4ml's count
    assert headline(ours)["lut"]["value"] == 40522  # without reports: the RTL's own first figure


def test_bad_report_names_the_file(tmp_path):
    bad = tmp_path / "utilization_synth.rpt"
    bad.write_text("this is not a Vivado report\n")
    with pytest.raises(CodesignError, match=r"utilization_synth\.rpt: no '\| CLB LUTs"):
        parse_reports(tmp_path)
    broken = tmp_path / "x"
    broken.mkdir()
    (broken / "top_csynth.xml").write_text("<profile><unclosed></profile>")
    with pytest.raises(CodesignError, match="top_csynth.xml: not a readable csynth.xml"):
        parse_reports(broken)


def test_cli_refuses_a_folder_without_reports_before_running_anything(tmp_path):
    shutil.copy(Path(__file__).parents[1] / "models" / "jet_tagger_mlp.toml", tmp_path / "card.toml")
    (tmp_path / "empty").mkdir()
    r = subprocess.run([sys.executable, "-m", "codesign.cli", "estimate", "card.toml", "--preset", "tiny", "--vendor-reports", "empty"],
                       cwd=tmp_path, capture_output=True, text=True, env={"CODESIGN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert r.returncode == 2 and "no *csynth.xml" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.toml", "empty"]
