"""A HistFactory-style binned model in torch, and the same model as a pyhf workspace.

Each sample has a nominal histogram and modifiers:
  normfactor  the signal strength μ, unconstrained;
  lumi        a luminosity factor with a Gaussian constraint of width `lumi_sigma` around 1;
  normsys     a normalisation factor (lo, hi) at α = ∓1, interpolated with code 4 (a 6th-order
              polynomial inside |α| < 1 matched in value, first and second derivative to the
              exponential extrapolation outside), so derivatives exist at α = 0 (pyhf `code4`);
  histosys    a shape variation (down, up) templates, code 4p (a polynomial inside |α| <= 1,
              linear outside; pyhf `code4p`);
  staterror   the templates' own Monte Carlo statistics: one factor γ_b per bin shared by the
              samples that carry it, constrained by N(1 | γ_b, δ_b) with δ_b = sqrt(Σ σ²) / Σ ν
              over those samples (pyhf `staterror`, Barlow-Beeston lite). A bin that is all
              empty simulation would be "certain"; this makes it as uncertain as it is.
Each nuisance α has a unit Gaussian constraint. Parameters are ordered [mu, lumi, nuisances
sorted by name, staterror_sr[b] per bin]; a nuisance named on several samples is one parameter.

The log-likelihood carries pyhf's constants (lgamma(n + 1), the normal densities' log √2π), so
torch and pyhf give the same logpdf value, not just the same differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import CodesignError

# code 4's polynomial coefficients a_1..a_6 = A_INV @ b at alpha0 = 1 (pyhf.interpolators.code4).
A_INV = [
    [15 / 16, -15 / 16, -7 / 16, -7 / 16, 1 / 16, -1 / 16],
    [3 / 2, 3 / 2, -9 / 16, 9 / 16, 1 / 16, 1 / 16],
    [-5 / 8, 5 / 8, 5 / 8, 5 / 8, -1 / 8, 1 / 8],
    [-3 / 2, -3 / 2, 7 / 8, -7 / 8, -1 / 8, -1 / 8],
    [3 / 16, -3 / 16, -3 / 16, -3 / 16, 1 / 16, -1 / 16],
    [1 / 2, 1 / 2, -5 / 16, 5 / 16, 1 / 16, 1 / 16],
]


@dataclass
class Sample:
    name: str
    nominal: object  # torch tensor (bins,)
    normfactor: bool = False  # scaled by μ (the signal)
    lumi: bool = True
    normsys: dict = field(default_factory=dict)  # nuisance -> (lo, hi) factors
    histosys: dict = field(default_factory=dict)  # nuisance -> (down, up) templates
    staterror: object = None  # torch (bins,): absolute MC uncertainty sqrt(Σ w²) per bin, or None


def code4(alpha, lo, hi):
    """Multiplicative normsys factor at alpha (tensors broadcast)."""
    import torch

    lo, hi = torch.as_tensor(lo, dtype=alpha.dtype), torch.as_tensor(hi, dtype=alpha.dtype)
    b = torch.stack([hi - 1, lo - 1, torch.log(hi) * hi, -torch.log(lo) * lo, torch.log(hi) ** 2 * hi,
                     torch.log(lo) ** 2 * lo])  # fmt: skip
    a = torch.as_tensor(A_INV, dtype=alpha.dtype) @ b
    inner_alpha = torch.clamp(alpha, -1.0, 1.0)  # keeps the unused branch finite
    poly = 1 + sum(a[i] * inner_alpha ** (i + 1) for i in range(6))
    return torch.where(alpha >= 1, hi**alpha, torch.where(alpha <= -1, lo ** (-alpha), poly))


def code4p(alpha, down, nom, up):
    """Additive histosys shift of the nominal histogram at alpha."""
    import torch

    d_up, d_dn = up - nom, nom - down
    s, a = 0.5 * (d_up + d_dn), 0.0625 * (d_up - d_dn)
    inner = alpha * (s + alpha * a * (15 + alpha * alpha * (3 * alpha * alpha - 10)))
    return torch.where(alpha > 1, d_up * alpha, torch.where(alpha < -1, d_dn * alpha, inner))


class BinnedModel:
    """One channel of samples; `where` names the analysis in error messages (a file or card)."""

    def __init__(self, samples: list[Sample], lumi_sigma: float | None = None, where: str = "model"):
        import torch

        if not samples:
            raise CodesignError(f"{where}: field 'samples': no samples")
        self.samples, self.lumi_sigma, self.where = samples, lumi_sigma, where
        nbins = samples[0].nominal.shape
        for s in samples:
            if s.nominal.shape != nbins or s.nominal.dim() != 1:
                raise CodesignError(f"{where}: field 'samples.{s.name}.nominal': expected shape {tuple(nbins)} "
                                    f"(got {tuple(s.nominal.shape)})")  # fmt: skip
            for np_name, pair in s.histosys.items():
                for side, t in zip(("down", "up"), pair, strict=True):
                    if t.shape != nbins:
                        raise CodesignError(f"{where}: field 'samples.{s.name}.histosys.{np_name}.{side}': expected shape "
                                            f"{tuple(nbins)} like the nominal (got {tuple(t.shape)})")  # fmt: skip
            for np_name, (lo, hi) in s.normsys.items():
                if not (float(lo) > 0 and float(hi) > 0):
                    raise CodesignError(f"{where}: field 'samples.{s.name}.normsys.{np_name}': factors must be > 0 "
                                        f"(got lo {float(lo)}, hi {float(hi)})")  # fmt: skip
        bkg = sum(s.nominal.detach() for s in samples if not s.normfactor)
        if not torch.is_tensor(bkg):
            raise CodesignError(f"{where}: field 'samples': no background sample (every sample scales with mu)")
        empty = torch.nonzero(bkg <= 0).flatten().tolist()
        if empty:
            raise CodesignError(f"{where}: field 'samples': bin {empty[0]} has zero expected background "
                                f"({bkg[empty[0]].item():.3g}); merge bins or widen them")  # fmt: skip
            if s.staterror is not None and s.staterror.shape != nbins:
                raise CodesignError(f"{where}: field 'samples.{s.name}.staterror': expected shape {tuple(nbins)} "
                                    f"(got {tuple(s.staterror.shape)})")  # fmt: skip
        self.nuisances = sorted({n for s in samples for n in (*s.normsys, *s.histosys)})
        stat = [s for s in samples if s.staterror is not None]
        self.n_stat = int(nbins[0]) if stat else 0
        if stat:
            self.stat_delta = torch.sqrt(sum(s.staterror**2 for s in stat)) / sum(s.nominal for s in stat)
        self.names = ["mu", *(["lumi"] if lumi_sigma else []), *self.nuisances,
                      *(f"staterror_sr[{b}]" for b in range(self.n_stat))]  # fmt: skip
        self.dtype = samples[0].nominal.dtype

    @property
    def poi(self) -> int:
        return 0

    def nominal_pars(self, mu: float = 1.0):
        import torch

        p = torch.zeros(len(self.names), dtype=self.dtype)
        p[0] = mu
        if self.lumi_sigma:
            p[1] = 1.0
        if self.n_stat:
            p[-self.n_stat :] = 1.0
        return p

    def expected(self, pars):
        """Expected counts per bin at pars."""
        idx = {n: i for i, n in enumerate(self.names)}
        total = 0
        for s in self.samples:
            rate = s.nominal
            for n, (down, up) in s.histosys.items():
                rate = rate + code4p(pars[idx[n]], down, s.nominal, up)
            for n, (lo, hi) in s.normsys.items():
                rate = rate * code4(pars[idx[n]], lo, hi)
            if s.normfactor:
                rate = rate * pars[0]
            if s.lumi and self.lumi_sigma:
                rate = rate * pars[1]
            if s.staterror is not None:
                rate = rate * pars[len(self.names) - self.n_stat :]
            total = total + rate
        return total

    def bounds(self) -> list[tuple[float, float]]:
        """pyhf's bounds for each parameter (the fits keep to them, as pyhf's do): μ [0, 10] is not
        imposed (the tests fix μ), lumi [0.5, 1.5], α [-5, 5], staterror γ [1e-10, 10]."""
        inf = float("inf")
        out = [(-inf, inf)]
        if self.lumi_sigma:
            out.append((0.5, 1.5))
        return out + [(-5.0, 5.0)] * len(self.nuisances) + [(1e-10, 10.0)] * self.n_stat

    def asimov(self, mu: float = 1.0):
        """Asimov main data: the expectation at mu with every nuisance at its nominal value."""
        return self.expected(self.nominal_pars(mu))

    def logpdf(self, pars, data):
        """log L(pars | data, nominal auxiliary data), with pyhf's constants."""
        import torch

        lam = self.expected(pars)
        ll = (torch.xlogy(data, lam) - lam - torch.lgamma(data + 1)).sum()
        half_log_2pi = 0.5 * math.log(2 * math.pi)
        off = 2 if self.lumi_sigma else 1
        alphas = pars[off : len(self.names) - self.n_stat]
        ll = ll - 0.5 * (alphas**2).sum() - half_log_2pi * len(alphas)
        if self.n_stat:
            gamma, delta = pars[len(self.names) - self.n_stat :], self.stat_delta
            ll = ll - (0.5 * ((gamma - 1) / delta) ** 2 + torch.log(delta) + half_log_2pi).sum()
        if self.lumi_sigma:
            ll = ll - 0.5 * ((pars[1] - 1) / self.lumi_sigma) ** 2 - math.log(self.lumi_sigma) - half_log_2pi
        return ll

    def nll(self, pars, data):
        return -self.logpdf(pars, data)

    def workspace(self, data, poi_bounds=(0.0, 10.0)) -> dict:
        """The model and `data` as a pyhf workspace (JSON-able; interpolation codes: see pyhf_check)."""

        def hist(t):
            return [float(v) for v in t.detach().cpu().numpy()]

        samples = []
        for s in self.samples:
            mods = []
            if s.normfactor:
                mods.append({"name": "mu", "type": "normfactor", "data": None})
            if s.lumi and self.lumi_sigma:
                mods.append({"name": "lumi", "type": "lumi", "data": None})
            mods += [{"name": n, "type": "normsys", "data": {"lo": float(lo), "hi": float(hi)}}
                     for n, (lo, hi) in sorted(s.normsys.items())]  # fmt: skip
            mods += [{"name": n, "type": "histosys", "data": {"lo_data": hist(d), "hi_data": hist(u)}}
                     for n, (d, u) in sorted(s.histosys.items())]  # fmt: skip
            if s.staterror is not None:
                mods.append({"name": "staterror_sr", "type": "staterror", "data": hist(s.staterror)})
            samples.append({"name": s.name, "data": hist(s.nominal), "modifiers": mods})
        params = [{"name": "mu", "bounds": [list(poi_bounds)], "inits": [1.0]}]
        if self.lumi_sigma:
            params.append({"name": "lumi", "auxdata": [1.0], "sigmas": [self.lumi_sigma], "bounds": [[0.5, 1.5]],
                           "inits": [1.0]})  # fmt: skip
        return {
            "channels": [{"name": "sr", "samples": samples}],
            "observations": [{"name": "sr", "data": hist(data)}],
            "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": params}}],
            "version": "1.0.0",
        }
