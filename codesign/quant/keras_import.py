"""The train stage of a Keras 3 model a user brings (`codesign run --model FILE.keras`): nothing is trained.

The file (HGQ2, or the QKeras API of hgq2) is loaded in Keras safe mode (zoo/load.py names every
quantizer class; no code from the file runs), passes the guard rails (keras_guard.py) and is
copied as model.keras: the firmware stages then take the Keras path of the zoo's models.

The reference is the user's model run on the test vectors: the user's own (`--vectors`, read by
data/vectors.py; each value must lie on the input quantizer's grid, as the input port takes it) or
seeded ones on that grid (half N(0, 1), half uniform over its range, as for a QONNX file). Its
arithmetic is fixed point, so its float32 output on them is exact.

Outputs: model.keras, reference.npz (x, y), metrics.json (file, sha256, vectors, problems let
through with allow_unsafe).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..data.vectors import user_vectors
from ..keras_guard import check_keras, load_keras
from .user_file import write_metrics

SEED = 1


def train(card, data, out: Path, progress: bool = True) -> dict:
    """The kind keras_file's train stage (kinds/keras_file.py): the card names the file and vectors."""
    from ..rtl.emit import input_kif

    path = Path(card.model.file)
    model = load_keras(path)
    problems = check_keras(model, str(path), card.model.allow_unsafe)
    kif = input_kif(model)
    shape = tuple(model.inputs[0].shape[1:])
    if card.model.vectors:
        x = user_vectors(card.model.vectors, shape, kif)
    else:
        x = grid_vectors(kif, shape, card.firmware.cosim_vectors)
    y = np.asarray(model.predict(x, batch_size=4096, verbose=0), dtype=np.float32)
    shutil.copy(path, out / "model.keras")
    np.savez(out / "reference.npz", x=x, y=y)
    return write_metrics(out, "keras file", path, len(x), card.model.vectors, problems,
                         "the user's Keras model on the test vectors (no labels, no physics metrics)")  # fmt: skip


def grid_vectors(kif, shape: tuple[int, ...], n: int) -> np.ndarray:
    """n events on the per-element grid (k, i, f): half N(0, 1), half uniform over its range."""
    k, i, f = (np.broadcast_to(np.asarray(a, dtype=np.float64).reshape(-1), (int(np.prod(shape)),)) for a in kif)
    lo, hi = np.where(k > 0, -(2.0 ** (i + f)), 0.0), 2.0 ** (i + f) - 1
    rng = np.random.default_rng(SEED)
    size = (n, len(lo))
    normal = np.clip(np.round(rng.normal(size=size) * 2.0**f), lo, hi)
    uniform = np.floor(rng.uniform(lo, hi + 1, size=size))
    raw = np.where((np.arange(n) % 2 == 0)[:, None], normal, uniform)
    return (raw / 2.0**f).reshape(n, *shape).astype(np.float32)
