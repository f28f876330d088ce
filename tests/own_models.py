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
