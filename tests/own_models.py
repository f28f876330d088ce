"""Models and vectors a user would bring, built inside the tests (no zoo card has these shapes or widths)."""

import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

N_IN, HIDDEN, N_OUT = 7, 11, 3
INPUT = (1, 2, 5)  # (signed, integer, fractional) of the input quantizer: ap_fixed<8,3>


def hgq2_model():
    """An HGQ2 Dense network 7 -> 11 -> 3 with 5-bit weights, 9-bit activations, random weights."""
    import keras
    from hgq.config import LayerConfigScope, QuantizerConfig
    from hgq.layers import QDense

    def q(place, k, i, f, overflow="SAT"):
        return QuantizerConfig("kif", place, k0=k, i0=i, f0=f, overflow_mode=overflow, trainable=False)

    keras.utils.set_random_seed(7)
    x_in = keras.Input((N_IN,), name="x")
    with LayerConfigScope(enable_ebops=False, beta0=0.0):
        h = QDense(HIDDEN, activation="relu", name="hidden", kq_conf=q("weight", 1, 0, 4, "SAT_SYM"),
                   bq_conf=q("bias", 1, 2, 6), iq_conf=q("datalane", *INPUT))(x_in)  # fmt: skip
        y = QDense(N_OUT, name="out", kq_conf=q("weight", 1, 0, 4, "SAT_SYM"), bq_conf=q("bias", 1, 2, 6),
                   iq_conf=q("datalane", 0, 3, 5))(h)  # fmt: skip
    model = keras.Model(x_in, y, name="user_net")
    rng = np.random.default_rng(7)
    for layer in (model.get_layer("hidden"), model.get_layer("out")):
        layer.kernel.assign(rng.normal(size=layer.kernel.shape) * 0.4)
        layer.bias.assign(rng.normal(size=layer.bias.shape) * 0.5)
    return model


def on_grid(n: int, seed: int = 3) -> np.ndarray:
    """n events on the input quantizer's grid."""
    k, i, f = INPUT
    x = np.round(np.random.default_rng(seed).normal(size=(n, N_IN)) * 1.5 * 2**f) / 2**f
    return np.clip(x, -(2.0**i) if k else 0, 2.0**i - 2.0**-f)


def write_vectors(x: np.ndarray, folder) -> dict[str, str]:
    """x as .npy, HDF5 and ROOT (uproot) files; returns --vectors specs."""
    import h5py
    import uproot

    np.save(folder / "v.npy", x)
    with h5py.File(folder / "v.h5", "w") as f:
        f.create_dataset("/inputs/x", data=x)
    with uproot.recreate(folder / "v.root") as f:
        f["Events"] = {f"x{j}": x[:, j] for j in range(x.shape[1])}
    branches = ",".join(f"x{j}" for j in range(x.shape[1]))
    return {"npy": f"{folder}/v.npy", "h5": f"{folder}/v.h5:/inputs/x", "root": f"{folder}/v.root:Events:{branches}"}


# Built inside .venv-qkeras (the real QKeras 0.9 on tf-keras), as a user's Keras 2 training script would.
QKERAS_BUILD = """
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tf_keras
from qkeras import QActivation, QDense, quantized_bits, quantized_relu
tf_keras.utils.set_random_seed(7)
x = tf_keras.Input((7,), name="x")
h = QActivation(quantized_bits(8, 2, alpha=1), name="x_q")(x)
h = QDense(11, kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="hidden")(h)
h = QActivation(quantized_relu(9, 3), name="relu")(h)
y = QDense(3, kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="out")(h)
model = tf_keras.Model(x, y)
rng = np.random.default_rng(7)
model.set_weights([rng.normal(size=w.shape) * 0.5 for w in model.get_weights()])
model.save(sys.argv[1])
"""


def qkeras_h5(path) -> None:
    """A QKeras 0.9 .h5 (7 -> 11 -> 3, half-to-even rounding) written by the isolated environment."""
    import subprocess

    from codesign.quant.qkeras_h5 import qkeras_python

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    r = subprocess.run([str(qkeras_python()), "-c", QKERAS_BUILD, str(path)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
