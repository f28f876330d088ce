"""Tracker-muon pre-selectors (float, PyTorch): a logit per track, muon or not.

Inputs (zoo/muon_inputs.py): tracks (B, N, 7), track_mask (B, N), segments (B, M, 8),
segment_mask (B, M); masks are 1.0 on real slots. Output: (B, N) logits; padded track slots
give PADDED_LOGIT.

  full     the seed's encoder-decoder Transformer: an encoder of segment self-attention, then a
           decoder whose layers are track self-attention and cross-attention from each track to
           the encoded segments. O(N^2 + N M + M^2).
  latent   Perceiver IO: Z_segments and Z_tracks learned latents cross-attend to the segments and
           to the tracks, self-attend together, and one query per track cross-attends to them.
           O(N Z + M Z + Z^2): linear in the number of tracks.

Geometry: every attention also sees, per head h, alpha_h * g_query . g_key added to its logits, where
g are the inputs' Fourier features of where a track points and where a segment sits (muon_inputs):
sum_f cos(f dphi) + sum_f cos(f deta), a kernel peaked where a track points at a segment, which
learned projections of plain features find slowly (like a rotary position encoding, the relative
position enters the dot product directly). Latents start from a learned receptive field and carry on
the attention-weighted geometry of what they read, so a track query finds the latents that read the
segments it points at. alpha is learned (head 0 starts at 0: plain attention).

Every attention has a learned "nothing" key and value beside its inputs, always present: an
event with no segments (or no tracks) attends to it alone, so its output is defined (finite)
rather than a softmax over nothing. Masked keys get a logit bias of -1e9: their weight is 0
exactly, so padded slots change no real output, and the models are invariant under permutations
of the segments and of the tracks (equivariant per track). Pre-norm residual blocks.
"""

from __future__ import annotations

import torch
from torch import nn

from .muon_inputs import FOURIER, SEGMENT_FEATURES, SEGMENT_FOURIER, TRACK_FEATURES, TRACK_FOURIER

PADDED_LOGIT = -100.0
_MASKED = -1e9


