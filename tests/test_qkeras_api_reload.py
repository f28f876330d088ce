"""A QKeras-API model built and saved in one process loads in a fresh one (later stages, sweep points)."""

import subprocess
import sys

from conftest import REPO

BUILD = """
import numpy as np
from codesign.card import Card
from codesign.fixedpoint import to_grid
from codesign.zoo import mlp
card = Card(name="qk", model={"frontend": "qkeras", "hidden": [8]})
model = mlp.build(card, 16, 5)
x = to_grid(np.random.default_rng(0).normal(size=(500, 16)), mlp.input_format(card))
model.save("m.keras")
np.savez("ref.npz", x=x, y=np.asarray(model(x)))
"""

LOAD = """
import numpy as np
from codesign.zoo.load import load_model
ref = np.load("ref.npz")
again = load_model("m.keras")
assert np.array_equal(np.asarray(again(ref["x"])), ref["y"]), "reloaded model computes something else"
print("reloaded")
"""


def _python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(REPO)})  # fmt: skip


def test_qkeras_api_model_loads_in_a_fresh_process(tmp_path):
    built = _python(BUILD, tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    loaded = _python(LOAD, tmp_path)  # nothing of the build is registered in this process
    assert loaded.returncode == 0 and "reloaded" in loaded.stdout, loaded.stderr[-2000:]
