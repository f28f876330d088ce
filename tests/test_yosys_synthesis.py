"""Open synthesis of da4ml cores: lookup-table ROMs map (the rom_style workaround), and the per-stage
sum agrees with the flat run."""

import json

import numpy as np
import pytest

from codesign.estimate.yosys import rom_as_logic, synth_xilinx
from codesign.fixedpoint import to_grid
from codesign.rtl.emit import emit_rtl


@pytest.fixture(scope="module")
def softmax_core(tmp_path_factory):
    """A core with HGQ2's table softmax (da4ml writes its exp and inverse as lookup-table ROMs)."""
    import keras
    from hgq.config import QuantizerConfig
    from hgq.layers import QDense, QSoftmax

    keras.utils.set_random_seed(0)  # untrained weights: fixed, so every run synthesises the same core
    iq = QuantizerConfig("kif", "datalane", i0=2, f0=4, round_mode="RND", overflow_mode="SAT", trainable=False)
    x_in = keras.Input((6,))
    h = QDense(4, iq_conf=iq, name="d")(x_in)
    model = keras.Model(x_in, QSoftmax(axis=-1, name="softmax")(h), name="sm")
    x = to_grid(np.random.default_rng(0).normal(size=(200, 6)), (1, 2, 4))
    out = tmp_path_factory.mktemp("core") / "core"
    emit_rtl(model, x, model.predict(x, verbose=0), out, clock_ns=5.0, name="sm_core")
    return out


def test_core_has_distributed_rom_tables(softmax_core):
    core = json.loads((softmax_core / "core.json").read_text())
    assert core["mem_files"], "the table softmax writes lookup-table ROMs"
    lut_v = (softmax_core / "rtl" / "sm_core_lookup_table.v").read_text()
    assert 'rom_style = "distributed"' in lut_v  # what Vivado reads, unchanged
    assert 'rom_style = "logic"' in rom_as_logic(lut_v) and "distributed" not in rom_as_logic(lut_v)


@pytest.mark.yosys
def test_yosys_maps_lookup_tables(softmax_core, tmp_path):
    core = json.loads((softmax_core / "core.json").read_text())
    r = synth_xilinx(softmax_core / "rtl", core["top"], out_dir=tmp_path)
    assert r["lut"] > 0 and r["ff"] > 0 and r["bram"] == 0  # the ROMs became LUTs
    assert "rom_style" in (tmp_path / "src" / "sm_core_lookup_table.v").read_text()


@pytest.mark.yosys
def test_yosys_without_the_workaround_fails_as_documented(softmax_core, tmp_path):
    """The reason the workaround exists: if this starts passing, a newer Yosys maps distributed ROMs."""
    import shutil
    import subprocess

    core = json.loads((softmax_core / "core.json").read_text())
    srcs = " ".join(f"read_verilog -defer {softmax_core / 'rtl' / f};" for f in core["rtl_files"])
    p = subprocess.run([shutil.which("yosys"), "-q", "-p", f"{srcs} synth_xilinx -family xcup -flatten -top {core['top']}"],
                       cwd=softmax_core / "rtl", capture_output=True, text=True)  # fmt: skip
    assert p.returncode != 0 and "no valid mapping found for memory" in (p.stdout + p.stderr)


@pytest.fixture(scope="module")
def mlp_core(tmp_path_factory):
    """A small pipelined MLP core (untrained weights: synthesis does not care)."""
    from codesign.card import Card
    from codesign.zoo import mlp

    card = Card(name="t", model={"frontend": "hgq2", "hidden": [4]}, precision={"weight_bits": 4, "input_bits": 6})
    model = mlp.build(card, 6, 3)
    x = to_grid(np.random.default_rng(1).normal(size=(100, 6)), mlp.input_format(card))
    out = tmp_path_factory.mktemp("mlp") / "core"
    emit_rtl(model, x, model.predict(x, verbose=0), out, clock_ns=3.0, name="mlp_core")
    return out


@pytest.mark.yosys
def test_per_stage_sum_matches_flat(mlp_core, tmp_path):
    core = json.loads((mlp_core / "core.json").read_text())
    flat = synth_xilinx(mlp_core / "rtl", core["top"], out_dir=tmp_path / "flat")
    stages = synth_xilinx(mlp_core / "rtl", core["top"], out_dir=tmp_path / "stages", mode="stages", workers=2)
    assert len(stages["parts"]) == core["latency_cycles"] + 1  # every stage, plus the registers around them
    assert "per pipeline stage" in stages["source"]
    assert flat["ff"] <= stages["ff"] <= 1.2 * flat["ff"]  # flat synthesis also drops register bits nothing reads
    # Per stage, Yosys cannot optimise across registers: the sum is at or above the flat figure, and close.
    assert flat["lut"] <= stages["lut"] <= 1.15 * flat["lut"]
    assert flat["cpu_s"] > 0 and stages["cpu_s"] > 0  # Yosys's own CPU seconds, read from its logs


def test_cpu_seconds_reads_the_last_yosys_summary(tmp_path):
    from codesign.estimate.yosys import cpu_seconds

    log = tmp_path / "x.log"
    log.write_text(
        "...\nEnd of script. Logfile hash: 3939b91faa, CPU: user 450.29s system 11.42s, MEM: 3230.34 MB peak\n"
    )
    assert cpu_seconds(log) == 450.29 + 11.42
    log.write_text("killed before the end\n")
    assert cpu_seconds(log) == 0.0 and cpu_seconds(tmp_path / "none.log") == 0.0


@pytest.mark.yosys
def test_per_stage_synthesises_each_lookup_table_once(softmax_core, tmp_path):
    """Per stage, a table is synthesised alone once and counted per instance: at or above the flat figure
    (a copy inside its stage can only map smaller), and close to it. On this core (seed 0) 881 against
    871 LUT; other seeds gave +0.7% to +1.2%. A core whose table inputs are partly constant can be
    further apart: the margin is the stage split's own."""
    import re

    core = json.loads((softmax_core / "core.json").read_text())
    flat = synth_xilinx(softmax_core / "rtl", core["top"], out_dir=tmp_path / "flat")
    stages = synth_xilinx(softmax_core / "rtl", core["top"], out_dir=tmp_path / "stages", mode="stages", workers=2)
    tables = {k: v for k, v in stages["parts"].items() if k.startswith("table")}
    written = sum(len(re.findall(r"sm_core_lookup_table #", f.read_text()))
                  for f in (softmax_core / "rtl").glob("*_dp_stage*.v"))  # fmt: skip
    assert len(tables) == len(core["mem_files"]) and sum(t["instances"] for t in tables.values()) == written
    assert "lookup tables synthesised once each, counted per instance" in stages["source"]
    assert flat["lut"] <= stages["lut"] <= 1.15 * flat["lut"]  # the stage split's own margin (above)
