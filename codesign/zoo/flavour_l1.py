"""Compact Particle-Transformer flavour tagger for L1, in HGQ2 (every op fixed point, II = 1).

One input tensor per jet, shape (N, F + N*P): row i holds candidate i's F features followed by
its P pair features with every candidate j (ParT's ln Δ, ln kT, ln z, ln m², plus a "both
candidates exist" flag). One port keeps the flow's single-input core; two frozen 0/1 selection
layers (pure wiring in the RTL) split the row into the particle and pair parts.

    particles (N, F) -> embed (N, D)
    pairs (N, N, P)  -> U (H, N, N)   pointwise linear map of the pair features (ParT's U)
    P-MHA: softmax(Q Kᵀ + U) V per head (the 1/√d is learned into Q), output projection, residual
    class attention: a learned query per head (folded into a constant key projection, so its
    scores cost no non-constant products), softmax over candidates, weighted sum of values
    head: dense -> n_classes logits

Latent form (model kind flavour_l1_latent, models/flavour_l1_latent.toml): no N x N attention.
Each pair (i, j) is embedded pointwise and summed over j, giving the candidate a pair summary;
M learned queries per head attend over the N candidates; the pooled latents feed the head. Its
non-constant products are M·N·H·K, linear in N.

Layers used (all converted bit-exactly by hls4ml 1.3 and da4ml 0.6): Quantizer, QEinsumDense,
QEinsum, QAdd, QSoftmax (HGQ2's table-based bit-exact softmax), QDense, Reshape.
The attention costs N² H K non-constant products twice (scores and A·V): that is what the
candidate count N and heads H x width K scan trades against mistag rate.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from .. import fixedpoint  # noqa: E402


def build(card, n_cand: int, n_feat: int, n_pair: int, n_classes: int) -> keras.Model:
    """The L1 model for a card (model section: embed, heads, head_dim; precision section: formats)."""
    from hgq.config import LayerConfigScope
    from hgq.layers import QEinsumDense
    from hgq.quantizer import Quantizer

    from .quantizers import config, selection

    keras.utils.set_random_seed(card.training.seed)
    m, p = card.model, card.precision
    N, F, P = n_cand, n_feat, n_pair
    trainable = p.trainable

    def kif(place, bits, integer, overflow="SAT", k=True):
        return config(place, bits, integer, overflow, trainable=trainable, signed=k)

    w = kif("weight", p.weight_bits, p.weight_integer, "SAT_SYM")
    b = kif("bias", p.activation_bits, p.activation_integer)
    a = kif("datalane", p.activation_bits, p.activation_integer)
    inp = kif("datalane", p.input_bits, p.input_integer)
    # Selection kernels are exactly 0 or 1: unsigned, one integer bit, no fraction.
    sel_w = selection()

    def dense(eq, shape, bias, name, act=None, iq=a):
        return QEinsumDense(eq, shape, bias_axes=bias, activation=act, kq_conf=w, bq_conf=b, iq_conf=iq, name=name)

    with LayerConfigScope(enable_ebops=trainable, beta0=p.beta if trainable else 0.0):
        x_in = keras.Input((N, F + N * P), name="candidates")
        x = Quantizer(inp, name="input_q")(x_in)
        sel_f = QEinsumDense("bnc,cf->bnf", (N, F), kq_conf=sel_w, enable_iq=False, name="select_particles")
        sel_p = QEinsumDense("bnc,cq->bnq", (N, N * P), kq_conf=sel_w, enable_iq=False, name="select_pairs")
        feat, pair = sel_f(x), sel_p(x)
        pair = keras.layers.Reshape((N, N, P), name="pairs")(pair)

        if m.kind == "flavour_l1_latent":
            out = _latent_head(card, feat, pair, dense, kif, sel_w, n_classes)
        else:
            out = _pairwise_head(card, feat, pair, dense, w, b, a, inp, n_classes)
        model = keras.Model(x_in, out, name=card.name)
    _set_selection(sel_f, np.eye(F + N * P)[:, :F])
    _set_selection(sel_p, np.eye(F + N * P)[:, F:])
    if m.kind == "flavour_l1_latent":
        _set_selection(model.get_layer("pair_sum"), np.ones(N))
    return model


def _pairwise_head(card, feat, pair, dense, w, b, a, inp, n_classes):
    """P-MHA with the pair bias U (N x N attention per head), then class attention."""
    from hgq.layers import QAdd, QDense, QEinsum, QSoftmax

    m = card.model
    N, D, H, K = m.n_candidates, m.embed, m.heads, m.head_dim
    u = dense("bijp,ph->bhij", (H, N, N), "h", "pair_bias", iq=inp)(pair)
    e = dense("bnf,fd->bnd", (N, D), "d", "embed", "relu", iq=inp)(feat)
    q = dense("bnd,dhk->bhnk", (H, N, K), "hk", "q_proj")(e)
    k = dense("bnd,dhk->bhnk", (H, N, K), "hk", "k_proj")(e)
    v = dense("bnd,dhk->bhnk", (H, N, K), "hk", "v_proj")(e)
    s = QEinsum("bhnk,bhmk->bhnm", iq_confs=a, name="scores")([q, k])
    s = QAdd(iq_confs=a, name="scores_plus_u")([s, u])
    att = QSoftmax(axis=-1, name="softmax")(s)
    o = QEinsum("bhnm,bhmk->bnhk", iq_confs=a, name="attend")([att, v])
    o = keras.layers.Reshape((N, H * K), name="heads")(o)
    o = dense("bnc,cd->bnd", (N, D), "d", "mha_out", "relu")(o)
    e = QAdd(iq_confs=a, name="residual")([e, o])

    cs = dense("bnd,dh->bhn", (H, N), "h", "class_scores")(e)
    ca = QSoftmax(axis=-1, name="class_softmax")(cs)
    cv = dense("bnd,dhk->bhnk", (H, N, K), "hk", "class_value")(e)
    pooled = QEinsum("bhn,bhnk->bhk", iq_confs=a, name="class_attend")([ca, cv])
    pooled = keras.layers.Reshape((H * K,), name="pooled")(pooled)
    h = QDense(D, activation="relu", kq_conf=w, bq_conf=b, iq_conf=a, name="head")(pooled)
    return QDense(n_classes, kq_conf=w, bq_conf=b, iq_conf=a, name="logits")(h)


def _latent_head(card, feat, pair, dense, kif, ones, n_classes):
    """Latent attention: M learned queries per head attend over the N candidates (Perceiver-style).

    The pair features enter per candidate: each pair (i, j) is embedded pointwise (ReLU) and summed
    over partners j (a frozen all-ones kernel: adders only), embedded, and added to the particle
    embedding.
    The queries are constants, so the scores are a constant projection of each candidate (like the
    class attention); the only non-constant products are A·V: M·N·H·K, linear in N.
    """
    from hgq.layers import QAdd, QEinsum, QEinsumDense, QSoftmax

    m, p = card.model, card.precision
    N, D, H, K, M, C = m.n_candidates, m.embed, m.heads, m.head_dim, m.latents, m.pair_embed
    inp = kif("datalane", p.input_bits, p.input_integer)
    a = kif("datalane", p.activation_bits, p.activation_integer)
    pe = dense("bijp,pc->bijc", (N, N, C), "c", "pair_embed", "relu", iq=inp)(pair)
    ps = QEinsumDense("bijc,j->bic", (N, C), kq_conf=ones, iq_conf=a, name="pair_sum")(pe)
    # Candidate embedding = particle part + pair part, each a ReLU layer, added (QAdd): HGQ2's da4ml
    # tracer concatenates only equal shapes (see zoo/met_gnn.py _requant). The pair sums of N
    # activations need log2 N more integer bits.
    grow = int(np.ceil(np.log2(N)))
    wide = kif("datalane", p.activation_bits + grow, p.activation_integer + grow)
    e_f = dense("bnf,fd->bnd", (N, D), "d", "embed", "relu", iq=inp)(feat)
    e_p = dense("bnc,cd->bnd", (N, D), "d", "embed_pairs", "relu", iq=wide)(ps)
    e = QAdd(iq_confs=a, name="candidate_embedding")([e_f, e_p])
    scores = dense("bnd,dhm->bhmn", (H, M, N), "hm", "latent_scores")(e)
    att = QSoftmax(axis=-1, name="latent_softmax")(scores)
    v = dense("bnd,dhk->bhnk", (H, N, K), "hk", "latent_value")(e)
    o = QEinsum("bhmn,bhnk->bhmk", iq_confs=a, name="latent_attend")([att, v])
    o = keras.layers.Reshape((H * M * K,), name="latents")(o)
    h = dense("bc,cd->bd", (D,), "d", "head", "relu")(o)
    return dense("bd,dk->bk", (n_classes,), "k", "logits")(h)


def _set_selection(layer, kernel: np.ndarray) -> None:
    """Freeze a selection layer's 0/1 kernel: the split of the input row is wiring, not weights."""
    layer.kernel.assign(kernel.astype("float32"))
    layer.trainable = False


def input_format(card) -> tuple[int, int, int]:
    return fixedpoint.input_format(card.precision)
