"""DeepJet-like flavour tagger (Bols et al. 2020) in float torch: the offline baseline.

Input: the token tensor of zoo/flavour_tokens.py, (B, N + S, C).
  candidate branch: per-candidate 1x1 convolutions (a shared dense layer per candidate, as DeepJet's
      kernel-1 Conv1D) 8 -> conv widths, then an LSTM over the candidates (pT order)
  SV branch: the same with the SV features and a smaller LSTM
  head: the two LSTM summaries -> dense -> n_classes logits
Padding candidates/SVs are zeroed after the convolutions. Unlike DeepJet there are no global jet
features (the token features are already relative to the jet) and the LSTMs read the tokens in
reverse pT order so that the last step, whose state is the summary, is the leading candidate.
"""

from __future__ import annotations

import torch
from torch import nn

from .flavour_tokens import N_PARTICLE, N_SV, PART, SV


def _convs(n_in: int, widths: list[int]) -> nn.Sequential:
    layers, last = [], n_in
    for w in widths:
        layers += [nn.Linear(last, w), nn.ReLU()]
        last = w
    return nn.Sequential(*layers)


class DeepJetLike(nn.Module):
    def __init__(self, n_cand: int, n_sv: int, n_classes: int = 4, conv: tuple = (64, 32, 16), lstm: int = 64,
                 sv_conv: tuple = (32, 16), sv_lstm: int = 32, dense: int = 64):  # fmt: skip
        super().__init__()
        self.n_cand, self.n_sv = n_cand, n_sv
        self.cand_conv, self.cand_lstm = _convs(N_PARTICLE, list(conv)), nn.LSTM(conv[-1], lstm, batch_first=True)
        width = lstm
        if n_sv:
            self.sv_conv, self.sv_lstm = _convs(N_SV, list(sv_conv)), nn.LSTM(sv_conv[-1], sv_lstm, batch_first=True)
            width += sv_lstm
        self.head = nn.Sequential(nn.Linear(width, dense), nn.ReLU(), nn.Linear(dense, n_classes))

    @staticmethod
    def _branch(x, conv, lstm):
        h = conv(x) * x[..., -1:]  # the last feature is "exists": padding contributes zeros
        _, (last, _) = lstm(torch.flip(h, dims=[1]))
        return last[0]

    def forward(self, x):
        parts = [self._branch(x[:, : self.n_cand, PART], self.cand_conv, self.cand_lstm)]
        if self.n_sv:
            parts.append(self._branch(x[:, self.n_cand :, SV], self.sv_conv, self.sv_lstm))
        return self.head(torch.cat(parts, dim=-1))


def build(card, n_classes: int) -> DeepJetLike:
    m = card.model
    torch.manual_seed(card.training.seed)
    return DeepJetLike(m.n_candidates, m.n_svs, n_classes, tuple(m.conv), m.lstm, tuple(m.sv_conv), m.sv_lstm, m.dense)
