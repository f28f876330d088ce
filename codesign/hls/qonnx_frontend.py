"""QONNX (Brevitas, or a user's file) models into hls4ml, behind the guard rails of codesign/qonnx_guard.py.

hls4ml 1.3 converts a QONNX Quant node exactly only when it is a fixed-point type in disguise; the
guard rails refuse the rest before conversion, naming the node and the fix.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ..card import Card
from ..qonnx_guard import ap_type, check_qonnx, graph_inputs, load, prepare


def build_hls(onnx_path, card: Card, ref: dict, out: Path, n_vectors: int, allow_unsafe: bool = False) -> dict:
    """hls/csim.build_hls for a QONNX file: the HLS project in out/prj, C-simulated, bit-exact."""
    import tempfile

    from ..diagnose import diagnose_qonnx
    from .csim import csim

    fmt = tuple(int(v) for v in ref["input_format"])  # the grid of the test vectors

    def explain(x, y_ref, y_hls):
        with tempfile.TemporaryDirectory() as tmp:
            return diagnose_qonnx(prepare(load(onnx_path)), lambda trace: to_hls(onnx_path, card, Path(tmp) / "trace",
                                  input_format=fmt, allow_unsafe=True, trace=trace), x, y_ref, y_hls)  # fmt: skip

    return csim(
        lambda prj, tb_in, tb_out: to_hls(onnx_path, card, prj, input_format=fmt, input_data_tb=str(tb_in),
                                          output_data_tb=str(tb_out), allow_unsafe=allow_unsafe),
        card, ref, out, n_vectors, explain,
    )  # fmt: skip


def to_hls(
    onnx_path, card: Card, out_dir: Path, *, input_format: tuple[int, int, int] | None = None,
    input_data_tb: str | None = None, output_data_tb: str | None = None, allow_unsafe: bool = False, trace: bool = False,
):  # fmt: skip
    """Check the graph, prepare it and convert it with the card's firmware settings (hls4ml ModelGraph).

    Exactness needs no per-layer precision: every Quant node fixes its type, and hls4ml's `auto`
    precisions widen the accumulators to hold every product. Only the input port is set, to
    `input_format` (the grid the test vectors lie on; default: the card's input format); hls4ml's
    default would be fixed<16,6>.
    """
    import hls4ml

    from ..fixedpoint import input_format as card_input_format

    fmt = input_format or card_input_format(card.precision)
    mw = load(onnx_path)
    for problem in check_qonnx(mw, fmt, allow_unsafe):
        warnings.warn(f"{onnx_path}: {problem}", stacklevel=2)
    mw = prepare(mw)
    from ..diagnose import apply_precision

    fw = card.firmware
    cfg = hls_config(mw, card, fmt)
    for layer in cfg["LayerName"].values() if trace else ():  # codesign/diagnose.py reads every layer's output
        layer["Trace"] = True
    hm = hls4ml.converters.convert_from_onnx_model(
        mw, output_dir=str(out_dir), project_name=card.name, backend=fw.backend, part=fw.part,
        clock_period=fw.clock_ns, io_type=fw.io_type, hls_config=cfg,
        input_data_tb=input_data_tb, output_data_tb=output_data_tb,
    )  # fmt: skip
    apply_precision(hm, fw.hls_precision)
    return hm


def hls_config(mw, card: Card, input_fmt: tuple[int, int, int]) -> dict:
    """The hls4ml config dict: built here, at the hls4ml boundary."""
    import hls4ml

    fw = card.firmware
    cfg = hls4ml.utils.config_from_onnx_model(
        mw, granularity="name", backend=fw.backend, default_reuse_factor=fw.reuse_factor
    )
    cfg["Model"]["Strategy"] = fw.strategy
    cfg["Model"]["ReuseFactor"] = fw.reuse_factor
    for name in graph_inputs(mw):
        cfg["LayerName"][name]["Precision"]["result"] = ap_type(*input_fmt)
    return cfg
