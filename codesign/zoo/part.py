"""Particle Transformer (ParT, Qu et al. 2022) in float torch: the offline flavour reference.

Input: the token tensor of zoo/flavour_tokens.py, (B, N + S, C): N candidates, S secondary
vertices as extra tokens.

    tokens -> embedding MLP (B, T, D)
    candidate pairs -> U (B, H, T, T): ParT's ln Δ, ln kT, ln z, ln m² (same scaling as the L1
        model's pair features, zoo/flavour_inputs.py), embedded per pair by a pointwise MLP into
        one bias per head, added to the attention logits (P-MHA). SV tokens have no pair bias.
    `layers` x particle-attention block: x + P-MHA(LN x); x + FFN(LN x)
    `class_layers` x class-attention block: a class token attends to [cls, x]
    head: LN -> linear -> n_classes logits
Padding tokens are masked out as keys (a large negative logit, not -inf, so ONNX and onnxruntime
run the same arithmetic). Attention is written out (no nn.MultiheadAttention) so that the pair
bias enters exactly like in ParT and exports to plain ONNX.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .flavour_tokens import KIN, N_PARTICLE, N_SV, exists

PAIR_FEATURES = 5  # ln Δ, ln kT, ln z, ln m², both exist
_NEG = -1e4


def pair_features(x: torch.Tensor) -> torch.Tensor:
    """(B, T, T, 5) ParT pair features of candidate tokens; 0 where i = j or either is not a candidate.

    Δφ needs no 2π wrap: candidates' Δφ to the jet axis are within the jet (|Δφ| < 0.8).
    """
    kin = x[..., KIN]
    pt, e, eta, phi = kin[..., 0], kin[..., 1], kin[..., 2], kin[..., 3]
    cand = x[..., N_PARTICLE - 1]
    ai, bj = (slice(None), slice(None), None), (slice(None), None, slice(None))
    delta = torch.sqrt((eta[ai] - eta[bj]) ** 2 + (phi[ai] - phi[bj]) ** 2)
    ptmin = torch.minimum(pt[ai], pt[bj])
    kt = ptmin * delta
    z = ptmin / torch.clamp(pt[ai] + pt[bj], min=1e-9)
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    m2 = (e[ai] + e[bj]) ** 2 - (px[ai] + px[bj]) ** 2 - (py[ai] + py[bj]) ** 2 - (pz[ai] + pz[bj]) ** 2
    eps = 1e-8
    t = x.shape[1]
    both = cand[ai] * cand[bj] * (1.0 - torch.eye(t, dtype=x.dtype, device=x.device))
    # Logs of clamped arguments and a select, not a product with the mask: onnxruntime returned
    # -inf for log(x + eps) at x = 0 where torch does not, and -inf * 0 is NaN.
    f = torch.stack([
        (torch.log(torch.clamp(delta, min=eps)) + 4) / 2, torch.log(torch.clamp(kt, min=eps)) / 3,
        (torch.log(torch.clamp(z, min=eps)) + 4) / 3, torch.log(torch.clamp(m2, min=eps)) / 4, torch.ones_like(delta),
    ], dim=-1)  # fmt: skip
    return torch.where(both[..., None] > 0, f, torch.zeros_like(f))


class PairEmbed(nn.Module):
    """Pointwise MLP on each pair's features -> one attention bias per head (ParT's U)."""

    def __init__(self, heads: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(PAIR_FEATURES, hidden), nn.GELU(), nn.Linear(hidden, heads))

    def forward(self, pairs):  # (B, T, T, 5) -> (B, H, T, T)
        return self.net(pairs).permute(0, 3, 1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.h, self.k = heads, dim // heads
        self.q, self.kv, self.out = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)

    def forward(self, query, keys, bias):  # bias (B, H|1, Tq, Tk)
        # No explicit batch size in the shapes: the ONNX export keeps the batch dimension dynamic.
        q = self.q(query).unflatten(-1, (self.h, self.k)).transpose(1, 2)
        k, v = self.kv(keys).unflatten(-1, (2, self.h, self.k)).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.k) + bias, dim=-1)
        return self.out((a @ v).transpose(1, 2).flatten(2))


class Block(nn.Module):
    """Pre-LN transformer block: x + attention(LN x); x + FFN(LN x)."""

    def __init__(self, dim: int, heads: int, ffn: int):
        super().__init__()
        self.n1, self.n2, self.att = nn.LayerNorm(dim), nn.LayerNorm(dim), Attention(dim, heads)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.GELU(), nn.Linear(ffn, dim))

    def forward(self, x, keys, bias):
        x = x + self.att(self.n1(x), self.n1(keys), bias)
        return x + self.ffn(self.n2(x))


class ParticleTransformer(nn.Module):
    def __init__(self, n_classes: int = 4, embed: int = 64, heads: int = 4, layers: int = 2, class_layers: int = 1,
                 pair_hidden: int = 32):  # fmt: skip
        super().__init__()
        if embed % heads:
            raise ValueError(f"embed {embed} is not a multiple of heads {heads}")
        d_in = N_PARTICLE + N_SV
        self.embed = nn.Sequential(nn.Linear(d_in, embed), nn.GELU(), nn.LayerNorm(embed), nn.Linear(embed, embed))
        self.pair = PairEmbed(heads, pair_hidden)
        self.blocks = nn.ModuleList(Block(embed, heads, 4 * embed) for _ in range(layers))
        self.cls_blocks = nn.ModuleList(Block(embed, heads, 4 * embed) for _ in range(class_layers))
        self.cls = nn.Parameter(torch.zeros(1, 1, embed))
        nn.init.trunc_normal_(self.cls, std=0.02)
        self.norm, self.head = nn.LayerNorm(embed), nn.Linear(embed, n_classes)

    def forward(self, x):
        real = exists(x)  # (B, T)
        key_mask = ((1.0 - real) * _NEG)[:, None, None, :]  # (B, 1, 1, T)
        h = self.embed(x[..., : N_PARTICLE + N_SV]) * real[..., None]
        u = self.pair(pair_features(x)) + key_mask
        for blk in self.blocks:
            h = blk(h, h, u)
        cls = self.cls + torch.zeros_like(h[:, :1])
        cls_mask = torch.cat([torch.zeros_like(key_mask[..., :1]), key_mask], dim=-1)  # the class token is always a key
        for blk in self.cls_blocks:
            cls = blk(cls, torch.cat([cls, h], dim=1), cls_mask)
        return self.head(self.norm(cls[:, 0]))


def build(card, n_classes: int) -> ParticleTransformer:
    m = card.model
    torch.manual_seed(card.training.seed)
    return ParticleTransformer(n_classes, m.embed, m.heads, m.layers, m.class_layers, m.pair_hidden)
