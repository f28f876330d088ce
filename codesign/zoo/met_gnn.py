"""L1 MET interaction networks on PUPPI candidates (HGQ2, Keras 3), in two forms.

Input: one event as (N candidates, F features) on the input grid (zero rows = padding: every
feature of a padded slot is 0, so it contributes nothing to the output, see below).
Output: the MET vector (px, py) in the input's momentum unit, as a per-candidate weighted sum

    MET = -sum_i w_i * (px_i, py_i),      w_i = max(0, puppi_w_i + f_O(x_i, context_i)) per candidate.

The network learns a correction to the PUPPI weight (zero at initialisation, see _weight), so it
starts from PUPPI MET over its N candidates instead of from an arbitrary weight.

Why weights and not a direct (px, py) regression: the sum keeps the network's output linear in
the candidates' momenta, so the response stays close to 1 at high MET where training statistics
are thin (a direct regression must learn the scale itself), a padded or empty slot (p = 0) adds
exactly nothing, and w_i is a per-candidate quantity a physicist can read, like the PUPPI weight
it refines. The price is 2N products of two activations (w_i * p_i) in firmware.

Forms (`model.form` in the card):
- `quadratic`: the JEDI-net interaction network. For every ordered pair (i, j), i != j, the edge
  function f_R([x_i, x_j]) is an MLP whose first layer is split as A x_i + B x_j (two per-candidate
  QEinsumDense), so all N(N-1) edges are built by one fixed gather (a constant 0/1 QEinsumDense
  over the concatenated [A; B]); f_R's further layers act per edge; edges are summed onto their
  receivers by a constant 0/1 QEinsumDense; f_O acts per candidate on [x_i, sum_j e_ij]. Cost O(N^2).
- `linear`: global-context aggregation (JEDI-linear / DeepSets with context): per-candidate
  embeddings h_i, summed over candidates once (constant ones QEinsumDense), broadcast back
  (constant ones QEinsumDense), then f_O on [x_i, h_i, sum_j h_j]. Cost O(N), II = 1.

Every layer is one that both hls4ml 1.3's Keras 3 / HGQ2 parser and da4ml's HGQ2 tracer convert
(QEinsumDense, QMultiply, QAdd, Concatenate): see kinds/met_gnn.py `layers`. The fixed gather / sum
layers hold constant 0/1 kernels, are not trained, and quantize their kernel to {0, 1} exactly,
so in da4ml they are wires and adders only.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from .. import fixedpoint  # noqa: E402
from ..card import Card  # noqa: E402
from ..errors import CodesignError  # noqa: E402
from .quantizers import config as _kif  # noqa: E402

PX, PY, PUPPI_W = 0, 1, 4  # feature columns of -px, -py and the PUPPI weight (see data/met.py FEATURE_NAMES)


def input_format(card: Card) -> tuple[int, int, int]:
    return fixedpoint.input_format(card.precision)


def build(card: Card, n_cand: int, n_feat: int, float_twin: bool = False) -> keras.Model:
    """The card's network; `float_twin`: the same graph with pass-through quantizers (the float network)."""
    if n_feat > card.model.edge_out:
        raise CodesignError(
            f"{card.source or card.name}: field 'model.edge_out': must be >= the {n_feat} input features"
        )
    keras.utils.set_random_seed(card.training.seed)
    return {"quadratic": _quadratic, "linear": _linear}[card.model.form](card, n_cand, n_feat, _Q(card, float_twin))


