"""The train stage of a QONNX file a user brings (`codesign run --onnx FILE`): nothing is trained.

The file passes the guard rails (qonnx_guard.check_file) and is saved, cleaned, as
model.onnx: the firmware stages then take the same QONNX path as the Brevitas frontend.

Its reference is the user's graph itself, executed by qonnx's own execution
(qonnx.core.onnx_exec: Quant nodes by qonnx's numpy implementation, standard ops by onnxruntime)
on seeded test vectors on the input quantizer's grid: half N(0, 1) (standardised features, where
a trained model lives), half uniform over the quantizer's whole integer range (saturation and the
extremes). The firmware's input port takes that quantizer's format. Execution is float32: a sum
too wide for float32's 24-bit mantissa would round, and then C-simulation and the da4ml emulation
(exact integer arithmetic) disagree with it: a mismatch, never a silent pass. There are no labels,
so there are no physics metrics.

Outputs: model.onnx, reference.npz (x, y, input_format), metrics.json (file, sha256, problems let
through with allow_unsafe).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..qonnx_guard import check_file, input_quantizer, load
from .user_file import write_metrics

SEED = 1


def train(card, data, out: Path, progress: bool = True) -> dict:
    """The kind qonnx_file's train stage (kinds/qonnx_file.py): the card names the file."""
    return import_qonnx(Path(card.model.file), out, card.firmware.cosim_vectors, card.model.allow_unsafe,
                        card.model.vectors)  # fmt: skip


def import_qonnx(path: Path, out: Path, n_vectors: int, allow_unsafe: bool = False, vectors: str | None = None) -> dict:
    """`vectors`: the user's own (data/vectors.py), each value on the input quantizer's grid; else seeded ones."""
    path = Path(path)
    problems = check_file(path, allow_unsafe)
    mw = load(path)
    _, spec = input_quantizer(mw, str(path))
    shape = tuple(mw.get_tensor_shape(mw.graph.input[0].name)[1:])
    if vectors:
        from ..data.vectors import user_vectors

        x = user_vectors(vectors, shape, spec.kif)
    else:
        x = test_vectors(spec, shape, n_vectors)
    y = execute(mw, x)
    mw.save(str(out / "model.onnx"))
    np.savez(out / "reference.npz", x=x, y=y, input_format=np.array(spec.kif))
    return write_metrics(out, "qonnx file", path, len(x), vectors, problems,
                         "qonnx.core.onnx_exec on test vectors on the input quantizer's grid (no labels, no physics metrics)")  # fmt: skip


def test_vectors(spec, shape, n: int) -> np.ndarray:
    """n events on the quantizer's grid: half N(0, 1), half uniform over its integer range."""
    from qonnx.custom_op.general.intquant import max_int, min_int

    lo, hi = (f(spec.signed, spec.narrow, int(spec.bitwidth)) for f in (min_int, max_int))
    step = float(spec.scale.ravel()[0])
    rng = np.random.default_rng(SEED)
    size = (n, *shape)
    raw = np.where(np.arange(n).reshape(-1, *[1] * len(shape)) % 2 == 0,
                   np.clip(np.round(rng.normal(size=size) / step), lo, hi), rng.integers(lo, hi + 1, size=size))  # fmt: skip
    return (raw * step).astype(np.float32)


def execute(mw, x: np.ndarray) -> np.ndarray:
    """qonnx's execution of the whole batch at once (the exported batch size is 1)."""
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    batch = mw.transform(ChangeBatchSize(len(x))).transform(InferShapes())
    name_in, name_out = batch.graph.input[0].name, batch.graph.output[0].name
    return np.asarray(execute_onnx(batch, {name_in: x})[name_out], dtype=np.float32)
