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
REAL = Path(__file__).parent / "data" / "vendor_reports"  # real reports from public repositories (README there)


def _by(rows):
    return {(r["quantity"], r["design"], r["rank"]): r for r in rows}


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


def test_real_hls4ml_folder_csynth_xml_and_vivado_synth():
    """hls4ml's own test reports (Vivado HLS 2020.1): csynth.xml wins over its csynth.rpt twin (no double rows),
    and vivado_synth.rpt is Vivado's post-synthesis utilization of the HLS IP."""
    rows = parse_reports(REAL / "hls4ml_vivado_2020.1")
    got = _by(rows)
    assert got[("lut", "hls", 1)]["value"] == 2532 and got[("dsp", "hls", 1)]["value"] == 73
    assert got[("latency_cycles", "hls", 1)]["value"] == 10 and got[("ii", "hls", 1)]["value"] == 8
    assert "myproject_csynth.xml" in got[("lut", "hls", 1)]["source"] and "2020.1" in got[("lut", "hls", 1)]["source"]
    assert sum(r["quantity"] == "lut" and r["rank"] == 1 for r in rows) == 1  # the .rpt twin is not read again
    assert got[("lut", "hls", 2)]["value"] == 1526 and got[("ff", "hls", 2)]["value"] == 2428  # 7-series "Slice LUTs*"
    assert got[("dsp", "hls", 2)]["value"] == 66 and "post-synthesis" in got[("lut", "hls", 2)]["source"]
    assert headline(rows)["lut"]["value"] == 1526  # Vivado synthesis outranks the HLS estimate


def test_real_csynth_rpt_alone(tmp_path):
    shutil.copy(REAL / "hls4ml_vivado_2020.1" / "myproject_csynth.rpt", tmp_path)
    got = _by(parse_reports(tmp_path))
    assert got[("lut", "hls", 1)]["value"] == 2532 and got[("ff", "hls", 1)]["value"] == 7969
    assert got[("dsp", "hls", 1)]["value"] == 73 and got[("latency_cycles", "hls", 1)]["value"] == 10
    assert got[("ii", "hls", 1)]["value"] == 8


def test_real_run_folder_most_implemented_stage_wins():
    """A Vivado 2021.2 run folder as sent back: util post-synth and post-route, a report_timing path file,
    every file named *.v. The path report is skipped, route wins and is named."""
    rows = parse_reports(REAL / "lakeroad_vivado_2021.2")
    got = _by(rows)
    assert got[("lut", "vivado", 2)]["value"] == 500 and "post-synthesis" in got[("lut", "vivado", 2)]["source"]
    head = headline(rows)
    assert (
        head["lut"]["value"] == 493 and "post-route" in head["lut"]["source"] and "util-route" in head["lut"]["source"]
    )
    assert head["ff"]["value"] == 299 and head["dsp"]["value"] == 3
    assert not any("timing-route" in r["source"] for r in rows)  # report_timing: recognised and skipped


def test_real_timing_summary_na_is_a_value_not_a_crash():
    rows = parse_reports(REAL / "lakeroad_vivado_2021.2_comb")
    got = {r["quantity"]: r for r in rows}
    assert got["wns_ns"]["value"] == "NA" and "no clocked paths" in got["wns_ns"]["source"]
    assert got["whs_ns"]["value"] == "NA" and got["clock_ns"]["value"] == 5.0


def test_real_timing_summary_2019():
    got = {r["quantity"]: r for r in parse_reports(REAL / "pynqz2_vivado_2019.2")}
    assert got["wns_ns"]["value"] == 0.213 and got["tns_ns"]["value"] == 0.0 and got["whs_ns"]["value"] == 0.024
    assert got["clock_ns"]["value"] == 10.0 and "clk_fpga_0" in got["wns_ns"]["source"]
    assert (
        "post-route" in got["wns_ns"]["source"] and got["wns_ns"]["rank"] == 4
    )  # from the file name (no Design State)


@pytest.mark.parametrize(
    "name, cut, match",
    [
        (
            "vivado_timing_summary_routed.rpt",
            lambda t: t.split("      0.213")[0],
            r"the WNS\(ns\) table has no value row",
        ),
        (
            "vivado_timing_summary_routed.rpt",
            lambda t: t.replace("      0.213", "      x.213"),
            r"WNS\(ns\) is 'x.213', expected",
        ),
        (
            "vivado_timing_summary_routed.rpt",
            lambda t: t.replace("WNS(ns)", "W(ns)"),
            r"no 'Design Timing Summary' WNS",
        ),
    ],
)
def test_broken_real_report_is_one_line_naming_the_file(tmp_path, name, cut, match):
    text = (REAL / "pynqz2_vivado_2019.2" / name).read_text()
    (tmp_path / name).write_text(cut(text))
    with pytest.raises(CodesignError, match=rf"{name}: {match}") as e:
        parse_reports(tmp_path)
    assert "\n" not in str(e.value)


def test_broken_utilization_row_names_file_and_row(tmp_path):
    f = REAL / "lakeroad_vivado_2021.2" / "binary-operators.futil-ultrascale-util-route.v"
    (tmp_path / f.name).write_text(f.read_text().replace("|  493 |", "|  ??? |", 1))
    with pytest.raises(CodesignError, match=r"util-route.v: row 'CLB LUTs': Used is '\?\?\?', expected a number"):
        parse_reports(tmp_path)