class _Q:
    """Quantizer configs and layer factories from the card's precision."""

    def __init__(self, card: Card, float_twin: bool = False):
        p = card.precision
        t = p.trainable
        self.weight = _kif("weight", p.weight_bits, p.weight_integer, "SAT_SYM", t)
        self.bias = _kif("bias", p.activation_bits, p.activation_integer, "SAT", t)
        self.act = _kif("datalane", p.activation_bits, p.activation_integer, "SAT", t)
        self.inp = _kif("datalane", p.input_bits, p.input_integer, "SAT")
        # Sums over candidates grow by log2(N) integer bits: give them room instead of saturating.
        self.sum_act = lambda n: _kif(
            "datalane", p.activation_bits + _log2(n), p.activation_integer + _log2(n), "SAT", t
        )
        # Constant 0/1 kernels: unsigned, one integer bit, no fraction -> exactly {0, 1}.
        self.ones = _kif("weight", 1, 1, "SAT", False, signed=False)
        # Per-candidate weight w_i: unsigned, [0, 2), the output's resolution knob.
        self.w = _kif("datalane", p.activation_bits, 1, "SAT", t, signed=False)
        # w_i * p_i exactly: integer bits of p plus one (w < 2), fractions of both.
        fw, fp = p.activation_bits - 1, fixedpoint.input_format(p)[2]
        self.prod = _kif("datalane", 1 + p.input_integer + 1 + fw + fp, p.input_integer + 1, "SAT")
        if float_twin:
            from hgq.config import QuantizerConfig

            for k, v in list(vars(self).items()):
                if k != "ones":  # constant 0/1 kernels are exact either way
                    place = v(2).place if callable(v) else v.place
                    setattr(
                        self,
                        k,
                        (lambda n, pl=place: QuantizerConfig("dummy", pl))
                        if callable(v)
                        else QuantizerConfig("dummy", place),
                    )

    def dense(self, rows, units, name, act="relu", iq=None, kernel_init="glorot_uniform"):
        """Per-candidate (or per-edge) dense layer: acts on the last axis of a 3-D tensor."""
        from hgq.layers import QEinsumDense

        return QEinsumDense("bnf,fh->bnh", (rows, units), bias_axes="h", activation=act, name=name, kernel_initializer=kernel_init,
                            kq_conf=self.weight, bq_conf=self.bias, iq_conf=iq or self.act)  # fmt: skip

    def fixed(self, matrix: np.ndarray, width: int, name: str, iq, act=None):
        """Constant 0/1 mixing over the candidate (or edge) axis: out[m, h] = sum_n M[n, m] in[n, h]."""
        return self.const("bnh,nm->bmh", (matrix.shape[1], width), matrix, name, iq, act)

    def const(self, equation, shape, matrix, name, iq, act=None):
        """A QEinsumDense with a constant, untrained 0/1 kernel (wires and adders in firmware)."""
        from hgq.layers import QEinsumDense

        layer = QEinsumDense(equation, shape, name=name, kq_conf=self.ones, iq_conf=iq, activation=act,
                             kernel_initializer=keras.initializers.Constant(np.asarray(matrix, np.float32)))  # fmt: skip
        layer.trainable = False
        return layer


def _log2(n: int) -> int:
    return int(np.ceil(np.log2(max(n, 2))))


def _weight(q: _Q, x_in, z, n, n_feat):
    """w_i = PUPPI weight_i + correction_i: the network refines PUPPI instead of learning it.

    The correction head starts at zero (zero kernel and bias), so the untrained network is PUPPI
    over its N candidates and training only has to learn the improvement; with a free weight head
    the easy minimum of a MET loss at high pileup is w = 0 (MET = 0), which traps training.
    w >= 0 is enforced after the sum (see _met).
    """
    from hgq.layers import QAdd

    sel = np.zeros((n_feat, 1), np.float32)
    sel[PUPPI_W, 0] = 1.0
    pw = q.const("bnf,fc->bnc", (n, 1), sel, "pick_puppi_w", q.inp)(x_in)
    dw = q.dense(n, 1, "weight_corr", act=None, kernel_init="zeros")(z)
    return QAdd(iq_confs=(q.inp, q.act), name="weight")([pw, dw])


def _met(q: _Q, x_in, w, n, n_feat):
    """MET = sum_i w_i p_i, with p = (px, py) picked from the input by a constant matrix.

    Written as duplicate (w -> (w, w)), QMultiply, then a constant sum over candidates: hls4ml 1.3's
    bit-exact precision pass fails on a two-input QEinsum here (qinterval einsum transposes a
    quantizer's broadcast kif array), while QMultiply and QEinsumDense convert in both paths.
    The features hold -px, -py (see data/met.py), so the sum is MET itself and w_i >= 0.
    """
    from hgq.layers import QMultiply

    sel = np.zeros((n_feat, 2), np.float32)
    sel[PX, 0] = sel[PY, 1] = 1.0
    p = q.const("bnf,fc->bnc", (n, 2), sel, "pick_pxpy", q.inp)(x_in)
    # w >= 0: the unsigned saturating quantizer clips at 0 (and below 2); the ReLU does the same
    # for the float twin (whose quantizers pass everything) and is a no-op after the quantizer.
    w2 = q.const("bnf,fc->bnc", (n, 2), np.ones((1, 2), np.float32), "weight_xy", q.w, act="relu")(w)
    wp = QMultiply(iq_confs=(q.w, q.inp), name="weighted_p")([w2, p])
    # Lossless: the products' own format (their sum then needs no rounding either).
    s = q.fixed(np.ones((n, 1), np.float32), 2, "met_sum", q.prod)(wp)  # (1, 2)
    return keras.layers.Reshape((2,), name="met")(s)


