"""What the train stage of every user's model file writes beside the model (keras_import, qkeras_h5, qonnx_import)."""

from __future__ import annotations

import json
from pathlib import Path

from ..qonnx_guard import sha256


def write_metrics(
    out: Path, frontend: str, path: Path, n_test: int, vectors: str | None, problems, reference: str
) -> dict:
    """metrics.json of a user's model file (every file kind's train stage): the file, its sha256, the vectors,
    what the reference is and the problems let through with allow_unsafe; returned too."""
    metrics = {
        "frontend": frontend, "file": str(path.resolve()), "sha256": sha256(path), "n_test": n_test,
        "vectors": vectors or "seeded, on the input quantizer's grid", "reference": reference,
        "unsafe_problems": problems,
    }  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics
