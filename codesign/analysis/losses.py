"""The objectives a differentiable analysis trains on, all at Asimov data of the binned model.

sigma_mu          σ_μ = sqrt([I⁻¹]_μμ), I the Hessian of -ln L at the Asimov point (μ = 1, nuisances
                  nominal). For Asimov data that point is the maximum-likelihood estimate and the
                  observed Hessian equals the Fisher information: no fit is needed.
discovery_z0      Z₀ = sqrt(q₀), q₀ = 2[NLL(μ=0, θ̂̂) - NLL(μ̂, θ̂)] on Asimov signal + background
                  data (Cowan, Cranmer, Gross, Vitells, arXiv 1007.1727).
The conditional fits keep pyhf's parameter bounds (a background scaled below zero by a staterror
γ would otherwise absorb the tested signal).
expected_cls      the median expected CLs of μ_test on Asimov background-only data:
                  q = 2[NLL(μ_test, θ̂̂) - NLL(0, θ₀)], CLs = (1 - Φ(√q)) / (1 - Φ(0)) = 2(1 - Φ(√q))
                  (the median of the background-only distribution sits at √q_A).
"""

from __future__ import annotations

from .fit import grad_hess, minimize
from .histfactory import BinnedModel


def sigma_mu(model: BinnedModel):
    import torch

    data = model.asimov(1.0)
    x = model.nominal_pars(1.0).requires_grad_(True)
    _, h = grad_hess(lambda p: model.nll(p, data), x, create_graph=True)
    return torch.sqrt(torch.linalg.inv(h)[model.poi, model.poi])


def profile(model: BinnedModel, data, fixed: dict[int, float], init=None):
    """θ̂̂: the parameters that minimise -ln L(data) with `fixed` held, within pyhf's bounds."""
    start = model.nominal_pars(1.0) if init is None else init
    return minimize(lambda p: model.nll(p, data), start, fixed=fixed, bounds=model.bounds())


def q0(model: BinnedModel):
    data = model.asimov(1.0)
    best = model.nominal_pars(1.0)
    cond = profile(model, data, {model.poi: 0.0}, best)
    return 2 * (model.nll(cond, data) - model.nll(best, data))


def discovery_z0(model: BinnedModel):
    import torch

    return torch.sqrt(torch.clamp(q0(model), min=0.0))


def q_mu_asimov(model: BinnedModel, mu_test: float = 1.0):
    data = model.asimov(0.0)
    best = model.nominal_pars(0.0)
    cond = profile(model, data, {model.poi: mu_test}, model.nominal_pars(mu_test))
    return 2 * (model.nll(cond, data) - model.nll(best, data))


def expected_cls(model: BinnedModel, mu_test: float = 1.0):
    import torch

    q = torch.clamp(q_mu_asimov(model, mu_test), min=0.0)
    # 2(1 - Φ(√q)) = erfc(√(q/2)): erfc keeps its precision in the tail (torch's ndtr(-x) stops at 1e-16)
    return torch.special.erfc(torch.sqrt(q / 2))
