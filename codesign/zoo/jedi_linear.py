"""JEDI-linear-style jet tagger in HGQ2: per-particle MLP, sum over particles, MLP (O(N), II = 1).

Inputs per jet: (N, 3) constituent features (ln pT, Δη, Δφ, scaled by `inputs`), zero for absent
constituents. The sum over particles is a frozen all-ones kernel (only adders in the RTL).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from .. import fixedpoint  # noqa: E402


def from_card(card, n_classes: int) -> keras.Model:
    """The model of a card (models/jet_tagger_jedi.toml): model section sizes, precision section formats."""
    m, p = card.model, card.precision
    return build(m.n_particles, n_classes, m.hidden, m.latent, card.training.seed, p.input_bits, p.input_integer,
                 p.weight_bits, p.activation_bits, p.activation_integer, p.trainable, p.beta, p.weight_integer)  # fmt: skip


def input_format(card) -> tuple[int, int, int]:
    """(signed, integer, fractional) bits of the input port."""
    return fixedpoint.input_format(card.precision)


def build(n: int, n_classes: int, hidden: int = 16, latent: int = 16, seed: int = 1, input_bits: int = 8,
          input_integer: int = 2, weight_bits: int = 6, activation_bits: int = 8, activation_integer: int = 3,
          trainable: bool = False, beta: float = 0.0, weight_integer: int = 0):  # fmt: skip
    """`trainable`: HGQ bit widths learned per weight and activation, EBOPs-regularised with `beta`
    (the published JEDI-linear trains its bit widths this way); else the fixed formats given."""
    from hgq.config import LayerConfigScope
    from hgq.layers import QDense, QEinsumDense
    from hgq.quantizer import Quantizer

    from .quantizers import config, selection

    keras.utils.set_random_seed(seed)

    def kif(place, bits, integer, overflow="SAT"):
        return config(place, bits, integer, overflow, trainable=trainable)

    w, a = kif("weight", weight_bits, weight_integer, "SAT_SYM"), kif("datalane", activation_bits, activation_integer)
    b, inp = kif("bias", activation_bits, activation_integer), kif("datalane", input_bits, input_integer)
    ones = selection()
    with LayerConfigScope(enable_ebops=trainable, beta0=beta if trainable else 0.0):
        x_in = keras.Input((n, 3), name="constituents")
        x = Quantizer(inp, name="input_q")(x_in)
        h = QEinsumDense("bnf,fd->bnd", (n, hidden), bias_axes="d", activation="relu", kq_conf=w, bq_conf=b, iq_conf=inp,
                         name="phi_1")(x)  # fmt: skip
        h = QEinsumDense("bnd,de->bne", (n, latent), bias_axes="e", activation="relu", kq_conf=w, bq_conf=b, iq_conf=a,
                         name="phi_2")(h)  # fmt: skip
        pool = QEinsumDense("bne,n->be", (latent,), kq_conf=ones, iq_conf=a, name="sum_particles")
        s = pool(h)
        # The sum of n activations needs log2(n) more integer bits: the 8-bit grid would saturate it.
        grow = int(np.ceil(np.log2(n)))
        wide = kif("datalane", activation_bits + grow, activation_integer + grow)
        h = QDense(hidden, activation="relu", kq_conf=w, bq_conf=b, iq_conf=wide, name="rho_1")(s)
        out = QDense(n_classes, kq_conf=w, bq_conf=b, iq_conf=a, name="logits")(h)
        model = keras.Model(x_in, out, name="jedi_linear")
    pool.kernel.assign(np.ones(n, "float32"))
    pool.trainable = False
    return model


def inputs(data: dict, n: int) -> np.ndarray:
    """(J, n, 3): (ln pT - 4) / 2, 4 Δη, 4 Δφ of the n leading constituents (0 where absent)."""
    c, mask = data["constituents"][:, :n].astype(np.float64), data["mask"][:, :n]
    names = list(data["constituent_names"])
    pt, eta, phi = (c[..., names.index(k)] for k in ("pt", "deta", "dphi"))
    f = np.stack([(np.log(np.maximum(pt, 1e-3)) - 4) / 2, 4 * eta, 4 * phi], axis=-1)
    return (f * mask[..., None]).astype(np.float32)