def _quadratic(card: Card, n: int, n_feat: int, q: _Q) -> keras.Model:
    from hgq.config import LayerConfigScope

    m = card.model
    recv = np.zeros((2 * n, n * (n - 1)), np.float32)
    edges = [(i, j) for i in range(n) for j in range(n) if i != j]
    for e, (i, j) in enumerate(edges):
        recv[i, e] = 1.0  # receiver's A_i
        recv[n + j, e] = 1.0  # sender's B_j
    to_recv = np.zeros((len(edges), n), np.float32)
    for e, (i, _) in enumerate(edges):
        to_recv[e, i] = 1.0
    with LayerConfigScope(
        enable_ebops=card.precision.trainable, beta0=card.precision.beta if card.precision.trainable else 0.0
    ):
        x_in = keras.Input((n, n_feat), name="candidates")
        a = q.dense(n, m.edge_hidden, "fR_recv", act=None, iq=q.inp)(x_in)
        b = q.dense(n, m.edge_hidden, "fR_send", act=None, iq=q.inp)(x_in)
        ab = keras.layers.Concatenate(axis=-2, name="recv_send")([a, b])  # (2N, H)
        e = q.fixed(recv, m.edge_hidden, "edges", q.act, act="relu")(ab)  # (E, H): relu(A_i + B_j), f_R's first layer
        e = q.dense(len(edges), m.edge_hidden, "fR_1")(e)
        e = q.dense(len(edges), m.edge_out, "fR_out")(e)
        agg = q.fixed(to_recv, m.edge_out, "sum_to_receivers", q.act)(e)  # (N, De)
        node = keras.layers.Concatenate(axis=-1, name="node_in")([_requant(q, x_in, n, n_feat, m.edge_out), agg])
        h = q.dense(n, m.node_hidden, "fO_0", iq=q.sum_act(n))(node)
        w = _weight(q, x_in, h, n, n_feat)
        out = _met(q, x_in, w, n, n_feat)
    return keras.Model(x_in, out, name=card.name)


def _linear(card: Card, n: int, n_feat: int, q: _Q) -> keras.Model:
    from hgq.config import LayerConfigScope

    m = card.model
    with LayerConfigScope(
        enable_ebops=card.precision.trainable, beta0=card.precision.beta if card.precision.trainable else 0.0
    ):
        x_in = keras.Input((n, n_feat), name="candidates")
        h = q.dense(n, m.edge_hidden, "phi_0", iq=q.inp)(x_in)
        h = q.dense(n, m.edge_out, "phi_1")(h)
        g = q.fixed(np.ones((n, 1), np.float32), m.edge_out, "sum_pool", q.act)(h)  # (1, De): sum over candidates
        gb = q.fixed(np.ones((1, n), np.float32), m.edge_out, "broadcast", q.sum_act(n))(g)  # (N, De)
        node = keras.layers.Concatenate(axis=-1, name="node_in")([_requant(q, x_in, n, n_feat, m.edge_out), gb])
        z = q.dense(n, m.node_hidden, "fO_0", iq=q.sum_act(n))(node)
        w = _weight(q, x_in, z, n, n_feat)
        out = _met(q, x_in, w, n, n_feat)
    return keras.Model(x_in, out, name=card.name)


def _requant(q: _Q, x_in, n, n_feat, width):
    """The raw input, zero-padded to `width` features (a constant identity QEinsumDense).

    Why: HGQ2's da4ml tracer replays keras Concatenate by broadcasting its inputs to one shape
    (hgq/_dais_tracer/layers/ops.py ReplayMerge), so only equal shapes concatenate there, and it
    takes the axis without the batch dimension, so axes are given as negative numbers; hls4ml's
    Concatenate takes exactly two inputs. Padding costs nothing (zero kernel columns are no logic).
    """
    return q.const("bnf,fg->bng", (n, width), np.eye(n_feat, width), "x_copy", q.inp)(x_in)
