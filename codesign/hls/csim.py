"""HLS IP through hls4ml: write the HLS project, C-simulate it with g++, require bit-exactness.

hls4ml writes the project (C++ sources, ap_types, its own testbench with our test vectors, and
build_prj.tcl whose `export` step packages the IP for the Vivado IP catalog). No vendor tool runs
here: the C++ is compiled with g++ (hls4ml's compile/predict) and compared with the reference.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ..card import Card
from ..errors import CodesignError
from ..verify import require_exact

# Layers that both firmware paths (hls4ml and da4ml) take, by Keras class name: these, plus the
# layers each L1 model kind brings (ModelKind.layers), seen bit-exact in both paths by its tests.
BASE_LAYERS = frozenset({"InputLayer", "QDense", "Quantizer", "QActivation"})


def supported_layers() -> frozenset[str]:
    from .. import kinds

    return BASE_LAYERS.union(*(kinds.get(name).layers for name in kinds.names()))


def check_supported(model) -> None:
    """Refuse, naming the layer, anything the firmware flow cannot convert exactly."""
    supported = supported_layers()
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in supported:
            raise CodesignError(
                f"layer '{layer.name}' ({kind}): not supported by the firmware flow; "
                f"supported layers: {', '.join(sorted(supported))}"
            )


def hls_config(model, card: Card, trace: bool = False) -> dict:
    """The hls4ml config dict: built here, at the hls4ml boundary, and nowhere else."""
    import hls4ml

    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=card.firmware.backend)
    cfg["Model"]["Strategy"] = card.firmware.strategy
    cfg["Model"]["ReuseFactor"] = card.firmware.reuse_factor
    for layer in cfg["LayerName"].values() if trace else ():  # hls/diagnose.py reads every layer's output
        layer["Trace"] = True
    return cfg


def build_hls(model, card: Card, ref: dict, out: Path, n_vectors: int) -> dict:
    """Write the HLS project to out/prj, C-simulate, compare; return the stage's record."""
    import hls4ml

    from ..diagnose import apply_precision, diagnose

    check_supported(model)
    fw = card.firmware

    def convert(prj, tb_in=None, tb_out=None, trace=False):
        hm = hls4ml.converters.convert_from_keras_model(
            model, hls_config=hls_config(model, card, trace), output_dir=str(prj), project_name=card.name,
            backend=fw.backend, part=fw.part, clock_period=fw.clock_ns, io_type=fw.io_type,
            input_data_tb=tb_in and str(tb_in), output_data_tb=tb_out and str(tb_out),
        )  # fmt: skip
        apply_precision(hm, fw.hls_precision)
        return hm

    def explain(x, y_ref, y_hls):
        with tempfile.TemporaryDirectory() as tmp:
            return diagnose(model, lambda trace: convert(Path(tmp) / "trace", trace=trace), x, y_ref, y_hls)

    return csim(convert, card, ref, out, n_vectors, explain)


def csim(convert, card: Card, ref: dict, out: Path, n_vectors: int, explain=None) -> dict:
    """Any frontend's HLS project: `convert(prj_dir, tb_input, tb_output)` returns hls4ml's ModelGraph;
    it is compiled with g++ and must equal the reference on every vector. On a mismatch,
    `explain(x, y_ref, y_hls)` (codesign/diagnose.py) names the first diverging layer, if given."""
    import hls4ml

    x, y = ref["x"][:n_vectors], ref["y"][:n_vectors]
    np.save(out / "tb_input.npy", x)
    np.save(out / "tb_output.npy", y)
    fw = card.firmware
    t0 = time.perf_counter()
    hm = convert(out / "prj", out / "tb_input.npy", out / "tb_output.npy")
    hm.compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = np.asarray(hm.predict(np.ascontiguousarray(x))).reshape(y.shape)
    predict_s = time.perf_counter() - t0
    what = f"HLS C-simulation of {card.name} ({fw.backend}, {fw.strategy})"
    if explain is not None:
        from ..diagnose import require_exact_or_explain

        require_exact_or_explain(y, got, what, lambda: explain(x, y, got))
    n = require_exact(y, got, what)
    record = {
        "vectors": n, "mismatches": 0, "compile_s": round(compile_s, 2), "predict_s": round(predict_s, 3),
        "backend": fw.backend, "strategy": fw.strategy, "reuse_factor": fw.reuse_factor, "io_type": fw.io_type,
        "part": fw.part, "clock_ns": fw.clock_ns, "hls4ml": hls4ml.__version__, "project": "prj",
    }  # fmt: skip
    (out / "csim.json").write_text(json.dumps(record, indent=1))
    return record