class Attention(nn.Module):
    """Multi-head attention of queries x over keys/values y (plus a learned null token).

    With geometries gx (queries) and gy (keys) - Fourier features of where each points (see the
    module docstring) - head h adds alpha_h * gx . gy to its logits, and the call also returns the
    head-averaged attention-weighted geometry of the keys (the null token's is 0): what a latent
    "looks at"."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embed {dim} is not a multiple of heads {heads}")
        self.h, self.dh = heads, dim // heads
        self.q, self.kv, self.o = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        self.null = nn.Parameter(torch.zeros(1, 1, dim))
        self.alpha = nn.Parameter(torch.linspace(0.0, 2.0, heads))  # head 0 starts without geometry

    def forward(self, x, y, mask=None, gx=None, gy=None):
        b, n, d = x.shape
        y = torch.cat([self.null.expand(b, 1, d), y], dim=1)
        q = self.q(x).reshape(b, n, self.h, self.dh).transpose(1, 2)
        k, v = self.kv(y).reshape(b, -1, 2, self.h, self.dh).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-1, -2) * self.dh**-0.5
        if gx is not None:
            gy = torch.cat([gy.new_zeros((gy.shape[0], 1, gy.shape[2])), gy], dim=1)
            logits = logits + self.alpha[None, :, None, None] * (gx @ gy.transpose(-1, -2))[:, None]
        if mask is not None:
            keep = torch.cat([mask.new_ones((mask.shape[0], 1)), mask], dim=1)
            logits = logits + ((1.0 - keep) * _MASKED)[:, None, None, :]
        w = logits.softmax(-1)
        out = self.o((w @ v).transpose(1, 2).reshape(b, n, d))
        return out, (w.mean(1) @ gy if gx is not None else None)


class Block(nn.Module):
    """x + attention(LN x, LN y), then x + MLP(LN x); y = x for self-attention. Returns (x, geometry
    looked at) - see Attention."""

    def __init__(self, dim: int, heads: int, hidden: int, cross: bool):
        super().__init__()
        self.cross = cross
        self.nx, self.ny, self.nf = nn.LayerNorm(dim), nn.LayerNorm(dim) if cross else None, nn.LayerNorm(dim)
        self.att = Attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x, y=None, mask=None, gx=None, gy=None):
        hx = self.nx(x)
        a, g = self.att(hx, self.ny(y) if self.cross else hx, mask, gx, gx if gy is None and not self.cross else gy)
        x = x + a
        return x + self.mlp(self.nf(x)), g


def _embed(n_in: int, dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, dim), nn.GELU(), nn.Linear(dim, dim))


def _geometry(x, first: int):
    """The Fourier columns of a track or segment input (muon_inputs: where it points)."""
    return x[..., first : first + len(FOURIER)]


class _Head(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm, self.out = nn.LayerNorm(dim), nn.Linear(dim, 1)

    def forward(self, t, track_mask):
        logit = self.out(self.norm(t)).squeeze(-1)
        return torch.where(track_mask > 0, logit, torch.full_like(logit, PADDED_LOGIT))


class FullTransformer(nn.Module):
    def __init__(self, embed: int, heads: int, hidden: int, encoder_layers: int, decoder_layers: int):
        super().__init__()
        self.et, self.es = _embed(len(TRACK_FEATURES), embed), _embed(len(SEGMENT_FEATURES), embed)
        self.encoder = nn.ModuleList(Block(embed, heads, hidden, cross=False) for _ in range(encoder_layers))
        self.dec_self = nn.ModuleList(Block(embed, heads, hidden, cross=False) for _ in range(decoder_layers))
        self.dec_cross = nn.ModuleList(Block(embed, heads, hidden, cross=True) for _ in range(decoder_layers))
        self.head = _Head(embed)

    def forward(self, tracks, track_mask, segments, segment_mask):
        gt, gs = _geometry(tracks, TRACK_FOURIER), _geometry(segments, SEGMENT_FOURIER)
        s = self.es(segments)
        for blk in self.encoder:
            s = blk(s, mask=segment_mask, gx=gs)[0]
        t = self.et(tracks)
        for sa, ca in zip(self.dec_self, self.dec_cross, strict=True):
            t = sa(t, mask=track_mask, gx=gt)[0]
            t = ca(t, s, segment_mask, gt, gs)[0]
        return self.head(t, track_mask)


class LatentTransformer(nn.Module):
    def __init__(self, embed: int, heads: int, hidden: int, z_tracks: int, z_segments: int, latent_layers: int,
                 decoder_layers: int):  # fmt: skip
        super().__init__()
        self.et, self.es = _embed(len(TRACK_FEATURES), embed), _embed(len(SEGMENT_FEATURES), embed)
        self.zt = nn.Parameter(0.02 * torch.randn(1, z_tracks, embed))
        self.zs = nn.Parameter(0.02 * torch.randn(1, z_segments, embed))
        # where each latent looks first (a learned Fourier vector: a band-limited receptive field in eta, phi)
        self.gzt = nn.Parameter(0.5 * torch.randn(1, z_tracks, len(FOURIER)))
        self.gzs = nn.Parameter(0.5 * torch.randn(1, z_segments, len(FOURIER)))
        self.read_t, self.read_s = Block(embed, heads, hidden, cross=True), Block(embed, heads, hidden, cross=True)
        self.latent = nn.ModuleList(Block(embed, heads, hidden, cross=False) for _ in range(latent_layers))
        self.decoder = nn.ModuleList(Block(embed, heads, hidden, cross=True) for _ in range(decoder_layers))
        self.head = _Head(embed)

    def forward(self, tracks, track_mask, segments, segment_mask):
        b = tracks.shape[0]
        gt, gs = _geometry(tracks, TRACK_FOURIER), _geometry(segments, SEGMENT_FOURIER)
        t, s = self.et(tracks), self.es(segments)
        zt, g_zt = self.read_t(self.zt.expand(b, -1, -1), t, track_mask, self.gzt.expand(b, -1, -1), gt)
        zs, g_zs = self.read_s(self.zs.expand(b, -1, -1), s, segment_mask, self.gzs.expand(b, -1, -1), gs)
        z, gz = torch.cat([zt, zs], dim=1), torch.cat([g_zt, g_zs], dim=1)  # latents and what they looked at
        for blk in self.latent:
            z = blk(z, gx=gz)[0]
        for blk in self.decoder:
            t = blk(t, z, None, gt, gz)[0]
        return self.head(t, track_mask)


def build(spec) -> nn.Module:
    """The model of a card's [model] section (kinds muon_full / muon_latent)."""
    if spec.kind == "muon_full":
        return FullTransformer(spec.embed, spec.heads, spec.hidden, spec.encoder_layers, spec.decoder_layers)
    return LatentTransformer(spec.embed, spec.heads, spec.hidden, spec.z_tracks, spec.z_segments, spec.latent_layers,
                             spec.decoder_layers)  # fmt: skip


def predict_event(model: nn.Module, tracks, segments, max_tracks: int, where: str = "event 0"):
    """Per-track logits (n,) of one event: tracks (n, 4) pt, eta, phi, charge; segments (m, 4) station,
    eta, phi, psi. Bad input is refused naming `where` and the field (zoo/muon_inputs.check_event);
    no tracks gives an empty array, no segments a logit per track from the tracks alone."""
    import numpy as np

    from .muon_inputs import check_event, segment_features, track_features

    tracks = np.asarray(tracks, np.float32).reshape(-1, 4)
    segments = np.asarray(segments, np.float32).reshape(-1, 4)
    check_event(tracks, segments, max_tracks, where)
    t, s = torch.from_numpy(track_features(tracks))[None], torch.from_numpy(segment_features(segments))[None]
    model.eval()
    with torch.no_grad():
        return model(t, torch.ones(t.shape[:2]), s, torch.ones(s.shape[:2]))[0].numpy()
